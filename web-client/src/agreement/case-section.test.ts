// @vitest-environment happy-dom
// The mediator drafts on the case page while the agreement is fetched again (the page reloads
// after a status step, a party signs elsewhere): the section redraws its status, effective date
// and PDF link, but the clause being typed in must stay the same element, keep the focus and
// the caret, and no keystroke may go elsewhere.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { PageContext } from '../staff/app';
import { type CaseDetail, StaffClient, type StaffMember } from '../staff/api';
import type { Agreement } from './api';
import { fromBase64, toBase64 } from './base64';
import { clausesOf, fillDoc } from './doc';
import { type AgreementSection, agreementSection } from './case-section';

const ORG = 'OR_test';

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

function caseDetail(status: string): CaseDetail {
  // The section reads only the case's organisation and category.
  return {
    case: { id: 'CA_test', organisation_id: ORG, category: 'neighbour', status },
    parties: [],
    sessions: [],
    evidence: [],
    next_statuses: [],
    mediator: null,
    organisation: { id: ORG, name: '调解委员会' },
  } as unknown as CaseDetail;
}

/**
 * The server's side of the agreement API, in memory: the agreement JSON, the shared text as a
 * Y.Doc answering state vectors, and no comments. The agreement's answer can be held back to
 * type while the refresh is on its way.
 */
class MemoryServer {
  agreement = agreementJson();
  readonly doc = new Y.Doc();
  seq = 0;
  private held: (() => void)[] | null = null;

  hold(): void {
    this.held = [];
  }

  release(): void {
    const waiting = this.held ?? [];
    this.held = null;
    for (const go of waiting) go();
  }

  readonly fetch = async (input: string, init?: RequestInit): Promise<Response> => {
    const url = new URL(input, 'http://accord.test');
    const method = init?.method ?? 'GET';
    const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    if (method === 'GET' && url.pathname === '/api/v1/cases/CA_test/agreement') {
      const held = this.held;
      if (held) await new Promise<void>((go) => held.push(go));
      return json(this.agreement);
    }
    if (method === 'GET' && url.pathname === '/api/v1/agreements/AG_test/comments') return json([]);
    if (method === 'GET' && url.pathname === '/api/v1/agreements/AG_test/draft') {
      const vector = fromBase64(url.searchParams.get('state_vector') ?? '');
      return json({ doc: 'main', update: toBase64(Y.encodeStateAsUpdate(this.doc, vector)), state_vector: toBase64(Y.encodeStateVector(this.doc)), seq: this.seq });
    }
    if (method === 'POST' && url.pathname === '/api/v1/agreements/AG_test/draft') {
      const body = JSON.parse(String(init?.body)) as { doc: string; update: string };
      Y.applyUpdate(this.doc, fromBase64(body.update));
      this.seq += 1;
      return json({ seq: this.seq });
    }
    return json({ code: 'not_found', message: 'not found' }, 404);
  };
}

/** Lets the pending answers and redraws run; fails rather than waiting forever. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 0));
  if (!done()) throw new Error('the section never got there');
}

/** A keystroke goes wherever the focus is, as a keyboard's would; into a clause it inserts at the caret. */
function typeText(text: string): void {
  for (const ch of text) {
    const target = document.activeElement;
    if (!(target instanceof HTMLTextAreaElement)) return;
    const end = target.selectionEnd ?? target.value.length;
    const start = target.selectionStart ?? end;
    target.value = target.value.slice(0, start) + ch + target.value.slice(end);
    target.setSelectionRange(start + ch.length, start + ch.length);
    target.dispatchEvent(new Event('input', { bubbles: true }));
  }
}

