import { afterEach, describe, expect, it, vi } from 'vitest';
import { submitIntake, trackCase } from './api';

function answer(status: number, body: unknown = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

describe('intake API', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('sends the application, the files and the same key on every attempt', async () => {
    const fetch = vi.fn<typeof globalThis.fetch>().mockRejectedValueOnce(new TypeError('offline'));
    fetch.mockResolvedValueOnce(answer(201, { case_number: '2026-宝安-000001', tracking_code: 'ABCDEFGHJK', status: 'intake' }));
    vi.stubGlobal('fetch', fetch);
    const photo = new File([new Uint8Array([0x89, 0x50])], '漏水.png', { type: 'image/png' });
    expect(await submitIntake({ region: 'r' }, [photo], 'intake-key')).toEqual({ ok: false, failure: { kind: 'network' } });
    const second = await submitIntake({ region: 'r' }, [photo], 'intake-key');
    expect(second.ok && second.value.tracking_code).toBe('ABCDEFGHJK');
    for (const [, init] of fetch.mock.calls) {
      expect((init?.headers as Record<string, string>)['Idempotency-Key']).toBe('intake-key');
      const body = init?.body as FormData;
      expect(body.get('application')).toBe('{"region":"r"}');
      expect((body.getAll('photos[]')[0] as File).name).toBe('漏水.png');
    }
  });

  it('tells refusals apart', async () => {
    const fields = [{ field: 'region', message: 'no mediation organisation serves this region' }];
    const fetch = vi
      .fn<typeof globalThis.fetch>()
      .mockResolvedValueOnce(answer(413))
      .mockResolvedValueOnce(answer(415))
      .mockResolvedValueOnce(answer(422, { code: 'invalid', fields }))
      .mockResolvedValueOnce(answer(409, { code: 'idempotency_key_reused', message: 'used for a different request' }))
      .mockResolvedValueOnce(answer(500));
    vi.stubGlobal('fetch', fetch);
    const kinds = [];
    for (let i = 0; i < 5; i++) {
      const result = await submitIntake({}, [], 'k');
      kinds.push(result.ok ? 'ok' : result.failure);
    }
    expect(kinds).toEqual([{ kind: 'fileSize' }, { kind: 'fileType' }, { kind: 'fields', fields }, { kind: 'keyReused' }, { kind: 'server' }]);
  });

  it('returns null for an unknown tracking code', async () => {
    vi.stubGlobal('fetch', vi.fn<typeof globalThis.fetch>().mockResolvedValue(answer(404, { code: 'not_found' })));
    expect(await trackCase('ABCDEFGHJK')).toBeNull();
  });
});
