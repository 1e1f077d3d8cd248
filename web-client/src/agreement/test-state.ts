// What `window.ACCORD.agreement` reports to the browser tests: the agreement's state and,
// per open draft, the text of each clause, the seq acknowledged and what is pending.

import type * as Y from 'yjs';
import { clausesOf, titleOf } from './doc';
import type { AgreementModel } from './model';
import type { DraftSource } from './source';

export interface AgreementSnapshot {
  loaded: boolean;
  id: string | null;
  status: string | null;
  version: number | null;
  finalSha256: string | null;
  currentDoc: string;
  docs: Record<string, { title: string; clauses: { id: string; kind: string; label: string | null; text: string }[]; seq: number; pending: number; synced: boolean }>;
  /** `doc/clause` keys where someone's typing is shown now. */
  typingShown: string[];
  comments: { id: string; clause_id: string; text: string; author_name: string }[];
  privateDrafts: { doc: string; shown_to: string | null }[];
}

let provider: (() => AgreementSnapshot) | null = null;

export function setAgreementTestState(next: (() => AgreementSnapshot) | null): void {
  provider = next;
}

export function agreementTestState(): AgreementSnapshot | null {
  return provider?.() ?? null;
}

export function snapshotOf(model: AgreementModel, drafts: Map<string, DraftSource>, currentDoc: string): AgreementSnapshot {
  const agreement = model.agreement;
  const locale = agreement?.locale ?? 'zh-CN';
  const docs: AgreementSnapshot['docs'] = {};
  for (const [name, source] of drafts) {
    const doc: Y.Doc = source.doc();
    docs[name] = {
      title: titleOf(doc).toString(),
      clauses: clausesOf(doc, locale).map((c) => ({ id: c.id, kind: c.kind, label: c.label, text: c.text })),
      seq: source.seq(),
      pending: source.pending(),
      synced: source.synced(),
    };
  }
  const now = Date.now();
  return {
    loaded: model.loaded,
    id: agreement?.id ?? null,
    status: agreement?.status ?? null,
    version: agreement?.version ?? null,
    finalSha256: agreement?.final?.text_sha256 ?? null,
    currentDoc,
    docs,
    typingShown: [...model.typing].filter(([, v]) => v.until > now).map(([k]) => k),
    comments: [...model.comments.values()].map((c) => ({ id: c.id, clause_id: c.clause_id, text: c.text, author_name: c.author_name })),
    privateDrafts: agreement?.private_drafts.map((d) => ({ doc: d.doc, shown_to: d.shown_to })) ?? [],
  };
}
