// Checking a confirmation package (确认材料包) in the browser: the same checks, problem codes,
// paths and words as `accord verify PACKAGE.zip` (cases/src/confirmation/package/verify.rs),
// so a court clerk can check a package on any computer and a test can feed one tampered
// package to both and compare. Nothing leaves the page.
//
// Every check runs even after one fails, so everything wrong is shown at once; a file that
// does not parse is a problem of that file. Only bytes that are no package at all (not a
// ZIP, no manifest.json) throw UnreadablePackage — the CLI's exit code 2.

import { decodeKey, ed25519Verifies, fromBase64, keyIdOf, p256Verifies, sameBytes, sha256Hex } from './package-crypto';
import { serdeJson, serdeString } from './serde-json';
import { type PackageFiles, UnreadablePackage, readZip } from './zip';

export { UnreadablePackage } from './zip';

/** Every way a package can fail, as both verifiers name it. */
export type ProblemCode =
  | 'manifest_signature'
  | 'file_missing'
  | 'file_unlisted'
  | 'file_hash'
  | 'text_hash'
  | 'signature_invalid'
  | 'signature_mismatch'
  | 'seal_invalid'
  | 'audit_chain'
  | 'recording_manifest';

export interface PackageProblem {
  code: ProblemCode;
  /** The file in the package the problem is about. */
  path: string;
  message_zh: string;
  message_en: string;
}

/** The checks, in the order they run and report; each is ok when it found no problem. */
export const CHECK_NAMES = ['manifest_signature', 'files', 'agreement_text', 'signatures', 'seal', 'audit_chain', 'recordings'] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

export interface PackageCheck {
  what: CheckName;
  ok: boolean;
}

export interface PackageReport {
  ok: boolean;
  problems: PackageProblem[];
  checks: PackageCheck[];
}

const MANIFEST = 'manifest.json';
const MANIFEST_SIGNATURE = 'manifest.sig.json';
const STATEMENT = 'seal/statement.json';
const AUDIT = 'audit/audit.json';
const RECORDING_SIGNATURE = 'manifest.sig';

/** Problems as they are found, each said once, and the checks they fail. */
class Findings {
  readonly problems: PackageProblem[] = [];
  private readonly failed = new Set<CheckName>();

  add(check: CheckName, code: ProblemCode, path: string, zh: string, en: string): void {
    this.failed.add(check);
    // The same problem found twice (two checks reading one file) is said once.
    if (this.problems.some((p) => p.code === code && p.path === path && p.message_zh === zh)) return;
    this.problems.push({ code, path, message_zh: zh, message_en: en });
  }

  report(): PackageReport {
    return {
      ok: this.problems.length === 0,
      problems: this.problems,
      checks: CHECK_NAMES.map((what) => ({ what, ok: !this.failed.has(what) })),
    };
  }
}

// Reading JSON the way serde reads the server's structs: a field of the wrong type makes
// the whole file unparsable, as it does there.
type Json = Record<string, unknown>;
// A byte-order mark is kept, so that a file starting with one fails to parse as it does in serde.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);

