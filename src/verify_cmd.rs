//! `accord verify` and `accord keys rotate-signing`: offline commands over recordings,
//! confirmation packages and the platform's signing keys. Neither needs the server or the
//! database, so a court can verify a recording or a package on its own machine.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use accord_cases::confirmation::package::{self, Lang};
use accord_recordings::signing::{PlatformKeys, PublicKeyInfo, PublishedKeys, signing_dir};
use accord_recordings::verify::verify_recording;

/// Verifies a recording folder or ZIP, or a confirmation package: exit 0 when it verifies,
/// 1 when something does not match (each problem printed as `FAIL <file>: <problem>`), 2
/// when the input or a trusted key cannot be used at all. `lang` (`zh` or `en`) is the
/// language of a package's report.
pub fn verify(path: &Path, keys: &[String], key_lists: &[PathBuf], lang: &str) -> ExitCode {
    let trusted = match trusted_keys(keys, key_lists) {
        Ok(trusted) => trusted,
        Err(message) => {
            eprintln!("accord: {message}");
            return ExitCode::from(2);
        }
    };
    if path.is_file()
        && let Ok(bytes) = std::fs::read(path)
        && package::looks_like_package(&bytes)
    {
        let lang = Lang::parse(lang).unwrap_or_default();
        return verify_package(path, &bytes, trusted.as_deref(), lang);
    }
    match verify_recording(path, trusted.as_deref()) {
        Ok(report) => {
            for line in report.lines() {
                println!("{line}");
            }
            if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!(
                "accord: {} is not a readable confirmation package or recording: {e}",
                path.display()
            );
            ExitCode::from(2)
        }
    }
}

/// A confirmation package: the trusted keys are the platform's (they sign its manifest and
/// countersign the seal, as they sign recordings).
fn verify_package(
    path: &Path,
    bytes: &[u8],
    trusted: Option<&[PublicKeyInfo]>,
    lang: Lang,
) -> ExitCode {
    let trusted: Option<Vec<String>> =
        trusted.map(|keys| keys.iter().map(|k| k.public_key.clone()).collect());
    match package::verify(bytes, trusted.as_deref()) {
        Ok(report) => {
            for line in report.lines(lang) {
                println!("{line}");
            }
            if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!(
                "accord: {} is not a readable confirmation package: {e}",
                path.display()
            );
            ExitCode::from(2)
        }
    }
}

/// The keys given with `--key` (base64) and `--keys` (a saved `signing-keys.json`); `None`
/// when none were given, so the report says the key was not checked.
fn trusted_keys(
    keys: &[String],
    key_lists: &[PathBuf],
) -> Result<Option<Vec<PublicKeyInfo>>, String> {
    if keys.is_empty() && key_lists.is_empty() {
        return Ok(None);
    }
    let mut trusted = Vec::new();
    for key in keys {
        trusted.push(PublicKeyInfo::from_public_key(key).map_err(|e| format!("--key: {e}"))?);
    }
    for list in key_lists {
        let bytes = std::fs::read(list).map_err(|e| format!("--keys {}: {e}", list.display()))?;
        let published = PublishedKeys::from_json(&bytes)
            .map_err(|e| format!("--keys {}: {e}", list.display()))?;
        trusted.extend(published.keys);
    }
    Ok(Some(trusted))
}

/// Makes a new signing key current in `data_dir`; older keys stay, and stay published.
pub fn rotate_signing(data_dir: &Path) -> ExitCode {
    let dir = signing_dir(data_dir);
    match PlatformKeys::rotate(&dir) {
        Ok(key) => {
            println!(
                "new signing key {} (Ed25519 public key {}); the server signs with it from its next start",
                key.id, key.public_key
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("accord: rotating the signing key in {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
