//! The confirmation package, built from synthetic but real inputs (real P-256 device keys
//! signing real payloads, real Ed25519 seal and platform keys, the real 申请书 PDF when the
//! CJK font is installed) and checked by the offline verifier: the untouched package
//! passes, and every kind of tampering fails with its code and the file it is in.
//!
//! With `ACCORD_WRITE_PACKAGES=<dir>` the good package and each tampered one are written
//! there, so the browser verifier's test checks the very same files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Cursor, Read as _, Write as _};

use accord_cases::confirmation::package::{
    MANIFEST, MANIFEST_SIGNATURE, Manifest, ManifestSignatureFile, ManifestSigner, ProblemCode,
    Report, build, looks_like_package, verify,
};

#[path = "package_verify/world.rs"]
mod world;

use world::{Ed25519Signer, inputs, sha256};

fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|n| {
            let mut file = archive.by_index(n).unwrap();
            let mut data = Vec::new();
            file.read_to_end(&mut data).unwrap();
            (file.name().to_owned(), data)
        })
        .collect()
}

fn rezip(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, data) in files {
        zip.start_file(name.as_str(), options).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// Rewrites the manifest's hashes for the files as they now are and signs it again with
/// `platform`: what someone holding the platform key could do. The verifier must still
/// catch what is wrong inside the files.
fn resign(files: &mut [(String, Vec<u8>)], platform: &Ed25519Signer) {
    let by_path: BTreeMap<String, Vec<u8>> = files.iter().cloned().collect();
    let mut manifest: Manifest = serde_json::from_slice(&by_path[MANIFEST]).unwrap();
    for file in &mut manifest.files {
        let data = &by_path[&file.path];
        file.sha256 = sha256(data);
        file.size = data.len() as u64;
    }
    let mut bytes = serde_json::to_vec_pretty(&manifest).unwrap();
    bytes.push(b'\n');
    let signature = ManifestSignatureFile {
        algorithm: "Ed25519".into(),
        key_id: platform.key_id(),
        public_key: platform.public(),
        signature: platform.sign(&bytes),
    };
    let mut sig_bytes = serde_json::to_vec_pretty(&signature).unwrap();
    sig_bytes.push(b'\n');
    for (name, data) in files.iter_mut() {
        if name == MANIFEST {
            *data = bytes.clone();
        } else if name == MANIFEST_SIGNATURE {
            *data = sig_bytes.clone();
        }
    }
}

fn trusted(platform: &Ed25519Signer) -> Vec<String> {
    vec![platform.public()]
}

fn check(bytes: &[u8], platform: &Ed25519Signer) -> Report {
    verify(bytes, Some(&trusted(platform))).expect("a readable package")
}

/// Writes `bytes` as `<name>.zip` under `ACCORD_WRITE_PACKAGES`, when it is set, with
/// `<name>.report.json` (what this verifier says with the platform key trusted) and
/// `trusted.json` (that key), so the browser verifier's parity test compares its report.
fn keep(name: &str, bytes: &[u8], platform: &Ed25519Signer) {
    if let Some(dir) = std::env::var_os("ACCORD_WRITE_PACKAGES") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.zip")), bytes).unwrap();
        let report = serde_json::to_vec_pretty(&check(bytes, platform)).unwrap();
        std::fs::write(dir.join(format!("{name}.report.json")), report).unwrap();
        let trusted = serde_json::to_vec_pretty(&trusted(platform)).unwrap();
        std::fs::write(dir.join("trusted.json"), trusted).unwrap();
    }
}

fn good(platform: &Ed25519Signer) -> Vec<u8> {
    build(&inputs(false, platform), platform).expect("a package")
}

fn assert_fails(report: &Report, code: ProblemCode, path: &str) {
    assert!(!report.ok, "expected {code:?} at {path}, but it verified");
    assert!(
        report.has(code, path),
        "expected {code:?} at {path}; got {:#?}",
        report.problems
    );
}

