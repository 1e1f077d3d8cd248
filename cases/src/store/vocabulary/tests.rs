//! The examples of `docs/api/examples/` against the enums: the staff desk's tests read the
//! same files, so an action or entry kind added to one copy and not the other fails here or
//! there.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{AuditAction, SessionEventKind};

fn examples_dir(folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/api/examples")
        .join(folder)
}

/// The name each example of `folder` carries in `field`, parsed as `T`, checked against the
/// example's file name (`case.created.json` holds `"action": "case.created"`).
fn names_in<T: DeserializeOwned>(folder: &str, field: &str) -> Vec<T> {
    let dir = examples_dir(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no examples in {}", dir.display());
    files
        .iter()
        .map(|path| {
            let text =
                std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let example: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            let name = example[field]
                .as_str()
                .unwrap_or_else(|| panic!("{} has no string `{field}`", path.display()));
            let stem = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
                .unwrap_or_default();
            assert_eq!(
                stem,
                name,
                "{}: the file should be named after its {field}",
                path.display()
            );
            serde_json::from_value(Value::String(name.to_owned())).unwrap_or_else(|e| {
                panic!("{}: `{name}` is not a known {field}: {e}", path.display())
            })
        })
        .collect()
}

/// The names of `all` that no example of `folder` carries.
fn without_example<T: DeserializeOwned + Copy>(
    folder: &str,
    field: &str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Vec<&'static str> {
    let examples: BTreeSet<&str> = names_in::<T>(folder, field).into_iter().map(name).collect();
    all.iter()
        .map(|value| name(*value))
        .filter(|n| !examples.contains(n))
        .collect()
}

#[test]
fn every_audit_example_is_a_known_action_and_every_action_has_one() {
    let missing = without_example("audit", "action", AuditAction::ALL, AuditAction::as_str);
    assert!(
        missing.is_empty(),
        "audit actions without an example in docs/api/examples/audit: {missing:?}"
    );
}

#[test]
fn every_timeline_example_is_a_known_kind_and_every_kind_has_one() {
    let missing = without_example(
        "timeline",
        "kind",
        SessionEventKind::ALL,
        SessionEventKind::as_str,
    );
    assert!(
        missing.is_empty(),
        "session-record kinds without an example in docs/api/examples/timeline: {missing:?}"
    );
}

#[test]
fn names_are_stored_as_the_text_they_always_were() {
    // The audit chain hashes the action's text; a variant renamed on the wire would break
    // every entry written before.
    assert_eq!(AuditAction::CaseCreated.as_str(), "case.created");
    assert_eq!(
        serde_json::to_string(&AuditAction::StaffRefreshTokenReused).ok(),
        Some("\"staff.refresh_token_reused\"".to_owned())
    );
    assert_eq!(
        serde_json::to_string(&SessionEventKind::EvidenceShared).ok(),
        Some("\"evidence_shared\"".to_owned())
    );
    for action in AuditAction::ALL {
        assert_eq!(AuditAction::parse(action.as_str()).ok(), Some(*action));
    }
    for kind in SessionEventKind::ALL {
        assert_eq!(SessionEventKind::parse(kind.as_str()).ok(), Some(*kind));
    }
}