describe('the case page agreement section refreshed while the mediator types', () => {
  let server: MemoryServer;
  let section: AgreementSection;

  const byTestId = <T extends HTMLElement>(id: string) => section.el.querySelector<T>(`[data-testid="${id}"]`);
  const textareas = () => [...section.el.querySelectorAll<HTMLTextAreaElement>('[data-testid="agreement-clause-text"]')];
  const workspaceEl = () => byTestId('agreement-workspace');

  beforeEach(async () => {
    server = new MemoryServer();
    fillDoc(server.doc, '人民调解协议书', [
      { kind: 'facts', text: '双方因装修噪音发生纠纷。' },
      { kind: 'term', text: '被申请人于五日内赔偿' },
      { kind: 'closing', text: '本协议自签字之日起生效。' },
    ]);
    const memory = () => {
      const values = new Map<string, string>();
      return { getItem: (k: string) => values.get(k) ?? null, setItem: (k: string, v: string) => void values.set(k, v), removeItem: (k: string) => void values.delete(k) };
    };
    const me: StaffMember = { id: 'ST_me', username: 'li', display_name: '李调解', role: 'mediator', organisation_id: ORG, court: null };
    const context: PageContext = {
      client: new StaffClient({ access: memory(), refresh: memory() }, server.fetch),
      me,
      go: () => {},
      fail: () => {},
      clearNotice: () => {},
    };
    section = agreementSection(context, 'CA_test');
    document.body.append(section.el);
    section.update(caseDetail('mediating'));
    await until(() => byTestId('agreement-edit') !== null);
    byTestId<HTMLButtonElement>('agreement-edit')?.click();
    await until(() => textareas().length === 3);
  });

  afterEach(async () => {
    // Closing the editor stops its polling (after saving what is pending).
    const close = byTestId<HTMLButtonElement>('agreement-edit');
    if (workspaceEl()) close?.click();
    await until(() => workspaceEl() === null);
    section.el.remove();
  });

  it('keeps the editor mounted, the focus, the caret and every keystroke', async () => {
    const editor = workspaceEl();
    const clause = textareas()[1];
    if (!editor || !clause) throw new Error('no editor');
    clause.focus();
    clause.setSelectionRange(clause.value.length, clause.value.length);
    typeText('（');

    // The page reloads after a status step; the mediator types on while the agreement is fetched.
    server.hold();
    section.update(caseDetail('agreement'));
    typeText('人民币');
    server.agreement = agreementJson({ status: 'in_force', version: 2, effective_at: Date.UTC(2026, 11, 6), pdf_url: '/api/v1/agreements/AG_test/pdf' });
    server.release();
    await until(() => byTestId('agreement-pdf') !== null);
    // In force: the clauses turn read-only in place; back to drafting, typing goes on.
    expect(clause.disabled).toBe(true);
    server.agreement = agreementJson({ status: 'drafting', version: 3 });
    section.update(caseDetail('mediating'));
    await until(() => byTestId('agreement-pdf') === null);
    expect(clause.disabled).toBe(false);
    typeText('一千元）');

    expect(workspaceEl()).toBe(editor);
    expect(textareas()[1]).toBe(clause);
    expect(document.activeElement).toBe(clause);
    expect(clause.selectionStart).toBe(clause.value.length);
    expect(clause.value).toBe('被申请人于五日内赔偿（人民币一千元）');
  });

  it('redraws what is around the editor and keeps it after the header', async () => {
    const editor = workspaceEl();
    const clause = textareas()[2];
    if (!editor || !clause) throw new Error('no editor');
    clause.focus();
    clause.setSelectionRange(3, 3);
    typeText('甲乙');
    server.agreement = agreementJson({ status: 'final', version: 1, effective_at: Date.UTC(2026, 11, 6), pdf_url: '/api/v1/agreements/AG_test/pdf' });
    section.update(caseDetail('agreement'));
    await until(() => byTestId('agreement-effective') !== null);
    typeText('双方');

    const children = [...section.el.children];
    expect(children[0]?.tagName).toBe('H2');
    const at = (id: string) => children.findIndex((c) => c.getAttribute('data-testid') === id);
    expect(at('agreement-effective')).toBeGreaterThan(0);
    expect(at('agreement-pdf')).toBeGreaterThan(at('agreement-effective'));
    expect(at('agreement-edit')).toBeGreaterThan(at('agreement-pdf'));
    expect(children.indexOf(editor)).toBe(at('agreement-edit') + 1);
    expect(children.length).toBe(children.indexOf(editor) + 1);
    expect(document.activeElement).toBe(clause);
    expect(clause.value).toBe('本协议甲乙双方自签字之日起生效。');
  });

  it('saves what was typed across the refresh to the server', async () => {
    const clause = textareas()[1];
    if (!clause) throw new Error('no editor');
    clause.focus();
    clause.setSelectionRange(clause.value.length, clause.value.length);
    typeText('（人民币');
    server.agreement = agreementJson({ version: 1, updated_at: 2 });
    section.update(caseDetail('agreement'));
    typeText('一千元）');
    // Closing the editor sends what is pending before the polling stops.
    byTestId<HTMLButtonElement>('agreement-edit')?.click();
    await until(() => clausesOf(server.doc, 'zh-CN')[1]?.text === '被申请人于五日内赔偿（人民币一千元）');
    expect(workspaceEl()).toBeNull();
  });
});
