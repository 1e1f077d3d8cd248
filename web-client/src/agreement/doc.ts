// The agreement's document model, shared with the server's yrs document (common.md, "The
// document model"): a `title` Y.Text and a `clauses` Y.Array of Y.Maps {id, kind, text}.
// Numbering is computed, never stored, so moving or deleting a clause renumbers the rest
// for every reader at once, and the server's canonical text numbers them the same way.

import * as Y from 'yjs';

export type ClauseKind = 'facts' | 'term' | 'breach' | 'closing';
export const CLAUSE_KINDS: readonly ClauseKind[] = ['facts', 'term', 'breach', 'closing'];
export type AgreementLocale = 'zh-CN' | 'en';

export interface ClauseView {
  id: string;
  kind: ClauseKind;
  text: string;
  /** `第三条` / `Article 3`; null for facts, which are not numbered. */
  label: string | null;
  ytext: Y.Text;
}

const DIGITS = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/**
 * The Chinese numeral as written in 第…条, as the server's `label()` writes it: 十一 (not
 * 一十一) when the number starts with the tens, 零 once for skipped places (一百零五,
 * 一千零一十). Agreements hold at most 200 clauses; from ten thousand on, digits are written.
 */
export function chineseNumeral(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n >= 10_000) return String(n);
  if (n === 0) return '零';
  const units = ['千', '百', '十', ''];
  const places = [Math.floor(n / 1000), Math.floor(n / 100) % 10, Math.floor(n / 10) % 10, n % 10];
  let out = '';
  let zero = false;
  places.forEach((d, i) => {
    if (d === 0) {
      zero = out !== '';
      return;
    }
    if (zero) out += '零';
    zero = false;
    const unit = units[i] ?? '';
    if (!(unit === '十' && d === 1 && out === '')) out += DIGITS[d] ?? '';
    out += unit;
  });
  return out;
}

/** The label of the n-th numbered clause (1-based). */
export function clauseLabel(n: number, locale: AgreementLocale): string {
  return locale === 'zh-CN' ? `第${chineseNumeral(n)}条` : `Article ${n}`;
}

export function isNumbered(kind: ClauseKind): boolean {
  return kind !== 'facts';
}

export function isClauseKind(value: unknown): value is ClauseKind {
  return typeof value === 'string' && (CLAUSE_KINDS as readonly string[]).includes(value);
}

export function titleOf(doc: Y.Doc): Y.Text {
  return doc.getText('title');
}

export function clauseArray(doc: Y.Doc): Y.Array<Y.Map<unknown>> {
  return doc.getArray<Y.Map<unknown>>('clauses');
}

/**
 * The clauses in order, with their labels. A map still missing a key (half-arrived from a
 * peer, or written by a buggy client) is skipped rather than shown broken: the server's
 * canonical text skips it the same way.
 */
export function clausesOf(doc: Y.Doc, locale: AgreementLocale): ClauseView[] {
  const out: ClauseView[] = [];
  let n = 0;
  for (const map of clauseArray(doc).toArray()) {
    const id = map.get('id');
    const kind = map.get('kind');
    const text = map.get('text');
    if (typeof id !== 'string' || !isClauseKind(kind) || !(text instanceof Y.Text)) continue;
    const label = isNumbered(kind) ? clauseLabel(++n, locale) : null;
    out.push({ id, kind, text: text.toString(), label, ytext: text });
  }
  return out;
}

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A clause id: 10 random [a-z0-9], never reused, so comments and moments keep their clause. */
export function newClauseId(): string {
  const bytes = new Uint8Array(10);
  crypto.getRandomValues(bytes);
  // 36 does not divide 256; the slight bias does not matter for an id that only must not collide.
  return Array.from(bytes, (b) => ID_ALPHABET[b % ID_ALPHABET.length]).join('');
}

function clauseMap(id: string, kind: ClauseKind, text: string): Y.Map<unknown> {
  const map = new Y.Map<unknown>();
  map.set('id', id);
  map.set('kind', kind);
  map.set('text', new Y.Text(text));
  return map;
}

function indexOfClause(doc: Y.Doc, id: string): number {
  return clauseArray(doc)
    .toArray()
    .findIndex((map) => map.get('id') === id);
}

/** Adds a clause at `index` (the end by default); returns its id. */
export function addClause(doc: Y.Doc, kind: ClauseKind, text = '', index?: number, origin: unknown = null): string {
  const id = newClauseId();
  const array = clauseArray(doc);
  const at = index === undefined ? array.length : Math.max(0, Math.min(index, array.length));
  doc.transact(() => array.insert(at, [clauseMap(id, kind, text)]), origin);
  return id;
}

export function removeClause(doc: Y.Doc, id: string, origin: unknown = null): boolean {
  const index = indexOfClause(doc, id);
  if (index < 0) return false;
  doc.transact(() => clauseArray(doc).delete(index, 1), origin);
  return true;
}

/**
 * Moves a clause by `delta` places. A Y.Array has no move: the clause is deleted and a new
 * map with the same id, kind and text is inserted, in one transaction so nobody sees it gone.
 * Text another editor types into it in the same instant lands in the deleted copy and is lost;
 * moves are rare and done by the mediator, who sees the result at once.
 */
export function moveClause(doc: Y.Doc, id: string, delta: number, origin: unknown = null): boolean {
  const array = clauseArray(doc);
  const from = indexOfClause(doc, id);
  const to = from + delta;
  if (from < 0 || to < 0 || to >= array.length || delta === 0) return false;
  const map = array.get(from);
  const kind = map.get('kind');
  const text = map.get('text');
  if (!isClauseKind(kind) || !(text instanceof Y.Text)) return false;
  // Read before the delete: a deleted Y.Text reads as empty.
  const content = text.toString();
  doc.transact(() => {
    array.delete(from, 1);
    array.insert(to, [clauseMap(id, kind, content)]);
  }, origin);
  return true;
}

/** Changes a clause's kind (a term that turns out to be the breach clause, say). */
export function setClauseKind(doc: Y.Doc, id: string, kind: ClauseKind, origin: unknown = null): boolean {
  const index = indexOfClause(doc, id);
  if (index < 0) return false;
  doc.transact(() => clauseArray(doc).get(index).set('kind', kind), origin);
  return true;
}

/** Fills an empty document (tests, and a template's first content). */
export function fillDoc(doc: Y.Doc, title: string, clauses: { kind: ClauseKind; text: string }[]): void {
  doc.transact(() => {
    titleOf(doc).insert(0, title);
    clauseArray(doc).push(clauses.map((c) => clauseMap(newClauseId(), c.kind, c.text)));
  });
}

/** The text as shown: title, blank line, then each clause with its label. No parties block:
 * that is the server's, from the case; this is for reading and tests, not for hashing. */
export function plainText(doc: Y.Doc, locale: AgreementLocale): string {
  const lines = clausesOf(doc, locale).map((c) => (c.label ? `${c.label} ${c.text}` : c.text));
  return `${titleOf(doc).toString()}\n\n${lines.join('\n')}`;
}
