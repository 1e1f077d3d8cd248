//! The court's side of judicial confirmation through HTTP, on a real server (in this process)
//! over SQLite and PostgreSQL, from a request the parties submitted: the inbox of a court
//! user (and nothing for another court), opening it marks it received, accept ⇒ extend ⇒ the
//! ruling uploaded ⇒ confirm with the case confirmed and audited, a confirmation before
//! acceptance refused; a rejection with the next steps; signed callbacks of a court's system
//! (a bad HMAC and a stale timestamp refused with nothing changed, a good one applied once,
//! an Ed25519 one with the court's key); and the connector against a court system in this
//! process that fails twice with 503 before taking the package: delivered once, in three
//! attempts, each with the same idempotency key and a valid signature.

use std::sync::{Arc, Mutex};

use accord_cases::agreements::signing::{new_seal_key, seal_sign};
use accord_cases::confirmation::model::RequestStatus;
use accord_cases::store::Store;
use accord_cases::store::model::{Actor, CaseStatus, NewStaff, StaffRole};
use accord_signaling::confirmation::config::CourtEndpoint;
use accord_signaling::confirmation::connector::{self, delivery_signature, hmac_hex};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::common::Scratch;
use crate::confirmation::world::{InForce, World, apply, in_force, view};

const COURT: &str = "朝阳区人民法院";
const SECRET: &[u8] = b"court-inbox-test-secret-0123456789";
const HOUR_MS: i64 = 3_600_000;

/// A world whose court has a system: callbacks signed with `SECRET` or `public_key`, and
/// packages delivered to `endpoint` when one is given.
async fn world(store: &Store, endpoint: Option<String>, public_key: Option<String>) -> World {
    World::start_with(store, |config| {
        config.confirmation.retry_base_ms = 100;
        config.confirmation.courts = vec![CourtEndpoint {
            name: COURT.into(),
            endpoint,
            hmac_secret: Some(SECRET.to_vec()),
            public_key,
        }];
    })
    .await
}

