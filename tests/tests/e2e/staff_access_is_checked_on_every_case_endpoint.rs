//! Who may see and change what, through the real binary: every staff endpoint refuses a
//! missing, expired, forged or join token (401); another organisation's case is 404; roles
//! that may not act get 403; courts see a case once confirmation is requested from them.

use accord_cases::store::{Store, StoreKeys};
use accord_tests::TokenRequest;
use accord_tests::case_world::{CaseWorld as World, PASSWORD, id_of};
use anyhow::{Context, Result, ensure};
use reqwest::{Method, StatusCode};
use serde_json::json;

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
        world.server.database_url(),
        StoreKeys::load_or_create(&data_dir)?,
    )
    .await?;
    let staff = store.staff(&world.mediator_a_id.as_str().into()).await?;
    let an_hour_ago = accord_cases::store::now_ms() as u64 / 1000 - 3600;
    let expired = accord_cases::tokens::staff::issue_access_at(&store, &staff, an_hour_ago).await?;
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
