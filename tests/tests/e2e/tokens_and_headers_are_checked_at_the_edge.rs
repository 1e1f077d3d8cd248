//! What the edge of the service checks, through the real binary: a mediator's join token
//! dies with their staff account; tokens minted with the API key never enter a case
//! session's room; an idempotency key is bound to its request and its caller; pages and API
//! answers carry browser security headers, and the desk's refresh token stays in a cookie.

use std::time::Duration;

use accord_cases::tokens::{TokenKeys, TokenRequest as SignedRequest};
use accord_tests::Bystander;
use accord_tests::TokenRequest;
use accord_tests::case_world::{CaseWorld, PASSWORD, id_of};
use accord_tests::protocol::{ClientFrame, ServerFrame};
use accord_tests::session_world::{APPLICANT, SessionWorld, join_admitted};
use anyhow::{Context, Result, ensure};
use reqwest::{Method, StatusCode};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

async fn join_refused(world: &SessionWorld, token: &str, needle: &str) -> Result<()> {
    let outcome = Bystander::join(&world.ws_url(), token, None, "refused").await;
    let Err(e) = outcome else {
        anyhow::bail!("the join was accepted; {needle} expected");
    };
    ensure!(format!("{e:#}").contains(needle), "{e:#}");
    Ok(())
}

/// `POST /whip` with `token`; a placeholder offer, since the token is judged first.
async fn whip_status(world: &SessionWorld, token: &str) -> Result<StatusCode> {
    let response = reqwest::Client::new()
        .post(format!("{}/whip", world.world.server.http_url()))
        .bearer_auth(token)
        .header("content-type", "application/sdp")
        .body("v=0\r\n")
        .send()
        .await?;
    Ok(response.status())
}

/// The `field` of the case's session, as the administrator reads the case.
async fn session_field(world: &SessionWorld, field: &str) -> Result<String> {
    let detail = world
        .world
        .api
        .get(
            &format!("/api/v1/cases/{}", world.case_id),
            &world.world.admin,
        )
        .await?
        .expect(StatusCode::OK)?;
    detail.body["sessions"][0][field]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no session {field} in {}", detail.body))
}

#[tokio::test]
async fn a_disabled_mediators_join_token_no_longer_joins_moderates_or_ends() -> Result<()> {
    let world = SessionWorld::new().await?;
    let api = &world.world.api;
    let mediator =
        Bystander::join(&world.ws_url(), &world.mediator_token, None, "mediator").await?;
    let applicant = join_admitted(&world, &mediator, APPLICANT).await?;

    api.post(
        &format!("/api/v1/staff/{}/disable", world.world.mediator_a_id),
        json!({}),
        &world.world.admin,
    )
    .await?
    .expect(StatusCode::NO_CONTENT)?;

    // The seat they hold goes at once, and what they still send ends nothing.
    mediator
        .wait_for_frame(
            "the seat taken away",
            WAIT,
            |f| matches!(f, ServerFrame::Left { reason, .. } if reason == "removed"),
        )
        .await?;
    let _ = mediator.send(ClientFrame::EndSession).await;
    applicant
        .wait_for_frame("the mediator gone", WAIT, |f| {
            matches!(f, ServerFrame::ParticipantLeft { participant_id, .. }
                if participant_id == mediator.id())
        })
        .await?;

    // The 10-hour token admits nowhere any more: WebSocket, WHIP, the room's HTTP API.
    join_refused(&world, &world.mediator_token, "disabled").await?;
    ensure!(whip_status(&world, &world.mediator_token).await? == StatusCode::UNAUTHORIZED);
    let consent = api
        .get("/api/v1/room/consent", &world.mediator_token)
        .await?;
    ensure!(
        consent.status == StatusCode::UNAUTHORIZED,
        "{} {}",
        consent.status,
        consent.body
    );
    // Meanwhile the end they sent was never carried out.
    ensure!(
        !applicant
            .frames()
            .iter()
            .any(|f| matches!(f, ServerFrame::Left { reason, .. } if reason == "ended")),
        "the session was not ended for the parties"
    );
    ensure!(session_field(&world, "status").await? == "live");
    Ok(())
}

