//! What the edge of the service checks, through the real binary: a mediator's join token
//! dies with their staff account; tokens minted with the API key never enter a case
//! session's room.

use std::time::Duration;

use accord_signaling::auth::{TokenKeys, TokenRequest as SignedRequest};
use accord_tests::Bystander;
use accord_tests::TokenRequest;
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

async fn session_status(world: &SessionWorld) -> Result<String> {
    let detail = world
        .world
        .api
        .get(
            &format!("/api/v1/cases/{}", world.case_id),
            &world.world.admin,
        )
        .await?
        .expect(StatusCode::OK)?;
    detail.body["sessions"][0]["status"]
        .as_str()
        .map(str::to_owned)
        .context("a session status")
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

    // The seat they still hold is lost at its next moderator action, and the session lives on.
    mediator.send(ClientFrame::EndSession).await?;
    let refused = mediator
        .wait_for_frame(
            "the end refused",
            WAIT,
            |f| matches!(f, ServerFrame::Error(e) if e.code == "account_disabled" && e.fatal),
        )
        .await?;
    ensure!(format!("{refused:?}").contains("disabled"), "{refused:?}");
    applicant
        .wait_for_frame("the mediator gone", WAIT, |f| {
            matches!(f, ServerFrame::ParticipantLeft { participant_id, .. }
                if participant_id == mediator.id())
        })
        .await?;
    ensure!(
        !applicant
            .frames()
            .iter()
            .any(|f| matches!(f, ServerFrame::Left { reason, .. } if reason == "ended")),
        "the session was not ended for the parties"
    );
    ensure!(session_status(&world).await? == "live");

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
    Ok(())
}

#[tokio::test]
async fn api_minted_tokens_never_enter_a_case_sessions_room() -> Result<()> {
    let world = SessionWorld::new().await?;
    let detail = world
        .world
        .api
        .get(
            &format!("/api/v1/cases/{}", world.case_id),
            &world.world.mediator_a,
        )
        .await?
        .expect(StatusCode::OK)?;
    let room = detail.body["sessions"][0]["room"]
        .as_str()
        .context("the session's room")?
        .to_owned();
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
