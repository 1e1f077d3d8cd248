// Dates and times as the agreement screens show them, in the reader's language.

import { language } from '../i18n';

export function formatTime(at: number): string {
  return new Date(at).toLocaleString(language(), { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function formatDate(at: number): string {
  return new Date(at).toLocaleDateString(language(), { year: 'numeric', month: 'long', day: 'numeric' });
}

/** The children that are there: `replaceChildren` takes no nulls. */
export function present(...items: (Node | string | null | undefined | false)[]): (Node | string)[] {
  return items.filter((item): item is Node | string => item !== null && item !== undefined && item !== false);
}
