//! Applying for judicial confirmation through HTTP, on a real server (in this process) over
//! SQLite and PostgreSQL, from an agreement in force: the mediator's court choice, case links,
//! both parties applying after the session (one through a representative with a power of
//! attorney; one without is refused), the package built, stored and verifying offline, and
//! the 30-day window with an injected clock: warnings at 7 and 2 days, once per party, and an
//! application after 30 days refused with the reason.

mod identity;
pub(crate) mod world;

use accord_cases::confirmation::package;
use accord_cases::store::model::{Actor, Side};
use accord_cases::store::now_ms;
use serde_json::json;

use crate::common::Scratch;
use world::*;

const DAY_MS: i64 = 24 * 3600 * 1000;

async fn parties_apply_and_the_package_goes_to_the_court(s: &Scratch) {
    let store = &s.store;
    let w = World::start(store).await;
    let f = in_force(&w, store).await;
    let (c, id) = (&f.c, f.agreement_id.as_str());

    // Before anyone applies: both parties must, the window is open, the court is proposed.
    let (status, body) = view(&w, id, c.token(&c.applicant)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["confirmable"], true, "{body}");
    assert_eq!(body["status"], serde_json::Value::Null, "{body}");
    assert_eq!(body["applicants"].as_array().expect("applicants").len(), 2);
    assert_eq!(body["court"]["proposed"], "朝阳区人民法院", "{body}");
    assert_eq!(body["court"]["basis"], "organisation_seat", "{body}");
    assert_eq!(body["window"]["closed"], false, "{body}");
    assert_eq!(body["me"]["kind"], "party");
    assert_eq!(
        body["me"]["for_party_ids"],
        json!([c.applicant.id.to_string()])
    );

    // A party may not change the court; the mediator may, with a reason.
    let change = json!({"court": "北京市朝阳区人民法院", "reason": "被申请人住所地在朝阳区"});
    let (status, body) = w
        .call(
            "POST",
            &format!("/agreements/{id}/confirmation/court"),
            c.token(&c.applicant),
            Some(change.clone()),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = w
        .call(
            "POST",
            &format!("/agreements/{id}/confirmation/court"),
            &c.mediator_access,
            Some(change.clone()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["court"]["chosen"], "北京市朝阳区人民法院", "{body}");
    assert_eq!(body["court"]["reason"], "被申请人住所地在朝阳区", "{body}");
    assert_eq!(body["court"]["changed_by_name"], "王调解", "{body}");
    assert_eq!(body["court"]["may_change"], true, "{body}");

    // The mediator sends case links: one per party and per representative with a power of
    // attorney, each through the gateway, without the token in anything but the link.
    let (status, body) = w
        .call(
            "POST",
            &format!("/agreements/{id}/confirmation/links"),
            &c.mediator_access,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let links = body["links"].as_array().expect("links");
    assert_eq!(links.len(), 3, "{body}");
    assert!(links.iter().all(|l| l["sent"] == true), "{body}");
    assert_eq!(sent(&w, "confirmation_link").len(), 3);
    let link = links[0]["link"].as_str().expect("link");
    let applicant_link = link.split_once("/case#token=").expect("a case link").1;
    let (status, body) = view(&w, id, applicant_link).await;
    assert_eq!(status, 200, "a case link reaches the confirmation: {body}");
    let (status, body) = w.call("GET", "/room/agreement", applicant_link, None).await;
    assert_eq!(status, 200, "a case link reads the agreement: {body}");
    let refusal = join_frame(&w, applicant_link).await;
    assert_eq!(
        refusal["type"], "error",
        "a case link seats nobody: {refusal}"
    );
    assert_eq!(refusal["code"], "invalid_token", "{refusal}");

    // A party of another case sees nothing of this one.
    let other_case = store
        .create_case(
            &Actor::System,
            crate::common::new_case(
                &store
                    .organisation(&c.case.organisation_id)
                    .await
                    .expect("org"),
                "另一案",
            ),
            None,
        )
        .await
        .expect("another case");
    let stranger = store
        .add_party(
            &Actor::System,
            &other_case.id,
            crate::common::person("周五", Side::Applicant, None),
        )
        .await
        .expect("stranger");
    let stranger_token = accord_signaling::confirmation::links::case_link(
        &w.state,
        &other_case,
        &stranger,
        now_ms() + DAY_MS,
    )
    .expect("link")
    .split_once("#token=")
    .expect("token")
    .1
    .to_owned();
    let (status, body) = view(&w, id, &stranger_token).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = apply(&w, id, &stranger_token, Some(c.applicant.id.as_str())).await;
    assert_eq!(status, 404, "{body}");

    // 张三 applies with his session's link, although the session has ended.
    let (status, body) = apply(&w, id, c.token(&c.applicant), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "applying", "{body}");
    assert_eq!(body["me"]["applied"], true, "{body}");
    // Applying again changes nothing.
    let (status, again) = apply(&w, id, c.token(&c.applicant), None).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["applicants"], body["applicants"]);

    // 李四's representative without a power of attorney is refused; the one with it applies.
    let respondent = c.respondent.id.to_string();
    let (status, body) = apply(&w, id, c.token(&c.representative), Some(&respondent)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("attorney_letter_missing")),
        "{body}"
    );
    let attorney_token = case_link_token(&w, c, &f.attorney);
    let (status, body) = view(&w, id, &attorney_token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["me"]["for_party_ids"], json!([respondent]), "{body}");
    let (status, body) = apply(&w, id, &attorney_token, Some(&respondent)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "submitted", "{body}");
    let applied_by: Vec<&str> = body["applicants"]
        .as_array()
        .expect("applicants")
        .iter()
        .map(|a| a["applied_by_name"].as_str().expect("applied"))
        .collect();
    assert!(applied_by.contains(&"钱律师"), "{body}");
    assert!(body["clocks"]["accept_due_at"].is_i64(), "{body}");
    assert_eq!(body["application_pdf"], true, "{body}");
    let request_id = body["request_id"].as_str().expect("request").to_owned();
    let package_sha = body["package"]["sha256"]
        .as_str()
        .expect("package")
        .to_owned();

    let case = store.case(&c.case.id).await.expect("case");
    assert_eq!(case.status.as_str(), "confirmation_requested");
    assert_eq!(case.court.as_deref(), Some("北京市朝阳区人民法院"));

    // The court is fixed once submitted.
    let (status, body) = w
        .call(
            "POST",
            &format!("/agreements/{id}/confirmation/court"),
            &c.mediator_access,
            Some(change),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("request_submitted")),
        "{body}"
    );

    // A party reads the 申请书 but not the package; the mediator downloads the package, and it
    // verifies offline, its manifest naming the agreement's canonical text by its hash.
    let get = |path: String, token: String| {
        let http = w.http.clone();
        let base = w.base.clone();
        async move {
            let response = http
                .get(format!("{base}/api/v1/confirmation-requests/{path}"))
                .bearer_auth(token)
                .send()
                .await
                .expect("download");
            let status = response.status().as_u16();
            (status, response.bytes().await.expect("bytes").to_vec())
        }
    };
    let (status, pdf) = get(
        format!("{request_id}/application.pdf"),
        c.token(&c.applicant).to_owned(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(pdf.starts_with(b"%PDF"), "the 申请书 is a PDF");
    let (status, _) = get(
        format!("{request_id}/package.zip"),
        c.token(&c.applicant).to_owned(),
    )
    .await;
    assert_eq!(
        status, 403,
        "a party does not download everyone's ID numbers"
    );
    let (status, zip) = get(
        format!("{request_id}/package.zip"),
        c.mediator_access.clone(),
    )
    .await;
    assert_eq!(status, 200);
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&zip))
    };
    assert_eq!(sha, package_sha, "the stored package is the one named");
    let audit = store
        .audit_of(&format!("case:{}", c.case.id))
        .await
        .expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.action == "confirmation.package_downloaded"),
        "the download is audited"
    );
    let report = package::verify(&zip, None).expect("a readable package");
    assert!(report.ok, "the package verifies: {:?}", report.problems);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&zip)).expect("zip");
    let manifest: package::Manifest = {
        let mut file = archive.by_name(package::MANIFEST).expect("manifest");
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes).expect("read");
        serde_json::from_slice(&bytes).expect("manifest json")
    };
    assert_eq!(manifest.agreement.text_sha256, f.text_sha256);
    let text = manifest
        .files
        .iter()
        .find(|file| file.path == "agreement/agreement.txt")
        .expect("the canonical text is listed");
    assert_eq!(text.sha256, f.text_sha256);
    assert_eq!(manifest.court, "北京市朝阳区人民法院");

    // The public page of the agreement's QR code shows where its confirmation stands.
    let public = w
        .http
        .get(format!(
            "{}/api/v1/public/agreements/{}",
            w.base, f.text_sha256
        ))
        .send()
        .await
        .expect("public")
        .json::<serde_json::Value>()
        .await
        .expect("json");
    assert_eq!(public["confirmation"]["status"], "submitted", "{public}");
    assert_eq!(
        public["confirmation"]["court"], "北京市朝阳区人民法院",
        "{public}"
    );

    // Each party with a phone was told the request went to the court, without any link.
    assert!(
        wait_for(&w, "confirmation_status").await,
        "the parties are told"
    );
    for message in sent(&w, "confirmation_status") {
        assert_eq!(message["params"]["status"], "submitted");
        assert!(
            !message["text"]
                .as_str()
                .unwrap_or_default()
                .contains("token")
        );
    }
}
both_databases!(
    apply_and_submit,
    parties_apply_and_the_package_goes_to_the_court
);

