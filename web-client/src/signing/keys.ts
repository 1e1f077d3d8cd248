// The device's signing key: an ECDSA P-256 pair made by WebCrypto as non-extractable, so the
// private half never exists outside the browser's key store. The CryptoKeyPair itself goes into
// IndexedDB (structured clone keeps it non-extractable); only the public half is exported.

import { keyName } from './steps';
import { spkiBase64, toBase64, utf8 } from './encoding';

const DB = 'accord-signing';
const STORE = 'keys';
const ALGORITHM: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('indexedDB open failed'));
  });
}

async function withStore<T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = act(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error ?? new Error('indexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('indexedDB transaction aborted'));
    });
  } finally {
    db.close();
  }
}

export interface DeviceKey {
  pair: CryptoKeyPair;
  /** SPKI DER, base64: what the server registers. */
  publicKey: string;
}

/** The stored pair for this agreement, version and signer, if this device made one. */
export async function loadKey(agreementId: string, version: number, signerId: string): Promise<DeviceKey | null> {
  const pair = await withStore<CryptoKeyPair | undefined>('readonly', (s) => s.get(keyName(agreementId, version, signerId)));
  if (!pair?.privateKey || !pair.publicKey) return null;
  return { pair, publicKey: await spkiBase64(pair.publicKey) };
}

/**
 * The pair to register: the stored one, or a new one stored before it is used. A new pair per
 * version: a key registered for a text that changed must not sign the new one.
 */
export async function deviceKey(agreementId: string, version: number, signerId: string): Promise<DeviceKey> {
  const existing = await loadKey(agreementId, version, signerId);
  if (existing) return existing;
  const pair = await crypto.subtle.generateKey(ALGORITHM, false, ['sign', 'verify']);
  await withStore('readwrite', (s) => s.put(pair, keyName(agreementId, version, signerId)));
  return { pair, publicKey: await spkiBase64(pair.publicKey) };
}

/** Signs the payload's UTF-8 bytes; WebCrypto gives the 64-byte r‖s form the server expects. */
export async function signPayload(privateKey: CryptoKey, payload: string, subtle: SubtleCrypto = crypto.subtle): Promise<string> {
  const signature = await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, utf8(payload));
  return toBase64(signature);
}