function text(bytes: Uint8Array | undefined): string | null {
  if (!bytes) return null;
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

function parseJson(bytes: Uint8Array | undefined): unknown {
  const source = text(bytes);
  if (source === null) return undefined;
  try {
    return JSON.parse(source) as unknown;
  } catch {
    return undefined;
  }
}

/** An object whose listed fields all pass their checks (`?` marks a field that may be null or absent). */
function shaped(value: unknown, fields: Record<string, (v: unknown) => boolean>): value is Json {
  if (!isObject(value)) return false;
  return Object.entries(fields).every(([name, ok]) =>
    name.endsWith('?') ? value[name.slice(0, -1)] == null || ok(value[name.slice(0, -1)]) : ok(value[name]),
  );
}

const arrayOf = (ok: (v: unknown) => boolean) => (v: unknown) => Array.isArray(v) && v.every(ok);
const isU64 = (v: unknown) => isInt(v) && (v as number) >= 0;

interface ManifestFile {
  path: string;
  sha256: string;
  size: number;
}
interface ManifestSignature {
  dir: string;
  signer: string;
  text_sha256: string;
  version: number;
}
interface Manifest {
  caseId: string;
  files: ManifestFile[];
  signatures: ManifestSignature[];
  agreement: { text_sha256: string; version: number; text_path: string };
  sealPath: string;
}

const isManifestFile = (v: unknown) => shaped(v, { path: isString, sha256: isString, size: isU64, kind: isString });
const isManifestSignature = (v: unknown) => shaped(v, { dir: isString, signer: isString, role: isString, text_sha256: isString, version: isInt });
const isIndexRow = (v: unknown) =>
  shaped(v, { item: isString, label: isString, required: (b) => typeof b === 'boolean', present: (b) => typeof b === 'boolean', files: arrayOf(isString), note: isString });

function readManifest(bytes: Uint8Array): Manifest | null {
  const raw = parseJson(bytes);
  const ok = shaped(raw, {
    format: isString,
    request_id: isString,
    case: (c) => shaped(c, { id: isString, number: isString, title: isString, category: isString }),
    court: isString,
    created_at: isInt,
    agreement: (a) => shaped(a, { id: isString, version: isInt, text_sha256: isString, effective_at: isInt, text_path: isString }),
    files: arrayOf(isManifestFile),
    signatures: arrayOf(isManifestSignature),
    seal: (s) => shaped(s, { path: isString }),
    index: arrayOf(isIndexRow),
    platform_key_id: isString,
  });
  if (!ok) return null;
  const agreement = raw.agreement as Manifest['agreement'];
  return {
    caseId: (raw.case as Json).id as string,
    files: raw.files as ManifestFile[],
    signatures: raw.signatures as ManifestSignature[],
    agreement,
    sealPath: (raw.seal as Json).path as string,
  };
}

/**
 * Checks a package's bytes. `trusted`: the platform's public keys (Ed25519, base64) the
 * manifest and the seal's countersignature must be signed with; without it the signatures
 * are checked with the keys the package names, which says nothing of whose they are.
 */
export async function verifyPackage(bytes: Uint8Array, trusted?: string[]): Promise<PackageReport> {
  const files = readZip(bytes);
  const manifestBytes = files.get(MANIFEST);
  if (!manifestBytes) throw new UnreadablePackage('the ZIP has no manifest.json; it is not a confirmation package');
  const found = new Findings();
  const trustedKeys = trusted?.map(decodeKey).filter((k): k is Uint8Array => k !== null);
  await checkManifestSignature(files, manifestBytes, trustedKeys, found);
  const manifest = readManifest(manifestBytes);
  if (!manifest) {
    found.add('manifest_signature', 'manifest_signature', MANIFEST, 'manifest.json 无法解析', 'manifest.json cannot be parsed');
    return found.report();
  }
  await checkFiles(files, manifest, found);
  await checkText(files, manifest, found);
  const signatureHashes = await checkSignatures(files, manifest, found);
  await checkSeal(files, manifest, signatureHashes, trustedKeys, found);
  await checkAudit(files, found);
  await checkRecordings(files, found);
  return found.report();
}

const isSignatureFile = (v: unknown) => shaped(v, { algorithm: isString, key_id: isString, public_key: isString, signature: isString });

async function checkManifestSignature(files: PackageFiles, manifestBytes: Uint8Array, trusted: Uint8Array[] | undefined, found: Findings): Promise<void> {
  const add = (path: string, zh: string, en: string) => found.add('manifest_signature', 'manifest_signature', path, zh, en);
  const signature = parseJson(files.get(MANIFEST_SIGNATURE));
  if (!isSignatureFile(signature)) {
    add(MANIFEST_SIGNATURE, '清单签名文件缺失或无法解析', "the manifest's signature file is missing or cannot be parsed");
    return;
  }
  const key = decodeKey(signature.public_key as string);
  if (!key) {
    add(MANIFEST_SIGNATURE, '清单签名中的公钥不是 Ed25519 公钥', "the manifest signature's key is not an Ed25519 public key");
    return;
  }
  if (signature.algorithm !== 'Ed25519' || (await keyIdOf(key)) !== signature.key_id) {
    add(MANIFEST_SIGNATURE, '清单签名的算法或密钥编号与公钥不符', "the manifest signature's algorithm or key id does not match its key");
  }
  if (!(await ed25519Verifies(signature.public_key, signature.signature, manifestBytes))) {
    add(
      MANIFEST,
      'manifest.json 与平台签名不符：清单已被改动，或签名无效',
      "manifest.json does not match the platform's signature: it was changed, or the signature is invalid",
    );
  }
  if (trusted && !trusted.some((k) => sameBytes(k, key))) {
    const id = String(signature.key_id);
    add(MANIFEST_SIGNATURE, `清单由不受信任的密钥 ${id} 签名`, `the manifest is signed by key ${id}, which is not trusted`);
  }
}

async function checkFiles(files: PackageFiles, manifest: Manifest, found: Findings): Promise<void> {
  const listed = new Set<string>();
  for (const file of manifest.files) {
    listed.add(file.path);
    const bytes = files.get(file.path);
    if (!bytes) {
      found.add('files', 'file_missing', file.path, '清单列明的文件缺失', 'listed in the manifest but absent');
    } else if (bytes.length !== file.size || (await sha256Hex(bytes)) !== file.sha256) {
      found.add('files', 'file_hash', file.path, '文件内容与清单记载的哈希值不符，已被改动', "its SHA-256 or size differs from the manifest's: it was changed");
    }
  }
  for (const path of [...files.keys()].sort()) {
    if (path !== MANIFEST && path !== MANIFEST_SIGNATURE && !listed.has(path)) {
      found.add('files', 'file_unlisted', path, '文件未列入清单，系后来加入', 'present but not listed in the manifest: it was added');
    }
  }
}

async function checkText(files: PackageFiles, manifest: Manifest, found: Findings): Promise<void> {
  const path = manifest.agreement.text_path;
  const bytes = files.get(path);
  if (!bytes || (await sha256Hex(bytes)) !== manifest.agreement.text_sha256) {
    found.add('agreement_text', 'text_hash', path, '协议文本的 SHA-256 与所签署版本的哈希值不符', "the agreement text's SHA-256 is not that of the version signed");
  }
}

interface Payload {
  case: string;
  version: number;
  text_sha256: string;
  signer: string;
}

/**
 * A signed payload read as the server reads it (Payload::parse): exactly its six fields, in
 * their order, written compactly — any other spelling is bytes the phone was not issued.
 */
export function parsePayload(source: string): Payload | null {
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch {
    return null;
  }
  if (!isObject(value) || Object.keys(value).length !== 6) return null;
  const { case: caseId, version, text_sha256, signer, time, nonce } = value;
  if (!isString(caseId) || !isInt(version) || !isString(text_sha256) || !isString(signer) || !isInt(time) || !isString(nonce)) return null;
  const canonical =
    `{"case":${serdeString(caseId)},"version":${serdeJson(version)},"text_sha256":${serdeString(text_sha256)},` +
    `"signer":${serdeString(signer)},"time":${serdeJson(time)},"nonce":${serdeString(nonce)}}`;
  return canonical === source ? { case: caseId, version, text_sha256, signer } : null;
}

const isSignerFile = (v: unknown) =>
  shaped(v, { signer: isString, role: isString, name: isString, public_key_spki_b64: isString, signature_b64: isString, signed_at: isInt });

/** The seal statement's hash of a signature: of its base64 bytes, of its text when not base64. */
async function signatureSha256(signatureB64: string): Promise<string> {
  return sha256Hex(fromBase64(signatureB64.trim()) ?? new TextEncoder().encode(signatureB64));
}

/** Checks each signer's folder; returns each signature's SHA-256 by signer, for the seal. */
async function checkSignatures(files: PackageFiles, manifest: Manifest, found: Findings): Promise<[string, string][]> {
  const hashes: [string, string][] = [];
  for (const listed of manifest.signatures) {
    const signaturePath = `${listed.dir}/signature.json`;
    const payloadPath = `${listed.dir}/payload.json`;
    // The folder is `<NN>-<signer>`: the signer it belongs to, whatever its files say.
    const folder = listed.dir.split('/').pop() ?? '';
    const dash = folder.indexOf('-');
    const dirSigner = dash < 0 ? '' : folder.slice(dash + 1);
    const payloadBytes = files.get(payloadPath);
    const payload = text(payloadBytes);
    const signature = parseJson(files.get(signaturePath));
    if (payload === null || !payloadBytes || !isSignerFile(signature)) {
      found.add('signatures', 'signature_invalid', signaturePath, '签名文件或签名内容缺失、无法解析', 'the signature or its payload is missing or cannot be parsed');
      continue;
    }
    const signer = signature.signer as string;
    hashes.push([signer, await signatureSha256(signature.signature_b64 as string)]);
    if (!(await p256Verifies(signature.public_key_spki_b64, signature.signature_b64, payloadBytes))) {
      found.add(
        'signatures',
        'signature_invalid',
        signaturePath,
        `${listed.signer} 的电子签名不能以其设备公钥验证`,
        `${listed.signer}'s signature does not verify with their device key`,
      );
    }
    const parsed = parsePayload(payload);
    if (!(parsed?.signer === dirSigner && signer === dirSigner && listed.signer === dirSigner)) {
      found.add(
        'signatures',
        'signature_mismatch',
        signaturePath,
        `签名所属的签署人与目录 ${listed.dir} 不符（签名被调换，或 payload.json 已非签署时的原样）`,
        `the signer named does not match the folder ${listed.dir} (signatures swapped, or payload.json is not the bytes signed)`,
      );
    }
    const agreement = manifest.agreement;
    const sameText =
      parsed !== null &&
      parsed.text_sha256 === agreement.text_sha256 &&
      parsed.version === agreement.version &&
      parsed.case === manifest.caseId &&
      listed.text_sha256 === agreement.text_sha256 &&
      listed.version === agreement.version;
    if (!sameText) {
      found.add(
        'signatures',
        'signature_mismatch',
        payloadPath,
        '签名针对的不是本协议的生效版本（旧版本或其他文本）',
        'the signature is over another text or an outdated version of the agreement',
      );
    }
  }
  // A signer's folder the manifest does not name is a signature nobody vouches for.
  const named = new Set(manifest.signatures.map((s) => s.dir));
  for (const path of [...files.keys()].sort()) {
    if (!path.startsWith('signatures/')) continue;
    const dir = path.slice(0, path.lastIndexOf('/'));
    if (!named.has(dir)) {
      found.add('signatures', 'signature_mismatch', path, '清单未列明该签名目录', 'this signature folder is not named in the manifest');
    }
  }
  return hashes;
}

const isSealFile = (v: unknown) =>
  shaped(v, {
    organisation: isString,
    key_id: isString,
    public_key: isString,
    seal_signature: isString,
    platform_key_id: isString,
    platform_public_key: isString,
    platform_signature: isString,
    effective_at: isInt,
  });

async function checkSeal(
  files: PackageFiles,
  manifest: Manifest,
  signatureHashes: [string, string][],
  trusted: Uint8Array[] | undefined,
  found: Findings,
): Promise<void> {
  const sealPath = manifest.sealPath;
  const fail = (path: string, zh: string, en: string) => found.add('seal', 'seal_invalid', path, zh, en);
  const seal = parseJson(files.get(sealPath));
  const statementBytes = files.get(STATEMENT);
  if (!isSealFile(seal) || !statementBytes) {
    fail(sealPath, '印章文件缺失或无法解析', 'the seal or its statement is missing or cannot be parsed');
    return;
  }
  if (!(await ed25519Verifies(seal.public_key, seal.seal_signature, statementBytes))) {
    fail(sealPath, '调解组织电子印章签名无效', "the organisation's seal signature does not verify");
  }
  if (!(await ed25519Verifies(seal.platform_public_key, seal.platform_signature, statementBytes))) {
    fail(sealPath, '平台对印章的副署签名无效', "the platform's countersignature does not verify");
  }
  const platformKey = decodeKey(seal.platform_public_key as string);
  if (trusted && !(platformKey && trusted.some((k) => sameBytes(k, platformKey)))) {
    fail(sealPath, '副署印章的平台密钥不受信任', 'the platform key that countersigned is not trusted');
  }
  const organisation = parseJson(files.get('organisation/organisation.json'));
  const orgKeys = isObject(organisation) && arrayOf(isString)(organisation.seal_public_keys) ? (organisation.seal_public_keys as string[]) : [];
  if (!orgKeys.some((k) => k.trim() === (seal.public_key as string).trim())) {
    fail(sealPath, '印章公钥不属于该调解组织', "the seal key is not one of the organisation's");
  }
  const statement = parseJson(statementBytes);
  if (statement === undefined) {
    fail(STATEMENT, '印章声明无法解析', 'the seal statement cannot be parsed');
    return;
  }
  const field = (name: string) => (isObject(statement) ? statement[name] : undefined);
  const textOk =
    field('text_sha256') === manifest.agreement.text_sha256 && field('version') === manifest.agreement.version && field('case') === manifest.caseId;
  if (!textOk) fail(STATEMENT, '印章声明针对的不是本协议文本', 'the seal statement names another text or version');
  const listed = field('signatures');
  const sealed: [string, string][] = Array.isArray(listed)
    ? listed.map((s) => {
        const of = (name: string) => (isObject(s) && isString(s[name]) ? (s[name] as string) : '');
        return [of('signer'), of('signature_sha256')];
      })
    : [];
  if (!samePairs(sealed, signatureHashes)) {
    fail(STATEMENT, '印章声明所列签名与材料包中的签名不一致', "the signatures the seal lists are not the package's signatures");
  }
}

/** Whether two lists of (signer, hash) hold the same pairs, in any order. */
function samePairs(a: [string, string][], b: [string, string][]): boolean {
  const key = (pairs: [string, string][]) => pairs.map((p) => JSON.stringify(p)).sort().join('\n');
  return a.length === b.length && key(a) === key(b);
}

const isAuditEntry = (v: unknown) =>
  shaped(v, { seq: isInt, at: isInt, actor: isString, action: isString, subject: isString, detail: isString, prev_hash: isString, hash: isString });

/** An audit entry's chain hash, as the store computes it (cases/src/store/audit.rs, entry_hash). */
export async function auditEntryHash(e: { seq: number; at: number; actor: string; action: string; subject: string; detail: string; prev_hash: string }): Promise<string> {
  const canonical = serdeJson([e.seq, e.at, e.actor, e.action, e.subject, e.detail, e.prev_hash]);
  return sha256Hex(new TextEncoder().encode(canonical));
}

type AuditEntry = Parameters<typeof auditEntryHash>[0] & { hash: string };

async function checkAudit(files: PackageFiles, found: Findings): Promise<void> {
  const bytes = files.get(AUDIT);
  if (!bytes) return; // listed and absent is a missing file; never listed, nothing to check
  const entries = parseJson(bytes);
  if (!arrayOf(isAuditEntry)(entries)) {
    found.add('audit_chain', 'audit_chain', AUDIT, '审计记录无法解析', 'the audit entries cannot be parsed');
    return;
  }
  let previous: AuditEntry | null = null;
  for (const entry of entries as AuditEntry[]) {
    if ((await auditEntryHash(entry)) !== entry.hash) {
      found.add('audit_chain', 'audit_chain', AUDIT, `第 ${entry.seq} 条审计记录的哈希值不符，记录已被改动`, `audit entry ${entry.seq}'s hash does not recompute: it was changed`);
    }
    // The package holds the case's entries, a subsequence of the platform's one chain: an
    // entry links to the one before it in the package when it directly follows it.
    if (previous && (entry.seq <= previous.seq || (entry.seq === previous.seq + 1 && entry.prev_hash !== previous.hash))) {
      found.add('audit_chain', 'audit_chain', AUDIT, `第 ${entry.seq} 条审计记录与前一条不相衔接`, `audit entry ${entry.seq} does not chain to the one before`);
    }
    previous = entry;
  }
}

async function checkRecordings(files: PackageFiles, found: Findings): Promise<void> {
  for (const path of [...files.keys()].sort()) {
    if (!path.startsWith('recordings/') || !path.endsWith('/manifest.json')) continue;
    const dir = path.slice(0, -'/manifest.json'.length);
    // The signature as the recording keeps it (recordings/src/manifest.rs: manifest.sig).
    const signature = parseJson(files.get(`${dir}/${RECORDING_SIGNATURE}`));
    let verified = false;
    if (isSignatureFile(signature) && signature.algorithm === 'Ed25519') {
      const key = decodeKey(signature.public_key as string);
      verified =
        key !== null &&
        (await keyIdOf(key)) === signature.key_id &&
        (await ed25519Verifies(signature.public_key, signature.signature, files.get(path) ?? new Uint8Array()));
    }
    if (!verified) {
      found.add('recordings', 'recording_manifest', path, '录音录像清单的平台签名无效', "the recording manifest's platform signature does not verify");
    }
  }
}
