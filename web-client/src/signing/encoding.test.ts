import { describe, expect, it } from 'vitest';
import { fromBase64, spkiBase64, toBase64, utf8 } from './encoding';
import { signPayload } from './keys';

describe('base64', () => {
  it('is standard and padded, both ways', () => {
    expect(toBase64(new Uint8Array([]))).toBe('');
    expect(toBase64(new Uint8Array([0xfb, 0xff]))).toBe('+/8=');
    expect(toBase64(utf8('协议'))).toBe('5Y2P6K6u');
    expect([...fromBase64('+/8=')]).toEqual([0xfb, 0xff]);
  });

  it('round-trips a signature image larger than one chunk', () => {
    const bytes = new Uint8Array(200_000).map((_, i) => (i * 7919) % 256);
    expect(fromBase64(toBase64(bytes))).toEqual(bytes);
  });

  it('refuses the URL alphabet and unpadded text', () => {
    expect(() => fromBase64('-_8=')).toThrow();
    expect(() => fromBase64('+/8')).toThrow();
  });
});

describe('the device key', () => {
  it('exports the public half as SPKI DER and signs in the 64-byte r||s form', async () => {
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    const spki = fromBase64(await spkiBase64(pair.publicKey));
    // SPKI of a P-256 key: 26 bytes of header, then the 65-byte uncompressed point.
    expect(spki.length).toBe(91);
    expect(spki[0]).toBe(0x30);
    expect(spki[26]).toBe(0x04);
    await expect(crypto.subtle.exportKey('pkcs8', pair.privateKey)).rejects.toThrow();

    const payload = '{"case":"CA_1","version":2,"text_sha256":"ab","signer":"PT_a","time":1,"nonce":"n"}';
    const signature = fromBase64(await signPayload(pair.privateKey, payload));
    expect(signature.length).toBe(64);
    const publicKey = await crypto.subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
    const ok = await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, publicKey, signature, utf8(payload));
    expect(ok).toBe(true);
    const tampered = await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, publicKey, signature, utf8(payload.replace('2', '3')));
    expect(tampered).toBe(false);
  });
});
