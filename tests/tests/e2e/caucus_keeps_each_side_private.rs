//! Back-to-back mediation (背对背) with Rust clients over real WebRTC: both sides and their
//! helpers come in through the waiting room, the mediator separates the sides, and while
//! separated not one packet of one side's media reaches the other (counted by the receiving
//! client and by the SFU), and nothing any client of side A is told names or counts anyone
//! in side B's room, not even when someone there starts or stops speaking. After everyone
//! is gathered again, media flows both ways.

use std::collections::HashMap;
use std::time::Duration;

use accord_tests::protocol::{ClientFrame, ServerFrame};
use accord_tests::session_world::{
    APPLICANT, APPLICANT_LAWYER, RESPONDENT, RESPONDENT_INTERPRETER, SessionWorld, admit,
    join_admitted,
};
use accord_tests::{Bystander, ClientOptions, TestClient};
use anyhow::{Context, Result, ensure};

const WAIT: Duration = Duration::from_secs(15);

/// Packets a client received on the given tracks.
fn packets_on(client: &TestClient, tracks: &[String]) -> u64 {
    client
        .received()
        .iter()
        .filter(|r| tracks.contains(&r.track_id))
        .map(|r| r.packets)
        .sum()
}

/// Track ids `client` knows of from `publisher`.
fn tracks_of(client: &TestClient, publisher: &str) -> Vec<String> {
    client
        .known_tracks()
        .into_iter()
        .filter(|t| t.participant_id == publisher)
        .map(|t| t.id)
        .collect()
}

async fn media_client(
    world: &SessionWorld,
    mediator: &Bystander,
    name: &str,
    identity: &str,
) -> Result<TestClient> {
    let (url, token) = (world.ws_url(), world.token(name)?.to_owned());
    let options = ClientOptions::new(identity, "party");
    let joining = tokio::spawn(async move { TestClient::connect(&url, &token, options).await });
    admit(mediator, name).await?;
    joining.await?
}

