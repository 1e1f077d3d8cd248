// Checking a confirmation package (确认材料包) in the browser: the same checks, problem codes
// and paths as `accord verify PACKAGE.zip` (cases::confirmation::package::verify), so a court
// clerk can check a package offline on any computer and a test can feed one tampered package
// to both and compare. Nothing leaves the page.
//
// The order of the checks: the manifest's signature (is this list of files the platform's?),
// then each file against the list, then what the files say (the agreement text's hash, each
// signer's signature over its payload, the seal over the statement, the audit chain, each
// recording manifest's signature).

import { ed25519Verifies, fromBase64, p256Verifies, sha256Hex } from './package-crypto';
import { serdeJson } from './serde-json';
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

/** The checks, in the order they run; each is ok when it found no problem. */
export type CheckName = 'manifest_signature' | 'files' | 'text_hash' | 'signatures' | 'seal' | 'audit_chain' | 'recordings';

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
const MANIFEST_SIG = 'manifest.sig.json';
const STATEMENT = 'seal/statement.json';
const AUDIT = 'audit/audit.json';

const CHECK_OF: Record<ProblemCode, CheckName> = {
  manifest_signature: 'manifest_signature',
  file_missing: 'files',
  file_unlisted: 'files',
  file_hash: 'files',
  text_hash: 'text_hash',
  signature_invalid: 'signatures',
  signature_mismatch: 'signatures',
  seal_invalid: 'seal',
  audit_chain: 'audit_chain',
  recording_manifest: 'recordings',
};

const WORDS: Record<ProblemCode, { zh: string; en: string }> = {
  manifest_signature: { zh: '清单签名无效或签名密钥不受信任', en: 'the manifest signature does not verify, or its key is not trusted' },
  file_missing: { zh: '清单列出的文件不在材料包中', en: 'a file the manifest lists is missing' },
  file_unlisted: { zh: '材料包中有清单未列出的文件', en: 'the package holds a file the manifest does not list' },
  file_hash: { zh: '文件内容与清单记载的哈希值或大小不符（文件被改动）', en: 'the file differs from the hash or size the manifest records (it was altered)' },
  text_hash: { zh: '协议文本的哈希值与协议记载的不符', en: 'the agreement text does not hash to the agreement’s recorded hash' },
  signature_invalid: { zh: '签名人的电子签名验证失败', en: 'a signer’s signature does not verify' },
  signature_mismatch: { zh: '签名与本协议不符（签名人不符，或签署的是其他版本）', en: 'a signature is not for this agreement (another signer, or an outdated version)' },
  seal_invalid: { zh: '调解组织印章或平台加签验证失败，或印章声明与签名不符', en: 'the organisation seal or the platform countersignature fails, or the seal statement does not match the signatures' },
  audit_chain: { zh: '操作日志的哈希链断裂（日志被改动）', en: 'the audit trail’s hash chain is broken (an entry was altered)' },
  recording_manifest: { zh: '录像清单的签名验证失败', en: 'a recording manifest’s signature does not verify' },
};

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const utf8 = new TextDecoder('utf-8');

function parseJson(bytes: Uint8Array | undefined): unknown {
  if (!bytes) return undefined;
  try {
    return JSON.parse(utf8.decode(bytes)) as unknown;
  } catch {
    return undefined;
  }
}

/** Problems gathered once each (a code and a path say it all). */
class Findings {
  readonly problems: PackageProblem[] = [];
  private readonly seen = new Set<string>();

