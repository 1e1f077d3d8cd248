// The browser's package check on a tiny package built here with WebCrypto: the same
// signatures the server makes (Ed25519 manifest and seal, P-256 signer), then one tampering
// at a time, each expected to be named by its code and path.

import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { UnreadablePackage, auditEntryHash, parsePayload, verifyPackage } from './package';
import { sha256Hex } from './package-crypto';
import { serdeJson } from './serde-json';

const enc = new TextEncoder();
const b64 = (bytes: ArrayBuffer | Uint8Array) => btoa(String.fromCharCode(...new Uint8Array(bytes)));

async function ed25519Key() {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  const publicKey = b64(raw);
  const keyId = (await sha256Hex(raw)).slice(0, 16);
  const sign = async (bytes: Uint8Array) => b64(await crypto.subtle.sign({ name: 'Ed25519' }, pair.privateKey, bytes.slice()));
  return { publicKey, keyId, sign };
}

type Files = Record<string, Uint8Array>;

interface Built {
  files: Files;
  platform: Awaited<ReturnType<typeof ed25519Key>>;
}

/** A complete, valid package: one signer, a seal, two chained audit entries, one recording. */
async function build(): Promise<Built> {
  const platform = await ed25519Key();
  const seal = await ed25519Key();
  const phone = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const text = enc.encode('调解协议\n一、甲方于 2026 年 12 月 31 日前支付乙方 1000 元。\n');
  const textSha = await sha256Hex(text);
  const payload = enc.encode(JSON.stringify({ case: 'CA_1', version: 2, text_sha256: textSha, signer: 'PT_a', time: 1, nonce: 'n' }));
  const signature = b64(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, phone.privateKey, payload));
  const statement = enc.encode(
    JSON.stringify({
      agreement: 'AG_1',
      case: 'CA_1',
      version: 2,
      text_sha256: textSha,
      signatures: [{ signer: 'PT_a', signature_sha256: await sha256Hex(Uint8Array.from(atob(signature), (c) => c.charCodeAt(0))), signed_at: 5 }],
      effective_at: 6,
      organisation: 'OR_1',
      key_id: 'SK_1',
    }),
  );
  const first = { seq: 7, at: 100, actor: 'ST_m', action: 'case_created', subject: 'CA_1', detail: '案件 "甲"\n/\u2028\u0001', prev_hash: '' };
  const second = { seq: 8, at: 101, actor: 'ST_m', action: 'x', subject: 'CA_1', detail: '', prev_hash: await auditEntryHash(first) };
  const audit = [
    { ...first, hash: await auditEntryHash(first) },
    { ...second, hash: await auditEntryHash(second) },
  ];
  const recordingManifest = enc.encode('{"recording":"RC_1"}');
  const files: Files = {
    'agreement/agreement.txt': text,
    [`signatures/01-PT_a/payload.json`]: payload,
    [`signatures/01-PT_a/signature.json`]: enc.encode(
      JSON.stringify({ signer: 'PT_a', role: 'party', name: '张三', signed_at: 5, identity: null, free_will: null, public_key_spki_b64: b64(await crypto.subtle.exportKey('spki', phone.publicKey)), signature_b64: signature }),
    ),
    'seal/statement.json': statement,
    'seal/seal.json': enc.encode(
      JSON.stringify({
        organisation: 'OR_1',
        key_id: 'SK_1',
        public_key: seal.publicKey,
        seal_signature: await seal.sign(statement),
        platform_key_id: 'pk',
        platform_public_key: platform.publicKey,
        platform_signature: await platform.sign(statement),
        effective_at: 6,
      }),
    ),
    'organisation/organisation.json': enc.encode(JSON.stringify({ name: '调委会', seal_public_keys: [seal.publicKey] })),
    'audit/audit.json': enc.encode(JSON.stringify(audit)),
    'recordings/RC_1/manifest.json': recordingManifest,
    'recordings/RC_1/manifest.sig': enc.encode(
      JSON.stringify({ key_id: platform.keyId, algorithm: 'Ed25519', public_key: platform.publicKey, signature: await platform.sign(recordingManifest) }),
    ),
  };
  return { files, platform };
}

