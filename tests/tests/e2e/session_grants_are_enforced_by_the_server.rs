//! Running a session, with every right checked by the server: a party cannot admit, move,
//! mute, remove or end; a token without the publish grant cannot publish; a party must consent before joining; a
//! locked room takes nobody new; a removed person's token never joins that session again;
//! ending the session ends it for everyone and for good. The session record lists every
//! action in order.

use std::time::Duration;

use accord_tests::protocol::{ClientFrame, ServerFrame};
use accord_tests::session_world::{
    APPLICANT, APPLICANT_LAWYER, LATECOMER, RESPONDENT, RESPONDENT_INTERPRETER, SessionWorld,
    join_admitted,
};
use accord_tests::{Bystander, ClientOptions, TestClient, TokenRequest};
use anyhow::{Context, Result, ensure};
use reqwest::StatusCode;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

async fn refused(client: &Bystander, frame: ClientFrame, code: &str) -> Result<()> {
    let before = client
        .frames()
        .iter()
        .filter(|f| matches!(f, ServerFrame::Error(_)))
        .count();
    let what = format!("{frame:?}");
    client.send(frame).await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let errors: Vec<_> = client
            .frames()
            .into_iter()
            .filter_map(|f| match f {
                ServerFrame::Error(e) => Some(e),
                _ => None,
            })
            .collect();
        if let Some(e) = errors.get(before) {
            ensure!(e.code == code && !e.fatal, "{what}: {e:?}");
            return Ok(());
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "{what} was not refused"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until a frame whose text contains every one of `needles` arrived.
async fn heard(client: &Bystander, needles: &[&str]) -> Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !client
        .raw_frames()
        .iter()
        .any(|t| needles.iter().all(|n| t.contains(n)))
    {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "no frame with {needles:?}: {:?}",
            client.raw_frames()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn join_refused(world: &SessionWorld, token: &str, code: &str) -> Result<()> {
    let outcome = Bystander::join(&world.ws_url(), token, None, "refused").await;
    let Err(e) = outcome else {
        anyhow::bail!("the join was accepted; {code} expected");
    };
    ensure!(format!("{e:#}").contains(code), "{e:#}");
    Ok(())
}

#[tokio::test]
async fn only_moderators_run_the_session_and_the_record_keeps_every_step() -> Result<()> {
    let world = SessionWorld::new().await?;
    let api = &world.world.api;
    // Consent first: the latecomer has not given it and cannot join.
    let asked = api
        .get("/api/v1/room/consent", world.token(LATECOMER)?)
        .await?
        .expect(StatusCode::OK)?;
    ensure!(asked.body["required"] == true, "{}", asked.body);
    join_refused(&world, world.token(LATECOMER)?, "consent_required").await?;
    let half = api
        .post(
            "/api/v1/room/consent",
            json!({"online_mediation": true, "recording": false}),
            world.token(LATECOMER)?,
        )
        .await?
        .expect(StatusCode::UNPROCESSABLE_ENTITY)?;
    ensure!(half.body.to_string().contains("recording"), "{}", half.body);

    let mediator =
        Bystander::join(&world.ws_url(), &world.mediator_token, None, "mediator").await?;
    let applicant = join_admitted(&world, &mediator, APPLICANT).await?;
    let lawyer = join_admitted(&world, &mediator, APPLICANT_LAWYER).await?;
    ensure!(!applicant.joined().moderator);

    // A party has none of the moderator's rights.
    let target = lawyer.id().to_owned();
    for frame in [
        ClientFrame::Move {
            participant_id: target.clone(),
            to: "applicant".into(),
        },
        ClientFrame::Gather,
        ClientFrame::Admit {
            participant_id: None,
        },
        ClientFrame::Lock { locked: true },
        ClientFrame::MuteParticipant {
            participant_id: target.clone(),
            source: "microphone".into(),
        },
        ClientFrame::AskUnmute {
            participant_id: target.clone(),
            source: "camera".into(),
        },
        ClientFrame::Remove {
            participant_id: target.clone(),
            reason: "test".into(),
        },
        ClientFrame::EndSession,
    ] {
        refused(&applicant, frame, "forbidden").await?;
    }
    ensure!(
        !lawyer
            .frames()
            .iter()
            .any(|f| matches!(f, ServerFrame::Moved { .. } | ServerFrame::Left { .. })),
        "nothing a party asked for happened to the lawyer"
    );

    // A token without the publish grant: its client's media offer is refused.
    let listener_token = world
        .world
        .server
        .mint(&{
            let mut request = TokenRequest::new("listen-room", "listener", "party");
            request.can_publish = false;
            request
        })
        .await?;
    let observer = TestClient::connect(
        &world.ws_url(),
        &listener_token,
        ClientOptions::new("listener", "party"),
    )
    .await?;
    observer
        .wait_for_frame(
            "its offer refused",
            WAIT,
            |f| matches!(f, ServerFrame::Error(e) if e.code == "forbidden"),
        )
        .await?;
    drop(observer);

    // The mediator's moderation reaches the right person.
    let applicant_id = applicant.id().to_owned();
    mediator
        .send(ClientFrame::AskUnmute {
            participant_id: applicant_id.clone(),
            source: "microphone".into(),
        })
        .await?;
    mediator
        .send(ClientFrame::MuteParticipant {
            participant_id: applicant_id.clone(),
            source: "camera".into(),
        })
        .await?;
    heard(&applicant, &["muted_by_moderator", "\"camera\""]).await?;
    heard(&applicant, &["unmute_requested", "\"microphone\""]).await?;
    applicant
        .send(ClientFrame::RaiseHand { raised: true })
        .await?;
    applicant
        .send(ClientFrame::Chat {
            text: "我同意分两期支付".into(),
        })
        .await?;
    mediator
        .wait_for_frame("the chat", WAIT, |f| matches!(f, ServerFrame::Chat { .. }))
        .await?;
    refused(
        &applicant,
        ClientFrame::Chat { text: "  ".into() },
        "bad_request",
    )
    .await?;

    // A file shared in the room becomes evidence of the case, shown to those in the room.
    let photo = accord_tests::case_world::tiny_png();
    let shared = world
        .world
        .api
        .upload(
            "/api/v1/room/evidence",
            "receipt.png",
            "image/png",
            photo.clone(),
            world.token(APPLICANT)?,
        )
        .await?
        .expect(StatusCode::CREATED)?;
    let evidence_id = shared.text("id")?;
    heard(&mediator, &["evidence_shared", &evidence_id]).await?;
    let (status, _, bytes) = api
        .get_bytes(
            &format!("/api/v1/room/evidence/{evidence_id}"),
            world.token(APPLICANT_LAWYER)?,
        )
        .await?;
    ensure!(
        status == StatusCode::OK && bytes == photo,
        "the lawyer in the same room fetches it: {status}"
    );

    // A respondent in their private room does not get the applicant side's file.
    let respondent = join_admitted(&world, &mediator, RESPONDENT).await?;
    mediator
        .send(ClientFrame::Move {
            participant_id: applicant_id.clone(),
            to: "applicant".into(),
        })
        .await?;
    applicant
        .wait_for_frame("moved", WAIT, |f| matches!(f, ServerFrame::Moved { .. }))
        .await?;
    let private = world
        .world
        .api
        .upload(
            "/api/v1/room/evidence",
            "transfer.png",
            "image/png",
            photo.clone(),
            world.token(APPLICANT)?,
        )
        .await?
        .expect(StatusCode::CREATED)?
        .text("id")?;
    let (status, _, _) = api
        .get_bytes(
            &format!("/api/v1/room/evidence/{private}"),
            world.token(RESPONDENT)?,
        )
        .await?;
    ensure!(
        status == StatusCode::NOT_FOUND,
        "the other side cannot fetch a caucus file: {status}"
    );
    ensure!(
        !respondent.raw_frames().iter().any(|t| t.contains(&private)),
        "the other side is not told of it"
    );

    // Removal is for good.
    let interpreter = join_admitted(&world, &mediator, RESPONDENT_INTERPRETER).await?;
    mediator
        .send(ClientFrame::Remove {
            participant_id: interpreter.id().to_owned(),
            reason: "多次打断调解".into(),
        })
        .await?;
    interpreter
        .wait_for_frame("removed", WAIT, |f| {
            matches!(f, ServerFrame::Left { reason, message }
                if reason == "removed" && message.as_deref() == Some("多次打断调解"))
        })
        .await?;
    join_refused(
        &world,
        world.token(RESPONDENT_INTERPRETER)?,
        "invalid_token",
    )
    .await?;

    // Locked: the latecomer (who consents now) is refused.
    world.consent(LATECOMER).await?;
    mediator.send(ClientFrame::Lock { locked: true }).await?;
    heard(&mediator, &["\"type\":\"locked\"", "\"locked\":true"]).await?;
    join_refused(&world, world.token(LATECOMER)?, "room_locked").await?;
    mediator.send(ClientFrame::Lock { locked: false }).await?;

    // The mediator ends it for everyone; nobody's link joins any more.
    mediator.send(ClientFrame::EndSession).await?;
    for (who, client) in [("applicant", &applicant), ("respondent", &respondent)] {
        client
            .wait_for_frame(
                &format!("{who} told the session ended"),
                WAIT,
                |f| matches!(f, ServerFrame::Left { reason, .. } if reason == "ended"),
            )
            .await?;
    }
    let session = api
        .get(
            &format!("/api/v1/cases/{}", world.case_id),
            &world.world.mediator_a,
        )
        .await?;
    let status = session.body["sessions"][0]["status"].clone();
    ensure!(status == "ended", "{}", session.body["sessions"]);
    join_refused(&world, world.token(APPLICANT)?, "invalid_token").await?;
    join_refused(&world, &world.mediator_token, "invalid_token").await?;

    // The record, in order.
    let timeline = world.timeline().await?;
    let kinds: Vec<&str> = timeline.iter().filter_map(|e| e["kind"].as_str()).collect();
    let expected = [
        "consent",
        "joined",
        "waiting",
        "admitted",
        "unmute_asked",
        "video_stopped",
        "hand_raised",
        "chat",
        "evidence_shared",
        "moved",
        "evidence_shared",
        "removed",
        "locked",
        "unlocked",
        "ended",
    ];
    let mut at = 0;
    for kind in expected {
        let found = kinds[at..]
            .iter()
            .position(|k| *k == kind)
            .with_context(|| format!("`{kind}` after position {at} in {kinds:?}"))?;
        at += found + 1;
    }
    let removal = timeline
        .iter()
        .find(|e| e["kind"] == "removed")
        .context("removal")?;
    ensure!(
        removal["subject_name"] == RESPONDENT_INTERPRETER && removal["detail"] == "多次打断调解",
        "{removal}"
    );
    let seqs: Vec<i64> = timeline.iter().filter_map(|e| e["seq"].as_i64()).collect();
    ensure!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
    Ok(())
}