fn from(report: &HashMap<String, HashMap<String, u64>>, to: &str, publisher: &str) -> u64 {
    report
        .get(to)
        .and_then(|m| m.get(publisher))
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn while_separated_not_one_packet_or_name_crosses_between_the_sides() -> Result<()> {
    let world = SessionWorld::new().await?;
    let mediator =
        Bystander::join(&world.ws_url(), &world.mediator_token, None, "mediator").await?;
    ensure!(mediator.joined().moderator, "the mediator may moderate");
    let a1 = media_client(&world, &mediator, APPLICANT, "a1").await?;
    let b1 = media_client(&world, &mediator, RESPONDENT, "b1").await?;
    let a2 = join_admitted(&world, &mediator, APPLICANT_LAWYER).await?;
    let b2 = join_admitted(&world, &mediator, RESPONDENT_INTERPRETER).await?;
    let (a1_id, b1_id) = (a1.id().to_owned(), b1.id().to_owned());
    let (a2_id, b2_id) = (a2.id().to_owned(), b2.id().to_owned());
    ensure!(
        a1.frames()
            .iter()
            .all(|f| !matches!(f, ServerFrame::Error(_))),
        "joining through the waiting room went without errors"
    );
    a1.wait_for_media_from(&b1_id, "audio", 20, WAIT).await?;
    a1.wait_for_media_from(&b1_id, "video", 20, WAIT).await?;
    b1.wait_for_media_from(&a1_id, "video", 20, WAIT).await?;
    let b_tracks_at_a = tracks_of(&a1, &b1_id);
    let a_tracks_at_b = tracks_of(&b1, &a1_id);
    ensure!(b_tracks_at_a.len() == 2 && a_tracks_at_b.len() == 2);

    // Separate: each party goes to their side's room, and their helper follows.
    mediator
        .send(ClientFrame::Move {
            participant_id: b1_id.clone(),
            to: "respondent".into(),
        })
        .await?;
    let moving = std::time::Instant::now();
    mediator
        .send(ClientFrame::Move {
            participant_id: a1_id.clone(),
            to: "applicant".into(),
        })
        .await?;
    a1.wait_for_frame(
        "moved to the applicant room",
        WAIT,
        |f| matches!(f, ServerFrame::Moved { space } if space == "applicant"),
    )
    .await?;
    // Reported, not asserted: speed is measured, not tested.
    eprintln!(
        "move: `moved` reached the party {} ms after the mediator's frame",
        moving.elapsed().as_millis()
    );
    b2.wait_for_frame(
        "the interpreter follows 李四",
        WAIT,
        |f| matches!(f, ServerFrame::Moved { space } if space == "respondent"),
    )
    .await?;
    a2.wait_for_frame(
        "the lawyer follows 张三",
        WAIT,
        |f| matches!(f, ServerFrame::Moved { space } if space == "applicant"),
    )
    .await?;
    let a_frames_from = a1.raw_frames().len();
    let a2_frames_from = a2.raw_frames().len();
    // In-flight packets settle, then nothing more may cross.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Both parties speak all along (their packets carry a loud audio level), so side A's
    // own speaker list is settled now: A speaks, and nothing B does may change what A hears.
    let a_speakers_from = a1.raw_frames().len();
    let a_got_b = packets_on(&a1, &b_tracks_at_a);
    let b_got_a = packets_on(&b1, &a_tracks_at_b);
    let sfu_before = world.media().await?;

    // Life goes on in side B's room: the mediator joins them, 李四 raises a hand and chats,
    // and the interpreter's phone drops off.
    let mediator_id = mediator.id().to_owned();
    mediator
        .send(ClientFrame::Move {
            participant_id: mediator_id.clone(),
            to: "respondent".into(),
        })
        .await?;
    b1.send(ClientFrame::RaiseHand { raised: true }).await?;
    b1.send(ClientFrame::Chat {
        text: "我只愿意赔一千五".into(),
    })
    .await?;
    b1.wait_for_frame("its own chat back", WAIT, |f| {
        matches!(f, ServerFrame::Chat { .. })
    })
    .await?;
    // 李四 falls silent and speaks again, twice (each time longer than the SFU's speaker
    // check): B's speaker list changes four times.
    for muted in [true, false, true, false] {
        b1.send(ClientFrame::Mute {
            source: "microphone".into(),
            muted,
        })
        .await?;
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let b_speaker_frames = b1
        .raw_frames()
        .iter()
        .filter(|f| f.contains(r#""type":"active_speakers""#))
        .count();
    drop(b2);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let a_got_b_after = packets_on(&a1, &b_tracks_at_a);
    let b_got_a_after = packets_on(&b1, &a_tracks_at_b);
    let sfu_after = world.media().await?;
    ensure!(
        a_got_b_after == a_got_b,
        "side A received {} packets of side B while separated",
        a_got_b_after - a_got_b
    );
    ensure!(
        b_got_a_after == b_got_a,
        "side B received {} packets of side A while separated",
        b_got_a_after - b_got_a
    );
    for (to, publisher) in [(&a1_id, &b1_id), (&b1_id, &a1_id), (&a2_id, &b1_id)] {
        let delta = from(&sfu_after, to, publisher) - from(&sfu_before, to, publisher);
        ensure!(
            delta == 0,
            "the SFU forwarded {delta} packets from {publisher} to {to}"
        );
    }
    ensure!(
        from(&sfu_after, &b1_id, &a1_id) > 0,
        "the SFU report counts what was forwarded before"
    );

    // Nothing side A's clients heard since the separation names or counts side B.
    let forbidden = [
        b1_id.as_str(),
        b2_id.as_str(),
        RESPONDENT,
        RESPONDENT_INTERPRETER,
        "我只愿意赔一千五",
        "respondent",
    ];
    let a1_heard = a1.raw_frames()[a_frames_from..].to_vec();
    let a_speaker_frames: Vec<String> = a1.raw_frames()[a_speakers_from..]
        .iter()
        .filter(|f| f.contains(r#""type":"active_speakers""#))
        .cloned()
        .collect();
    ensure!(
        b_speaker_frames >= 2,
        "side B heard its own speaker changes ({b_speaker_frames} frames)"
    );
    ensure!(
        a_speaker_frames.is_empty(),
        "side A was told of speaker changes while only side B's changed: {a_speaker_frames:?}"
    );
    let a2_heard = a2.raw_frames()[a2_frames_from..].to_vec();
    for frame in a1_heard.iter().chain(&a2_heard) {
        for word in forbidden {
            ensure!(!frame.contains(word), "side A was told `{word}`: {frame}");
        }
    }
    let mediator_seen = a1
        .participants()
        .into_iter()
        .find(|p| p.id == mediator_id)
        .context("side A still lists the mediator")?;
    ensure!(
        mediator_seen.elsewhere && mediator_seen.space.is_none(),
        "side A sees the mediator as elsewhere, and no more: {mediator_seen:?}"
    );
    let a1_sees: Vec<String> = a1.participants().into_iter().map(|p| p.id).collect();
    ensure!(
        a1_sees.len() == 2 && a1_sees.contains(&a2_id) && a1_sees.contains(&mediator_id),
        "side A sees its lawyer and the mediator only: {a1_sees:?}"
    );
    let b_view = b1.participants();
    ensure!(
        b_view.iter().all(|p| p.id != a1_id && p.id != a2_id),
        "side B sees nobody of side A: {b_view:?}"
    );

    // Everyone back together: media flows both ways again.
    mediator.send(ClientFrame::Gather).await?;
    a1.wait_for_frame(
        "back in the joint room",
        WAIT,
        |f| matches!(f, ServerFrame::Moved { space } if space == "joint"),
    )
    .await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let back_b = tracks_of(&a1, &b1_id);
        let back_a = tracks_of(&b1, &a1_id);
        if packets_on(&a1, &back_b) > 20 && packets_on(&b1, &back_a) > 20 {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "media did not flow again after gathering: {} / {}",
            a1.describe(),
            b1.describe()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let timeline = world.timeline().await?;
    let moves = timeline.iter().filter(|e| e["kind"] == "moved").count();
    ensure!(
        moves >= 7,
        "4 moves apart, the mediator's, and the gathering are in the record: {timeline:?}"
    );
    let chat = timeline
        .iter()
        .find(|e| e["kind"] == "chat")
        .context("the caucus chat is in the record")?;
    ensure!(chat["space"] == "respondent" && chat["detail"] == "我只愿意赔一千五");
    Ok(())
}