/** Lists and signs `files` (optionally leaving some out of the list), then zips them. */
async function pack(built: Built, options: { unlisted?: string[]; manifestKey?: Awaited<ReturnType<typeof ed25519Key>> } = {}): Promise<Uint8Array> {
  const listed = Object.keys(built.files)
    .filter((path) => !options.unlisted?.includes(path))
    .sort();
  const manifest = enc.encode(
    JSON.stringify({
      format: 'accord-confirmation-package/1',
      request_id: 'CR_1',
      case: { id: 'CA_1', number: 'TJ-1', title: '邻里纠纷', category: 'neighbours' },
      court: '某区人民法院',
      created_at: 9,
      agreement: { id: 'AG_1', version: 2, text_sha256: await sha256Hex(built.files['agreement/agreement.txt']), effective_at: 6, text_path: 'agreement/agreement.txt' },
      files: await Promise.all(listed.map(async (path) => ({ path, sha256: await sha256Hex(built.files[path]), size: built.files[path].length, kind: 'x' }))),
      signatures: [{ dir: 'signatures/01-PT_a', signer: 'PT_a', role: 'party', text_sha256: await sha256Hex(built.files['agreement/agreement.txt']), version: 2 }],
      seal: { path: 'seal/seal.json' },
      index: [],
      platform_key_id: 'pk',
    }),
  );
  const key = options.manifestKey ?? built.platform;
  const sig = enc.encode(
    JSON.stringify({ algorithm: 'Ed25519', key_id: built.platform.keyId, public_key: built.platform.publicKey, signature: await key.sign(manifest) }),
  );
  return zipSync({ 'manifest.json': manifest, 'manifest.sig.json': sig, ...built.files });
}

/** The distinct (code, path) pairs, in order: what the browser test compares with the CLI. */
const codes = (report: { problems: { code: string; path: string }[] }) => [...new Set(report.problems.map((p) => `${p.code} ${p.path}`))];

describe('verifyPackage', () => {
  it('passes an untouched package, every check ok', async () => {
    const built = await build();
    const report = await verifyPackage(await pack(built));
    expect(codes(report)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checks.every((c) => c.ok)).toBe(true);
  });

  it('accepts a trusted platform key and refuses an untrusted one', async () => {
    const built = await build();
    const bytes = await pack(built);
    expect((await verifyPackage(bytes, [built.platform.publicKey])).ok).toBe(true);
    // The platform key signs the manifest and countersigns the seal: an untrusted one fails both.
    expect(codes(await verifyPackage(bytes, ['AAAA']))).toEqual(['manifest_signature manifest.sig.json', 'seal_invalid seal/seal.json']);
  });

  it('names a file changed by one byte as file_hash', async () => {
    const built = await build();
    const bytes = await pack(built);
    // Change the text after it was listed and signed.
    const text = built.files['agreement/agreement.txt'].slice();
    text[0] ^= 1;
    const report = await verifyPackage(await repack(bytes, { 'agreement/agreement.txt': text }));
    expect(codes(report)).toContain('file_hash agreement/agreement.txt');
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.what === 'files')?.ok).toBe(false);
  });

  it('names a file the manifest does not list as file_unlisted', async () => {
    const built = await build();
    const report = await verifyPackage(await pack(built, { unlisted: ['recordings/RC_1/manifest.sig'] }));
    expect(codes(report)).toEqual(['file_unlisted recordings/RC_1/manifest.sig']);
  });

  it('names a manifest signed by another key as manifest_signature', async () => {
    const built = await build();
    const report = await verifyPackage(await pack(built, { manifestKey: await ed25519Key() }));
    expect(codes(report)).toEqual(['manifest_signature manifest.json']);
    expect(report.checks.filter((c) => !c.ok).map((c) => c.what)).toEqual(['manifest_signature']);
  });

  it('names a rewritten audit entry as audit_chain', async () => {
    const built = await build();
    const audit = JSON.parse(new TextDecoder().decode(built.files['audit/audit.json'])) as { detail: string }[];
    audit[0].detail = 'rewritten';
    built.files['audit/audit.json'] = enc.encode(JSON.stringify(audit));
    const report = await verifyPackage(await pack(built));
    expect(codes(report)).toEqual(['audit_chain audit/audit.json']);
    expect(report.problems.map((p) => p.message_en)).toEqual(["audit entry 7's hash does not recompute: it was changed"]);
  });

  it('names an entry that does not link to the one before it as audit_chain', async () => {
    const built = await build();
    const audit = JSON.parse(new TextDecoder().decode(built.files['audit/audit.json'])) as { seq: number; at: number; actor: string; action: string; subject: string; detail: string; prev_hash: string; hash: string }[];
    audit[1].prev_hash = 'f'.repeat(64);
    audit[1].hash = await auditEntryHash(audit[1]);
    built.files['audit/audit.json'] = enc.encode(JSON.stringify(audit));
    const report = await verifyPackage(await pack(built));
    expect(report.problems.map((p) => p.message_en)).toEqual(['audit entry 8 does not chain to the one before']);
  });

  it('names a payload for another version as signature_mismatch and its bad signature as signature_invalid', async () => {
    const built = await build();
    built.files['signatures/01-PT_a/payload.json'] = enc.encode(new TextDecoder().decode(built.files['signatures/01-PT_a/payload.json']).replace('"version":2', '"version":1'));
    expect(codes(await verifyPackage(await pack(built)))).toEqual([
      'signature_invalid signatures/01-PT_a/signature.json',
      'signature_mismatch signatures/01-PT_a/payload.json',
    ]);
  });

  it('names a signature folder the manifest does not name as signature_mismatch', async () => {
    const built = await build();
    built.files['signatures/02-PT_b/payload.json'] = enc.encode('{}');
    expect(codes(await verifyPackage(await pack(built)))).toEqual(['signature_mismatch signatures/02-PT_b/payload.json']);
  });

  it('names a statement the seal did not sign as seal_invalid', async () => {
    const built = await build();
    built.files['seal/statement.json'] = enc.encode(new TextDecoder().decode(built.files['seal/statement.json']).replace('"effective_at":6', '"effective_at":7'));
    expect(codes(await verifyPackage(await pack(built)))).toEqual(['seal_invalid seal/seal.json']);
  });

  it('names a recording manifest whose signature fails as recording_manifest', async () => {
    const built = await build();
    built.files['recordings/RC_1/manifest.json'] = enc.encode('{"recording":"RC_2"}');
    expect(codes(await verifyPackage(await pack(built)))).toEqual(['recording_manifest recordings/RC_1/manifest.json']);
  });

  it('names a seal key that is not the organisation’s as seal_invalid', async () => {
    const built = await build();
    built.files['organisation/organisation.json'] = enc.encode('{"seal_public_keys":[]}');
    expect(codes(await verifyPackage(await pack(built)))).toEqual(['seal_invalid seal/seal.json']);
  });

  it('names a missing agreement text as missing and as a text hash failure', async () => {
    const built = await build();
    const bytes = await pack(built);
    const { unzipSync } = await import('fflate');
    const files = unzipSync(bytes);
    delete files['agreement/agreement.txt'];
    expect(codes(await verifyPackage(zipSync(files)))).toEqual(['file_missing agreement/agreement.txt', 'text_hash agreement/agreement.txt']);
  });

  it('reports an unparsable manifest and stops there', async () => {
    const built = await build();
    const { unzipSync } = await import('fflate');
    const files = unzipSync(await pack(built));
    files['manifest.json'] = enc.encode('{"files":"no"}');
    expect(codes(await verifyPackage(zipSync(files)))).toEqual(['manifest_signature manifest.json']);
  });

  it('refuses bytes that are not a ZIP, or a ZIP without a manifest', async () => {
    await expect(verifyPackage(enc.encode('not a zip'))).rejects.toThrow(UnreadablePackage);
    await expect(verifyPackage(zipSync({ 'a.txt': enc.encode('a') }))).rejects.toThrow(UnreadablePackage);
  });

  it('reads a payload only in the exact form the server issued it', () => {
    const payload = '{"case":"CA_1","version":2,"text_sha256":"ab","signer":"PT_a","time":1,"nonce":"n"}';
    expect(parsePayload(payload)?.signer).toBe('PT_a');
    expect(parsePayload(payload.replace(',"version"', ', "version"'))).toBeNull();
    expect(parsePayload('{"version":2,"case":"CA_1","text_sha256":"ab","signer":"PT_a","time":1,"nonce":"n"}')).toBeNull();
  });
});

