//! The staff API for case work through the real binary: who may see and change what
//! (401 / 403 / 404), field errors (422), life-cycle refusals (409), idempotent creates,
//! evidence round trips, and invites whose links admit their person until revoked.

use accord_signaling::store::{Store, StoreKeys};
use accord_tests::{Bystander, StaffApi, TestServer, TokenRequest};
use anyhow::{Context, Result, ensure};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
/// A valid resident ID number (its check character is right); it must never reach the log.
const ID_NUMBER: &str = "11010519491231002X";
const PHONE: &str = "13800138000";

/// Two organisations, a mediator in each, a court user for the first one's court.
struct World {
    server: TestServer,
    api: StaffApi,
    admin: String,
    mediator_a: String,
    mediator_a_id: String,
    mediator_b: String,
    court: String,
}

impl World {
    async fn new() -> Result<Self> {
        let server = TestServer::start().await?;
        let api = StaffApi::new(server.http_url());
        let admin = api.setup("admin", PASSWORD).await?;
        let org = |name: &str, short: &str, region: &str, court: Option<&str>| json!({"name": name, "short_name": short, "region": region, "channel": "peoples", "court": court});
        let org_a = api
            .post(
                "/api/v1/organisations",
                org(
                    "宝安区新安街道人民调解委员会",
                    "宝安",
                    "新安街道",
                    Some("深圳市宝安区人民法院"),
                ),
                &admin,
            )
            .await?
            .expect(StatusCode::CREATED)?
            .text("id")?;
        let org_b = api
            .post(
                "/api/v1/organisations",
                org("南山区粤海街道人民调解委员会", "南山", "粤海街道", None),
                &admin,
            )
            .await?
            .expect(StatusCode::CREATED)?
            .text("id")?;
        let staff = |username: &str, role: &str, org: Option<&str>, court: Option<&str>| {
            json!({"username": username, "display_name": username, "password": PASSWORD,
                   "role": role, "organisation_id": org, "court": court})
        };
        let mediator_a_id = api
            .post(
                "/api/v1/staff",
                staff("li", "mediator", Some(&org_a), None),
                &admin,
            )
            .await?
            .expect(StatusCode::CREATED)?
            .text("id")?;
        api.post(
            "/api/v1/staff",
            staff("wang", "mediator", Some(&org_b), None),
            &admin,
        )
        .await?
        .expect(StatusCode::CREATED)?;
        api.post(
            "/api/v1/staff",
            staff("judge", "court", None, Some("深圳市宝安区人民法院")),
            &admin,
        )
        .await?
        .expect(StatusCode::CREATED)?;
        Ok(Self {
            mediator_a: api.login("li", PASSWORD).await?,
            mediator_b: api.login("wang", PASSWORD).await?,
            court: api.login("judge", PASSWORD).await?,
            mediator_a_id,
            admin,
            api,
            server,
        })
    }

    /// Registers a case with an applicant and a respondent as mediator A; returns the
    /// detail.
    async fn case(&self, title: &str) -> Result<Value> {
        let body = json!({
            "category": "neighbours", "risk": "yellow", "title": title,
            "facts": "楼上卫生间漏水，浸泡楼下天花板。", "claims": "赔偿维修费用3000元。",
            "parties": [
                {"side": "applicant", "kind": "person", "name": "张三", "phone": PHONE, "id_number": ID_NUMBER},
                {"side": "respondent", "kind": "person", "name": "李四", "phone": "13900139000"}
            ]
        });
        Ok(self
            .api
            .post("/api/v1/cases", body, &self.mediator_a)
            .await?
            .expect(StatusCode::CREATED)?
            .body)
    }

    async fn session(&self, case_id: &str) -> Result<String> {
        let at = accord_signaling::store::now_ms() + 3_600_000;
        self.api
            .post(
                &format!("/api/v1/cases/{case_id}/sessions"),
                json!({"scheduled_at": at}),
                &self.mediator_a,
            )
            .await?
            .expect(StatusCode::CREATED)?
            .text("id")
    }
}