  add(code: ProblemCode, path: string): void {
    const key = `${code}\u0000${path}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const words = WORDS[code];
    this.problems.push({ code, path, message_zh: `${path}：${words.zh}`, message_en: `${path}: ${words.en}` });
  }

  has(code: ProblemCode, path: string): boolean {
    return this.seen.has(`${code}\u0000${path}`);
  }
}

interface ManifestFile {
  path: string;
  sha256: string;
  size: number;
}

interface ManifestSignatureRef {
  dir: string;
  signer: string;
  text_sha256: unknown;
  version: unknown;
}

interface Manifest {
  files: ManifestFile[];
  signatures: ManifestSignatureRef[];
  textSha256: string;
  version: unknown;
  textPath: string;
  sealPath: string;
}

/** The manifest's parts this check relies on; a package without them cannot be checked at all. */
function readManifest(files: PackageFiles): Manifest {
  const raw = parseJson(files.get(MANIFEST));
  if (!isObject(raw) || !Array.isArray(raw.files) || !isObject(raw.agreement)) {
    throw new UnreadablePackage('the package has no readable manifest.json');
  }
  const listed = raw.files.filter(isObject).map((f) => ({
    path: String(f.path ?? ''),
    sha256: String(f.sha256 ?? ''),
    size: typeof f.size === 'number' ? f.size : -1,
  }));
  const signatures = (Array.isArray(raw.signatures) ? raw.signatures : []).filter(isObject).map((s) => ({
    dir: String(s.dir ?? ''),
    signer: String(s.signer ?? ''),
    text_sha256: s.text_sha256,
    version: s.version,
  }));
  const agreement = raw.agreement;
  const seal = isObject(raw.seal) ? raw.seal : {};
  return {
    files: listed,
    signatures,
    textSha256: String(agreement.text_sha256 ?? ''),
    version: agreement.version,
    textPath: typeof agreement.text_path === 'string' ? agreement.text_path : 'agreement/agreement.txt',
    sealPath: typeof seal.path === 'string' ? seal.path : 'seal/seal.json',
  };
}

/**
 * Checks a package's bytes. `trusted`: the platform keys to accept for the manifest signature
 * (base64 public keys or key ids); without it, any key that verifies is accepted and the
 * report shows which one signed. Throws UnreadablePackage when the bytes are not a package.
 */
export async function verifyPackage(bytes: Uint8Array, trusted?: string[]): Promise<PackageReport> {
  const files = readZip(bytes);
  const manifest = readManifest(files);
  const findings = new Findings();
  await checkManifestSignature(files, trusted, findings);
  await checkFiles(files, manifest, findings);
  await checkText(files, manifest, findings);
  const signatureHashes = await checkSignatures(files, manifest, findings);
  await checkSeal(files, manifest, signatureHashes, findings);
  await checkAudit(files, findings);
  await checkRecordings(files, findings);
  const failed = new Set(findings.problems.map((p) => CHECK_OF[p.code]));
  const order: CheckName[] = ['manifest_signature', 'files', 'text_hash', 'signatures', 'seal', 'audit_chain', 'recordings'];
  return {
    ok: findings.problems.length === 0,
    problems: findings.problems,
    checks: order.map((what) => ({ what, ok: !failed.has(what) })),
  };
}

async function checkManifestSignature(files: PackageFiles, trusted: string[] | undefined, findings: Findings): Promise<void> {
  const signature = parseJson(files.get(MANIFEST_SIG));
  const manifestBytes = files.get(MANIFEST) ?? new Uint8Array();
  if (!isObject(signature) || !(await ed25519Verifies(signature.public_key, signature.signature, manifestBytes))) {
    findings.add('manifest_signature', MANIFEST_SIG);
    return;
  }
  if (trusted && !trusted.some((key) => key.trim() === String(signature.public_key).trim() || key === signature.key_id)) {
    findings.add('manifest_signature', MANIFEST_SIG);
  }
}

async function checkFiles(files: PackageFiles, manifest: Manifest, findings: Findings): Promise<void> {
  const listed = new Set<string>();
  for (const file of manifest.files) {
    listed.add(file.path);
    const bytes = files.get(file.path);
    if (!bytes) {
      findings.add('file_missing', file.path);
      continue;
    }
    if (bytes.length !== file.size || (await sha256Hex(bytes)) !== file.sha256.toLowerCase()) findings.add('file_hash', file.path);
  }
  for (const path of files.keys()) {
    if (path !== MANIFEST && path !== MANIFEST_SIG && !listed.has(path)) findings.add('file_unlisted', path);
  }
}

async function checkText(files: PackageFiles, manifest: Manifest, findings: Findings): Promise<void> {
  const text = files.get(manifest.textPath);
  // An absent text is already a missing file (or the manifest names none): nothing to hash.
  if (!text) return;
  if ((await sha256Hex(text)) !== manifest.textSha256.toLowerCase()) findings.add('text_hash', manifest.textPath);
}

/** A file the checks need but the package lacks: missing, unless already said. */
function need(files: PackageFiles, path: string, findings: Findings): Uint8Array | undefined {
  const bytes = files.get(path);
  if (!bytes) findings.add('file_missing', path);
  return bytes;
}

/**
 * Each signer's signature over its payload, and the payload against this agreement. Returns
 * the SHA-256 of each signer's signature bytes, for the seal statement's list.
 */
async function checkSignatures(files: PackageFiles, manifest: Manifest, findings: Findings): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for (const entry of manifest.signatures) {
    const payloadPath = `${entry.dir}/payload.json`;
    const signaturePath = `${entry.dir}/signature.json`;
    const payloadBytes = need(files, payloadPath, findings);
    const signatureBytes = need(files, signaturePath, findings);
    if (!payloadBytes || !signatureBytes) continue;
    const payload = parseJson(payloadBytes);
    const signature = parseJson(signatureBytes);
    if (!isObject(signature) || !(await p256Verifies(signature.public_key_spki_b64, signature.signature_b64, payloadBytes))) {
      findings.add('signature_invalid', signaturePath);
    }
    if (isObject(signature) && typeof signature.signature_b64 === 'string') {
      hashes.set(entry.signer, await signatureSha256(signature.signature_b64));
    }
    const sameSigner =
      isObject(payload) &&
      payload.signer === entry.signer &&
      entry.dir.endsWith(`-${entry.signer}`) &&
      (!isObject(signature) || signature.signer === undefined || signature.signer === entry.signer);
    // "A signature over an outdated version": it verifies, but for other text.
    const sameText =
      isObject(payload) &&
      payload.text_sha256 === manifest.textSha256 &&
      payload.version === manifest.version &&
      entry.text_sha256 === manifest.textSha256 &&
      entry.version === manifest.version;
    if (!sameSigner || !sameText) findings.add('signature_mismatch', payloadPath);
  }
  return hashes;
}

/** The seal statement's hash of a signature: of its base64-decoded bytes (of the text when not base64). */
async function signatureSha256(signatureB64: string): Promise<string> {
  return sha256Hex(fromBase64(signatureB64) ?? new TextEncoder().encode(signatureB64));
}

async function checkSeal(files: PackageFiles, manifest: Manifest, signatureHashes: Map<string, string>, findings: Findings): Promise<void> {
  const sealBytes = need(files, manifest.sealPath, findings);
  const statementBytes = need(files, STATEMENT, findings);
  if (!sealBytes || !statementBytes) return;
  const seal = parseJson(sealBytes);
  const sealed =
    isObject(seal) &&
    (await ed25519Verifies(seal.public_key, seal.seal_signature, statementBytes)) &&
    (await ed25519Verifies(seal.platform_public_key, seal.platform_signature, statementBytes));
  if (!sealed) findings.add('seal_invalid', manifest.sealPath);
  const statement = parseJson(statementBytes);
  if (!isObject(statement) || statement.text_sha256 !== manifest.textSha256 || statement.version !== manifest.version) {
    findings.add('seal_invalid', STATEMENT);
    return;
  }
  // The statement names every signature sealed; the package must hold exactly those.
  const listed = Array.isArray(statement.signatures) ? statement.signatures.filter(isObject) : [];
  const signers = new Set(listed.map((s) => String(s.signer)));
  const agrees =
    listed.length === signatureHashes.size &&
    signers.size === listed.length &&
    listed.every((s) => signatureHashes.get(String(s.signer)) === s.signature_sha256);
  if (!agrees) findings.add('seal_invalid', STATEMENT);
}

/** The audit entry's hash as the server computes it (cases/src/store/audit.rs, entry_hash). */
export async function auditEntryHash(entry: Json): Promise<string | null> {
  const fields = [entry.seq, entry.at, entry.actor, entry.action, entry.subject, entry.detail, entry.prev_hash];
  const [seq, at, ...texts] = fields;
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(at) || !texts.every((v) => typeof v === 'string')) return null;
  const canonical = serdeJson([seq as number, at as number, ...(texts as string[])]);
  return sha256Hex(new TextEncoder().encode(canonical));
}

async function checkAudit(files: PackageFiles, findings: Findings): Promise<void> {
  const bytes = files.get(AUDIT);
  if (!bytes) return; // listed and absent is a missing file; never listed, nothing to check
  const entries = parseJson(bytes);
  if (!Array.isArray(entries)) {
    findings.add('audit_chain', AUDIT);
    return;
  }
  let previous: Json | null = null;
  for (const entry of entries) {
    if (!isObject(entry) || (await auditEntryHash(entry)) !== entry.hash) {
      findings.add('audit_chain', AUDIT);
      return;
    }
    // The package holds the case's entries, a subsequence of the platform's one chain: an
    // entry links to the one before it in the package when it directly follows it there.
    if (previous) {
      const prevSeq = previous.seq as number;
      const seq = entry.seq as number;
      if (seq <= prevSeq || (seq === prevSeq + 1 && entry.prev_hash !== previous.hash)) {
        findings.add('audit_chain', AUDIT);
        return;
      }
    }
    previous = entry;
  }
}

async function checkRecordings(files: PackageFiles, findings: Findings): Promise<void> {
  for (const [path, bytes] of files) {
    const match = /^recordings\/([^/]+)\/manifest\.json$/.exec(path);
    if (!match) continue;
    // The signature as the recording keeps it (recordings/src/manifest.rs: manifest.sig).
    const dir = `recordings/${match[1]}`;
    const signature = parseJson(files.get(`${dir}/manifest.sig`) ?? files.get(`${dir}/manifest.sig.json`));
    if (!isObject(signature) || !(await ed25519Verifies(signature.public_key, signature.signature, bytes))) {
      findings.add('recording_manifest', path);
    }
  }
}