#[tokio::test]
async fn a_password_change_revokes_the_mediators_earlier_join_tokens() -> Result<()> {
    let world = SessionWorld::new().await?;
    let api = &world.world.api;
    // Revocation counts whole seconds: the change must fall in a later second than the token.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let new_password = "a new and longer passphrase";
    api.post(
        "/api/v1/auth/password",
        json!({"current_password": PASSWORD, "new_password": new_password}),
        &world.world.mediator_a,
    )
    .await?
    .expect(StatusCode::NO_CONTENT)?;

    // A copy of the 10-hour token taken before the change admits nowhere.
    join_refused(&world, &world.mediator_token, "password").await?;
    ensure!(whip_status(&world, &world.mediator_token).await? == StatusCode::UNAUTHORIZED);

    // Signed in with the new password, starting the session again gives a token that admits.
    let access = api.login("li", new_password).await?;
    let started = api
        .post(
            &format!("/api/v1/sessions/{}/start", world.session_id),
            json!({}),
            &access,
        )
        .await?
        .expect(StatusCode::OK)?;
    let token = started.text("token")?;
    Bystander::join(&world.ws_url(), &token, None, "mediator").await?;
    Ok(())
}

#[tokio::test]
async fn api_minted_tokens_never_enter_a_case_sessions_room() -> Result<()> {
    let world = SessionWorld::new().await?;
    let room = session_field(&world, "room").await?;
    let mediator =
        Bystander::join(&world.ws_url(), &world.mediator_token, None, "mediator").await?;
    mediator.send(ClientFrame::Lock { locked: true }).await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !mediator
        .raw_frames()
        .iter()
        .any(|t| t.contains("\"type\":\"locked\"") && t.contains("\"locked\":true"))
    {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "the room never locked"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The API key does not mint a seat in it, hidden or moderator.
    let server = &world.world.server;
    for (role, hidden) in [("guest", true), ("mediator", false), ("party", false)] {
        let mut request = TokenRequest::new(&room, "intruder", role);
        request.hidden = hidden;
        let minted = server.mint(&request).await;
        let Err(e) = minted else {
            anyhow::bail!("a {role} token (hidden {hidden}) was minted for a case session");
        };
        ensure!(format!("{e:#}").contains("422"), "{e:#}");
    }
    let answer = api_key_call(&world, &room).await?;
    ensure!(
        answer.status == StatusCode::UNPROCESSABLE_ENTITY && answer.field_names() == ["room"],
        "{} {}",
        answer.status,
        answer.body
    );

    // Nor does a token signed with the same secret outside the API (`accord token create`,
    // or minted for the room name before the session existed).
    let keys = TokenKeys::new(server.token_secret().as_bytes());
    for (role, hidden) in [("guest", true), ("mediator", false)] {
        let request: SignedRequest = serde_json::from_value(json!({
            "room": room, "identity": "intruder", "role": role, "hidden": hidden,
        }))?;
        let token = keys.mint(request)?;
        join_refused(&world, &token, "mediation session").await?;
        ensure!(whip_status(&world, &token).await? == StatusCode::UNAUTHORIZED);
        let consent = world.world.api.get("/api/v1/room/consent", &token).await?;
        ensure!(
            consent.status == StatusCode::UNAUTHORIZED,
            "{}",
            consent.body
        );
    }

    // Nobody came in unseen: the mediator saw nobody and the record names nobody else.
    ensure!(
        !mediator.raw_frames().iter().any(|t| t.contains("intruder")),
        "the mediator was told of an intruder"
    );
    let timeline = world.timeline().await?;
    ensure!(
        !timeline.iter().any(|e| e.to_string().contains("intruder")),
        "{timeline:?}"
    );
    Ok(())
}

async fn api_key_call(world: &SessionWorld, room: &str) -> Result<accord_tests::Answer> {
    world
        .world
        .api
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(
                &json!({"room": room, "identity": "intruder", "role": "mediator", "hidden": true}),
            ),
            Some(world.world.server.api_key()),
            &[],
        )
        .await
}

