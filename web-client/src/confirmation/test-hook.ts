// `window.ACCORD.confirmation` for the browser tests: what the last confirmation view showed
// and the last refusal's code, read through a getter so it is always current.

import type { ConfirmationView, WarningLevel } from './types';

export interface ConfirmationSnapshot {
  status: string | null;
  days_left: number | null;
  warning: WarningLevel | null;
  applied: boolean;
  lastError: string | null;
}

const snapshot: ConfirmationSnapshot = { status: null, days_left: null, warning: null, applied: false, lastError: null };

export function confirmationTestHook(): ConfirmationSnapshot {
  return { ...snapshot };
}

/** Records what a view shows (called on each render). */
export function noteView(view: ConfirmationView): void {
  snapshot.status = view.status;
  snapshot.days_left = view.window?.days_left ?? null;
  snapshot.warning = view.window?.warning ?? null;
  snapshot.applied = view.me.applied;
}

export function noteError(code: string | null): void {
  snapshot.lastError = code;
}

export function exposeForTests(): void {
  if (typeof window === 'undefined') return;
  const w = window as unknown as { ACCORD?: object };
  w.ACCORD ??= {};
  if (Object.getOwnPropertyDescriptor(w.ACCORD, 'confirmation')) return;
  Object.defineProperty(w.ACCORD, 'confirmation', { configurable: true, enumerable: true, get: confirmationTestHook });
}
