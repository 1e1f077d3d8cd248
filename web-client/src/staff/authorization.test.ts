import { expect, it } from 'vitest';
import { StaffClient } from './api';

function memoryStorage() {
  const values = new Map<string, string>();
  return {
    getItem: (k: string) => values.get(k) ?? null,
    setItem: (k: string, v: string) => void values.set(k, v),
    removeItem: (k: string) => void values.delete(k),
  };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

const signedIn = (access: string) => ({
  access_token: access,
  refresh_token: 'r',
  expires_in: 900,
  staff: { id: 'ST_1', username: 'li', display_name: '李', role: 'mediator', organisation_id: 'OR_1', court: null },
});

it('gives the authorization header of the current sign-in, the refreshed token once refreshed', async () => {
  let next = 'first';
  const fetcher = async (path: string, init?: RequestInit) => {
    if (path === '/api/v1/auth/login' || path === '/api/v1/auth/refresh') return json(200, signedIn(next));
    return new Headers(init?.headers).get('authorization') === 'Bearer second' ? json(200, {}) : json(401, { code: 'unauthorized', message: 'expired' });
  };
  const client = new StaffClient({ access: memoryStorage(), refresh: memoryStorage() }, fetcher);
  expect(client.authorization()).toBe('Bearer ');
  await client.login('li', 'pw');
  expect(client.authorization()).toBe('Bearer first');
  next = 'second';
  await client.call('GET', '/api/v1/cases');
  expect(client.authorization()).toBe('Bearer second');
});