/** The package `bytes` with some files' contents replaced, its manifest left as it was. */
async function repack(bytes: Uint8Array, replaced: Files): Promise<Uint8Array> {
  const { unzipSync } = await import('fflate');
  return zipSync({ ...unzipSync(bytes), ...replaced });
}

describe('serdeJson', () => {
  it('writes strings as serde_json does: only quote, backslash and controls escaped', () => {
    expect(serdeJson(['a"b\\c', '/', '\u2028', '中文', '\n\r\t\b\f', '\u0001\u001f\u007f'])).toBe(
      '["a\\"b\\\\c","/","\u2028","中文","\\n\\r\\t\\b\\f","\\u0001\\u001f\u007f"]',
    );
  });

  it('writes integers plainly and refuses fractions', () => {
    expect(serdeJson([7, -1, 1765000000000])).toBe('[7,-1,1765000000000]');
    expect(() => serdeJson([1.5])).toThrow(RangeError);
  });

  it('keeps surrogate pairs and replaces a lone surrogate as a UTF-8 decoder would', () => {
    expect(serdeJson('😀')).toBe('"😀"');
    expect(serdeJson('a\ud800b')).toBe('"a\ufffdb"');
  });

  it('agrees with JSON.stringify on every well-formed string of the first 0x3000 code points', () => {
    const all = Array.from({ length: 0x3000 }, (_, i) => String.fromCharCode(i)).filter((c) => c < '\ud800' || c > '\udfff').join('');
    expect(serdeJson(all)).toBe(JSON.stringify(all));
  });
});
