//! Checks a package offline and says what is wrong with it. Every check runs even after
//! one fails, so a court sees everything that is wrong at once; a file that does not parse
//! is a problem of that file, never an error of the verifier.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read as _};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::DeserializeOwned;

use super::report::{Findings, ProblemCode};
use super::{
    MANIFEST, MANIFEST_SIGNATURE, Manifest, ManifestSignatureFile, RECORDING_SIGNATURE, Report,
    SealFile, SignatureFile, key_id_of, sha256_hex,
};
use crate::agreements::signing::{Payload, signature_sha256, verify_device_signature, verify_seal};
use crate::{Error, Result};

/// The most a package may unpack to: far above any real one (recordings stay outside),
/// low enough that a ZIP bomb cannot exhaust memory.
const MAX_UNPACKED: u64 = 2 * 1024 * 1024 * 1024;

/// Whether `zip_bytes` is a confirmation package (not a recording): a ZIP with a
/// `manifest.sig.json`. Recordings sign theirs in `manifest.sig`.
pub fn looks_like_package(zip_bytes: &[u8]) -> bool {
    zip::ZipArchive::new(Cursor::new(zip_bytes))
        .map(|archive| archive.file_names().any(|name| name == MANIFEST_SIGNATURE))
        .unwrap_or(false)
}