fn case_form(title: &str) -> serde_json::Value {
    json!({
        "category": "neighbours", "risk": "yellow", "title": title,
        "facts": "楼上卫生间漏水，浸泡楼下天花板。", "claims": "赔偿维修费用3000元。",
        "parties": [
            {"side": "applicant", "kind": "person", "name": "张三", "phone": "13800138000"},
            {"side": "respondent", "kind": "person", "name": "李四", "phone": "13900139000"}
        ]
    })
}

async fn create_case(world: &CaseWorld, title: &str, bearer: &str) -> Result<accord_tests::Answer> {
    world
        .api
        .call(
            Method::POST,
            "/api/v1/cases",
            Some(&case_form(title)),
            Some(bearer),
            &[("Idempotency-Key", "case-key-1")],
        )
        .await
}

async fn apply(world: &CaseWorld, name: &str, phone: &str) -> Result<(StatusCode, String)> {
    let application = json!({
        "applicant": {"name": name, "phone": phone},
        "respondent": {"name": "某物业服务有限公司", "phone": "075523456789", "kind": "organisation"},
        "region": "新安街道", "category": "property",
        "facts": "楼上漏水三个月，物业一直未处理。", "claims": "维修漏水并赔偿损失两千元。"
    });
    let form = reqwest::multipart::Form::new().text("application", application.to_string());
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/intake", world.server.http_url()))
        .header("Idempotency-Key", "intake-key-1")
        .multipart(form)
        .send()
        .await?;
    Ok((response.status(), response.text().await?))
}