fn id_of(value: &Value, pointer: &str) -> Result<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("no {pointer} in {value}"))
}

#[tokio::test]
async fn every_staff_endpoint_refuses_missing_expired_forged_and_join_tokens() -> Result<()> {
    let world = World::new().await?;
    let detail = world.case("楼上漏水纠纷").await?;
    let case = id_of(&detail, "/case/id")?;
    let party = id_of(&detail, "/parties/0/id")?;
    let session = world.session(&case).await?;
    let invite = world
        .api
        .post(
            &format!("/api/v1/sessions/{session}/invites"),
            json!({"party_id": party}),
            &world.mediator_a,
        )
        .await?
        .expect(StatusCode::CREATED)?
        .text("id")?;

    let data_dir = world.server.data_dir();
    let store = Store::open(
        &format!("sqlite://{}", data_dir.join("accord.db").display()),
        StoreKeys::load_or_create(&data_dir)?,
    )
    .await?;
    let staff = store.staff(&world.mediator_a_id).await?;
    let an_hour_ago = accord_signaling::store::now_ms() as u64 / 1000 - 3600;
    let expired = accord_signaling::staff::issue_access_at(&store, &staff, an_hour_ago).await?;
    store.close().await;
    let forged = format!("{}x", &world.mediator_a[..world.mediator_a.len() - 1]);
    let join = world
        .server
        .mint(&TokenRequest::new("room-1", "party-1", "party"))
        .await?;

    let endpoints = [
        (Method::GET, "/api/v1/organisations".to_owned()),
        (Method::POST, "/api/v1/organisations".to_owned()),
        (Method::GET, "/api/v1/staff".to_owned()),
        (Method::POST, "/api/v1/staff".to_owned()),
        (
            Method::POST,
            format!("/api/v1/staff/{}/disable", world.mediator_a_id),
        ),
        (Method::GET, "/api/v1/cases".to_owned()),
        (Method::POST, "/api/v1/cases".to_owned()),
        (Method::GET, format!("/api/v1/cases/{case}")),
        (Method::POST, format!("/api/v1/cases/{case}/status")),
        (Method::POST, format!("/api/v1/cases/{case}/assign")),
        (Method::POST, format!("/api/v1/cases/{case}/parties")),
        (Method::POST, format!("/api/v1/cases/{case}/sessions")),
        (Method::POST, format!("/api/v1/cases/{case}/evidence")),
        (Method::GET, format!("/api/v1/cases/{case}/evidence/EV_x")),
        (Method::GET, format!("/api/v1/cases/{case}/audit")),
        (Method::GET, format!("/api/v1/sessions/{session}/invites")),
        (Method::POST, format!("/api/v1/sessions/{session}/invites")),
        (Method::POST, format!("/api/v1/sessions/{session}/start")),
        (Method::GET, format!("/api/v1/invites/{invite}")),
        (Method::GET, format!("/api/v1/invites/{invite}/qr.svg")),
        (Method::GET, format!("/api/v1/invites/{invite}/qr.png")),
        (Method::POST, format!("/api/v1/invites/{invite}/revoke")),
        (Method::POST, format!("/api/v1/invites/{invite}/send")),
    ];
    let body = json!({});
    for (method, path) in &endpoints {
        for (label, bearer) in [
            ("no token", None),
            ("expired", Some(expired.as_str())),
            ("forged", Some(forged.as_str())),
            ("join token", Some(join.as_str())),
        ] {
            let answer = world
                .api
                .call(method.clone(), path, Some(&body), bearer, &[])
                .await?;
            ensure!(
                answer.status == StatusCode::UNAUTHORIZED && answer.body["code"] == "unauthorized",
                "{method} {path} with {label}: {} {}",
                answer.status,
                answer.body
            );
        }
    }
    // Nothing was changed by any of those.
    let invite_now = world
        .api
        .get(&format!("/api/v1/invites/{invite}"), &world.mediator_a)
        .await?;
    ensure!(invite_now.body["status"] == "active", "{}", invite_now.body);
    world.server.stop().await
}

