// @vitest-environment happy-dom
// The mediator types while the agreement is fetched again (a party signed, a draft was shown,
// an edit reopened the text): the clause being typed in must stay the same element, keep the
// focus, the caret and an input method's composition, and no keystroke may go elsewhere.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { type Agreement, AgreementApi } from './api';
import { clausesOf, fillDoc } from './doc';
import { AgreementModel } from './model';
import type { DraftSource } from './source';
import { AgreementWorkspace } from './workspace';

function agreementJson(patch: Partial<Agreement> = {}): Agreement {
  return {
    id: 'AG_test',
    case_id: 'CA_test',
    locale: 'zh-CN',
    status: 'drafting',
    version: 1,
    e_signable: true,
    not_e_signable_reason: null,
    final: null,
    effective_at: null,
    signers: [],
    seal: null,
    pdf_url: null,
    private_drafts: [],
    updated_at: 1,
    ...patch,
  };
}

/** A draft held in memory: the workspace only reads the document and the progress. */
function memorySource(docName: string, doc: Y.Doc): DraftSource {
  return {
    docName,
    doc: () => doc,
    pending: () => 0,
    seq: () => 0,
    synced: () => true,
    onProgress: () => () => {},
    onDoc: () => () => {},
    onProblem: () => () => {},
    typing: null,
    close: () => {},
  };
}

/** A keystroke goes wherever the focus is, as a keyboard's would; into a clause it inserts at the caret. */
function typeKey(ch: string): void {
  const target = document.activeElement;
  if (!(target instanceof HTMLTextAreaElement)) return;
  const end = target.selectionEnd ?? target.value.length;
  const start = target.selectionStart ?? end;
  target.value = target.value.slice(0, start) + ch + target.value.slice(end);
  const caret = start + ch.length;
  target.setSelectionRange(caret, caret);
  target.dispatchEvent(new Event('input', { bubbles: true }));
}

function typeText(text: string): void {
  for (const ch of text) typeKey(ch);
}

