// Signing, mounted by the agreement panel (web-client/src/agreement/) once the agreement is
// `final` or `in_force`: a party gets the phone flow, a staff member the signing console (which
// holds their own signature flow too). The agreement is refetched on every `agreement_changed`
// of the room and after every action.

import type { Room } from '../room/room';
import { SigningApi } from './api';
import { SigningConsole } from './console';
import { type FlowHost, SignerFlow } from './flow';
import { type SigningSnapshot, snapshot } from './progress';
import type { Agreement, Viewer } from './types';

export type { Agreement, Signer, Viewer } from './types';

export interface SigningContext {
  /** '' for the same origin; prefixed to `/api/v1/...`. */
  apiBase: string;
  /** The whole Authorization header: `Bearer <join token>` or `Bearer <staff access token>`. */
  authHeader(): string;
  /** The Agreement JSON; the mounting panel keeps it current (assigns the fresh JSON). */
  agreement: Agreement;
  /** A party: `PT_…` (their join token's identity); staff: `ST_…`. */
  me: Viewer;
  /** The live session's room, when in one. */
  room?: Room;
  /** Refetches the agreement; resolves once `agreement` holds the fresh JSON. */
  refresh(): Promise<void>;
}

/** `window.ACCORD.signing` for browser tests: the step shown and the last refusal's code. */
export function signingTestHook(): SigningSnapshot {
  return { ...snapshot };
}

function exposeForTests(): void {
  const w = window as unknown as { ACCORD?: object };
  w.ACCORD ??= {};
  if (Object.getOwnPropertyDescriptor(w.ACCORD, 'signing')) return;
  Object.defineProperty(w.ACCORD, 'signing', { configurable: true, enumerable: true, get: signingTestHook });
}

export function mountSigning(container: HTMLElement, context: SigningContext): () => void {
  exposeForTests();
  const api = new SigningApi(context.apiBase, () => context.authHeader());
  let view: SignerFlow | SigningConsole;
  let refreshing: Promise<void> | null = null;
  const host: FlowHost = {
    api,
    viewer: context.me,
    agreement: () => context.agreement,
    // Concurrent refetches (an action's own and the `agreement_changed` it causes) share one call.
    refresh: () => {
      refreshing ??= context.refresh().finally(() => {
        refreshing = null;
      });
      return refreshing.then(() => view.render());
    },
  };
  snapshot.role = context.me.kind;
  snapshot.lastError = null;
  view = context.me.kind === 'staff' ? new SigningConsole(host, context.room) : new SignerFlow(host);
  container.append(view.element);
  view.render();
  const offMessage = context.room?.engine.on('message', (message) => {
    if (message.type === 'agreement_changed' && message.agreement_id === context.agreement.id) {
      host.refresh().catch(() => undefined);
    }
  });
  return () => {
    offMessage?.();
    view.dispose();
    view.element.remove();
    snapshot.step = null;
    snapshot.askingFreeWill = null;
  };
}