#[tokio::test]
async fn organisations_and_courts_see_only_their_own_cases() -> Result<()> {
    let world = World::new().await?;
    let api = &world.api;
    let detail = world.case("楼上漏水纠纷").await?;
    let case = id_of(&detail, "/case/id")?;
    let session = world.session(&case).await?;

    // Another organisation's mediator learns nothing: not in the list, 404 everywhere.
    let listed = api
        .get("/api/v1/cases", &world.mediator_b)
        .await?
        .expect(StatusCode::OK)?;
    ensure!(listed.body["items"] == json!([]), "{}", listed.body);
    for path in [
        format!("/api/v1/cases/{case}"),
        format!("/api/v1/cases/{case}/audit"),
        format!("/api/v1/sessions/{session}/invites"),
    ] {
        let answer = api.get(&path, &world.mediator_b).await?;
        ensure!(
            answer.status == StatusCode::NOT_FOUND,
            "{path}: {} {}",
            answer.status,
            answer.body
        );
    }
    let answer = api
        .post(
            &format!("/api/v1/cases/{case}/status"),
            json!({"status": "closed"}),
            &world.mediator_b,
        )
        .await?;
    ensure!(answer.status == StatusCode::NOT_FOUND, "{answer:?}");

    // Mediators do not administer.
    let answer = api
        .post(
            "/api/v1/organisations",
            json!({"name": "x", "short_name": "x", "region": "x", "channel": "peoples"}),
            &world.mediator_a,
        )
        .await?;
    ensure!(answer.status == StatusCode::FORBIDDEN, "{answer:?}");
    let answer = api
        .post("/api/v1/staff", json!({"username": "eve", "display_name": "eve", "password": PASSWORD, "role": "administrator"}), &world.mediator_a)
        .await?;
    ensure!(answer.status == StatusCode::FORBIDDEN, "{answer:?}");

    // The court sees nothing until confirmation is requested, then exactly that case.
    let listed = api
        .get("/api/v1/cases", &world.court)
        .await?
        .expect(StatusCode::OK)?;
    ensure!(listed.body["items"] == json!([]), "{}", listed.body);
    ensure!(
        api.get(&format!("/api/v1/cases/{case}"), &world.court)
            .await?
            .status
            == StatusCode::NOT_FOUND
    );
    let step = |status: &str| json!({"status": status});
    let path = format!("/api/v1/cases/{case}/status");
    api.post(
        &format!("/api/v1/cases/{case}/assign"),
        json!({"mediator_id": world.mediator_a_id}),
        &world.mediator_a,
    )
    .await?
    .expect(StatusCode::OK)?;
    for status in ["in_mediation", "agreement_reached", "signed"] {
        api.post(&path, step(status), &world.mediator_a)
            .await?
            .expect(StatusCode::OK)?;
    }
    // Only the court decides on confirmation; the court takes no other step.
    let answer = api
        .post(&path, step("confirmation_requested"), &world.mediator_a)
        .await?
        .expect(StatusCode::OK)?;
    ensure!(
        answer.body["court"] == "深圳市宝安区人民法院",
        "{}",
        answer.body
    );
    let answer = api
        .post(&path, step("confirmed"), &world.mediator_a)
        .await?;
    ensure!(answer.status == StatusCode::FORBIDDEN, "{answer:?}");
    let listed = api
        .get("/api/v1/cases", &world.court)
        .await?
        .expect(StatusCode::OK)?;
    ensure!(
        listed.body["items"].as_array().map(Vec::len) == Some(1),
        "{}",
        listed.body
    );
    let seen = api
        .get(&format!("/api/v1/cases/{case}"), &world.court)
        .await?
        .expect(StatusCode::OK)?;
    ensure!(
        seen.body["next_statuses"] == json!(["confirmed", "rejected"]),
        "{}",
        seen.body
    );
    let answer = api.post(&path, step("closed"), &world.court).await?;
    ensure!(answer.status == StatusCode::FORBIDDEN, "{answer:?}");
    // Court users do not run sessions or touch parties.
    let answer = api
        .post(
            &format!("/api/v1/sessions/{session}/start"),
            json!({}),
            &world.court,
        )
        .await?;
    ensure!(answer.status == StatusCode::FORBIDDEN, "{answer:?}");
    let answer = api
        .post(&path, step("confirmed"), &world.court)
        .await?
        .expect(StatusCode::OK)?;
    ensure!(answer.body["status"] == "confirmed", "{}", answer.body);

    // An illegal step is refused whoever asks.
    let answer = api.post(&path, step("intake"), &world.mediator_a).await?;
    ensure!(
        answer.status == StatusCode::CONFLICT && answer.body["code"] == "conflict",
        "{answer:?}"
    );
    // A disabled account is refused at once, with the access token it still holds.
    let staff = api
        .get("/api/v1/staff", &world.admin)
        .await?
        .expect(StatusCode::OK)?;
    let wang = staff.body["items"]
        .as_array()
        .and_then(|items| items.iter().find(|s| s["username"] == "wang"))
        .and_then(|s| s["id"].as_str())
        .context("wang in the staff list")?
        .to_owned();
    let answer = api
        .post(
            &format!("/api/v1/staff/{wang}/disable"),
            json!({}),
            &world.mediator_a,
        )
        .await?;
    ensure!(answer.status == StatusCode::FORBIDDEN, "{answer:?}");
    let answer = api
        .post(
            &format!("/api/v1/staff/{wang}/disable"),
            json!({}),
            &world.admin,
        )
        .await?;
    ensure!(answer.status == StatusCode::NO_CONTENT, "{answer:?}");
    let answer = api.get("/api/v1/cases", &world.mediator_b).await?;
    ensure!(answer.status == StatusCode::UNAUTHORIZED, "{answer:?}");

    // The system administrator sees every case.
    let listed = api
        .get("/api/v1/cases", &world.admin)
        .await?
        .expect(StatusCode::OK)?;
    ensure!(
        listed.body["items"].as_array().map(Vec::len) == Some(1),
        "{}",
        listed.body
    );
    world.server.stop().await
}