fn unpack(zip_bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>> {
    let unreadable =
        |e: zip::result::ZipError| Error::BadRequest(format!("not a readable ZIP: {e}"));
    let mut archive = zip::ZipArchive::new(Cursor::new(zip_bytes)).map_err(unreadable)?;
    let mut files = BTreeMap::new();
    let mut total = 0u64;
    for n in 0..archive.len() {
        let mut file = archive.by_index(n).map_err(unreadable)?;
        if file.is_dir() {
            continue;
        }
        let name = file.name().to_owned();
        let mut bytes = Vec::new();
        (&mut file)
            .take(MAX_UNPACKED - total + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::BadRequest(format!("{name} cannot be read from the ZIP: {e}")))?;
        total += bytes.len() as u64;
        if total > MAX_UNPACKED {
            return Err(Error::BadRequest(
                "the ZIP unpacks to more than 2 GiB; it is not a confirmation package".into(),
            ));
        }
        if files.insert(name.clone(), bytes).is_some() {
            return Err(Error::BadRequest(format!("the ZIP holds {name} twice")));
        }
    }
    Ok(files)
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}

fn decode_key(b64: &str) -> Option<Vec<u8>> {
    BASE64.decode(b64.trim()).ok().filter(|k| k.len() == 32)
}

/// Checks `zip_bytes`. `trusted`: the platform's public keys (Ed25519, base64) the manifest
/// and the seal's countersignature must be signed with; `None` checks the signatures with
/// the keys the package names, and says nothing of whose they are.
///
/// An error only when the bytes are not a package at all (not a ZIP, no `manifest.json`);
/// everything else is a problem in the report.
pub fn verify(zip_bytes: &[u8], trusted: Option<&[String]>) -> Result<Report> {
    let files = unpack(zip_bytes)?;
    let Some(manifest_bytes) = files.get(MANIFEST) else {
        return Err(Error::BadRequest(
            "the ZIP has no manifest.json; it is not a confirmation package".into(),
        ));
    };
    let mut found = Findings::default();
    let trusted_keys: Option<Vec<Vec<u8>>> =
        trusted.map(|keys| keys.iter().filter_map(|k| decode_key(k)).collect());
    check_manifest_signature(&files, manifest_bytes, trusted_keys.as_deref(), &mut found);
    let Some(manifest) = parse::<Manifest>(manifest_bytes) else {
        found.add(
            "manifest_signature",
            ProblemCode::ManifestSignature,
            MANIFEST,
            "manifest.json 无法解析".into(),
            "manifest.json cannot be parsed".into(),
        );
        return Ok(found.into_report());
    };
    check_files(&files, &manifest, &mut found);
    check_text(&files, &manifest, &mut found);
    let signature_hashes = check_signatures(&files, &manifest, &mut found);
    check_seal(
        &files,
        &manifest,
        &signature_hashes,
        trusted_keys.as_deref(),
        &mut found,
    );
    check_audit(&files, &mut found);
    check_recordings(&files, &mut found);
    Ok(found.into_report())
}

fn check_manifest_signature(
    files: &BTreeMap<String, Vec<u8>>,
    manifest_bytes: &[u8],
    trusted: Option<&[Vec<u8>]>,
    found: &mut Findings,
) {
    let group = "manifest_signature";
    let code = ProblemCode::ManifestSignature;
    let Some(signature) = files
        .get(MANIFEST_SIGNATURE)
        .and_then(|b| parse::<ManifestSignatureFile>(b))
    else {
        found.add(
            group,
            code,
            MANIFEST_SIGNATURE,
            "清单签名文件缺失或无法解析".into(),
            "the manifest's signature file is missing or cannot be parsed".into(),
        );
        return;
    };
    let Some(key) = decode_key(&signature.public_key) else {
        found.add(
            group,
            code,
            MANIFEST_SIGNATURE,
            "清单签名中的公钥不是 Ed25519 公钥".into(),
            "the manifest signature's key is not an Ed25519 public key".into(),
        );
        return;
    };
    if signature.algorithm != "Ed25519" || key_id_of(&key) != signature.key_id {
        found.add(
            group,
            code,
            MANIFEST_SIGNATURE,
            "清单签名的算法或密钥编号与公钥不符".into(),
            "the manifest signature's algorithm or key id does not match its key".into(),
        );
    }
    if !verify_seal(&signature.public_key, manifest_bytes, &signature.signature) {
        found.add(
            group,
            code,
            MANIFEST,
            "manifest.json 与平台签名不符：清单已被改动，或签名无效".into(),
            "manifest.json does not match the platform's signature: it was changed, or the signature is invalid".into(),
        );
    }
    if let Some(trusted) = trusted
        && !trusted.contains(&key)
    {
        found.add(
            group,
            code,
            MANIFEST_SIGNATURE,
            format!("清单由不受信任的密钥 {} 签名", signature.key_id),
            format!(
                "the manifest is signed by key {}, which is not trusted",
                signature.key_id
            ),
        );
    }
}

fn check_files(files: &BTreeMap<String, Vec<u8>>, manifest: &Manifest, found: &mut Findings) {
    let mut listed = BTreeSet::new();
    for file in &manifest.files {
        listed.insert(file.path.as_str());
        match files.get(&file.path) {
            None => found.add(
                "files",
                ProblemCode::FileMissing,
                &file.path,
                "清单列明的文件缺失".into(),
                "listed in the manifest but absent".into(),
            ),
            Some(bytes) => {
                if bytes.len() as u64 != file.size || sha256_hex(bytes) != file.sha256 {
                    found.add(
                        "files",
                        ProblemCode::FileHash,
                        &file.path,
                        "文件内容与清单记载的哈希值不符，已被改动".into(),
                        "its SHA-256 or size differs from the manifest's: it was changed".into(),
                    );
                }
            }
        }
    }
    for path in files.keys() {
        if path != MANIFEST && path != MANIFEST_SIGNATURE && !listed.contains(path.as_str()) {
            found.add(
                "files",
                ProblemCode::FileUnlisted,
                path,
                "文件未列入清单，系后来加入".into(),
                "present but not listed in the manifest: it was added".into(),
            );
        }
    }
}

fn check_text(files: &BTreeMap<String, Vec<u8>>, manifest: &Manifest, found: &mut Findings) {
    let path = &manifest.agreement.text_path;
    let matches = files
        .get(path)
        .is_some_and(|text| sha256_hex(text) == manifest.agreement.text_sha256);
    if !matches {
        found.add(
            "agreement_text",
            ProblemCode::TextHash,
            path,
            "协议文本的 SHA-256 与所签署版本的哈希值不符".into(),
            "the agreement text's SHA-256 is not that of the version signed".into(),
        );
    }
}

/// Checks each signer's folder; returns the signatures' SHA-256s by signer, for the seal.
fn check_signatures(
    files: &BTreeMap<String, Vec<u8>>,
    manifest: &Manifest,
    found: &mut Findings,
) -> Vec<(String, String)> {
    let group = "signatures";
    let mut hashes = Vec::new();
    for listed in &manifest.signatures {
        let signature_path = format!("{}/signature.json", listed.dir);
        let payload_path = format!("{}/payload.json", listed.dir);
        // The folder is `<NN>-<signer>`: the signer it belongs to, whatever its files say.
        let dir_signer = listed
            .dir
            .rsplit('/')
            .next()
            .and_then(|name| name.split_once('-'))
            .map(|(_, signer)| signer.to_owned())
            .unwrap_or_default();
        let payload = files
            .get(&payload_path)
            .and_then(|b| String::from_utf8(b.clone()).ok());
        let signature = files
            .get(&signature_path)
            .and_then(|b| parse::<SignatureFile>(b));
        let (Some(payload), Some(signature)) = (payload, signature) else {
            found.add(
                group,
                ProblemCode::SignatureInvalid,
                &signature_path,
                "签名文件或签名内容缺失、无法解析".into(),
                "the signature or its payload is missing or cannot be parsed".into(),
            );
            continue;
        };
        hashes.push((
            signature.signer.clone(),
            signature_sha256(&signature.signature_b64),
        ));
        if verify_device_signature(
            &signature.public_key_spki_b64,
            &payload,
            &signature.signature_b64,
        )
        .is_err()
        {
            found.add(
                group,
                ProblemCode::SignatureInvalid,
                &signature_path,
                format!("{} 的电子签名不能以其设备公钥验证", listed.signer),
                format!(
                    "{}'s signature does not verify with their device key",
                    listed.signer
                ),
            );
        }
        let parsed = Payload::parse(&payload).ok();
        let same_signer = parsed.as_ref().is_some_and(|p| p.signer == dir_signer)
            && signature.signer == dir_signer
            && listed.signer == dir_signer;
        if !same_signer {
            found.add(
                group,
                ProblemCode::SignatureMismatch,
                &signature_path,
                format!("签名所属的签署人与目录 {} 不符（签名被调换，或 payload.json 已非签署时的原样）", listed.dir),
                format!(
                    "the signer named does not match the folder {} (signatures swapped, or payload.json is not the bytes signed)",
                    listed.dir
                ),
            );
        }
        let same_text = parsed.as_ref().is_some_and(|p| {
            p.text_sha256 == manifest.agreement.text_sha256
                && p.version == manifest.agreement.version
                && p.case.as_str() == manifest.case.id
        }) && listed.text_sha256 == manifest.agreement.text_sha256
            && listed.version == manifest.agreement.version;
        if !same_text {
            found.add(
                group,
                ProblemCode::SignatureMismatch,
                &payload_path,
                "签名针对的不是本协议的生效版本（旧版本或其他文本）".into(),
                "the signature is over another text or an outdated version of the agreement".into(),
            );
        }
    }
    // A signer's folder the manifest does not name is a signature nobody vouches for.
    let named: BTreeSet<&str> = manifest.signatures.iter().map(|s| s.dir.as_str()).collect();
    for path in files.keys().filter(|p| p.starts_with("signatures/")) {
        let dir = path.rsplit_once('/').map_or(path.as_str(), |(dir, _)| dir);
        if !named.contains(dir) {
            found.add(
                group,
                ProblemCode::SignatureMismatch,
                path,
                "清单未列明该签名目录".into(),
                "this signature folder is not named in the manifest".into(),
            );
        }
    }
    hashes
}

fn check_seal(
    files: &BTreeMap<String, Vec<u8>>,
    manifest: &Manifest,
    signature_hashes: &[(String, String)],
    trusted: Option<&[Vec<u8>]>,
    found: &mut Findings,
) {
    let group = "seal";
    let seal_path = manifest.seal.path.as_str();
    let statement_path = "seal/statement.json";
    let mut fail = |path: &str, zh: &str, en: &str| {
        found.add(
            group,
            ProblemCode::SealInvalid,
            path,
            zh.to_owned(),
            en.to_owned(),
        );
    };
    let seal = files.get(seal_path).and_then(|b| parse::<SealFile>(b));
    let (Some(seal), Some(statement)) = (seal, files.get(statement_path)) else {
        fail(
            seal_path,
            "印章文件缺失或无法解析",
            "the seal or its statement is missing or cannot be parsed",
        );
        return;
    };
    if !verify_seal(&seal.public_key, statement, &seal.seal_signature) {
        fail(
            seal_path,
            "调解组织电子印章签名无效",
            "the organisation's seal signature does not verify",
        );
    }
    if !verify_seal(
        &seal.platform_public_key,
        statement,
        &seal.platform_signature,
    ) {
        fail(
            seal_path,
            "平台对印章的副署签名无效",
            "the platform's countersignature does not verify",
        );
    }
    if let Some(trusted) = trusted
        && !decode_key(&seal.platform_public_key).is_some_and(|k| trusted.contains(&k))
    {
        fail(
            seal_path,
            "副署印章的平台密钥不受信任",
            "the platform key that countersigned is not trusted",
        );
    }
    let org_keys = files
        .get("organisation/organisation.json")
        .and_then(|b| parse::<serde_json::Value>(b))
        .and_then(|v| v.get("seal_public_keys").cloned())
        .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
        .unwrap_or_default();
    if !org_keys.iter().any(|k| k.trim() == seal.public_key.trim()) {
        fail(
            seal_path,
            "印章公钥不属于该调解组织",
            "the seal key is not one of the organisation's",
        );
    }
    let Some(statement) = parse::<serde_json::Value>(statement) else {
        fail(
            statement_path,
            "印章声明无法解析",
            "the seal statement cannot be parsed",
        );
        return;
    };
    let text_ok = statement.get("text_sha256").and_then(|v| v.as_str())
        == Some(manifest.agreement.text_sha256.as_str())
        && statement.get("version").and_then(|v| v.as_i64()) == Some(manifest.agreement.version)
        && statement.get("case").and_then(|v| v.as_str()) == Some(manifest.case.id.as_str());
    if !text_ok {
        fail(
            statement_path,
            "印章声明针对的不是本协议文本",
            "the seal statement names another text or version",
        );
    }
    let mut sealed: Vec<(String, String)> = statement
        .get("signatures")
        .and_then(|v| v.as_array())
        .map(|items| {
            items
                .iter()
                .map(|s| {
                    let field = |name: &str| {
                        s.get(name)
                            .and_then(|v| v.as_str())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    (field("signer"), field("signature_sha256"))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut packaged = signature_hashes.to_vec();
    sealed.sort();
    packaged.sort();
    if sealed != packaged {
        fail(
            statement_path,
            "印章声明所列签名与材料包中的签名不一致",
            "the signatures the seal lists are not the package's signatures",
        );
    }
}

fn check_audit(files: &BTreeMap<String, Vec<u8>>, found: &mut Findings) {
    let path = "audit/audit.json";
    let Some(bytes) = files.get(path) else {
        return;
    };
    let Some(entries) = parse::<Vec<AuditEntryFile>>(bytes) else {
        found.add(
            "audit_chain",
            ProblemCode::AuditChain,
            path,
            "审计记录无法解析".into(),
            "the audit entries cannot be parsed".into(),
        );
        return;
    };
    let mut previous: Option<&AuditEntryFile> = None;
    for entry in &entries {
        let recomputed = entry_hash(entry);
        if recomputed != entry.hash {
            found.add(
                "audit_chain",
                ProblemCode::AuditChain,
                path,
                format!("第 {} 条审计记录的哈希值不符，记录已被改动", entry.seq),
                format!(
                    "audit entry {}'s hash does not recompute: it was changed",
                    entry.seq
                ),
            );
        }
        if let Some(previous) = previous {
            let broken = entry.seq <= previous.seq
                || (entry.seq == previous.seq + 1 && entry.prev_hash != previous.hash);
            if broken {
                found.add(
                    "audit_chain",
                    ProblemCode::AuditChain,
                    path,
                    format!("第 {} 条审计记录与前一条不相衔接", entry.seq),
                    format!("audit entry {} does not chain to the one before", entry.seq),
                );
            }
        }
        previous = Some(entry);
    }
}

/// An audit entry as the package holds it (the fields of the store's
/// [`crate::store::model::AuditEntry`]).
#[derive(serde::Deserialize)]
struct AuditEntryFile {
    seq: i64,
    at: i64,
    actor: String,
    action: String,
    subject: String,
    detail: String,
    prev_hash: String,
    hash: String,
}

/// The chain's hash of an entry: SHA-256 of the JSON array of its fields and the previous
/// hash, exactly as the store computes it.
fn entry_hash(e: &AuditEntryFile) -> String {
    let canonical = serde_json::json!([
        e.seq,
        e.at,
        e.actor,
        e.action,
        e.subject,
        e.detail,
        e.prev_hash
    ])
    .to_string();
    sha256_hex(canonical.as_bytes())
}

fn check_recordings(files: &BTreeMap<String, Vec<u8>>, found: &mut Findings) {
    for (path, manifest) in files
        .iter()
        .filter(|(p, _)| p.starts_with("recordings/") && p.ends_with("/manifest.json"))
    {
        let dir = path.trim_end_matches("/manifest.json");
        let signature_path = format!("{dir}/{RECORDING_SIGNATURE}");
        let verified = files
            .get(&signature_path)
            .and_then(|b| parse::<ManifestSignatureFile>(b))
            .is_some_and(|sig| {
                sig.algorithm == "Ed25519"
                    && decode_key(&sig.public_key).is_some_and(|k| key_id_of(&k) == sig.key_id)
                    && verify_seal(&sig.public_key, manifest, &sig.signature)
            });
        if !verified {
            found.add(
                "recordings",
                ProblemCode::RecordingManifest,
                path,
                "录音录像清单的平台签名无效".into(),
                "the recording manifest's platform signature does not verify".into(),
            );
        }
    }
}