describe('AgreementWorkspace refreshed while the mediator types', () => {
  let doc: Y.Doc;
  let model: AgreementModel;
  let workspace: AgreementWorkspace;

  const clauseText = (index: number) => clausesOf(doc, 'zh-CN')[index]?.text;
  const textareas = () => [...workspace.el.querySelectorAll<HTMLTextAreaElement>('[data-testid="agreement-clause-text"]')];
  /** What the panel does on `agreement_changed`: the agreement JSON is fetched again. */
  const refreshed = (patch: Partial<Agreement>) => {
    model.agreement = agreementJson(patch);
    model.emit('agreement', model.agreement);
    model.emit('changed', undefined);
  };

  beforeEach(() => {
    doc = new Y.Doc();
    fillDoc(doc, '人民调解协议书', [
      { kind: 'facts', text: '双方因装修噪音发生纠纷。' },
      { kind: 'term', text: '被申请人于五日内赔偿' },
      { kind: 'closing', text: '本协议自签字之日起生效。' },
    ]);
    model = new AgreementModel(new AgreementApi(() => Promise.reject(new Error('no server in this test'))), () => Promise.resolve(model.agreement));
    model.agreement = agreementJson();
    const docs = new Map<string, Y.Doc>([['main', doc]]);
    workspace = new AgreementWorkspace({
      model,
      open: (name) => {
        const opened = docs.get(name) ?? new Y.Doc();
        docs.set(name, opened);
        return memorySource(name, opened);
      },
      privateDrafts: true,
      signingSlot: document.createElement('div'),
    });
    document.body.append(workspace.el);
  });

  afterEach(() => {
    workspace.dispose();
    model.dispose();
    workspace.el.remove();
  });

  it('keeps the same textarea, its focus and caret, and every keystroke', () => {
    const clause = textareas()[1];
    expect(clause).toBeDefined();
    if (!clause) return;
    clause.focus();
    clause.setSelectionRange(clause.value.length, clause.value.length);
    typeText('（');
    // The edit reopened the text; then a private draft was shown and a party signed.
    refreshed({ status: 'drafting', version: 2 });
    typeText('人民币');
    refreshed({ version: 2, private_drafts: [{ doc: 'PD_one', shown_to: 'applicant', created_at: 2 }] });
    typeText('一千元');
    refreshed({ version: 2, status: 'final', final: { version: 2, text: 'x', text_sha256: 'a'.repeat(64), finalised_at: 3, finalised_by_name: '李' } });
    typeText('）');

    expect(textareas()[1]).toBe(clause);
    expect(document.activeElement).toBe(clause);
    expect(clause.selectionStart).toBe(clause.value.length);
    expect(clauseText(1)).toBe('被申请人于五日内赔偿（人民币一千元）');
    expect(clause.value).toBe(clauseText(1));
  });

  it('keeps a caret in the middle of the clause where it was', () => {
    const clause = textareas()[2];
    if (!clause) throw new Error('no closing clause');
    clause.focus();
    clause.setSelectionRange(3, 3);
    typeText('甲乙');
    refreshed({ version: 2 });
    typeText('双方');
    expect(document.activeElement).toBe(clause);
    expect(clauseText(2)).toBe('本协议甲乙双方自签字之日起生效。');
  });

  it('lets an input method finish its word across a refresh', () => {
    const clause = textareas()[1];
    if (!clause) throw new Error('no term clause');
    clause.focus();
    clause.setSelectionRange(clause.value.length, clause.value.length);
    clause.dispatchEvent(new Event('compositionstart'));
    clause.value = `${clause.value}ren`;
    clause.dispatchEvent(new Event('input'));
    refreshed({ version: 2, private_drafts: [{ doc: 'PD_one', shown_to: null, created_at: 2 }] });
    // The pinyin is still in the same element and has reached nobody.
    expect(textareas()[1]).toBe(clause);
    expect(clause.value).toBe('被申请人于五日内赔偿ren');
    expect(clauseText(1)).toBe('被申请人于五日内赔偿');
    clause.value = '被申请人于五日内赔偿人';
    clause.setSelectionRange(clause.value.length, clause.value.length);
    clause.dispatchEvent(new Event('compositionend'));
    expect(clauseText(1)).toBe('被申请人于五日内赔偿人');
    expect(document.activeElement).toBe(clause);
  });

  it('turns the same controls read-only in place once the agreement is in force', () => {
    const before = textareas();
    before[0]?.focus();
    refreshed({ status: 'in_force', version: 2 });
    expect(textareas()).toEqual(before);
    expect(before.every((el) => el.disabled)).toBe(true);
    const up = workspace.el.querySelectorAll<HTMLButtonElement>('[data-testid="agreement-clause-up"]');
    refreshed({ status: 'drafting', version: 3 });
    expect(before.every((el) => !el.disabled)).toBe(true);
    // The first clause still cannot move up; the others can again.
    expect([...up].map((b) => b.disabled)).toEqual([true, false, false]);
  });

  it('keeps the focus when a clause is added by the other mediator meanwhile', () => {
    const clause = textareas()[1];
    if (!clause) throw new Error('no term clause');
    clause.focus();
    clause.setSelectionRange(clause.value.length, clause.value.length);
    typeText('（');
    // Someone else's structural edit redraws the list: the focus and caret come back at once.
    const remote = new Y.Doc();
    Y.applyUpdate(remote, Y.encodeStateAsUpdate(doc));
    const other = clausesOf(remote, 'zh-CN');
    expect(other.length).toBe(3);
    const before = Y.encodeStateVector(doc);
    remote.transact(() => {
      const map = new Y.Map<unknown>();
      map.set('id', 'zzzzzzzzzz');
      map.set('kind', 'breach');
      map.set('text', new Y.Text('违约方承担责任。'));
      remote.getArray<Y.Map<unknown>>('clauses').push([map]);
    });
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(remote, before), 'remote');
    typeText('一千元）');
    expect(document.activeElement?.getAttribute('data-focus-key')).toBe(`clause:${other[1]?.id}`);
    expect(clauseText(1)).toBe('被申请人于五日内赔偿（一千元）');
    expect(clausesOf(doc, 'zh-CN').length).toBe(4);
  });
});
