// The cryptography a package check needs, over WebCrypto: SHA-256, Ed25519 (the manifest's,
// the seal's and the recordings' signatures) and ECDSA P-256 (the signers' phones). Every
// check answers false on a malformed key or signature rather than throwing: to the report a
// signature that cannot be read is a signature that does not verify.

const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The bytes of standard, padded base64, or null when `text` is not exactly that: the server
 * decodes with the `base64` crate's STANDARD engine, which refuses what `atob` forgives
 * (whitespace, missing padding), and both sides must call the same bytes a valid key.
 */
export function fromBase64(text: string): Uint8Array | null {
  if (!CANONICAL_BASE64.test(text)) return null;
  try {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return null;
  }
}

/** A copy WebCrypto accepts whatever buffer `bytes` views (TypeScript's BufferSource rules). */
function buffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer as ArrayBuffer;
}

/** SHA-256 of `bytes`, lowercase hex (as every hash in a package is written). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', buffer(bytes)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Whether WebCrypto here knows Ed25519; learnt on first use. */
let webCryptoEd25519: boolean | null = null;

/**
 * Whether `signatureB64` is the Ed25519 signature of `message` by the 32-byte key
 * `publicKeyB64`; neither is trimmed, as the server's verify_seal does not trim them.
 */
export async function ed25519Verifies(publicKeyB64: unknown, signatureB64: unknown, message: Uint8Array): Promise<boolean> {
  if (typeof publicKeyB64 !== 'string' || typeof signatureB64 !== 'string') return false;
  const publicKey = fromBase64(publicKeyB64);
  const signature = fromBase64(signatureB64);
  if (!publicKey || publicKey.length !== 32 || !signature || signature.length !== 64) return false;
  if (webCryptoEd25519 !== false) {
    let key: CryptoKey | null = null;
    try {
      key = await crypto.subtle.importKey('raw', buffer(publicKey), { name: 'Ed25519' }, false, ['verify']);
      webCryptoEd25519 = true;
    } catch (error) {
      // A browser without Ed25519 in WebCrypto says NotSupportedError; any other failure is
      // a key that is not a point of the curve, which verifies nothing.
      if (!(error instanceof DOMException && error.name === 'NotSupportedError')) return false;
      webCryptoEd25519 = false;
    }
    if (key) {
      try {
        return await crypto.subtle.verify({ name: 'Ed25519' }, key, buffer(signature), buffer(message));
      } catch {
        return false;
      }
    }
  }
  // Loaded only by browsers that need it, so the others never download it.
  const { ed25519 } = await import('@noble/curves/ed25519.js');
  try {
    // Strict RFC 8032 checks, like ed25519-dalek's verify_strict on the server.
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/**
 * Whether `signatureB64` (64-byte `r||s`, as WebCrypto writes it) is an ECDSA P-256 SHA-256
 * signature of `message` by the key `spkiB64` (SPKI DER, base64): a signer's phone signing
 * its payload.
 */
export async function p256Verifies(spkiB64: unknown, signatureB64: unknown, message: Uint8Array): Promise<boolean> {
  if (typeof spkiB64 !== 'string' || typeof signatureB64 !== 'string') return false;
  // The server trims both before decoding (agreements/signing.rs, verify_device_signature).
  const spki = fromBase64(spkiB64.trim());
  const signature = fromBase64(signatureB64.trim());
  if (!spki || !signature || signature.length !== 64) return false;
  try {
    const key = await crypto.subtle.importKey('spki', buffer(spki), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    return await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, buffer(signature), buffer(message));
  } catch {
    return false;
  }
}

/** A platform key's id: the first 16 hex digits of the SHA-256 of its 32 bytes. */
export async function keyIdOf(publicKey: Uint8Array): Promise<string> {
  return (await sha256Hex(publicKey)).slice(0, 16);
}

/** A 32-byte Ed25519 key in base64 (surrounding whitespace allowed), or null. */
export function decodeKey(b64: string): Uint8Array | null {
  const key = fromBase64(b64.trim());
  return key && key.length === 32 ? key : null;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
