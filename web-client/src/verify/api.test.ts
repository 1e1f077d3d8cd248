import { describe, expect, it } from 'vitest';
import { hashFromPath, lookUp } from './api';

const SHA = 'ab'.repeat(32);

describe('verification address', () => {
  it('takes the hash of /v/<sha256>, in either case', () => {
    expect(hashFromPath(`/v/${SHA}`)).toBe(SHA);
    expect(hashFromPath(`/v/${SHA.toUpperCase()}/`)).toBe(SHA);
  });

  it('refuses anything else', () => {
    expect(hashFromPath('/v/')).toBeNull();
    expect(hashFromPath(`/v/${SHA}0`)).toBeNull();
    expect(hashFromPath(`/v/${'g'.repeat(64)}`)).toBeNull();
    expect(hashFromPath(`/x/${SHA}`)).toBeNull();
  });
});

describe('lookUp', () => {
  const answer = (status: number, body: unknown) =>
    (async () => new Response(JSON.stringify(body), { status })) as unknown as typeof fetch;

  it('reads the public status', async () => {
    const body = { genuine: true, status: 'in_force', effective_at: 1, organisation: 'O', signers: [] };
    expect(await lookUp(SHA, answer(200, body))).toEqual({ kind: 'found', status: body });
  });

  it('says when the server refuses the hash or asks to slow down', async () => {
    expect(await lookUp(SHA, answer(400, {}))).toEqual({ kind: 'badHash' });
    expect(await lookUp(SHA, answer(429, {}))).toEqual({ kind: 'busy' });
  });
});