#[test]
fn an_untouched_package_verifies_and_is_the_same_bytes_twice() {
    let platform = Ed25519Signer::new(50);
    let bytes = good(&platform);
    keep("good", &bytes, &platform);
    assert!(looks_like_package(&bytes));
    let report = check(&bytes, &platform);
    assert!(report.ok, "{:#?}", report.problems);
    assert!(report.checks.iter().all(|c| c.ok));
    assert_eq!(
        bytes,
        good(&platform),
        "the same inputs give the same bytes"
    );
    let names: Vec<String> = unzip(&bytes).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        &names[..3],
        ["manifest.json", "manifest.sig.json", "index.zh.txt"]
    );
    for expected in [
        "application/申请书.pdf",
        "agreement/agreement.txt",
        "signatures/01-PT_applicant000001/payload.json",
        "signatures/01-PT_applicant000001/drawn.png",
        "signatures/03-ST_mediator0000001/signature.json",
        "seal/statement.json",
        "parties/attorney/PT_agent0000000001.pdf",
        "parties/identity/PT_applicant000001-01-身份证.jpg",
        "evidence/files/01-发票.pdf",
        "recordings/RC_rec0000000000001/manifest.sig",
        "recordings/references.json",
        "records/SE_session00000001.txt",
        "audit/audit.json",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    let index = String::from_utf8(unzip(&bytes)[2].1.clone()).unwrap();
    assert!(index.contains("司法确认申请书【已附】"), "{index}");
    assert!(index.contains("委托代理人的授权委托书【已附】"), "{index}");
    assert!(
        report
            .lines(accord_cases::confirmation::package::Lang::Zh)
            .last()
            .unwrap()
            .contains("完整")
    );
}

#[test]
fn one_changed_byte_in_any_file_names_that_file() {
    let platform = Ed25519Signer::new(50);
    let original = unzip(&good(&platform));
    for (n, (name, _)) in original.iter().enumerate() {
        let mut files = original.clone();
        let data = &mut files[n].1;
        let at = data.len() / 2;
        data[at] ^= 0x01;
        let tampered = rezip(&files);
        if n < 3 {
            keep(
                &format!("byte-{}", name.replace('/', "_")),
                &tampered,
                &platform,
            );
        }
        let report = check(&tampered, &platform);
        let named = if name == MANIFEST {
            report.has(ProblemCode::ManifestSignature, MANIFEST)
        } else if name == MANIFEST_SIGNATURE {
            report.has(ProblemCode::ManifestSignature, MANIFEST_SIGNATURE)
                || report.has(ProblemCode::ManifestSignature, MANIFEST)
        } else {
            report.has(ProblemCode::FileHash, name)
        };
        assert!(
            named,
            "changing {name} was not caught at it: {:#?}",
            report.problems
        );
    }
}

#[test]
fn a_removed_or_an_added_file_is_named() {
    let platform = Ed25519Signer::new(50);
    let original = unzip(&good(&platform));
    let removed: Vec<_> = original
        .iter()
        .filter(|(n, _)| n != "evidence/files/01-发票.pdf")
        .cloned()
        .collect();
    let removed = rezip(&removed);
    keep("file-removed", &removed, &platform);
    assert_fails(
        &check(&removed, &platform),
        ProblemCode::FileMissing,
        "evidence/files/01-发票.pdf",
    );

    let mut added = original.clone();
    added.push((
        "evidence/files/02-补充.pdf".into(),
        b"%PDF-1.7 later".to_vec(),
    ));
    let added = rezip(&added);
    keep("file-added", &added, &platform);
    assert_fails(
        &check(&added, &platform),
        ProblemCode::FileUnlisted,
        "evidence/files/02-补充.pdf",
    );
}

