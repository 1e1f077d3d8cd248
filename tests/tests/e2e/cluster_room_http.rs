//! Two clustered nodes: a party's room requests over HTTP (sharing a file, fetching one)
//! that reach the node which does not own the session are served by the owner, as if they
//! had reached it; relay headers a client makes up get it nothing; the mediator's edit of
//! the agreement from the case page, through either node, is the live session's; a party
//! the mediator removed is kept out through either node.

use std::time::Duration;

use accord_tests::Bystander;
use accord_tests::agreement::{DraftDoc, b64_encode, create_agreement, numbered_clauses};
use accord_tests::protocol::{ClientFrame, ServerFrame};
use accord_tests::server::{DEPLOYMENT_VAR, parse_metric};
use accord_tests::session_world::{
    APPLICANT, APPLICANT_LAWYER, RESPONDENT, SessionWorld, join_admitted,
};
use accord_tests::staff_api::StaffApi;
use anyhow::{Context, Result, ensure};
use reqwest::StatusCode;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread")]
async fn room_requests_through_the_other_node_are_served_by_the_owner() -> Result<()> {
    let world = SessionWorld::new_with_env(&[(DEPLOYMENT_VAR, "cluster")]).await?;
    let outcome = check(&world).await;
    if outcome.is_err() {
        eprintln!("{}", world.world.server.log_tail(80));
    }
    outcome
}

/// Each node's `accord_participants`, in the order of `node_urls`.
async fn seats_per_node(urls: &[String]) -> Result<Vec<f64>> {
    let mut seats = Vec::new();
    for url in urls {
        let text = reqwest::get(format!("{url}/metrics")).await?.text().await?;
        seats.push(parse_metric(&text, "accord_participants").unwrap_or(0.0));
    }
    Ok(seats)
}

async fn check(world: &SessionWorld) -> Result<()> {
    let urls = world.world.server.node_urls();
    ensure!(urls.len() == 2, "two nodes: {urls:?}");
    let mediator = Bystander::join(&world.ws_url(), &world.mediator_token, None, "mediator")
        .await
        .context("the mediator joins")?;
    let applicant = join_admitted(world, &mediator, APPLICANT).await?;
    let lawyer = join_admitted(world, &mediator, APPLICANT_LAWYER).await?;
    let seats = seats_per_node(&urls).await?;
    let owner = match seats.as_slice() {
        [a, b] if *a > 0.0 && *b == 0.0 => 0,
        [a, b] if *a == 0.0 && *b > 0.0 => 1,
        _ => anyhow::bail!("every seat of the session is on one node: {seats:?}"),
    };
    let other = StaffApi::new(urls[1 - owner].clone());
    let owner_api = StaffApi::new(urls[owner].clone());

    // Shared through the node that does not own the session: kept and shown, as through
    // the owner.
    let photo = accord_tests::case_world::tiny_png();
    let shared = other
        .upload(
            "/api/v1/room/evidence",
            "receipt.png",
            "image/png",
            photo.clone(),
            world.token(APPLICANT)?,
        )
        .await?
        .expect(StatusCode::CREATED)
        .context("a file shared through the other node")?;
    let evidence_id = shared.text("id")?;
    mediator
        .wait_for_frame(
            "the shared file on the console",
            WAIT,
            |f| matches!(f, ServerFrame::EvidenceShared { evidence } if evidence["id"] == evidence_id.as_str()),
        )
        .await?;
    for (who, token) in [
        ("the mediator", world.mediator_token.as_str()),
        ("the lawyer", world.token(APPLICANT_LAWYER)?),
    ] {
        let path = format!("/api/v1/room/evidence/{evidence_id}");
        let (status, content_type, bytes) = other.get_bytes(&path, token).await?;
        ensure!(
            status == StatusCode::OK && bytes == photo && content_type == "image/png",
            "{who} fetches the file through the other node: {status} {content_type}"
        );
    }

    fetch_timings(
        &owner_api,
        &other,
        &evidence_id,
        world.token(APPLICANT_LAWYER)?,
    )
    .await?;

    // A file past the upload limit is refused by the node it reached, before it is sent on.
    let too_large = vec![0u8; 11 * 1024 * 1024];
    let refused = other
        .upload(
            "/api/v1/room/evidence",
            "big.bin",
            "application/pdf",
            too_large,
            world.token(APPLICANT)?,
        )
        .await?;
    ensure!(
        refused.status == StatusCode::PAYLOAD_TOO_LARGE
            && refused.body["code"] == "payload_too_large",
        "a file over the limit through the other node: {} {}",
        refused.status,
        refused.body
    );

    // A client's own relay headers do not make the other node serve the request as the
    // owner would have sent it (it would answer 409 there: nobody is seated on it); it is
    // sent on like any client's.
    let part = reqwest::multipart::Part::bytes(photo.clone())
        .file_name("forged.png")
        .mime_str("image/png")?;
    let forged = reqwest::Client::new()
        .post(format!("{}/api/v1/room/evidence", urls[1 - owner]))
        .bearer_auth(world.token(APPLICANT)?)
        .header("x-accord-relay-node", "N_forger")
        .header("x-accord-relay-at", accord_now_s().to_string())
        .header("x-accord-relay-client", "203.0.113.9")
        .header("x-accord-relay-moved-from", "")
        .header("x-accord-relay-signature", "00".repeat(32))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await?;
    ensure!(
        forged.status() == StatusCode::CREATED,
        "a forged relay is served as a client's request, through the owner: {}",
        forged.status()
    );
    // And at the owner, the same made-up headers seat nobody who is not seated.
    let respondent_token = world.token(RESPONDENT)?;
    let part = reqwest::multipart::Part::bytes(photo.clone())
        .file_name("forged.png")
        .mime_str("image/png")?;
    let not_seated = reqwest::Client::new()
        .post(format!("{}/api/v1/room/evidence", urls[owner]))
        .bearer_auth(respondent_token)
        .header("x-accord-relay-node", "N_forger")
        .header("x-accord-relay-at", accord_now_s().to_string())
        .header("x-accord-relay-signature", "00".repeat(32))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await?;
    ensure!(
        not_seated.status() == StatusCode::CONFLICT,
        "someone not in the session shares nothing, relay headers or not: {}",
        not_seated.status()
    );

    an_edit_from_the_case_page_is_the_live_sessions(world, &other).await?;

    // A party the mediator removed is kept out through either node.
    let respondent = join_admitted(world, &mediator, RESPONDENT).await?;
    mediator
        .send(ClientFrame::Remove {
            participant_id: respondent.id().to_owned(),
            reason: "扰乱调解秩序".into(),
        })
        .await?;
    respondent
        .wait_for_frame(
            "removed",
            WAIT,
            |f| matches!(f, ServerFrame::Left { reason, .. } if reason == "removed"),
        )
        .await?;
    for (node, api) in [("the owner", &owner_api), ("the other node", &other)] {
        let answer = api.get("/api/v1/room/info", respondent_token).await?;
        ensure!(
            answer.status == StatusCode::UNAUTHORIZED,
            "the removed party is refused by {node}: {} {}",
            answer.status,
            answer.body
        );
    }

    for seat in [&applicant, &lawyer, &mediator] {
        seat.send(ClientFrame::Leave).await?;
    }
    Ok(())
}