/// Waits up to two seconds for a message sent in the background.
async fn wait_for(w: &World, template: &str) -> bool {
    for _ in 0..40 {
        if !sent(w, template).is_empty() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

async fn the_window_warns_at_7_and_2_days_and_closes_after_30(s: &Scratch) {
    let store = &s.store;
    let w = World::start(store).await;
    let f = in_force(&w, store).await;
    let (c, id) = (&f.c, f.agreement_id.as_str());
    let sweep = || {
        let state = w.state.clone();
        async move {
            accord_signaling::confirmation::window_sweep::sweep_window_warnings(
                &state,
                state.now_ms(),
            )
            .await
            .expect("sweep")
        }
    };
    // Nothing is due on the first day.
    assert_eq!(sweep().await, 0);

    w.state.set_clock_offset_ms(23 * DAY_MS);
    let (status, body) = view(&w, id, c.token(&c.applicant)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["window"]["warning"], "7_days", "{body}");
    assert_eq!(sweep().await, 2, "one warning to each party");
    let warnings = sent(&w, "confirmation_window");
    assert_eq!(warnings.len(), 2);
    assert!(
        warnings
            .iter()
            .all(|m| m["text"].as_str().expect("text").contains("7天"))
    );
    assert_eq!(sweep().await, 0, "a second sweep sends nothing");

    w.state.set_clock_offset_ms(28 * DAY_MS);
    let (_, body) = view(&w, id, c.token(&c.applicant)).await;
    assert_eq!(body["window"]["warning"], "2_days", "{body}");
    assert_eq!(sweep().await, 2, "the 2-day warning, once per party");
    assert_eq!(sweep().await, 0);

    w.state.set_clock_offset_ms(31 * DAY_MS);
    let (_, body) = view(&w, id, c.token(&c.applicant)).await;
    assert_eq!(body["window"]["closed"], true, "{body}");
    assert_eq!(body["confirmable"], false, "{body}");
    assert_eq!(
        body["next_steps"],
        json!(["new_agreement", "litigation"]),
        "{body}"
    );
    let (status, body) = apply(&w, id, c.token(&c.applicant), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("confirmation_window_closed")),
        "{body}"
    );
    assert!(
        !body["message"].as_str().unwrap_or_default().is_empty(),
        "{body}"
    );
    // A revoked invitation's link no longer reaches the confirmation.
    let invite = c.tokens[0].1.inv.clone().expect("an invite");
    store
        .revoke_invite(&Actor::System, &invite.as_str().into())
        .await
        .expect("revoked");
    let (status, body) = view(&w, id, c.token(&c.applicant)).await;
    assert_eq!(status, 401, "{body}");
}
both_databases!(window, the_window_warns_at_7_and_2_days_and_closes_after_30);

/// The first frame the server answers a WebSocket `join` with `token`.
async fn join_frame(w: &World, token: &str) -> serde_json::Value {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    let url = format!("{}/ws", w.base.replacen("http", "ws", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.expect("ws");
    let join = json!({"type": "join", "protocol": 1, "token": token});
    socket
        .send(Message::text(join.to_string()))
        .await
        .expect("send");
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("an answer within 10 s")
            .expect("socket open")
            .expect("frame");
        if let Message::Text(text) = frame {
            return serde_json::from_str(text.as_str()).expect("json");
        }
    }
}
