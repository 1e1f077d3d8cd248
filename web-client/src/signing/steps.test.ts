import { describe, expect, it } from 'vitest';
import { keyName, readyToSeal, signerOf, stepFor } from './steps';
import type { Agreement, Signer, Viewer } from './types';

function signer(over: Partial<Signer> = {}): Signer {
  return {
    signer_id: 'PT_a',
    name: '张三',
    role: 'party',
    side: 'applicant',
    represents: null,
    required: true,
    may_sign: true,
    cannot_sign_reason: null,
    status: 'pending',
    signed_at: null,
    declined_reason: null,
    identity: null,
    free_will: null,
    ...over,
  };
}

function agreement(signers: Signer[], over: Partial<Agreement> = {}): Agreement {
  return {
    id: 'AG_1',
    case_id: 'CA_1',
    locale: 'zh-CN',
    status: 'final',
    version: 2,
    e_signable: true,
    not_e_signable_reason: null,
    final: { version: 2, text: '人民调解协议书', text_sha256: 'ab'.repeat(32), finalised_at: 1, finalised_by_name: '李调解' },
    effective_at: null,
    signers,
    seal: null,
    pdf_url: null,
    private_drafts: [],
    updated_at: 1,
    ...over,
  };
}

const party: Viewer = { kind: 'party', id: 'PT_a', role: 'party' };
const mediator: Viewer = { kind: 'staff', id: 'ST_m', role: 'mediator' };
const fresh = { readDone: false, hasKey: false };
const read = { readDone: true, hasKey: false };
const keyed = { readDone: true, hasKey: true };
const yes = { answer: 'yes' as const, at: 5, recording_id: null, recording_offset_ms: null };

describe('the step a signer sees', () => {
  it('walks a party through read, free will, identity and draw', () => {
    expect(stepFor(agreement([signer()]), party, fresh)).toBe('read');
    expect(stepFor(agreement([signer()]), party, read)).toBe('free_will');
    expect(stepFor(agreement([signer({ free_will: { ...yes, answer: 'no' } })]), party, read)).toBe('free_will_no');
    expect(stepFor(agreement([signer({ free_will: yes })]), party, read)).toBe('identity');
    const identified = signer({ free_will: yes, identity: { method: 'otp', at: 6 } });
    expect(stepFor(agreement([identified]), party, keyed)).toBe('draw');
    // Registered from another phone: this one has no key, so identity again.
    expect(stepFor(agreement([identified]), party, read)).toBe('identity');
  });

  it('still asks to read first, even when everything else is done', () => {
    const identified = signer({ free_will: yes, identity: { method: 'otp', at: 6 } });
    expect(stepFor(agreement([identified]), party, { readDone: false, hasKey: true })).toBe('read');
  });

  it('does not ask the mediator about their own free will', () => {
    const m = signer({ signer_id: 'ST_m', role: 'mediator', side: null });
    expect(stepFor(agreement([m]), mediator, read)).toBe('identity');
    expect(stepFor(agreement([signer({ signer_id: 'ST_m', role: 'mediator', side: null, identity: { method: 'staff', at: 1 } })]), mediator, keyed)).toBe('draw');
  });

  it('ends in done, declined or in force', () => {
    expect(stepFor(agreement([signer({ status: 'signed', signed_at: 9 })]), party, fresh)).toBe('done');
    expect(stepFor(agreement([signer({ status: 'declined', declined_reason: '金额不对' })]), party, fresh)).toBe('declined');
    expect(stepFor(agreement([signer({ status: 'signed' })], { status: 'in_force', effective_at: 10 }), party, fresh)).toBe('in_force');
  });

  it('shows the paper explanation to everyone when the case concerns personal status', () => {
    const a = agreement([signer()], { e_signable: false, not_e_signable_reason: 'personal_status' });
    expect(stepFor(a, party, keyed)).toBe('not_e_signable');
    expect(stepFor(a, mediator, keyed)).toBe('not_e_signable');
    expect(stepFor({ ...a, status: 'in_force' }, party, keyed)).toBe('not_e_signable');
  });

  it('stops a representative without a power of attorney, with the reason', () => {
    const rep = signer({ signer_id: 'PT_r', role: 'representative', represents: 'PT_a', may_sign: false, cannot_sign_reason: 'attorney_letter_missing' });
    expect(stepFor(agreement([rep]), { kind: 'party', id: 'PT_r', role: 'representative' }, keyed)).toBe('cannot_sign');
  });

  it('tells someone who is no signer, and waits while drafting', () => {
    expect(stepFor(agreement([signer()]), { kind: 'party', id: 'PT_x', role: 'observer' }, fresh)).toBe('not_signer');
    expect(stepFor(agreement([signer()], { status: 'drafting', final: null }), party, fresh)).toBe('drafting');
  });

  it('acts for the pending entry of someone who signs for two parties', () => {
    const a = agreement([
      signer({ signer_id: 'PT_r', role: 'representative', represents: 'PT_1', status: 'signed' }),
      signer({ signer_id: 'PT_r', role: 'representative', represents: 'PT_2' }),
    ]);
    expect(signerOf(a, { kind: 'party', id: 'PT_r', role: 'representative' })?.represents).toBe('PT_2');
  });
});

describe('the seal', () => {
  const m = (status: Signer['status']) => signer({ signer_id: 'ST_m', role: 'mediator', side: null, status });
  it('waits for every required signer and the mediator', () => {
    expect(readyToSeal(agreement([signer({ status: 'signed' }), m('pending')]))).toBe(false);
    expect(readyToSeal(agreement([signer({ status: 'pending' }), m('signed')]))).toBe(false);
    expect(readyToSeal(agreement([signer({ status: 'signed' }), signer({ signer_id: 'PT_o', required: false }), m('signed')]))).toBe(true);
  });
  it('is never offered for a paper-only or already sealed agreement', () => {
    expect(readyToSeal(agreement([signer({ status: 'signed' }), m('signed')], { e_signable: false }))).toBe(false);
    expect(readyToSeal(agreement([signer({ status: 'signed' }), m('signed')], { status: 'in_force' }))).toBe(false);
  });
});

it('names device keys by agreement, version and signer', () => {
  expect(keyName('AG_1', 3, 'PT_a')).toBe('AG_1:3:PT_a');
});
