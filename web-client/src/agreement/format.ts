// Dates, times and the text's fingerprint as the agreement screens show them, in the reader's
// language.

import { language } from '../i18n';

/**
 * Every moment of an agreement is shown in Beijing time, whatever the device's zone: the PDF
 * prints "北京时间", and a phone abroad (or a desk at UTC) must not show another day or hour
 * beside it.
 */
export const AGREEMENT_TIME_ZONE = 'Asia/Shanghai';

export function formatTime(at: number): string {
  return new Date(at).toLocaleString(language(), { timeZone: AGREEMENT_TIME_ZONE, month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function formatDate(at: number): string {
  return new Date(at).toLocaleDateString(language(), { timeZone: AGREEMENT_TIME_ZONE, year: 'numeric', month: 'long', day: 'numeric' });
}

/** Characters of the SHA-256 shown on screen: as many as the PDF's page footer prints. */
const FINGERPRINT_CHARS = 16;

/**
 * The one short form of the text's SHA-256 on every screen, "b5f11634e3c1129c…": a party
 * compares it by eye with the PDF's footer, so it must be the same string.
 */
export function fingerprint(sha256: string): string {
  return sha256.length <= FINGERPRINT_CHARS ? sha256 : `${sha256.slice(0, FINGERPRINT_CHARS)}…`;
}

/** The children that are there: `replaceChildren` takes no nulls. */
export function present(...items: (Node | string | null | undefined | false)[]): (Node | string)[] {
  return items.filter((item): item is Node | string => item !== null && item !== undefined && item !== false);
}
