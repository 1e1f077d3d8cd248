// The integrity check's result in plain words for the top of the review page: verified (with
// the signing key and when it was checked), or which files failed and how, or not yet checked.

import { type Language, type MessageKey, hasMessage, language, t } from '../i18n';
import { formatChinaTime } from '../staff/api';
import type { Verification } from './api';

/** How the result is shown: reassuring, alarming (red), or neutral. */
export type Tone = 'ok' | 'failed' | 'unchecked';

export interface VerificationWords {
  tone: Tone;
  headline: string;
  /** One line per failed file, or the key and time of a passed check. */
  lines: string[];
}

/** A problem code the page has words for (`hash_mismatch`, …); anything else as the server said it. */
function problemWords(problem: string, lang: Language): string {
  const key = `review.problem.${problem}`;
  return hasMessage(key) ? t(key, {}, lang) : problem;
}

/** The words for a verification, with the signing key id when the server gave one. */
export function verificationWords(
  verification: Verification,
  keyId: string | null = verification.key_id ?? null,
  lang: Language = language(),
): VerificationWords {
  const when = verification.checked_at !== null ? formatChinaTime(verification.checked_at) : null;
  if (verification.state === 'verified') {
    const lines: string[] = [];
    if (keyId) lines.push(t('review.integrity.key', { key: keyId }, lang));
    if (when) lines.push(t('review.integrity.checkedAt', { when }, lang));
    return { tone: 'ok', headline: t('review.integrity.verified', {}, lang), lines };
  }
  if (verification.state === 'failed') {
    const lines = verification.problems.map((p) =>
      t('review.integrity.fileProblem', { file: p.file, problem: problemWords(p.problem, lang) }, lang),
    );
    if (lines.length === 0) lines.push(t('review.integrity.noDetail', {}, lang));
    if (when) lines.push(t('review.integrity.checkedAt', { when }, lang));
    return { tone: 'failed', headline: t('review.integrity.failed', {}, lang), lines };
  }
  return { tone: 'unchecked', headline: t('review.integrity.unchecked', {}, lang), lines: [] };
}

/** The words for a recording's status in lists and headings. */
export function statusWords(status: string, lang: Language = language()): string {
  const key = `review.status.${status}`;
  return hasMessage(key) ? t(key as MessageKey, {}, lang) : status;
}