#[tokio::test]
async fn an_idempotency_key_is_bound_to_its_request_and_its_caller() -> Result<()> {
    let world = CaseWorld::new().await?;

    // Staff: a retry gets the first case; the same key with another case is refused, loudly.
    let first = create_case(&world, "楼上漏水纠纷", &world.mediator_a)
        .await?
        .expect(StatusCode::CREATED)?;
    let case_id = id_of(&first.body, "/case/id")?;
    let retry = create_case(&world, "楼上漏水纠纷", &world.mediator_a).await?;
    ensure!(id_of(&retry.body, "/case/id")? == case_id, "{}", retry.body);
    let other = create_case(&world, "噪音扰民纠纷", &world.mediator_a).await?;
    ensure!(
        other.status == StatusCode::CONFLICT
            && other.body["code"] == "idempotency_key_reused"
            && other.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("new key")),
        "{} {}",
        other.status,
        other.body
    );
    ensure!(
        !other.body.to_string().contains(&case_id),
        "the refusal shows the first case: {}",
        other.body
    );
    // Another caller's same key and body is theirs alone.
    let theirs = create_case(&world, "楼上漏水纠纷", &world.mediator_b)
        .await?
        .expect(StatusCode::CREATED)?;
    ensure!(id_of(&theirs.body, "/case/id")? != case_id);

    // Public intake: one scope for everyone, so the key is bound to the application.
    let (status, body) = apply(&world, "王五", "13800138000").await?;
    ensure!(status == StatusCode::CREATED, "{status} {body}");
    let mine: serde_json::Value = serde_json::from_str(&body)?;
    let tracking = mine["tracking_code"]
        .as_str()
        .context("tracking code")?
        .to_owned();
    let number = mine["case_number"]
        .as_str()
        .context("case number")?
        .to_owned();
    let (status, body) = apply(&world, "王五", "13800138000").await?;
    ensure!(
        status == StatusCode::OK && body.contains(&tracking),
        "a retry gets its own application back: {status} {body}"
    );
    // Someone else who sends the same key (guessed, or a form edited after a lost answer)
    // learns nothing of the first application and is told theirs was not stored.
    let (status, body) = apply(&world, "赵六", "13900139000").await?;
    ensure!(
        status == StatusCode::CONFLICT && body.contains("idempotency_key_reused"),
        "{status} {body}"
    );
    ensure!(
        !body.contains(&tracking) && !body.contains(&number),
        "another applicant's case leaked: {body}"
    );
    Ok(())
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The `name=value` of a `Set-Cookie` answer, for sending it back.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn pages_and_api_answers_carry_browser_security_headers() -> Result<()> {
    let server = accord_tests::TestServer::start().await?;
    let http = reqwest::Client::new();
    for path in ["/", "/join", "/staff", "/api/v1/setup", "/api/v1/nope"] {
        let response = http
            .get(format!("{}{path}", server.http_url()))
            .send()
            .await?;
        let csp = header(&response, "content-security-policy");
        ensure!(
            csp.contains("frame-ancestors 'none'")
                && csp.contains("script-src 'self'")
                && csp.contains("connect-src 'self'"),
            "{path}: CSP {csp:?}"
        );
        ensure!(header(&response, "x-frame-options") == "DENY", "{path}");
        ensure!(
            header(&response, "referrer-policy") == "no-referrer",
            "{path}"
        );
        ensure!(
            header(&response, "x-content-type-options") == "nosniff",
            "{path}"
        );
        if path.starts_with("/api/") {
            ensure!(header(&response, "cache-control") == "no-store", "{path}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn the_browser_keeps_its_refresh_token_in_an_http_only_cookie() -> Result<()> {
    let world = CaseWorld::new().await?;
    let url = |path: &str| format!("{}{path}", world.server.http_url());
    let http = reqwest::Client::new();
    let login = http
        .post(url("/api/v1/auth/login"))
        .json(&json!({"username": "li", "password": accord_tests::case_world::PASSWORD, "refresh_cookie": true}))
        .send()
        .await?;
    ensure!(login.status() == StatusCode::OK);
    let set_cookie = header(&login, "set-cookie").to_owned();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/api/v1/auth"] {
        ensure!(set_cookie.contains(part), "{part} missing: {set_cookie}");
    }
    let body: serde_json::Value = login.json().await?;
    ensure!(body.get("refresh_token").is_none(), "{body}");
    ensure!(body["access_token"].is_string());

    // The desk's silent refresh: the cookie alone, a new cookie back.
    let refreshed = http
        .post(url("/api/v1/auth/refresh"))
        .header("cookie", cookie_pair(&set_cookie))
        .json(&json!({}))
        .send()
        .await?;
    ensure!(
        refreshed.status() == StatusCode::OK,
        "{}",
        refreshed.status()
    );
    let next_cookie = header(&refreshed, "set-cookie").to_owned();
    ensure!(cookie_pair(&next_cookie) != cookie_pair(&set_cookie));
    let body: serde_json::Value = refreshed.json().await?;
    ensure!(body.get("refresh_token").is_none() && body["access_token"].is_string());
    // Spent: the first cookie does not refresh again.
    let again = http
        .post(url("/api/v1/auth/refresh"))
        .header("cookie", cookie_pair(&set_cookie))
        .json(&json!({}))
        .send()
        .await?;
    ensure!(again.status() == StatusCode::UNAUTHORIZED);

    // API clients keep the documented body token.
    let login = http
        .post(url("/api/v1/auth/login"))
        .json(&json!({"username": "wang", "password": accord_tests::case_world::PASSWORD}))
        .send()
        .await?;
    ensure!(header(&login, "set-cookie").is_empty());
    let body: serde_json::Value = login.json().await?;
    let token = body["refresh_token"]
        .as_str()
        .context("a body refresh token")?;
    let refreshed = http
        .post(url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": token}))
        .send()
        .await?;
    ensure!(refreshed.status() == StatusCode::OK);
    let body: serde_json::Value = refreshed.json().await?;
    ensure!(body["refresh_token"].is_string());

    // Signing out revokes the cookie's token and clears the cookie.
    let login = http
        .post(url("/api/v1/auth/login"))
        .json(&json!({"username": "li", "password": accord_tests::case_world::PASSWORD, "refresh_cookie": true}))
        .send()
        .await?;
    let cookie = cookie_pair(header(&login, "set-cookie"));
    let out = http
        .post(url("/api/v1/auth/logout"))
        .header("cookie", &cookie)
        .json(&json!({}))
        .send()
        .await?;
    ensure!(out.status() == StatusCode::NO_CONTENT);
    ensure!(header(&out, "set-cookie").contains("Max-Age=0"));
    let after = http
        .post(url("/api/v1/auth/refresh"))
        .header("cookie", &cookie)
        .json(&json!({}))
        .send()
        .await?;
    ensure!(after.status() == StatusCode::UNAUTHORIZED);
    Ok(())
}
