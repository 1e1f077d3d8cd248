// A <textarea> bound to a Y.Text. A local edit becomes the smallest delete+insert between the
// old and new value, so two people typing in one clause both keep their words; a remote edit
// rewrites the value and moves the caret along with the text around it.

import * as Y from 'yjs';

export interface TextChange {
  index: number;
  remove: number;
  insert: string;
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/**
 * The changed range between two values (UTF-16 units, as Y.Text counts). The common prefix
 * and suffix never split a surrogate pair, and the suffix never overlaps the prefix. When
 * the caret is known, the prefix stops at it: typing "a" after "a" in "aa" inserted at the
 * caret, not at the start, which keeps a concurrent editor's position right.
 */
export function diffText(before: string, after: string, caret?: number): TextChange {
  const limit = Math.min(before.length, after.length);
  let prefix = 0;
  while (prefix < limit && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix++;
  if (caret !== undefined) {
    const inserted = after.length - before.length;
    // The edit ends at the caret: the prefix cannot reach past where it started.
    prefix = Math.min(prefix, Math.max(0, caret - Math.max(0, inserted)));
  }
  if (prefix > 0 && isHighSurrogate(before.charCodeAt(prefix - 1))) prefix--;
  let suffix = 0;
  while (
    suffix < limit - prefix &&
    before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)
  ) {
    suffix++;
  }
  if (suffix > 0 && isLowSurrogate(after.charCodeAt(after.length - suffix))) suffix--;
  return { index: prefix, remove: before.length - prefix - suffix, insert: after.slice(prefix, after.length - suffix) };
}

/** Applies `before → after` to `ytext` as one delete and one insert. */
export function applyTextChange(ytext: Y.Text, change: TextChange): void {
  if (change.remove > 0) ytext.delete(change.index, change.remove);
  if (change.insert) ytext.insert(change.index, change.insert);
}

/**
 * Where a position in the old text lies in the new one, under a Y.Text delta. Text inserted
 * exactly at the position stays after it: a caret is not pushed along by someone else's words.
 */
export function mapPosition(position: number, delta: { retain?: number; insert?: unknown; delete?: number }[]): number {
  let index = 0;
  let out = position;
  for (const op of delta) {
    if (index > position) break;
    if (op.retain !== undefined) index += op.retain;
    else if (op.insert !== undefined) {
      if (index < position) out += typeof op.insert === 'string' ? op.insert.length : 1;
    } else if (op.delete !== undefined) {
      out -= Math.min(op.delete, Math.max(0, position - index));
      index += op.delete;
    }
  }
  return Math.max(0, out);
}

type Delta = { retain?: number; insert?: unknown; delete?: number }[];

/**
 * Chinese is typed through an input method: while a word is being composed the textarea
 * holds pinyin, which must neither reach the others nor be overwritten by their edits (that
 * would break the composition). Remote edits arriving meanwhile are kept and the finished
 * word is placed through them once the composition ends.
 */
export class TextareaBinding {
  private value: string;
  private composing = false;
  /** Remote deltas that arrived during a composition, oldest first. */
  private deferred: Delta[] = [];
  private readonly observer: (event: Y.YTextEvent, transaction: Y.Transaction) => void;
  private readonly onInput = () => {
    if (!this.composing) this.pushLocal();
  };
  private readonly onCompositionStart = () => {
    this.composing = true;
  };
  private readonly onCompositionEnd = () => {
    this.composing = false;
    this.pushLocal();
  };

  constructor(
    readonly el: HTMLTextAreaElement | HTMLInputElement,
    private readonly ytext: Y.Text,
    /** The origin of local transactions: the sync sends those, and the binding skips them. */
    private readonly origin: unknown,
    private readonly onLocalEdit: () => void = () => {},
  ) {
    this.value = ytext.toString();
    el.value = this.value;
    this.observer = (event, transaction) => {
      if (transaction.origin === this.origin && transaction.local) return;
      const delta = event.delta as Delta;
      if (this.composing) this.deferred.push(delta);
      else this.pullRemote(delta);
    };
    ytext.observe(this.observer);
    el.addEventListener('input', this.onInput);
    el.addEventListener('compositionstart', this.onCompositionStart);
    el.addEventListener('compositionend', this.onCompositionEnd);
  }

  destroy(): void {
    this.ytext.unobserve(this.observer);
    this.el.removeEventListener('input', this.onInput);
    this.el.removeEventListener('compositionstart', this.onCompositionStart);
    this.el.removeEventListener('compositionend', this.onCompositionEnd);
  }

  private pushLocal(): void {
    const next = this.el.value;
    const deferred = this.deferred;
    this.deferred = [];
    if (next !== this.value) {
      const caret = this.el.selectionEnd ?? undefined;
      const change = diffText(this.value, next, caret ?? undefined);
      // Edits that arrived while composing moved the text under the change.
      let index = change.index;
      for (const delta of deferred) index = mapPosition(index, delta);
      const current = this.ytext.length;
      const placed = { index: Math.min(index, current), remove: Math.max(0, Math.min(change.remove, current - Math.min(index, current))), insert: change.insert };
      const doc = this.ytext.doc;
      if (doc) doc.transact(() => applyTextChange(this.ytext, placed), this.origin);
      else applyTextChange(this.ytext, placed);
      this.onLocalEdit();
      if (!deferred.length) {
        this.value = next;
        return;
      }
      // Show the merged text, the caret just after the word typed.
      this.value = this.ytext.toString();
      this.el.value = this.value;
      const at = placed.index + placed.insert.length;
      this.el.setSelectionRange(at, at);
      return;
    }
    for (const delta of deferred) this.pullRemote(delta);
  }

  private pullRemote(delta: Delta): void {
    const el = this.el;
    const focused = typeof document !== 'undefined' && document.activeElement === el;
    const start = el.selectionStart ?? 0;
    const end = el.selectionEnd ?? 0;
    this.value = this.ytext.toString();
    el.value = this.value;
    if (focused) el.setSelectionRange(mapPosition(start, delta), mapPosition(end, delta));
  }
}
