// The app's one source of strings. Components call `t('key')`; nothing they show is written in
// them. The language is the visitor's choice if they made one, else the browser's.

import { agreementEn } from './agreement.en';
import { agreementZh } from './agreement.zh-CN';
import { auditConfirmationEn } from './audit-confirmation.en';
import { auditConfirmationZh } from './audit-confirmation.zh-CN';
import { confirmationEn } from './confirmation.en';
import { confirmationZh } from './confirmation.zh-CN';
import { courtEn } from './court.en';
import { courtZh } from './court.zh-CN';
import { en as baseEn } from './en';
import { signingEn } from './signing.en';
import { signingZh } from './signing.zh-CN';
import { zhCN as baseZh } from './zh-CN';

// The catalogues are split by screen so no file grows past what a person can read; each
// English part is typed by its Chinese part, so a key missing in either fails the build.
const zhCN = {
  ...baseZh,
  ...agreementZh,
  ...signingZh,
  ...confirmationZh,
  ...courtZh,
  ...auditConfirmationZh,
};
export type MessageKey = keyof typeof zhCN;
const en: Record<MessageKey, string> = {
  ...baseEn,
  ...agreementEn,
  ...signingEn,
  ...confirmationEn,
  ...courtEn,
  ...auditConfirmationEn,
};
export type Language = 'zh-CN' | 'en';

const CATALOGUES: Record<Language, Record<MessageKey, string>> = { 'zh-CN': zhCN, en };

/** Every string, by language (tests compare the two). */
export const catalogues = CATALOGUES;
const STORAGE_KEY = 'accord.language';

/** Chinese unless the browser prefers English over every Chinese variant. */
export function pickLanguage(preferred: readonly string[]): Language {
  for (const tag of preferred) {
    const lower = tag.toLowerCase();
    if (lower.startsWith('zh')) return 'zh-CN';
    if (lower.startsWith('en')) return 'en';
  }
  return 'zh-CN';
}

function storedLanguage(): Language | null {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return value === 'zh-CN' || value === 'en' ? value : null;
  } catch {
    return null; // private mode in some WebViews throws on storage access
  }
}

let current: Language =
  typeof navigator === 'undefined'
    ? 'zh-CN'
    : storedLanguage() ?? pickLanguage(navigator.languages ?? [navigator.language]);
const listeners = new Set<() => void>();

export function language(): Language {
  return current;
}

export function setLanguage(next: Language): void {
  current = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // not persisted; the choice still holds for this page
  }
  document.documentElement.lang = next;
  for (const listener of listeners) listener();
}

/** Screens re-render their text when the language changes. */
export function onLanguageChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The string for `key`, with `{name}` placeholders filled from `values`. */
export function t(key: MessageKey, values: Record<string, string> = {}, lang: Language = current): string {
  const template = CATALOGUES[lang][key];
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}

/** Whether `key` has a string (for codes from the server, which may be newer than the app). */
export function hasMessage(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(CATALOGUES[current], key);
}