/// The mediator, seated in the session, edits the agreement from the case page through the
/// node that does not run the session: the edit is recorded as made in that session.
async fn an_edit_from_the_case_page_is_the_live_sessions(
    world: &SessionWorld,
    other: &StaffApi,
) -> Result<()> {
    let agreement = create_agreement(world).await?;
    let staff = &world.world.mediator_a;
    let state = other
        .get(&format!("/api/v1/agreements/{agreement}/draft"), staff)
        .await?
        .expect(StatusCode::OK)?;
    let local = DraftDoc::new(9_001);
    local.apply_b64(&state.text("update")?)?;
    let clause = numbered_clauses(&local)?
        .first()
        .cloned()
        .context("a numbered clause")?;
    let update = local.insert(&clause, None, "（经双方确认）")?;
    other
        .post(
            &format!("/api/v1/agreements/{agreement}/draft"),
            json!({"doc": "main", "update": b64_encode(&update)}),
            staff,
        )
        .await?
        .expect(StatusCode::OK)
        .context("a draft write through the other node")?;
    let moments = other
        .get(&format!("/api/v1/agreements/{agreement}/moments"), staff)
        .await?
        .expect(StatusCode::OK)?;
    let moment = moments
        .body
        .as_array()
        .and_then(|all| all.iter().find(|m| m["clause_id"] == clause.as_str()))
        .with_context(|| format!("no moment of the edited clause: {}", moments.body))?;
    ensure!(
        moment["session_id"] == world.session_id.as_str(),
        "an edit made while seated is the live session's, whichever node took it: {moment}"
    );
    Ok(())
}

/// What sending a fetch on costs: the median of 10 fetches of the shared file through the
/// owner and through the other node, printed for docs/benchmarks.md (not asserted: a shared
/// machine's timings say nothing about correctness).
async fn fetch_timings(owner: &StaffApi, other: &StaffApi, id: &str, token: &str) -> Result<()> {
    let path = format!("/api/v1/room/evidence/{id}");
    let mut medians = Vec::new();
    for api in [owner, other] {
        let mut times = Vec::new();
        for _ in 0..10 {
            let started = std::time::Instant::now();
            let (status, _, _) = api.get_bytes(&path, token).await?;
            ensure!(status == StatusCode::OK, "a timed fetch: {status}");
            times.push(started.elapsed());
        }
        times.sort();
        medians.push(times[times.len() / 2]);
    }
    eprintln!(
        "evidence fetch, median of 10: {:?} through the owner, {:?} through the other node",
        medians[0], medians[1]
    );
    Ok(())
}

fn accord_now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
