//! The parties' proofs of identity through HTTP, over SQLite and PostgreSQL, from an agreement
//! in force: a party uploads photos of their ID card (only JPEG, PNG or PDF, at most the
//! configured size, of a known kind, at most four), the blob store holds them sealed, a
//! mediator's read is audited and gets the bytes back, the other party and the court before
//! the request reach nothing; after both apply the package carries them under
//! `parties/identity/` and still verifies, and nothing changes once the court has it.

use accord_cases::confirmation::package;
use accord_cases::store::model::{Actor, NewStaff, StaffRole};
use reqwest::header::HeaderMap;
use serde_json::Value;
use sha2::Digest as _;

use super::world::*;
use crate::common::Scratch;

/// A small real PNG, its pixels varied so its bytes are its own.
fn png_image() -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, 8, 8);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("png header");
        let pixels: Vec<u8> = (0..8 * 8 * 3).map(|n| (n * 37 % 251) as u8).collect();
        writer.write_image_data(&pixels).expect("png pixels");
    }
    bytes
}

/// Bytes that start as a JPEG does (a JFIF header), which is all the upload judges.
fn jpeg_image() -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    bytes.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    bytes.extend((0..512u32).map(|n| (n * 13 % 256) as u8));
    bytes.extend_from_slice(&[0xFF, 0xD9]);
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `token` uploads `file` as a proof of `kind` (for `party`, when given).
async fn upload(
    w: &World,
    agreement: &str,
    token: &str,
    kind: &str,
    party: Option<&str>,
    file: Vec<u8>,
) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new()
        .text("kind", kind.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(file).file_name("photo"),
        );
    if let Some(party) = party {
        form = form.text("party_id", party.to_owned());
    }
    let response = w
        .http
        .post(format!(
            "{}/api/v1/agreements/{agreement}/confirmation/identity-proofs",
            w.base
        ))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `token` reads proof `proof`: status, headers and bytes.
