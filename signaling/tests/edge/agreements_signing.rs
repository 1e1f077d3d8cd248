//! Signing an agreement through HTTP, on a real server (in this process) over SQLite and
//! PostgreSQL: the rules of issue 15's "Done means" (a signature over an outdated version's
//! hash, one by another key than the registered one, a representative without a power of
//! attorney, a personal-status family case), the free-will question refused unless the party
//! is alone with the mediator, and the happy path to in force, with the PDF served and the
//! public status by hash. Devices sign with p256 as WebCrypto does (IEEE P1363 `r || s`);
//! one-time codes are read where a gateway would get them.

pub(crate) mod world;

use accord_cases::agreements::document::{ClauseKind, Draft};
use accord_cases::store::model::Category;
use accord_cases::store::now_ms;
use accord_protocol::Space;
use serde_json::json;

use crate::common::Scratch;
use world::*;

async fn signing_rules_and_the_way_to_in_force(s: &Scratch) {
    let store = &s.store;
    let w = World::start(store).await;
    let c = case_with_people(&w, store, Category::Neighbours).await;
    let (host, seats) = c.seat_everyone(&w.state);
    let (id, first_sha) = final_agreement(store, &c, false).await;
    let mediator_key = Device::new();

    // The mediator registers a key for version 1 and takes a challenge for it; then the text
    // changes (version 2) and the old challenge's signature is refused.
    let (status, body) = w
        .call(
            "POST",
            &format!("/agreements/{id}/identity"),
            &c.mediator_access,
            Some(json!({"method": "staff", "public_key": mediator_key.public_key()})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let old = challenge(&w, &id, &c.mediator_access).await;
    assert!(old.contains(&first_sha));
    let (draft, update) = Draft::new_from(
        "人民调解协议书",
        &[(
            ClauseKind::Term,
            "李四于2027年1月15日前赔偿张三维修费3000元。".to_owned(),
        )],
    );
    let reopened = store
        .append_update(
            &id.as_str().into(),
            "main",
            &update,
            &c.editor(),
            None,
            &[],
            now_ms(),
        )
        .await
        .expect("edit after finalising");
    assert_eq!(reopened.reopened, Some(2));
    let sha = finalise(store, &c, &id, &draft).await;
    assert_ne!(sha, first_sha);
    let (status, body) = sign(&w, &id, &c.mediator_access, &mediator_key, &old).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("version_outdated")),
        "{body}"
    );

    // A representative without a power of attorney cannot sign.
    let (status, body) = w
        .call(
            "GET",
            &format!("/agreements/{id}/signing/challenge"),
            c.token(&c.representative),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("attorney_letter_missing")),
        "{body}"
    );

    // Free will is asked with the party alone with the mediator: not in the joint room.
    let (status, body) = w
        .call(
            "POST",
            &format!("/agreements/{id}/free-will"),
            &c.mediator_access,
            Some(json!({"party_id": c.applicant.id.to_string(), "answer": "yes"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("not_alone")),
        "{body}"
    );
    // Nor with their representative beside them (李四's representative follows him).
    let rooms = w.state.rooms();
    rooms
        .move_to(
            &c.session.room,
            &host.participant.id,
            &seats[1].participant.id,
            Space::Respondent,
        )
        .expect("moved");
    rooms
        .move_to(
            &c.session.room,
            &host.participant.id,
            &host.participant.id,
            Space::Respondent,
        )
        .expect("moved");
    let (status, body) = w
        .call(
            "POST",
            &format!("/agreements/{id}/free-will"),
            &c.mediator_access,
            Some(json!({"party_id": c.respondent.id.to_string(), "answer": "yes"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("not_alone")),
        "{body}"
    );
    rooms
        .gather(&c.session.room, &host.participant.id)
        .expect("gathered");
    // The representative leaves; 李四 is then alone with the mediator.
    rooms.remove(
        &c.session.room,
        &seats[2].participant.id,
        accord_protocol::LeaveReason::Left,
    );

    // 张三: free will, a code to his phone, his key, his signature.
    free_will_alone(&w, &c, &id, &host, &seats[0], &c.applicant).await;
    let zhang = Device::new();
    by_code(&w, &id, c.token(&c.applicant), &zhang).await;
    let payload = challenge(&w, &id, c.token(&c.applicant)).await;
    let (status, body) = sign(&w, &id, c.token(&c.applicant), &zhang, &payload).await;
    assert_eq!(status, 200, "{body}");

    // 李四 registers one key and signs with another: refused; with his own: accepted.
    free_will_alone(&w, &c, &id, &host, &seats[1], &c.respondent).await;
    let li = Device::new();
    by_code(&w, &id, c.token(&c.respondent), &li).await;
    let payload = challenge(&w, &id, c.token(&c.respondent)).await;
    let (status, body) = sign(&w, &id, c.token(&c.respondent), &Device::new(), &payload).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("key_not_registered")),
        "{body}"
    );
    let payload = challenge(&w, &id, c.token(&c.respondent)).await;
    let (status, body) = sign(&w, &id, c.token(&c.respondent), &li, &payload).await;
    assert_eq!(status, 200, "{body}");

    // Sealing before the mediator signs is refused; after, the agreement is in force.
    let (status, body) = w
        .call(
            "POST",
            &format!("/agreements/{id}/seal"),
            &c.mediator_access,
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("signatures_missing")),
        "{body}"
    );
    let (status, body) = w
        .call(
            "POST",
            &format!("/agreements/{id}/identity"),
            &c.mediator_access,
            Some(json!({"method": "staff", "public_key": mediator_key.public_key()})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let payload = challenge(&w, &id, &c.mediator_access).await;
    let (status, body) = sign(&w, &id, &c.mediator_access, &mediator_key, &payload).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = w
        .call(
            "POST",
            &format!("/agreements/{id}/seal"),
            &c.mediator_access,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "in_force", "{body}");
    assert!(body["seal"]["key_id"].is_string(), "{body}");
    assert_eq!(
        store.case(&c.case.id).await.expect("case").status.as_str(),
        "signed"
    );

    // Each party downloads the same PDF.
    let mut copies = Vec::new();
    for party in [&c.applicant, &c.respondent] {
        let response = w
            .http
            .get(format!("{}/api/v1/agreements/{id}/pdf", w.base))
            .bearer_auth(c.token(party))
            .send()
            .await
            .expect("pdf");
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.headers()["content-type"], "application/pdf");
        let disposition = response.headers()["content-disposition"]
            .to_str()
            .expect("ascii");
        assert!(disposition.starts_with("attachment;"), "{disposition}");
        assert!(
            disposition.contains("filename*=UTF-8''%E8%B0%83"),
            "{disposition}"
        );
        let bytes = response.bytes().await.expect("bytes");
        assert!(bytes.starts_with(b"%PDF"), "a PDF");
        copies.push(bytes);
    }
    assert_eq!(copies[0], copies[1], "every party gets the same bytes");

    // The public page by hash: genuine, in force, names masked, no text.
    let (status, body) = w
        .call("GET", &format!("/public/agreements/{sha}"), "", None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["genuine"], true);
    assert_eq!(body["status"], "in_force");
    let names: Vec<&str> = body["signers"]
        .as_array()
        .expect("signers")
        .iter()
        .map(|s| s["name_masked"].as_str().expect("name"))
        .collect();
    assert!(names.contains(&"张*"), "{names:?}");
    assert!(!body.to_string().contains("3000"), "no content: {body}");
    let (status, body) = w
        .call("GET", &format!("/public/agreements/{first_sha}"), "", None)
        .await;
    assert_eq!(status, 200);
    assert_ne!(body["status"], "in_force", "the superseded text: {body}");
    let (_, body) = w
        .call(
            "GET",
            &format!("/public/agreements/{}", "0".repeat(64)),
            "",
            None,
        )
        .await;
    assert_eq!(body["genuine"], false);
    drop(seats);
}
both_databases!(signing_to_in_force, signing_rules_and_the_way_to_in_force);

async fn a_personal_status_family_case_offers_no_signing(s: &Scratch) {
    let store = &s.store;
    let w = World::start(store).await;
    let c = case_with_people(&w, store, Category::Family).await;
    let (id, _) = final_agreement(store, &c, true).await;
    let (status, body) = w
        .call(
            "GET",
            &format!("/cases/{}/agreement", c.case.id),
            &c.mediator_access,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["e_signable"], false, "{body}");
    assert!(body["not_e_signable_reason"].is_string(), "{body}");
    for (method, path, token) in [
        ("GET", "signing/challenge", c.token(&c.applicant)),
        ("POST", "identity/otp", c.token(&c.applicant)),
        ("POST", "seal", c.mediator_access.as_str()),
    ] {
        let (status, body) = w
            .call(method, &format!("/agreements/{id}/{path}"), token, None)
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("not_e_signable")),
            "{path}: {body}"
        );
    }
}
both_databases!(
    family_status_not_signable,
    a_personal_status_family_case_offers_no_signing
);