#[tokio::test]
async fn invalid_bodies_are_answered_with_field_errors() -> Result<()> {
    let world = World::new().await?;
    let api = &world.api;
    let answer = api
        .post(
            "/api/v1/cases",
            json!({"category": "weather", "risk": "green", "title": "", "facts": "x", "claims": "y",
                   "parties": [
                       {"side": "applicant", "kind": "person", "name": "张三", "phone": "12345", "id_number": "110105194912310021"},
                       {"side": "nobody", "kind": "person", "name": ""}
                   ]}),
            &world.mediator_a,
        )
        .await?;
    ensure!(
        answer.status == StatusCode::UNPROCESSABLE_ENTITY && answer.body["code"] == "invalid",
        "{answer:?}"
    );
    let fields = answer.field_names();
    for wanted in [
        "category",
        "risk",
        "title",
        "parties[0].phone",
        "parties[0].id_number",
        "parties[1].side",
        "parties[1].name",
    ] {
        ensure!(
            fields.iter().any(|f| f == wanted),
            "no `{wanted}` in {fields:?}"
        );
    }
    ensure!(
        answer.body["fields"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );

    // A case needs both sides.
    let answer = api
        .post(
            "/api/v1/cases",
            json!({"category": "labour", "title": "欠薪", "facts": "x", "claims": "y",
                   "parties": [{"side": "applicant", "kind": "person", "name": "张三"}]}),
            &world.mediator_a,
        )
        .await?;
    ensure!(answer.field_names() == ["parties"], "{answer:?}");

    let detail = world.case("楼上漏水纠纷").await?;
    let case = id_of(&detail, "/case/id")?;
    let answer = api
        .post(
            &format!("/api/v1/cases/{case}/sessions"),
            json!({"scheduled_at": "tomorrow"}),
            &world.mediator_a,
        )
        .await?;
    ensure!(answer.field_names() == ["scheduled_at"], "{answer:?}");
    let answer = api
        .post(
            &format!("/api/v1/cases/{case}/parties"),
            json!({"side": "applicant", "kind": "representative", "name": "王律师"}),
            &world.mediator_a,
        )
        .await?;
    ensure!(answer.field_names() == ["represents"], "{answer:?}");
    let answer = api
        .post(
            &format!("/api/v1/cases/{case}/assign"),
            json!({"mediator_id": "ST_nobody"}),
            &world.mediator_a,
        )
        .await?;
    ensure!(answer.field_names() == ["mediator_id"], "{answer:?}");
    let session = world.session(&case).await?;
    let answer = api
        .post(
            &format!("/api/v1/sessions/{session}/invites"),
            json!({"party_id": "PT_nobody", "ttl_hours": 1000}),
            &world.mediator_a,
        )
        .await?;
    ensure!(
        answer.field_names() == ["party_id", "ttl_hours"] || answer.field_names() == ["ttl_hours"],
        "{answer:?}"
    );
    let answer = api
        .post(
            "/api/v1/staff",
            json!({"username": "a b", "display_name": "", "password": "short", "role": "mediator"}),
            &world.admin,
        )
        .await?;
    let fields = answer.field_names();
    for wanted in ["username", "display_name", "password", "organisation_id"] {
        ensure!(
            fields.iter().any(|f| f == wanted),
            "no `{wanted}` in {fields:?}"
        );
    }
    // Not JSON at all is a bad request, not a field error.
    let answer = api
        .call(
            Method::POST,
            "/api/v1/cases",
            None,
            Some(&world.mediator_a),
            &[("content-type", "application/json")],
        )
        .await?;
    ensure!(answer.status == StatusCode::BAD_REQUEST, "{answer:?}");
    world.server.stop().await
}

#[tokio::test]
async fn retried_creates_with_one_idempotency_key_make_one_record() -> Result<()> {
    let world = World::new().await?;
    let body = json!({
        "category": "property", "title": "物业费争议", "facts": "物业服务不到位。", "claims": "减免物业费。",
        "parties": [
            {"side": "applicant", "kind": "person", "name": "赵六"},
            {"side": "respondent", "kind": "organisation", "name": "某物业服务有限公司"}
        ]
    });
    let key = "case-create-key-0001";
    let headers = [("idempotency-key", key)];
    let attempts = (0..4).map(|_| {
        world.api.call(
            Method::POST,
            "/api/v1/cases",
            Some(&body),
            Some(&world.mediator_a),
            &headers,
        )
    });
    let answers = futures_util::future::try_join_all(attempts).await?;
    let created = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .count();
    let repeated = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    ensure!((created, repeated) == (1, 3), "{answers:?}");
    let ids: Vec<_> = answers
        .iter()
        .map(|a| a.body["case"]["id"].clone())
        .collect();
    ensure!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let listed = world.api.get("/api/v1/cases", &world.mediator_a).await?;
    ensure!(
        listed.body["items"].as_array().map(Vec::len) == Some(1),
        "{}",
        listed.body
    );
    let parties = answers[0].body["parties"].as_array().map(Vec::len);
    ensure!(parties == Some(2), "{}", answers[0].body);

    let case = ids[0].as_str().context("case id")?.to_owned();
    let at = json!({"scheduled_at": accord_signaling::store::now_ms() + 86_400_000});
    let path = format!("/api/v1/cases/{case}/sessions");
    for expected in [StatusCode::CREATED, StatusCode::OK] {
        let answer = world
            .api
            .call(
                Method::POST,
                &path,
                Some(&at),
                Some(&world.mediator_a),
                &[("idempotency-key", "session-key-0001")],
            )
            .await?;
        ensure!(answer.status == expected, "{answer:?}");
    }
    let detail = world
        .api
        .get(&format!("/api/v1/cases/{case}"), &world.mediator_a)
        .await?;
    ensure!(
        detail.body["sessions"].as_array().map(Vec::len) == Some(1),
        "{}",
        detail.body
    );
    world.server.stop().await
}

#[tokio::test]
async fn evidence_goes_in_and_comes_out_unchanged() -> Result<()> {
    let world = World::new().await?;
    let detail = world.case("楼上漏水纠纷").await?;
    let case = id_of(&detail, "/case/id")?;
    let party = id_of(&detail, "/parties/0/id")?;
    // The smallest PNG there is: signature, IHDR, IDAT, IEND of a 1×1 image.
    let png = hex::decode(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082",
    )?;
    let client = reqwest::Client::new();
    let upload = |bytes: Vec<u8>, name: &'static str| {
        let form = reqwest::multipart::Form::new()
            .text("party_id", party.clone())
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(name),
            );
        client
            .post(format!(
                "{}/api/v1/cases/{case}/evidence",
                world.server.http_url()
            ))
            .bearer_auth(&world.mediator_a)
            .multipart(form)
            .send()
    };
    let response = upload(png.clone(), "漏水.png").await?;
    ensure!(
        response.status() == StatusCode::CREATED,
        "{}",
        response.status()
    );
    let stored: Value = response.json().await?;
    ensure!(
        stored["media_type"] == "image/png" && stored["party_id"] == json!(party),
        "{stored}"
    );
    let evidence = id_of(&stored, "/id")?;
    let (status, content_type, bytes) = world
        .api
        .get_bytes(
            &format!("/api/v1/cases/{case}/evidence/{evidence}"),
            &world.mediator_a,
        )
        .await?;
    ensure!(
        status == StatusCode::OK && content_type == "image/png" && bytes == png,
        "{status} {content_type}"
    );
    // Another organisation cannot read it.
    let (status, _, _) = world
        .api
        .get_bytes(
            &format!("/api/v1/cases/{case}/evidence/{evidence}"),
            &world.mediator_b,
        )
        .await?;
    ensure!(status == StatusCode::NOT_FOUND, "{status}");
    // A file that is neither photo nor PDF is refused by its content, whatever its name.
    let response = upload(b"#!/bin/sh\necho hi\n".to_vec(), "photo.png").await?;
    ensure!(
        response.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        response.status()
    );
    let detail = world
        .api
        .get(&format!("/api/v1/cases/{case}"), &world.mediator_a)
        .await?;
    ensure!(
        detail.body["evidence"].as_array().map(Vec::len) == Some(1),
        "{}",
        detail.body
    );
    world.server.stop().await
}

