// The agreement's state in words: 起草中 / 已定稿 第n版 / 已生效 (and since when).

import { hasMessage, type MessageKey, t } from '../i18n';
import { type Agreement, errorCode } from './api';
import { fingerprint, formatDate } from './format';

export function statusText(agreement: Agreement): string {
  if (agreement.status === 'in_force') {
    return agreement.effective_at ? t('agreement.status.inForceSince', { date: formatDate(agreement.effective_at) }) : t('agreement.status.in_force');
  }
  if (agreement.status === 'final') return t('agreement.status.final', { n: String(agreement.final?.version ?? agreement.version) });
  return t('agreement.status.drafting');
}

/** "第2版 · 文本指纹 3fa5aaa4c1d2e0f9…": which text is signed, comparable by eye with the PDF. */
export function finalLine(agreement: Agreement): string | null {
  const final = agreement.final;
  return final ? t('agreement.finalMeta', { n: String(final.version), hash: fingerprint(final.text_sha256) }) : null;
}

/** A refused call in the reader's words: our own text for codes we know, else the server's. */
export function problemText(error: unknown): string {
  return codeText(errorCode(error), error instanceof Error ? error.message : '');
}

export function codeText(code: string, message = ''): string {
  const key = `agreement.error.${code}`;
  if (hasMessage(key)) return t(key as MessageKey);
  return t('agreement.error.other', { detail: message ? `${code}: ${message}` : code });
}
