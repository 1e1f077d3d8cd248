//! Writes the package: every file from [`PackageInputs`], the index, the manifest and its
//! signature, into one ZIP whose bytes depend on the inputs only.

use std::io::Write as _;

use serde_json::json;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use super::index::{index_rows, index_text};
use super::{
    FORMAT, INDEX_TEXT, MANIFEST, MANIFEST_SIGNATURE, Manifest, ManifestAgreement, ManifestCase,
    ManifestFile, ManifestSeal, ManifestSignature, ManifestSignatureFile, ManifestSigner,
    PackageInputs, RECORDING_SIGNATURE, SealFile, SignatureFile, sha256_hex,
};
use crate::agreements::signing::Payload;
use crate::evidence_files::clean_file_name;
use crate::store::agreement_signing_model::SignerStatus;
use crate::store::china_time;
use crate::{Error, Result};

/// A file on its way into the ZIP.
struct Entry {
    path: String,
    bytes: Vec<u8>,
    kind: &'static str,
}

fn json_bytes<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::Internal(format!("package JSON: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// A file name safe to put in a ZIP path: its last component, cleaned, with no leading dot.
fn safe_name(name: &str) -> String {
    let cleaned = clean_file_name(Some(name));
    cleaned.trim_start_matches('.').to_owned()
}

fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .filter(|ext| {
            !ext.is_empty() && ext.len() <= 8 && ext.chars().all(|c| c.is_ascii_alphanumeric())
        })
        .unwrap_or_else(|| "bin".to_owned())
}

fn beijing(ms: i64) -> String {
    let t = china_time(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        ms.rem_euclid(60_000) / 1000
    )
}

fn signature_entries(
    inputs: &PackageInputs,
    entries: &mut Vec<Entry>,
) -> Result<Vec<ManifestSignature>> {
    let mut listed = Vec::new();
    let signed = inputs
        .signatures
        .iter()
        .filter(|s| s.record.status == SignerStatus::Signed);
    for (n, input) in signed.enumerate() {
        let record = &input.record;
        let (Some(payload), Some(signature), Some(public_key)) =
            (&record.payload, &record.signature, &record.public_key)
        else {
            return Err(Error::Internal(format!(
                "signature {} of {} is marked signed but lacks its payload, signature or key",
                n + 1,
                record.signer_id
            )));
        };
        let parsed = Payload::parse(payload).map_err(|_| {
            Error::Internal(format!(
                "the payload signed by {} is not in the issued form",
                record.signer_id
            ))
        })?;
        let dir = format!("signatures/{:02}-{}", n + 1, record.signer_id);
        let file = SignatureFile {
            signer: record.signer_id.clone(),
            role: record.role.as_str().to_owned(),
            name: record.name.clone(),
            public_key_spki_b64: public_key.clone(),
            signature_b64: signature.clone(),
            signed_at: record.at,
            identity: record.identity.as_ref().map(|i| json!(i)),
            free_will: input.free_will.as_ref().map(|f| json!(f)),
        };
        entries.push(Entry {
            path: format!("{dir}/payload.json"),
            bytes: payload.as_bytes().to_vec(),
            kind: "signature",
        });
        entries.push(Entry {
            path: format!("{dir}/signature.json"),
            bytes: json_bytes(&file)?,
            kind: "signature",
        });
        if let Some(png) = &input.drawn_png {
            entries.push(Entry {
                path: format!("{dir}/drawn.png"),
                bytes: png.clone(),
                kind: "signature",
            });
        }
        listed.push(ManifestSignature {
            dir,
            signer: record.signer_id.clone(),
            role: record.role.as_str().to_owned(),
            text_sha256: parsed.text_sha256,
            version: parsed.version,
        });
    }
    Ok(listed)
}

fn party_entries(inputs: &PackageInputs, entries: &mut Vec<Entry>) -> Result<()> {
    let mut parties = Vec::new();
    let mut files = Vec::new();
    for input in &inputs.parties {
        let party = &input.party;
        let attorney_path = input
            .attorney_letter
            .as_ref()
            .map(|letter| format!("parties/attorney/{}.{}", party.id, extension(&letter.name)));
        if let (Some(path), Some(letter)) = (&attorney_path, &input.attorney_letter) {
            files.push(Entry {
                path: path.clone(),
                bytes: letter.bytes.clone(),
                kind: "attorney",
            });
        }
        for (n, file) in input.identity_files.iter().enumerate() {
            files.push(Entry {
                path: format!(
                    "parties/identity/{}-{:02}-{}",
                    party.id,
                    n + 1,
                    safe_name(&file.name)
                ),
                bytes: file.bytes.clone(),
                kind: "identity",
            });
        }
        parties.push(json!({
            "party_id": party.id,
            "kind": party.kind.as_str(),
            "side": party.side.as_str(),
            "name": party.name,
            "id_number": input.id_number,
            "phone": input.phone,
            "address": input.address,
            "represents": party.represents,
            "attorney_letter_path": attorney_path,
        }));
    }
    entries.push(Entry {
        path: "parties/parties.json".to_owned(),
        bytes: json_bytes(&parties)?,
        kind: "party",
    });
    entries.extend(files);
    Ok(())
}

fn evidence_entries(inputs: &PackageInputs, entries: &mut Vec<Entry>) -> Result<()> {
    let mut list = Vec::new();
    let mut files = Vec::new();
    for (n, item) in inputs.evidence.iter().enumerate() {
        let evidence = &item.evidence;
        let path = format!(
            "evidence/files/{:02}-{}",
            n + 1,
            safe_name(&evidence.file_name)
        );
        list.push(json!({
            "path": path,
            "evidence_id": evidence.id,
            "file_name": evidence.file_name,
            "media_type": evidence.media_type,
            "size": evidence.size,
            "sha256": evidence.sha256,
            "party_id": evidence.party_id,
            "uploaded_by": evidence.uploaded_by,
            "created_at": evidence.created_at,
        }));
        files.push(Entry {
            path,
            bytes: item.bytes.clone(),
            kind: "evidence",
        });
    }
    entries.push(Entry {
        path: "evidence/list.json".to_owned(),
        bytes: json_bytes(&list)?,
        kind: "evidence",
    });
    entries.extend(files);
    Ok(())
}

fn recording_entries(inputs: &PackageInputs, entries: &mut Vec<Entry>) -> Result<()> {
    let mut references = Vec::new();
    for recording in &inputs.recordings {
        entries.push(Entry {
            path: format!("recordings/{}/manifest.json", recording.id),
            bytes: recording.manifest.clone(),
            kind: "recording",
        });
        entries.push(Entry {
            path: format!("recordings/{}/{RECORDING_SIGNATURE}", recording.id),
            bytes: recording.signature.clone(),
            kind: "recording",
        });
        references.push(json!({
            "recording_id": recording.id,
            "files": recording.files,
            "review_url": recording.review_url,
        }));
    }
    entries.push(Entry {
        path: "recordings/references.json".to_owned(),
        bytes: json_bytes(&references)?,
        kind: "recording",
    });
    Ok(())
}

/// The session record in words, one line per entry, for a judge reading it without tools.
fn record_text(record: &super::SessionRecordInput) -> String {
    let mut out = format!("调解笔录（会话 {}）\n\n", record.session_id);
    for event in &record.events {
        let mut line = format!("{} {}", beijing(event.at), event.kind.as_str());
        if let Some(space) = &event.space {
            line.push_str(&format!(" [{space}]"));
        }
        if let Some(actor) = &event.actor_name {
            line.push_str(&format!(" {actor}"));
            if let Some(role) = &event.actor_role {
                line.push_str(&format!("（{role}）"));
            }
        }
        if let Some(subject) = &event.subject_name {
            line.push_str(&format!(" → {subject}"));
        }
        if let Some(detail) = &event.detail {
            line.push_str(&format!("：{detail}"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Every file of the package but the index, the manifest and its signature, in layout
/// order, and the signatures as the manifest lists them.
fn entries(inputs: &PackageInputs) -> Result<(Vec<Entry>, Vec<ManifestSignature>)> {
    let mut entries = vec![
        Entry {
            path: "application/申请书.pdf".to_owned(),
            bytes: inputs.application_pdf.clone(),
            kind: "application",
        },
        Entry {
            path: "application/申请书.txt".to_owned(),
            bytes: inputs.application_text.as_bytes().to_vec(),
            kind: "application",
        },
        Entry {
            path: "agreement/agreement.pdf".to_owned(),
            bytes: inputs.agreement.pdf.clone(),
            kind: "agreement",
        },
        Entry {
            path: "agreement/agreement.txt".to_owned(),
            bytes: inputs.agreement.text.as_bytes().to_vec(),
            kind: "agreement",
        },
    ];
    let signatures = signature_entries(inputs, &mut entries)?;
    let seal = &inputs.seal;
    entries.push(Entry {
        path: "seal/statement.json".to_owned(),
        bytes: seal.seal.statement.as_bytes().to_vec(),
        kind: "seal",
    });
    let seal_file = SealFile {
        organisation: inputs.organisation.id.to_string(),
        key_id: seal.seal.key_id.clone(),
        public_key: seal.public_key.clone(),
        seal_signature: seal.seal.seal_signature.clone(),
        platform_key_id: seal.seal.platform_key_id.clone(),
        platform_public_key: seal.platform_public_key.clone(),
        platform_signature: seal.seal.platform_signature.clone(),
        effective_at: seal.seal.effective_at,
    };
    entries.push(Entry {
        path: "seal/seal.json".to_owned(),
        bytes: json_bytes(&seal_file)?,
        kind: "seal",
    });
    party_entries(inputs, &mut entries)?;
    let organisation = &inputs.organisation;
    entries.push(Entry {
        path: "organisation/organisation.json".to_owned(),
        bytes: json_bytes(&json!({
            "name": organisation.name,
            "short_name": organisation.short_name,
            "region": organisation.region,
            "channel": organisation.channel.as_str(),
            "court": organisation.court,
            "mediator": inputs.mediator,
            "seal_public_keys": inputs.seal_public_keys,
        }))?,
        kind: "organisation",
    });
    evidence_entries(inputs, &mut entries)?;
    recording_entries(inputs, &mut entries)?;
    for record in &inputs.records {
        entries.push(Entry {
            path: format!("records/{}.json", record.session_id),
            bytes: json_bytes(&record.events)?,
            kind: "record",
        });
        entries.push(Entry {
            path: format!("records/{}.txt", record.session_id),
            bytes: record_text(record).into_bytes(),
            kind: "record",
        });
    }
    entries.push(Entry {
        path: "audit/audit.json".to_owned(),
        bytes: json_bytes(&inputs.audit)?,
        kind: "audit",
    });
    Ok((entries, signatures))
}

fn listed(entries: &[Entry]) -> Vec<ManifestFile> {
    let mut files: Vec<ManifestFile> = entries
        .iter()
        .map(|e| ManifestFile {
            path: e.path.clone(),
            sha256: sha256_hex(&e.bytes),
            size: e.bytes.len() as u64,
            kind: e.kind.to_owned(),
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// Writes the package for `inputs`, its manifest signed by `signer`. Pure: the same inputs
/// and key give the same bytes.
pub fn build(inputs: &PackageInputs, signer: &dyn ManifestSigner) -> Result<Vec<u8>> {
    let (mut entries, signatures) = entries(inputs)?;
    let mut seen = std::collections::BTreeSet::new();
    if let Some(duplicate) = entries.iter().find(|e| !seen.insert(e.path.as_str())) {
        return Err(Error::Internal(format!(
            "two files of the package would be named {}",
            duplicate.path
        )));
    }
    let rows = index_rows(inputs, &listed(&entries));
    entries.insert(
        0,
        Entry {
            path: INDEX_TEXT.to_owned(),
            bytes: index_text(&inputs.case.number, &inputs.court, &rows).into_bytes(),
            kind: "index",
        },
    );
    let agreement = &inputs.agreement;
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        request_id: inputs.request_id.to_string(),
        case: ManifestCase {
            id: inputs.case.id.to_string(),
            number: inputs.case.number.clone(),
            title: inputs.case.title.clone(),
            category: inputs.case.category.as_str().to_owned(),
        },
        court: inputs.court.clone(),
        created_at: inputs.created_at,
        agreement: ManifestAgreement {
            id: agreement.id.to_string(),
            version: agreement.version,
            text_sha256: agreement.text_sha256.clone(),
            effective_at: agreement.effective_at,
            text_path: "agreement/agreement.txt".to_owned(),
        },
        files: listed(&entries),
        signatures,
        seal: ManifestSeal {
            path: "seal/seal.json".to_owned(),
        },
        index: rows,
        platform_key_id: signer.key_id(),
    };
    let manifest_bytes = json_bytes(&manifest)?;
    let signature = ManifestSignatureFile {
        algorithm: "Ed25519".to_owned(),
        key_id: signer.key_id(),
        public_key: signer.public_key_b64(),
        signature: signer.sign(&manifest_bytes),
    };
    let mut all = vec![
        Entry {
            path: MANIFEST.to_owned(),
            bytes: manifest_bytes,
            kind: "manifest",
        },
        Entry {
            path: MANIFEST_SIGNATURE.to_owned(),
            bytes: json_bytes(&signature)?,
            kind: "manifest",
        },
    ];
    all.extend(entries);
    write_zip(&all)
}

/// The files into a ZIP in the order given, all dated 2000-01-01 00:00 and mode 0644.
fn write_zip(entries: &[Entry]) -> Result<Vec<u8>> {
    let zip_error = |e: zip::result::ZipError| Error::Internal(format!("package ZIP: {e}"));
    let fixed = DateTime::from_date_and_time(2000, 1, 1, 0, 0, 0)
        .map_err(|e| Error::Internal(format!("package ZIP date: {e}")))?;
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(fixed)
        .unix_permissions(0o644);
    let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for entry in entries {
        zip.start_file(entry.path.as_str(), options)
            .map_err(zip_error)?;
        zip.write_all(&entry.bytes)
            .map_err(|e| Error::Internal(format!("package ZIP: {e}")))?;
    }
    Ok(zip.finish().map_err(zip_error)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_clients_stay_inside_their_folder() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("..\\x.pdf"), "x.pdf");
        assert_eq!(safe_name(".hidden"), "hidden");
        assert_eq!(extension("scan.PDF"), "pdf");
        assert_eq!(extension("noext"), "bin");
        assert_eq!(extension("a.p/df"), "bin");
    }
}