#[tokio::test]
async fn an_invite_admits_its_person_until_revoked_and_the_audit_trail_tells_the_story()
-> Result<()> {
    let world = World::new().await?;
    let api = &world.api;
    let detail = world.case("楼上漏水纠纷").await?;
    let case = id_of(&detail, "/case/id")?;
    let party = id_of(&detail, "/parties/0/id")?;
    let session = world.session(&case).await?;
    let invite = api
        .post(
            &format!("/api/v1/sessions/{session}/invites"),
            json!({"party_id": party}),
            &world.mediator_a,
        )
        .await?
        .expect(StatusCode::CREATED)?;
    let link = invite.text("link")?;
    let message = invite.text("message")?;
    let invite_id = invite.text("id")?;
    ensure!(
        link.starts_with(&format!("{}/join#token=", world.server.http_url())),
        "{link}"
    );
    ensure!(
        message.contains(&link) && message.contains("张三") && message.contains("宝安"),
        "{message}"
    );
    ensure!(
        invite.body["status"] == "active" && invite.body["side"] == "applicant",
        "{}",
        invite.body
    );
    let token = link
        .split("#token=")
        .nth(1)
        .context("token in the link")?
        .to_owned();
    // Asking again shows the same link.
    let again = api
        .get(&format!("/api/v1/invites/{invite_id}"), &world.mediator_a)
        .await?;
    ensure!(again.text("link")? == link, "{}", again.body);

    let (status, content_type, svg) = api
        .get_bytes(
            &format!("/api/v1/invites/{invite_id}/qr.svg"),
            &world.mediator_a,
        )
        .await?;
    ensure!(
        status == StatusCode::OK && content_type == "image/svg+xml",
        "{status} {content_type}"
    );
    ensure!(String::from_utf8(svg)?.contains("<svg"), "not an SVG");
    let (status, content_type, png) = api
        .get_bytes(
            &format!("/api/v1/invites/{invite_id}/qr.png"),
            &world.mediator_a,
        )
        .await?;
    ensure!(
        status == StatusCode::OK
            && content_type == "image/png"
            && png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{status} {content_type}"
    );

    // The mediator opens the room; the party joins with the invite and is seen by name.
    let started = api
        .post(
            &format!("/api/v1/sessions/{session}/start"),
            json!({}),
            &world.mediator_a,
        )
        .await?
        .expect(StatusCode::OK)?;
    ensure!(
        started.body["session"]["status"] == "live",
        "{}",
        started.body
    );
    let mediator = Bystander::join(
        &world.server.ws_url(),
        &started.text("token")?,
        None,
        "mediator",
    )
    .await?;
    let applicant = Bystander::join(&world.server.ws_url(), &token, None, "applicant").await?;
    ensure!(
        applicant.joined().participant.name == "张三",
        "{:?}",
        applicant.joined().participant
    );
    ensure!(
        mediator.joined().participant.role == "mediator",
        "{:?}",
        mediator.joined().participant
    );
    drop(applicant);
    let case_now = api
        .get(&format!("/api/v1/cases/{case}"), &world.mediator_a)
        .await?;
    ensure!(
        case_now.body["case"]["status"] == "in_mediation",
        "{}",
        case_now.body["case"]
    );

    // The log channel "sends" the message: the phone shows masked, the ID number never.
    let sent = api
        .post(
            &format!("/api/v1/invites/{invite_id}/send"),
            json!({}),
            &world.mediator_a,
        )
        .await?
        .expect(StatusCode::ACCEPTED)?;
    ensure!(
        sent.body["channel"] == "log" && sent.body["to_masked"] == "138****8000",
        "{}",
        sent.body
    );

    // Revoked: the same link no longer joins.
    let revoked = api
        .post(
            &format!("/api/v1/invites/{invite_id}/revoke"),
            json!({}),
            &world.mediator_a,
        )
        .await?
        .expect(StatusCode::OK)?;
    ensure!(revoked.body["status"] == "revoked", "{}", revoked.body);
    let refused = Bystander::join(&world.server.ws_url(), &token, None, "applicant again").await;
    let why = format!(
        "{:#}",
        refused.err().context("a revoked invite still joined")?
    );
    ensure!(why.contains("invalid_token"), "{why}");
    let answer = api
        .post(
            &format!("/api/v1/invites/{invite_id}/send"),
            json!({}),
            &world.mediator_a,
        )
        .await?;
    ensure!(answer.status == StatusCode::CONFLICT, "{answer:?}");

    let audit = api
        .get(&format!("/api/v1/cases/{case}/audit"), &world.mediator_a)
        .await?
        .expect(StatusCode::OK)?;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .context("audit items")?
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    let expected = [
        "case.created",
        "party.added",
        "party.added",
        "session.scheduled",
        "invite.created",
        "case.assigned",
        "case.status_changed",
        "session.started",
        "invite.sent",
        "invite.revoked",
    ];
    ensure!(actions == expected, "{actions:?}");
    drop(mediator);
    let log = std::fs::read_to_string(world.server.log_path())?;
    ensure!(
        log.contains("138****8000"),
        "the log channel wrote no message"
    );
    ensure!(
        !log.contains(ID_NUMBER) && !log.contains(PHONE),
        "personal data in the log"
    );
    world.server.stop().await
}
