import { afterEach, describe, expect, it, vi } from 'vitest';
import { errorFrom, RoomApi, RoomApiError } from './room-api';

function answer(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

describe('room API', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('asks for and records consent with the join token as bearer', async () => {
    const fetch = vi
      .fn<typeof globalThis.fetch>()
      .mockResolvedValueOnce(answer(200, { required: true, version: '2026-1' }))
      .mockResolvedValueOnce(answer(201, { required: false, consented_at: 5, version: '2026-1' }));
    vi.stubGlobal('fetch', fetch);
    const api = new RoomApi('join.token');
    expect((await api.consent()).required).toBe(true);
    await api.giveConsent();
    const [[getUrl, getInit], [postUrl, postInit]] = fetch.mock.calls;
    expect([getUrl, getInit?.method]).toEqual(['/api/v1/room/consent', 'GET']);
    expect([postUrl, postInit?.method]).toEqual(['/api/v1/room/consent', 'POST']);
    for (const [, init] of fetch.mock.calls) expect((init?.headers as Record<string, string>).Authorization).toBe('Bearer join.token');
    expect(JSON.parse(String(postInit?.body))).toEqual({ online_mediation: true, recording: true });
  });

  it('turns refusals into the server’s code and message, and no answer into network', async () => {
    const fetch = vi
      .fn<typeof globalThis.fetch>()
      .mockResolvedValueOnce(answer(401, { code: 'unauthorized', message: 'the invite was revoked' }))
      .mockRejectedValueOnce(new TypeError('offline'));
    vi.stubGlobal('fetch', fetch);
    const api = new RoomApi('t');
    const refused = await api.consent().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RoomApiError);
    expect([(refused as RoomApiError).code, (refused as RoomApiError).message, (refused as RoomApiError).status]).toEqual([
      'unauthorized',
      'the invite was revoked',
      401,
    ]);
    expect(((await api.evidenceBlob('EV_1').catch((e: unknown) => e)) as RoomApiError).code).toBe('network');
  });

  it('names a proxy’s HTML error page by its status', () => {
    expect(errorFrom(502, '<html>Bad Gateway</html>').code).toBe('http_502');
    expect(errorFrom(413, '{"code":"payload_too_large","message":"over 10 MB"}').code).toBe('payload_too_large');
  });
});
