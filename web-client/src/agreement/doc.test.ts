import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  addClause,
  chineseNumeral,
  clauseArray,
  clauseLabel,
  clausesOf,
  fillDoc,
  moveClause,
  newClauseId,
  plainText,
  removeClause,
  setClauseKind,
} from './doc';

describe('clause labels', () => {
  it('writes Chinese numerals as 第…条 does', () => {
    const expected = [
      '一', '二', '三', '四', '五', '六', '七', '八', '九', '十',
      '十一', '十二', '十三', '十四', '十五', '十六', '十七', '十八', '十九', '二十',
      '二十一', '二十二', '二十三', '二十四', '二十五',
    ];
    for (let n = 1; n <= 25; n++) expect(clauseLabel(n, 'zh-CN')).toBe(`第${expected[n - 1]}条`);
    expect(clauseLabel(99, 'zh-CN')).toBe('第九十九条');
    expect(chineseNumeral(30)).toBe('三十');
    expect(chineseNumeral(100)).toBe('一百');
    expect(chineseNumeral(105)).toBe('一百零五');
    expect(chineseNumeral(110)).toBe('一百一十');
    expect(chineseNumeral(999)).toBe('九百九十九');
    // The server's own cases (cases/src/agreements/document.rs, `chinese_labels`).
    const server: [number, string][] = [
      [1, '第一条'], [10, '第十条'], [11, '第十一条'], [19, '第十九条'], [20, '第二十条'], [21, '第二十一条'],
      [99, '第九十九条'], [100, '第一百条'], [101, '第一百零一条'], [110, '第一百一十条'], [111, '第一百一十一条'], [200, '第二百条'],
    ];
    for (const [n, want] of server) expect(clauseLabel(n, 'zh-CN')).toBe(want);
    expect(chineseNumeral(1001)).toBe('一千零一');
    expect(chineseNumeral(1010)).toBe('一千零一十');
    expect(chineseNumeral(2300)).toBe('二千三百');
  });

  it('writes Article n in English', () => {
    expect(clauseLabel(1, 'en')).toBe('Article 1');
    expect(clauseLabel(21, 'en')).toBe('Article 21');
    expect(clauseLabel(99, 'en')).toBe('Article 99');
  });
});

describe('the document model', () => {
  const sample = () => {
    const doc = new Y.Doc();
    fillDoc(doc, '人民调解协议书', [
      { kind: 'facts', text: '双方因房屋租赁发生纠纷。' },
      { kind: 'term', text: '被申请人于2027年1月31日前支付租金5000元。' },
      { kind: 'breach', text: '逾期未付的，按日加付万分之五。' },
      { kind: 'closing', text: '本协议自各方签名之日起生效。' },
    ]);
    return doc;
  };

  it('numbers terms, breach and closing in order and leaves facts unnumbered', () => {
    const clauses = clausesOf(sample(), 'zh-CN');
    expect(clauses.map((c) => c.label)).toEqual([null, '第一条', '第二条', '第三条']);
    expect(clauses.every((c) => /^[a-z0-9]{10}$/.test(c.id))).toBe(true);
  });

  it('renders the text as shown', () => {
    expect(plainText(sample(), 'zh-CN')).toBe(
      '人民调解协议书\n\n双方因房屋租赁发生纠纷。\n第一条 被申请人于2027年1月31日前支付租金5000元。\n第二条 逾期未付的，按日加付万分之五。\n第三条 本协议自各方签名之日起生效。',
    );
  });

  it('adds, moves, retypes and removes clauses, renumbering the rest', () => {
    const doc = sample();
    const added = addClause(doc, 'term', '申请人放弃其他请求。', 2);
    expect(clausesOf(doc, 'en').map((c) => c.label)).toEqual([null, 'Article 1', 'Article 2', 'Article 3', 'Article 4']);
    expect(clausesOf(doc, 'en')[2]?.id).toBe(added);
    expect(moveClause(doc, added, -1)).toBe(true);
    const moved = clausesOf(doc, 'en');
    expect(moved[1]?.id).toBe(added);
    expect(moved[1]?.text).toBe('申请人放弃其他请求。');
    expect(moved[1]?.label).toBe('Article 1');
    expect(moveClause(doc, added, -5)).toBe(false);
    expect(setClauseKind(doc, added, 'facts')).toBe(true);
    expect(clausesOf(doc, 'en').map((c) => c.label)).toEqual([null, null, 'Article 1', 'Article 2', 'Article 3']);
    expect(removeClause(doc, added)).toBe(true);
    expect(removeClause(doc, added)).toBe(false);
    expect(clausesOf(doc, 'en')).toHaveLength(4);
  });

  it('skips a clause map that lacks its keys instead of showing it broken', () => {
    const doc = sample();
    const broken = new Y.Map<unknown>();
    broken.set('kind', 'term');
    clauseArray(doc).insert(1, [broken]);
    expect(clausesOf(doc, 'zh-CN').map((c) => c.label)).toEqual([null, '第一条', '第二条', '第三条']);
  });

  it('converges when two editors change the structure and text at once', () => {
    const a = sample();
    const b = new Y.Doc();
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    const [, term] = clausesOf(b, 'zh-CN');
    addClause(a, 'term', '甲方新增条款', 1);
    term?.ytext.insert(0, '（已核对）');
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    expect(plainText(a, 'zh-CN')).toBe(plainText(b, 'zh-CN'));
    expect(plainText(a, 'zh-CN')).toContain('第二条 （已核对）被申请人');
  });

  it('makes distinct ids', () => {
    const ids = new Set(Array.from({ length: 1000 }, newClauseId));
    expect(ids.size).toBe(1000);
  });
});
