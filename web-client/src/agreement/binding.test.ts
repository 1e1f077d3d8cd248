import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { diffText, mapPosition, TextareaBinding } from './binding';

describe('diffText', () => {
  it('finds the one changed range', () => {
    expect(diffText('abcdef', 'abXYef')).toEqual({ index: 2, remove: 2, insert: 'XY' });
    expect(diffText('', '新条款')).toEqual({ index: 0, remove: 0, insert: '新条款' });
    expect(diffText('支付租金', '')).toEqual({ index: 0, remove: 4, insert: '' });
    expect(diffText('same', 'same')).toEqual({ index: 4, remove: 0, insert: '' });
  });

  it('places a repeated letter at the caret, not at the first match', () => {
    // "aa" → "aaa" with the caret at 1 after typing: the insert was at 0.
    expect(diffText('aa', 'aaa', 1)).toEqual({ index: 0, remove: 0, insert: 'a' });
    expect(diffText('aa', 'aaa', 3)).toEqual({ index: 2, remove: 0, insert: 'a' });
    // Backspace at 1 in "aa".
    expect(diffText('aa', 'a', 0)).toEqual({ index: 0, remove: 1, insert: '' });
  });

  it('never splits a surrogate pair', () => {
    // 😀 is \ud83d\ude00, 😁 is \ud83d\ude01: they share the high half.
    const change = diffText('a😀b', 'a😁b');
    expect(change).toEqual({ index: 1, remove: 2, insert: '😁' });
  });
});

describe('mapPosition', () => {
  it('moves a caret with text inserted or deleted before it, not after', () => {
    expect(mapPosition(5, [{ insert: 'xyz' }])).toBe(8);
    expect(mapPosition(5, [{ retain: 5 }, { insert: 'xyz' }])).toBe(5);
    expect(mapPosition(5, [{ retain: 7 }, { insert: 'xyz' }])).toBe(5);
    expect(mapPosition(5, [{ retain: 1 }, { delete: 2 }])).toBe(3);
    expect(mapPosition(5, [{ retain: 3 }, { delete: 5 }])).toBe(3);
    expect(mapPosition(5, [{ retain: 6 }, { delete: 2 }])).toBe(5);
  });
});

class FakeArea {
  value = '';
  selectionStart = 0;
  selectionEnd = 0;
  private readonly listeners = new Map<string, (() => void)[]>();
  addEventListener(type: string, listener: () => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  removeEventListener() {}
  setSelectionRange(start: number, end: number) {
    this.selectionStart = start;
    this.selectionEnd = end;
  }
  fire(type: string) {
    for (const l of this.listeners.get(type) ?? []) l();
  }
  type(value: string, caret: number) {
    this.value = value;
    this.selectionStart = this.selectionEnd = caret;
    this.fire('input');
  }
}

describe('TextareaBinding', () => {
  const g = globalThis as unknown as { document?: { activeElement: unknown } };
  afterEach(() => {
    delete g.document;
  });

  it('sends local typing as minimal edits and keeps the caret on remote ones', () => {
    const local = new Y.Doc();
    const remote = new Y.Doc();
    local.getText('t').insert(0, '支付租金元');
    Y.applyUpdate(remote, Y.encodeStateAsUpdate(local));
    const area = new FakeArea();
    g.document = { activeElement: area };
    const origin = Symbol('me');
    let edits = 0;
    const binding = new TextareaBinding(area as unknown as HTMLTextAreaElement, local.getText('t'), origin, () => edits++);
    expect(area.value).toBe('支付租金元');
    area.type('支付租金5000元', 8);
    expect(edits).toBe(1);
    expect(local.getText('t').toString()).toBe('支付租金5000元');
    // Someone else, at the same time, adds words at the start.
    remote.getText('t').insert(0, '被申请人');
    Y.applyUpdate(local, Y.encodeStateAsUpdate(remote));
    Y.applyUpdate(remote, Y.encodeStateAsUpdate(local));
    expect(area.value).toBe('被申请人支付租金5000元');
    expect(remote.getText('t').toString()).toBe('被申请人支付租金5000元');
    expect(area.selectionStart).toBe(12);
    expect(area.selectionEnd).toBe(12);
    binding.destroy();
  });

  it('sends no pinyin while a word is composed, and places the word through edits made meanwhile', () => {
    const local = new Y.Doc();
    const remote = new Y.Doc();
    local.getText('t').insert(0, '甲方乙方');
    Y.applyUpdate(remote, Y.encodeStateAsUpdate(local));
    const area = new FakeArea();
    g.document = { activeElement: area };
    const origin = Symbol('me');
    const binding = new TextareaBinding(area as unknown as HTMLTextAreaElement, local.getText('t'), origin);
    // Composing 和 between 甲方 and 乙方: the textarea shows pinyin on the way.
    area.fire('compositionstart');
    area.type('甲方h乙方', 3);
    area.type('甲方he乙方', 4);
    expect(local.getText('t').toString()).toBe('甲方乙方');
    // Someone else adds a prefix meanwhile; the textarea is left alone.
    remote.getText('t').insert(0, '经协商，');
    Y.applyUpdate(local, Y.encodeStateAsUpdate(remote));
    expect(area.value).toBe('甲方he乙方');
    area.type('甲方和乙方', 3);
    area.fire('compositionend');
    expect(local.getText('t').toString()).toBe('经协商，甲方和乙方');
    expect(area.value).toBe('经协商，甲方和乙方');
    expect(area.selectionStart).toBe(7);
    binding.destroy();
  });
});
