// Bytes ↔ base64 (standard alphabet, padded) and the public half of a device key as the server
// reads it: SPKI DER in base64. `btoa`/`atob` exist in every browser we serve and in Node ≥ 16.

/** Standard, padded base64 of `bytes`. */
export function toBase64(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = '';
  // Chunked: String.fromCharCode with a whole signature image as arguments overflows the stack.
  for (let i = 0; i < view.length; i += 0x8000) binary += String.fromCharCode(...view.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** The bytes of standard base64; throws on anything else. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new Error('not base64');
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) out[i] = binary.charCodeAt(i);
  return out;
}

/** The exact bytes the signature covers: the challenge payload as UTF-8. */
export function utf8(text: string): Uint8Array<ArrayBuffer> {
  // Copied into a fresh buffer: WebCrypto takes only ArrayBuffer-backed views.
  return new Uint8Array(new TextEncoder().encode(text));
}

/** A public key as SPKI DER in base64 (the registration's `public_key`). */
export async function spkiBase64(publicKey: CryptoKey, subtle: SubtleCrypto = crypto.subtle): Promise<string> {
  return toBase64(await subtle.exportKey('spki', publicKey));
}
