// Which screen a signer sees, decided from the Agreement JSON and what only this device knows
// (the reader reached the end; a device key is in IndexedDB). Pure, so every JSON shape the
// server can send is checked in steps.test.ts without a browser.

import type { Agreement, Signer, Viewer } from './types';

export type Step =
  /** Nothing to sign yet: still drafting. */
  | 'drafting'
  /** 电子签名法 第三条: personal-status matters are signed on paper. */
  | 'not_e_signable'
  /** The viewer is no signer (an observer, an interpreter, a co-mediator). */
  | 'not_signer'
  /** A signer who may not sign yet (`cannot_sign_reason`, e.g. no power of attorney). */
  | 'cannot_sign'
  | 'read'
  /** Waiting for the mediator to ask, alone, whether they sign of their own free will. */
  | 'free_will'
  /** They answered "no": nothing to sign until the mediator asks again. */
  | 'free_will_no'
  | 'identity'
  | 'draw'
  | 'done'
  | 'declined'
  | 'in_force';

/** What the device knows that the server does not. */
export interface LocalProgress {
  /** The reader scrolled to the end of this version's text and went on. */
  readDone: boolean;
  /** A device key for this agreement, version and signer is in IndexedDB. */
  hasKey: boolean;
}

/**
 * The signer entry the viewer acts as: their own, the pending one first when a representative
 * appears more than once (signing for two parties).
 */
export function signerOf(agreement: Agreement, viewer: Viewer): Signer | null {
  const mine = agreement.signers.filter((s) => s.signer_id === viewer.id);
  return mine.find((s) => s.status === 'pending') ?? mine[0] ?? null;
}

export function stepFor(agreement: Agreement, viewer: Viewer, local: LocalProgress): Step {
  if (agreement.status === 'drafting' || !agreement.final) return 'drafting';
  if (!agreement.e_signable) return 'not_e_signable';
  if (agreement.status === 'in_force') return 'in_force';
  const signer = signerOf(agreement, viewer);
  if (!signer) return 'not_signer';
  if (signer.status === 'signed') return 'done';
  if (signer.status === 'declined') return 'declined';
  if (!signer.may_sign) return 'cannot_sign';
  if (!local.readDone) return 'read';
  // The mediator signs last and is not asked about their own free will.
  if (signer.role !== 'mediator') {
    if (!signer.free_will) return 'free_will';
    if (signer.free_will.answer === 'no') return 'free_will_no';
  }
  // A key registered from another device (or a cleared browser) cannot sign here.
  if (!signer.identity || !local.hasKey) return 'identity';
  return 'draw';
}

/** Every required signer has signed, the mediator included: the seal may be applied. */
export function readyToSeal(agreement: Agreement): boolean {
  if (agreement.status !== 'final' || !agreement.e_signable) return false;
  const required = agreement.signers.filter((s) => s.required);
  const mediatorSigned = agreement.signers.some((s) => s.role === 'mediator' && s.status === 'signed');
  return required.length > 0 && required.every((s) => s.status === 'signed') && mediatorSigned;
}

/** The IndexedDB key of a device key pair: one per agreement, version and signer. */
export function keyName(agreementId: string, version: number, signerId: string): string {
  return `${agreementId}:${version}:${signerId}`;
}