/// A court user of `court` and their access token.
async fn court_user(store: &Store, court: &str) -> String {
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

/// Both parties apply; the request is submitted. Its id.
async fn submitted(w: &World, f: &InForce) -> String {
    let (c, id) = (&f.c, f.agreement_id.as_str());
    let (status, body) = apply(w, id, c.token(&c.applicant), None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = apply(w, id, c.token(&c.respondent), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "submitted", "{body}");
    assert_eq!(body["court"]["proposed"], COURT, "{body}");
    body["request_id"].as_str().expect("a request").to_owned()
}

async fn status_of(store: &Store, request: &str) -> RequestStatus {
    store
        .confirmation_request(&request.into())
        .await
        .expect("request")
        .status
}

async fn audit_actions(store: &Store, f: &InForce) -> Vec<String> {
    store
        .audit_of(&format!("case:{}", f.c.case.id))
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect()
}

async fn inbox_accept_extend_rule_and_confirm(s: &Scratch) {
    let store = &s.store;
    let w = world(store, None, None).await;
    let f = in_force(&w, store).await;
    let request = submitted(&w, &f).await;
    let judge = court_user(store, COURT).await;
    let elsewhere = court_user(store, "海淀区人民法院").await;

    // Another court sees nothing of it.
    let (status, body) = w.call("GET", "/court/requests", &elsewhere, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["requests"], json!([]), "{body}");
    for path in ["", "/files/manifest.json"] {
        let (status, body) = w
            .call(
                "GET",
                &format!("/court/requests/{request}{path}"),
                &elsewhere,
                None,
            )
            .await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (status, body) = w
        .call(
            "POST",
            &format!("/court/requests/{request}/accept"),
            &elsewhere,
            Some(json!({"court_case_number": "(2026)京0108民特1号"})),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    // Nor does the mediator: the inbox is the court's.
    let (status, _) = w
        .call("GET", "/court/requests", &f.c.mediator_access, None)
        .await;
    assert_eq!(status, 403);

    // The court's inbox lists it, with the 3-day clock running.
    let (status, body) = w.call("GET", "/court/requests", &judge, None).await;
    assert_eq!(status, 200, "{body}");
    let item = &body["requests"][0];
    assert_eq!(item["id"], request.as_str(), "{body}");
    assert_eq!(item["status"], "submitted", "{body}");
    assert_eq!(item["case_number"], f.c.case.number.as_str(), "{body}");
    assert!(item["accept_due_at"].is_i64(), "{body}");
    assert_eq!(item["overdue"], false, "{body}");

    // Opening it marks it received, and shows the package's contents and index.
    let (status, body) = w
        .call("GET", &format!("/court/requests/{request}"), &judge, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "received", "{body}");
    assert!(body["received_at"].is_i64(), "{body}");
    assert_eq!(
        body["applicants"].as_array().map(Vec::len),
        Some(2),
        "{body}"
    );
    assert_eq!(
        body["agreement"]["text_sha256"],
        f.text_sha256.as_str(),
        "{body}"
    );
    let files = body["package"]["files"].as_array().expect("files");
    assert!(
        files.iter().any(|f| f["path"] == "agreement/agreement.txt"),
        "{body}"
    );
    assert!(
        !body["package"]["index"]
            .as_array()
            .expect("index")
            .is_empty()
    );
    assert_eq!(status_of(store, &request).await, RequestStatus::Received);

    // One file of the package, inline, typed by its extension; its bytes are the text hashed.
    let answer = w
        .http
        .get(format!(
            "{}/api/v1/court/requests/{request}/files/agreement/agreement.txt",
            w.base
        ))
        .bearer_auth(&judge)
        .send()
        .await
        .expect("file");
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    assert!(
        answer.headers()["content-disposition"]
            .to_str()
            .unwrap_or_default()
            .starts_with("inline")
    );
    let text = answer.bytes().await.expect("bytes");
    assert_eq!(hex::encode(sha2::Sha256::digest(&text)), f.text_sha256);

    // Confirming before accepting is refused.
    let confirm = |ruling: &str| json!({"ruling_number": "(2026)京0105民特1号", "ruling_date": "2026-12-20", "ruling_sha256": ruling});
    let ruling_pdf = b"%PDF-1.4\n% ruling\n";
    let ruling = crate::confirmation::world::put_blob(&w, ruling_pdf).await;
    let (status, body) = w
        .call(
            "POST",
            &format!("/court/requests/{request}/confirm"),
            &judge,
            Some(confirm(&ruling)),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("request_state")),
        "{body}"
    );

    // A malformed body is answered like every other error, {code, message}.
    let answer = w
        .http
        .post(format!("{}/api/v1/court/requests/{request}/accept", w.base))
        .bearer_auth(&judge)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("accept");
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.expect("json error");
    assert_eq!(body["code"], "bad_request", "{body}");

    // Accept, extend once, upload the ruling, confirm.
    let (status, body) = w
        .call(
            "POST",
            &format!("/court/requests/{request}/accept"),
            &judge,
            Some(json!({"court_case_number": "(2026)京0105民特1号"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "accepted", "{body}");
    assert_eq!(body["decision"]["court_case_number"], "(2026)京0105民特1号");
    let extend = json!({"reason": "案情复杂，需要进一步核实"});
    let (status, body) = w
        .call(
            "POST",
            &format!("/court/requests/{request}/extend"),
            &judge,
            Some(extend.clone()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["clocks"]["extended"], true, "{body}");
    let (status, body) = w
        .call(
            "POST",
            &format!("/court/requests/{request}/extend"),
            &judge,
            Some(extend),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("request_state")),
        "{body}"
    );

    let upload = |bytes: &'static [u8]| {
        w.http
            .put(format!("{}/api/v1/court/requests/{request}/ruling", w.base))
            .bearer_auth(&judge)
            .header("content-type", "application/pdf")
            .body(bytes)
            .send()
    };
    let refused = upload(b"<html>not a ruling</html>").await.expect("upload");
    assert_eq!(refused.status(), 415);
    let uploaded = upload(b"%PDF-1.4\n% the ruling of the court\n")
        .await
        .expect("upload");
    assert_eq!(uploaded.status(), 200);
    let uploaded: Value = uploaded.json().await.expect("json");
    let ruling = uploaded["sha256"].as_str().expect("sha256").to_owned();
    let (status, body) = w
        .call(
            "POST",
            &format!("/court/requests/{request}/confirm"),
            &judge,
            Some(confirm(&ruling)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "confirmed", "{body}");
    assert_eq!(body["decision"]["has_ruling"], true, "{body}");
    let case = store.case(&f.c.case.id).await.expect("case");
    assert_eq!(case.status, CaseStatus::Confirmed);
    let (_, party_view) = view(&w, &f.agreement_id, f.c.token(&f.c.applicant)).await;
    assert_eq!(party_view["status"], "confirmed", "{party_view}");

    let actions = audit_actions(store, &f).await;
    for action in [
        "confirmation.submitted",
        "confirmation.received",
        "confirmation.accepted",
        "confirmation.extended",
        "confirmation.confirmed",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
    store.verify_audit().await.expect("the chain holds");
}
both_databases!(inbox_and_decisions, inbox_accept_extend_rule_and_confirm);

async fn callback(w: &World, body: &Value, timestamp: i64, signature: &str) -> (u16, Value) {
    let bytes = serde_json::to_vec(body).expect("json");
    callback_bytes(w, bytes, timestamp, signature).await
}

async fn callback_bytes(
    w: &World,
    bytes: Vec<u8>,
    timestamp: i64,
    signature: &str,
) -> (u16, Value) {
    let answer = w
        .http
        .post(format!("{}/api/v1/court-system/callbacks", w.base))
        .header("content-type", "application/json")
        .header("x-accord-timestamp", timestamp.to_string())
        .header("x-accord-signature", signature)
        .body(bytes)
        .send()
        .await
        .expect("callback");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

fn hmac_signature(timestamp: i64, body: &Value) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend(serde_json::to_vec(body).expect("json"));
    format!("hmac-sha256={}", hmac_hex(SECRET, &signed))
}

async fn callbacks_and_a_rejection(s: &Scratch) {
    let store = &s.store;
    let w = world(store, None, None).await;
    let f = in_force(&w, store).await;
    let request = submitted(&w, &f).await;
    let now = w.state.now_ms() / 1000;
    let accepted = json!({"request_id": request, "event": "accepted", "court_case_number": "(2026)京0105民特7号"});

    // A bad HMAC, a missing one and a stale timestamp are refused; nothing changes.
    let wrong = format!(
        "hmac-sha256={}",
        hmac_hex(b"another-secret-entirely-000", b"x")
    );
    let (status, body) = callback(&w, &accepted, now, &wrong).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("bad_signature")),
        "{body}"
    );
    let (status, _) = callback(&w, &accepted, now, "").await;
    assert_eq!(status, 401);
    let stale = now - 301;
    let (status, body) = callback(&w, &accepted, stale, &hmac_signature(stale, &accepted)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("bad_signature")),
        "{body}"
    );
    assert_eq!(status_of(store, &request).await, RequestStatus::Submitted);
    let refused = audit_actions(store, &f)
        .await
        .iter()
        .filter(|a| *a == "confirmation.callback_refused")
        .count();
    assert_eq!(refused, 3, "each refusal is audited");

    // An unknown request is 404.
    let unknown = json!({"request_id": "CR_nothing", "event": "accepted"});
    let (status, _) = callback(&w, &unknown, now, &hmac_signature(now, &unknown)).await;
    assert_eq!(status, 404);

    // A good one is applied; its repeat changes nothing.
    let (status, body) = callback(&w, &accepted, now, &hmac_signature(now, &accepted)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["applied"].as_bool()),
        (Some("accepted"), Some(true))
    );
    let after = store
        .confirmation_request(&request.as_str().into())
        .await
        .expect("request");
    let (status, body) = callback(&w, &accepted, now, &hmac_signature(now, &accepted)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["applied"], false, "{body}");
    let again = store
        .confirmation_request(&request.as_str().into())
        .await
        .expect("request");
    assert_eq!(after, again, "a repeat changes nothing");
    let by_the_court = store
        .audit_of(&format!("case:{}", f.c.case.id))
        .await
        .expect("audit")
        .into_iter()
        .find(|e| e.action == "confirmation.accepted")
        .expect("the acceptance is audited");
    assert_eq!(
        by_the_court.actor,
        format!("court_system:{COURT}"),
        "the court's system, not the server, accepted it"
    );

    // The court user rejects it with reasons; the case follows, the parties see next steps.
    let judge = court_user(store, COURT).await;
    let (status, body) = w
        .call(
            "POST",
            &format!("/court/requests/{request}/reject"),
            &judge,
            Some(json!({"reasons": "协议内容违反法律强制性规定"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "rejected", "{body}");
    let case = store.case(&f.c.case.id).await.expect("case");
    assert_eq!(case.status, CaseStatus::Rejected);
    let (_, party_view) = view(&w, &f.agreement_id, f.c.token(&f.c.applicant)).await;
    assert_eq!(
        party_view["next_steps"],
        json!(["amend", "new_agreement", "litigation"]),
        "{party_view}"
    );
    assert_eq!(
        party_view["decision"]["reject_reasons"],
        "协议内容违反法律强制性规定"
    );

    // A callback that the state no longer allows is 409.
    let confirmed = json!({"request_id": request, "event": "confirmed", "ruling_number": "(2026)京0105民特7号", "ruling_date": "2026-12-20"});
    let (status, body) = callback(&w, &confirmed, now, &hmac_signature(now, &confirmed)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("request_state")),
        "{body}"
    );
}
both_databases!(callbacks, callbacks_and_a_rejection);

/// One delivery the stand-in court system got: headers, body, and what it answered.
type Delivery = (HeaderMap, Vec<u8>, u16);

/// What the stand-in court system saw.
#[derive(Clone, Default)]
struct CourtSystem {
    seen: Arc<Mutex<Vec<Delivery>>>,
}

/// A court system in this process: 503 to the first two deliveries, 200 after.
async fn court_system() -> (String, CourtSystem) {
    let system = CourtSystem::default();
    let kept = system.clone();
    let app = axum::Router::new().route(
        "/accord/packages",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                let mut seen = kept.seen.lock().expect("seen");
                let status = if seen.len() < 2 { 503 } else { 200 };
                seen.push((headers, body.to_vec(), status));
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/accord/packages?key=not-for-logs",
        listener.local_addr().expect("addr")
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, system)
}

async fn the_connector_delivers_once_after_two_failures(s: &Scratch) {
    let store = &s.store;
    let (endpoint, system) = court_system().await;
    let (secret_b64, public_b64) = new_seal_key();
    let w = world(store, Some(endpoint), Some(public_b64)).await;
    let f = in_force(&w, store).await;
    let request = submitted(&w, &f).await;
    let client = connector::client().expect("client");

    // Drive the connector as its loop would, moving the clock past each backoff.
    let mut rounds = 0;
    while system.seen.lock().expect("seen").len() < 3 && rounds < 10 {
        let worked = connector::deliver_next(&w.state, &client, "test-node")
            .await
            .expect("a round");
        if !worked {
            w.state
                .set_clock_offset_ms(w.state.now_ms() - accord_cases::store::now_ms() + HOUR_MS);
        }
        rounds += 1;
    }
    assert!(
        !connector::deliver_next(&w.state, &client, "test-node")
            .await
            .expect("a round"),
        "nothing is due once delivered"
    );

    let seen = system.seen.lock().expect("seen").clone();
    assert_eq!(
        seen.iter().map(|(_, _, s)| *s).collect::<Vec<_>>(),
        vec![503, 503, 200]
    );
    let outbox = store
        .outbox_of_request(&request.as_str().into())
        .await
        .expect("outbox")
        .expect("a delivery");
    assert_eq!(outbox.attempts, 3);
    assert!(outbox.delivered_at.is_some());
    assert_eq!(status_of(store, &request).await, RequestStatus::Received);
    let package = outbox.package_sha256.clone();
    for (headers, body, _) in &seen {
        let header = |name: &str| headers[name].to_str().expect("ascii").to_owned();
        assert_eq!(header("idempotency-key"), outbox.idempotency_key);
        assert_eq!(header("content-type"), "application/zip");
        assert_eq!(header("x-accord-request-id"), request);
        assert_eq!(header("x-accord-package-sha256"), package);
        assert_eq!(hex::encode(sha2::Sha256::digest(body)), package);
        let timestamp: i64 = header("x-accord-timestamp").parse().expect("seconds");
        assert_eq!(
            header("x-accord-signature"),
            delivery_signature(SECRET, timestamp, &package)
        );
        assert!(header("x-accord-callback-url").ends_with("/api/v1/court-system/callbacks"));
    }
    assert!(outbox.idempotency_key.starts_with(&format!("{request}.")));
    let metrics = w
        .http
        .get(format!("{}/metrics", w.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    // Process-wide counters (other suites deliver too): present, with each result.
    // Each series also carries the node's id as its first label.
    for (name, label) in [
        (
            "accord_confirmation_deliveries_total{",
            "result=\"delivered\"}",
        ),
        ("accord_confirmation_deliveries_total{", "result=\"retry\"}"),
        ("accord_confirmation_outbox_pending{", ""),
    ] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with(name) && l.contains(label)),
            "{name}{label} in {metrics}"
        );
    }

    // The court's system accepts it, signing with its own Ed25519 key.
    let accepted = json!({"request_id": request, "event": "accepted", "court_case_number": "(2026)京0105民特9号"});
    let bytes = serde_json::to_vec(&accepted).expect("json");
    let now = w.state.now_ms() / 1000;
    let mut signed = format!("{now}.").into_bytes();
    signed.extend(&bytes);
    let signature = format!(
        "ed25519={}",
        seal_sign(&secret_b64, &signed).expect("signed")
    );
    let (status, body) = callback_bytes(&w, bytes, now, &signature).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "accepted", "{body}");
    let actions = audit_actions(store, &f).await;
    assert!(
        actions.iter().any(|a| a == "confirmation.delivered"),
        "{actions:?}"
    );
}
both_databases!(
    delivery_to_a_court_system,
    the_connector_delivers_once_after_two_failures
);
