// One open draft, whichever way it travels (the session's socket, or HTTP on the case page):
// the screens read its document and progress and never see the transport.

import type * as Y from 'yjs';
import type { HttpDraftSync } from './http-sync';
import type { DraftSync } from './sync';

export interface DraftSource {
  readonly docName: string;
  doc(): Y.Doc;
  pending(): number;
  seq(): number;
  synced(): boolean;
  /** Redraw: the server's state arrived or the pending count changed. */
  onProgress(listener: () => void): () => void;
  /** The document was replaced (a refused edit was dropped). */
  onDoc(listener: (doc: Y.Doc) => void): () => void;
  /** A refused or failed exchange, for the person to read. */
  onProblem(listener: (code: string) => void): () => void;
  /** Null over HTTP: nobody live to tell. */
  typing: ((clauseId: string) => void) | null;
  close(): void;
}

export function socketSource(sync: DraftSync, close: () => void): DraftSource {
  return {
    docName: sync.docName,
    doc: () => sync.doc,
    pending: () => sync.pending,
    seq: () => sync.seq,
    synced: () => sync.synced,
    onProgress: (listener) => {
      const offs = [sync.on('progress', listener), sync.on('synced', listener), sync.on('changed', listener)];
      return () => offs.forEach((off) => off());
    },
    onDoc: (listener) => sync.on('doc', listener),
    onProblem: (listener) => sync.on('problem', (p) => listener(p.code)),
    typing: (clauseId) => sync.typing(clauseId),
    close,
  };
}

export function httpSource(sync: HttpDraftSync, errorCode: (error: unknown) => string): DraftSource {
  return {
    docName: sync.docName,
    doc: () => sync.doc,
    pending: () => sync.pending,
    seq: () => sync.seq,
    synced: () => sync.synced,
    onProgress: (listener) => {
      const offs = [sync.on('progress', listener), sync.on('synced', listener)];
      return () => offs.forEach((off) => off());
    },
    onDoc: () => () => {},
    onProblem: (listener) => sync.on('problem', (p) => listener(errorCode(p.error))),
    typing: null,
    // Closing the editor right after typing still saves what was typed.
    close: () => {
      if (sync.pending > 0) void sync.exchange().finally(() => sync.stop());
      else sync.stop();
    },
  };
}