async fn read(w: &World, agreement: &str, token: &str, proof: &str) -> (u16, HeaderMap, Vec<u8>) {
    let response = w
        .http
        .get(format!(
            "{}/api/v1/agreements/{agreement}/confirmation/identity-proofs/{proof}",
            w.base
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("read");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.bytes().await.expect("bytes").to_vec(),
    )
}

async fn remove(w: &World, agreement: &str, token: &str, proof: &str) -> (u16, Value) {
    let response = w
        .http
        .delete(format!(
            "{}/api/v1/agreements/{agreement}/confirmation/identity-proofs/{proof}",
            w.base
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("remove");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn reads_audited(w: &World, case: &accord_cases::CaseId) -> usize {
    w.state
        .store()
        .audit_of(&format!("case:{case}"))
        .await
        .expect("audit")
        .iter()
        .filter(|e| e.action == "party.identity_proof_read")
        .count()
}

/// Every file under `dir`, read whole.
fn files_under(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            found.push(bytes);
        }
    }
    found
}

async fn court_user(w: &World, court: &str) -> String {
    let store = w.state.store();
    let staff = store
        .create_staff(
            &Actor::System,
            NewStaff {
                organisation_id: None,
                username: format!("court{}", rand::random::<u32>()),
                display_name: "刘法官".into(),
                role: StaffRole::Court,
                court: Some(court.into()),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            },
        )
        .await
        .expect("court user");
    accord_cases::tokens::staff::issue_access(store, &staff)
        .await
        .expect("access token")
}

fn code(body: &Value) -> Option<&str> {
    body["code"].as_str()
}

async fn proofs_are_sealed_read_by_whom_may_and_go_into_the_package(s: &Scratch) {
    let store = &s.store;
    let w = World::start(store).await;
    let f = in_force(&w, store).await;
    let (c, id) = (&f.c, f.agreement_id.as_str());
    let applicant = c.token(&c.applicant);
    let applicant_id = c.applicant.id.to_string();
    let respondent_id = c.respondent.id.to_string();
    let png = png_image();

    // 张三 uploads both sides of his ID card, for himself without naming himself.
    let (status, front) = upload(&w, id, applicant, "id_card_front", None, png.clone()).await;
    assert_eq!(status, 201, "{front}");
    assert_eq!(front["party_id"], applicant_id.as_str(), "{front}");
    assert_eq!(front["kind"], "id_card_front", "{front}");
    assert_eq!(front["media_type"], "image/png", "{front}");
    assert_eq!(front["size"], png.len(), "{front}");
    assert_eq!(front["may_remove"], true, "{front}");
    let front_id = front["id"].as_str().expect("an id").to_owned();
    assert!(front_id.starts_with("IP_"), "{front}");
    let (status, back) = upload(&w, id, applicant, "id_card_back", None, jpeg_image()).await;
    assert_eq!(status, 201, "{back}");
    assert_eq!(back["media_type"], "image/jpeg", "{back}");

    // Not a photo or a PDF, too large, or of no known kind: refused, nothing kept.
    let (status, body) = upload(
        &w,
        id,
        applicant,
        "other",
        None,
        b"my ID number is 110101199001011234".to_vec(),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (415, Some("unsupported_media_type")),
        "{body}"
    );
    let mut huge = png.clone();
    huge.resize(11 * 1024 * 1024, 0);
    let (status, body) = upload(&w, id, applicant, "other", None, huge).await;
    assert_eq!(
        (status, code(&body)),
        (413, Some("payload_too_large")),
        "{body}"
    );
    let (status, body) = upload(&w, id, applicant, "selfie", None, png.clone()).await;
    assert_eq!((status, code(&body)), (422, Some("invalid")), "{body}");
    assert_eq!(body["fields"][0]["field"], "kind", "{body}");
    // A party uploads for nobody but themselves (or whom they represent).
    let (status, body) = upload(
        &w,
        id,
        applicant,
        "other",
        Some(&respondent_id),
        png.clone(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // The court uploads nothing.
    let judge = court_user(&w, "朝阳区人民法院").await;
    let (status, body) = upload(&w, id, &judge, "other", Some(&applicant_id), png.clone()).await;
    assert_eq!(status, 403, "{body}");

    // The blob store holds the photo sealed: no file in it contains its bytes.
    let proof = store
        .identity_proof(&front_id.as_str().into())
        .await
        .expect("the proof");
    assert_eq!(proof.sha256, sha256(&png));
    assert_ne!(proof.sealed_blob, proof.sha256);
    let stored = files_under(&w._dir.path().join("blobs"));
    assert!(!stored.is_empty(), "the blob store has files");
    assert!(
        stored.iter().all(|file| !file
            .windows(png.len())
            .any(|window| window == png.as_slice())),
        "no blob holds the clear photo"
    );

    // The views: counts for everyone, the files for those who see them.
    let (status, body) = view(&w, id, applicant).await;
    assert_eq!(status, 200, "{body}");
    let count_of = |body: &Value, party: &str| {
        body["applicants"]
            .as_array()
            .expect("applicants")
            .iter()
            .find(|a| a["party_id"] == party)
            .map(|a| a["identity_proofs"].clone())
    };
    assert_eq!(count_of(&body, &applicant_id), Some(2.into()), "{body}");
    assert_eq!(count_of(&body, &respondent_id), Some(0.into()), "{body}");
    assert_eq!(
        body["identity_proofs"].as_array().map(Vec::len),
        Some(2),
        "{body}"
    );
    let respondent = c.token(&c.respondent);
    let (_, body) = view(&w, id, respondent).await;
    assert_eq!(count_of(&body, &applicant_id), Some(2.into()), "{body}");
    assert_eq!(
        body["identity_proofs"],
        serde_json::json!([]),
        "the other party sees none of his files: {body}"
    );
    let (_, body) = view(&w, id, &c.mediator_access).await;
    assert_eq!(
        body["identity_proofs"].as_array().map(Vec::len),
        Some(2),
        "{body}"
    );
    assert_eq!(body["identity_proofs"][0]["may_remove"], true, "{body}");

    // The mediator reads it byte for byte, and that is audited; 张三's own read is not; the
    // other party and the court (before the request reaches it) find nothing.
    let before = reads_audited(&w, &c.case.id).await;
    let (status, headers, bytes) = read(&w, id, &c.mediator_access, &front_id).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, png, "the clear photo comes back");
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap_or_default()
            .contains("no-store")
    );
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap_or_default()
            .starts_with("inline")
    );
    assert_eq!(reads_audited(&w, &c.case.id).await, before + 1);
    let (status, _, bytes) = read(&w, id, applicant, &front_id).await;
    assert_eq!((status, bytes == png), (200, true));
    assert_eq!(reads_audited(&w, &c.case.id).await, before + 1);
    let (status, _, _) = read(&w, id, respondent, &front_id).await;
    assert_eq!(status, 404);
    let (status, _, _) = read(&w, id, &judge, &front_id).await;
    assert_eq!(status, 404);
    let (status, body) = remove(&w, id, respondent, &front_id).await;
    assert_eq!(status, 404, "{body}");

    // Four at most; a removed one makes room again.
    let (status, third) = upload(&w, id, applicant, "other", None, png_image()).await;
    assert_eq!(status, 201, "{third}");
    // A scanned passport of a few MiB: larger than a body is by default, under the file limit.
    let mut passport = b"%PDF-1.4\n% passport\n".to_vec();
    passport.resize(3 * 1024 * 1024, b' ');
    let (status, body) = upload(&w, id, applicant, "other", None, passport.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["size"], passport.len(), "{body}");
    let (status, body) = upload(&w, id, applicant, "other", None, jpeg_image()).await;
    assert_eq!(
        code(&body),
        Some("too_many_identity_proofs"),
        "a fifth is refused ({status}): {body}"
    );
    assert!(status == 409 || status == 422, "{status}");
    let third_id = third["id"].as_str().expect("an id");
    let sealed = store
        .identity_proof(&third_id.into())
        .await
        .expect("the proof")
        .sealed_blob;
    let (status, body) = remove(&w, id, applicant, third_id).await;
    assert_eq!(status, 204, "{body}");
    assert!(
        w.state.blobs().open(&sealed).await.expect("open").is_none(),
        "the sealed blob goes with the record"
    );
    let (status, _, _) = read(&w, id, &c.mediator_access, third_id).await;
    assert_eq!(status, 404);
    let (status, body) = upload(&w, id, applicant, "other", None, jpeg_image()).await;
    assert_eq!(status, 201, "{body}");

    // The mediator uploads for 李四, naming him.
    let (status, body) = upload(
        &w,
        id,
        &c.mediator_access,
        "id_card_front",
        None,
        png.clone(),
    )
    .await;
    assert_eq!(
        (status, body["fields"][0]["field"].as_str()),
        (422, Some("party_id")),
        "{body}"
    );
    let respondent_front = jpeg_image();
    let (status, body) = upload(
        &w,
        id,
        &c.mediator_access,
        "id_card_front",
        Some(&respondent_id),
        respondent_front.clone(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["party_id"], respondent_id.as_str(), "{body}");

    // Both apply: the package carries each party's proofs, and verifies.
    let (status, body) = apply(&w, id, applicant, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = apply(&w, id, respondent, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "submitted", "{body}");
    assert!(
        body["identity_proofs"]
            .as_array()
            .expect("proofs")
            .iter()
            .all(|p| p["may_remove"] == false),
        "{body}"
    );
    let request_id = body["request_id"].as_str().expect("request").to_owned();
    let zip = w
        .http
        .get(format!(
            "{}/api/v1/confirmation-requests/{request_id}/package.zip",
            w.base
        ))
        .bearer_auth(&c.mediator_access)
        .send()
        .await
        .expect("package")
        .bytes()
        .await
        .expect("bytes")
        .to_vec();
    let report = package::verify(&zip, None).expect("a readable package");
    assert!(report.ok, "the package verifies: {:?}", report.problems);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&zip)).expect("zip");
    let read_entry = |archive: &mut zip::ZipArchive<_>, name: &str| {
        let mut file = archive.by_name(name).expect(name);
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes).expect("read");
        bytes
    };
    let front_path = format!("parties/identity/{applicant_id}-01-id_card_front.png");
    assert_eq!(read_entry(&mut archive, &front_path), png);
    let respondent_path = format!("parties/identity/{respondent_id}-01-id_card_front.jpg");
    assert_eq!(read_entry(&mut archive, &respondent_path), respondent_front);
    let manifest: package::Manifest =
        serde_json::from_slice(&read_entry(&mut archive, package::MANIFEST)).expect("manifest");
    let listed = manifest
        .files
        .iter()
        .find(|file| file.path == front_path)
        .expect("the manifest lists the photo");
    assert_eq!(listed.sha256, sha256(&png));
    let identity: Vec<&str> = manifest
        .files
        .iter()
        .map(|file| file.path.as_str())
        .filter(|path| path.starts_with(&format!("parties/identity/{applicant_id}-")))
        .collect();
    assert_eq!(identity.len(), 4, "{identity:?}");

    // The court the request went to reads them now, audited.
    let before = reads_audited(&w, &c.case.id).await;
    let (status, _, bytes) = read(&w, id, &judge, &front_id).await;
    assert_eq!((status, bytes == png), (200, true));
    assert_eq!(reads_audited(&w, &c.case.id).await, before + 1);

    // Once submitted, nothing changes.
    let (status, body) = upload(&w, id, applicant, "other", None, png.clone()).await;
    assert_eq!(
        (status, code(&body)),
        (409, Some("request_submitted")),
        "{body}"
    );
    let (status, body) = remove(&w, id, applicant, &front_id).await;
    assert_eq!(
        (status, code(&body)),
        (409, Some("request_submitted")),
        "{body}"
    );
}
both_databases!(
    identity_proofs,
    proofs_are_sealed_read_by_whom_may_and_go_into_the_package
);
