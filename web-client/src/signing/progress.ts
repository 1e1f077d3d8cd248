// What a signer has done on this device that the server does not record: read to the end, a
// code sent (for the resend countdown). Kept per agreement, version and signer in memory, so a
// panel re-mounted on `agreement_changed` resumes where the person was; a new version starts over.

import { keyName } from './steps';

export interface Progress {
  /** The end of the text was on screen (the gate opened). */
  seenEnd: boolean;
  /** …and the reader went on to the next step. */
  readDone: boolean;
  /** Masked phone the last code went to, and when it was sent (ms). */
  otpSentTo: string | null;
  otpSentAt: number;
  /** The server refused this device's key (`key_not_registered`): register again. */
  keyRejected: boolean;
}

const progress = new Map<string, Progress>();
/** A tab signs a handful of versions at most; older entries are dropped first. */
const MAX_ENTRIES = 32;

export function progressOf(agreementId: string, version: number, signerId: string): Progress {
  const name = keyName(agreementId, version, signerId);
  let found = progress.get(name);
  if (!found) {
    found = { seenEnd: false, readDone: false, otpSentTo: null, otpSentAt: 0, keyRejected: false };
    progress.set(name, found);
    if (progress.size > MAX_ENTRIES) progress.delete(progress.keys().next().value as string);
  }
  return found;
}

/** The seconds until another code may be asked for (the server allows one a minute). */
export const OTP_RESEND_S = 60;
export function resendWait(sentAt: number, now: number): number {
  if (!sentAt) return 0;
  return Math.max(0, Math.ceil((sentAt + OTP_RESEND_S * 1000 - now) / 1000));
}

/** What browser tests read as `window.ACCORD.signing`. */
export interface SigningSnapshot {
  step: string | null;
  lastError: string | null;
  role: 'party' | 'staff' | null;
  /** The mediator console's free-will panel: the party being asked, if any. */
  askingFreeWill: string | null;
}

export const snapshot: SigningSnapshot = { step: null, lastError: null, role: null, askingFreeWill: null };