#[test]
fn swapped_signatures_fail_even_with_a_resigned_manifest() {
    let platform = Ed25519Signer::new(50);
    let mut files = unzip(&good(&platform));
    let first = "signatures/01-PT_applicant000001/signature.json";
    let second = "signatures/02-PT_agent0000000001/signature.json";
    let a = files.iter().position(|(n, _)| n == first).unwrap();
    let b = files.iter().position(|(n, _)| n == second).unwrap();
    let (left, right) = (files[a].1.clone(), files[b].1.clone());
    files[a].1 = right;
    files[b].1 = left;
    resign(&mut files, &platform);
    let tampered = rezip(&files);
    keep("signatures-swapped", &tampered, &platform);
    let report = check(&tampered, &platform);
    assert_fails(&report, ProblemCode::SignatureInvalid, first);
    assert_fails(&report, ProblemCode::SignatureMismatch, first);
    assert_fails(&report, ProblemCode::SignatureInvalid, second);
}

#[test]
fn a_signature_over_an_outdated_version_is_a_mismatch() {
    let platform = Ed25519Signer::new(50);
    let bytes = build(&inputs(true, &platform), &platform).unwrap();
    keep("signature-outdated", &bytes, &platform);
    let report = check(&bytes, &platform);
    assert_fails(
        &report,
        ProblemCode::SignatureMismatch,
        "signatures/02-PT_agent0000000001/payload.json",
    );
    // The signature itself is genuine: it is the wrong thing that was signed.
    assert!(!report.has(
        ProblemCode::SignatureInvalid,
        "signatures/02-PT_agent0000000001/signature.json"
    ));
}

#[test]
fn a_manifest_signed_by_another_key_is_refused_when_keys_are_trusted() {
    let platform = Ed25519Signer::new(50);
    let stranger = Ed25519Signer::new(60);
    let bytes = build(&inputs(false, &platform), &stranger).unwrap();
    keep("manifest-other-key", &bytes, &platform);
    assert_fails(
        &check(&bytes, &platform),
        ProblemCode::ManifestSignature,
        MANIFEST_SIGNATURE,
    );
    // Without a trusted list the signature is checked, not whose it is.
    assert!(verify(&bytes, None).unwrap().ok);
}

#[test]
fn an_altered_audit_entry_breaks_the_chain() {
    let platform = Ed25519Signer::new(50);
    let mut files = unzip(&good(&platform));
    let at = files
        .iter()
        .position(|(n, _)| n == "audit/audit.json")
        .unwrap();
    let mut entries: Vec<serde_json::Value> = serde_json::from_slice(&files[at].1).unwrap();
    entries[1]["detail"] = serde_json::json!("{\"n\":999}");
    let mut bytes = serde_json::to_vec_pretty(&entries).unwrap();
    bytes.push(b'\n');
    files[at].1 = bytes;
    resign(&mut files, &platform);
    let tampered = rezip(&files);
    keep("audit-altered", &tampered, &platform);
    let report = check(&tampered, &platform);
    assert_fails(&report, ProblemCode::AuditChain, "audit/audit.json");
    assert_eq!(report.problems.len(), 1, "{:#?}", report.problems);
}

#[test]
fn bytes_that_are_not_a_package_are_an_error() {
    assert!(verify(b"not a zip", None).is_err());
    assert!(!looks_like_package(b"not a zip"));
    let no_manifest = rezip(&[("a.txt".into(), b"x".to_vec())]);
    assert!(verify(&no_manifest, None).is_err());
}

#[test]
fn the_index_marks_property_proofs_missing_when_no_evidence_was_filed() {
    let platform = Ed25519Signer::new(50);
    let property_row = |bytes: &[u8]| {
        let manifest: Manifest = serde_json::from_slice(
            &unzip(bytes)
                .into_iter()
                .find(|(name, _)| name == MANIFEST)
                .expect("manifest")
                .1,
        )
        .expect("manifest json");
        let row = manifest
            .index
            .into_iter()
            .find(|row| row.label == "与调解协议相关的财产权利证明")
            .expect("the property row");
        (row.present, row.note)
    };
    let (present, note) = property_row(&good(&platform));
    assert!(present, "{note}");
    let mut without = inputs(false, &platform);
    without.evidence.clear();
    let (present, note) = property_row(&build(&without, &platform).expect("a package"));
    assert!(!present, "an empty evidence list proves nothing: {note}");
    assert!(note.starts_with("缺"), "{note}");
}
