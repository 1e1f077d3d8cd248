//! A node told to stop (SIGTERM, as a rolling upgrade or a scale-down sends) drains: nobody's
//! session is cut and no recording is left unfinished.
//!
//! - Drain: a recorded session with two people publishing media; SIGTERM. `/readyz` answers
//!   503 `draining`; a join that would open another room is refused `node_draining`; the
//!   live session goes on (media keeps arriving) and a resume into it works; the mediator
//!   ends the session; the recording is finalised and stored, and the process exits 0 by
//!   itself. Started again on the same data, the recording is `complete` and its archive
//!   passes `accord verify`.
//! - Forced: SIGTERM, then a second SIGTERM with the session still live. Everyone is told
//!   `left` `node_moving` (their clients join again; not `server_shutdown`, which ends the
//!   session on the client), the recording is stopped and stored, and the process exits 0.
//!   The recording is `complete`, not `interrupted`: the recorder was stopped cleanly and its
//!   manifest signed over everything written up to the stop, and nothing was lost (an
//!   `interrupted` recording is one a crash cut short, finalised from its logs on the next
//!   start). Why it stopped is in the session record: each seat left with `node_moving`.
//! - Deadline: with `cluster.drain_deadline_seconds` at 3, a live room is moved
//!   (`node_moving`) when the deadline passes, not before, and the process exits 0.

use std::path::Path;
use std::time::{Duration, Instant};

use accord_tests::case_world::PASSWORD;
use accord_tests::protocol::{ClientFrame, ServerFrame};
use accord_tests::recording::{finished_detail, recording_of_case};
use accord_tests::recording_checks::{RecordedPair, accord_verify};
use accord_tests::session_world::{APPLICANT, RESPONDENT, SessionWorld};
use accord_tests::{Bystander, StaffApi, TestClient, TestServer, TokenRequest};
use anyhow::{Context, Result, anyhow, ensure};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// How long a frame the test waits for may take.
const FRAME_WAIT: Duration = Duration::from_secs(20);
/// How long a drained node may take to exit once nothing is left (the recording's
/// finalisation and upload included).
const EXIT_WITHIN: Duration = Duration::from_secs(60);

/// The server's `/readyz` status and body.
async fn readyz(server: &TestServer) -> Result<(StatusCode, String)> {
    let response = reqwest::Client::new()
        .get(format!("{}/readyz", server.http_url()))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .context("GET /readyz")?;
    let status = response.status();
    Ok((status, response.text().await.unwrap_or_default()))
}

/// Waits until `/readyz` says the node drains.
async fn wait_draining(server: &TestServer) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = readyz(server).await?;
        if status == StatusCode::SERVICE_UNAVAILABLE && body == "draining" {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "/readyz still answers {status} {body:?} 5 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Joins with `token` on a raw socket and returns the first frame the server answers with,
/// and whether the server then closed the socket.
async fn first_answer(ws_url: &str, token: &str) -> Result<(Value, bool)> {
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .context("connecting")?;
    let join =
        serde_json::json!({"type": "join", "protocol": 1, "token": token, "request_id": "j1"});
    socket.send(Message::text(join.to_string())).await?;
    let answer = tokio::time::timeout(FRAME_WAIT, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str::<Value>(text.as_str()).map_err(|e| anyhow!(e));
                }
                Some(Ok(_)) => {}
                other => return Err(anyhow!("no answer to join: {other:?}")),
            }
        }
    })
    .await
    .context("waiting for the answer to join")??;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .unwrap_or(false);
    Ok((answer, closed))
}

/// Joins `name` of `world` as a bystander through the waiting room, admitted by the
/// recorded pair's mediator.
async fn join_admitted(
    world: &SessionWorld,
    mediator: &TestClient,
    name: &str,
) -> Result<Bystander> {
    let (url, token) = (world.ws_url(), world.token(name)?.to_owned());
    let who = name.to_owned();
    let joining = tokio::spawn(async move { Bystander::join(&url, &token, None, &who).await });
    let frame = mediator
        .wait_for_frame(&format!("{name} waiting"), FRAME_WAIT, |f| {
            matches!(f, ServerFrame::WaitingRoom { waiting } if waiting.iter().any(|p| p.name == name))
        })
        .await?;
    let ServerFrame::WaitingRoom { waiting } = frame else {
        return Err(anyhow!("not a waiting-room frame"));
    };
    let seat = waiting
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.id.clone());
    mediator
        .send(ClientFrame::Admit {
            participant_id: seat,
        })
        .await?;
    joining.await?
}

/// Packets of `kind` that `to` has received from `from` so far.
fn packets(to: &TestClient, from: &TestClient, kind: &str) -> u64 {
    to.received_from(from.id(), kind).map_or(0, |r| r.packets)
}

/// Starts a server on `data_dir` with `secret`, signs the mediator in, waits until recording
/// `id` is finished and checked, and checks its archive offline with `accord verify`.
/// Returns the detail.
async fn verify_after_restart(data_dir: &Path, secret: &str, id: &str) -> Result<Value> {
    let data = data_dir.to_string_lossy().into_owned();
    let server = TestServer::start_with_args(
        &[
            ("ACCORD_DATA_DIR", data.as_str()),
            ("ACCORD_AUTH_TOKEN_SECRET", secret),
        ],
        &[],
    )
    .await?;
    let api = StaffApi::new(server.http_url());
    let mediator = api.login("li", PASSWORD).await?;
    let detail = finished_detail(&api, &mediator, id).await?;
    let archive_url = detail["downloads"]["archive_url"]
        .as_str()
        .context("no archive_url")?;
    let (status, _, zip) = api.get_bytes(archive_url, &mediator).await?;
    ensure!(status == StatusCode::OK, "the archive downloads: {status}");
    let (status, _, keys) = api
        .get_bytes("/.well-known/accord/signing-keys.json", &mediator)
        .await?;
    ensure!(status == StatusCode::OK, "the signing keys: {status}");
    let work = accord_tests::fresh_temp_dir("accord-drain-verify")?;
    let (zip_path, keys_path) = (work.join("recording.zip"), work.join("keys.json"));
    std::fs::write(&zip_path, &zip)?;
    std::fs::write(&keys_path, &keys)?;
    let run = accord_verify(&zip_path, Some(&keys_path))?;
    ensure!(
        run.code == 0,
        "accord verify exits 0 on the drained node's recording (exit {}):\n{}",
        run.code,
        run.stdout
    );
    eprintln!("drain: accord verify: {}", run.stdout.trim());
    let _ = std::fs::remove_dir_all(&work);
    server.stop().await?;
    Ok(detail)
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_the_live_session_then_exits_with_its_recording_stored() -> Result<()> {
    let mut world = SessionWorld::new_with_env(&[accord_tests::ONE_PROCESS]).await?;
    let pair = RecordedPair::join(&world, APPLICANT).await?;
    let respondent = join_admitted(&world, &pair.mediator, RESPONDENT).await?;
    pair.start_recording().await?;
    let id = recording_of_case(&world.world.api, &world.world.mediator_a, &world.case_id).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let other_room = world
        .world
        .server
        .mint(&TokenRequest::new("another-session", "someone", "party"))
        .await?;

    let server = &world.world.server;
    server.terminate()?;
    let terminated = Instant::now();
    wait_draining(server).await?;

    // A join that would open a room here is refused, retryably.
    let (answer, closed) = first_answer(&server.ws_url(), &other_room).await?;
    ensure!(
        answer["type"] == "error"
            && answer["code"] == "node_draining"
            && answer["fatal"] == true
            && answer["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0)
            && answer["request_id"] == "j1",
        "a new room is refused node_draining: {answer}"
    );
    ensure!(closed, "the refused socket is closed");

    // The live session goes on: media keeps flowing both ways.
    for (to, from) in [(&pair.mediator, &pair.party), (&pair.party, &pair.mediator)] {
        for kind in ["audio", "video"] {
            let before = packets(to, from, kind);
            to.wait_for_media_from(from.id(), kind, before + 25, FRAME_WAIT)
                .await
                .with_context(|| format!("{kind} keeps arriving after SIGTERM"))?;
        }
    }
    // A resume into the live room is served.
    let mut respondent = respondent;
    let seat = respondent.id().to_owned();
    let resume = respondent.lose_network();
    drop(respondent);
    let back = Bystander::join(
        &server.ws_url(),
        world.token(RESPONDENT)?,
        Some(&resume),
        RESPONDENT,
    )
    .await
    .context("resuming into the live session while draining")?;
    ensure!(back.id() == seat, "the resume got the same seat back");
    ensure!(
        readyz(server).await?.0 == StatusCode::SERVICE_UNAVAILABLE,
        "still draining"
    );
    let server_running = world.world.server.is_running();
    ensure!(server_running, "the node waits for its live session");

    // The mediator ends the session: the node has nothing left and exits by itself.
    pair.mediator.send(ClientFrame::EndSession).await?;
    pair.party
        .wait_for_frame(
            "the session to end",
            FRAME_WAIT,
            |f| matches!(f, ServerFrame::Left { reason, .. } if reason == "ended"),
        )
        .await?;
    let ended = Instant::now();
    let code = world.world.server.wait_exit(EXIT_WITHIN).await?;
    eprintln!(
        "drain: exited {code} {:.1} s after the session ended ({:.1} s after SIGTERM)",
        ended.elapsed().as_secs_f64(),
        terminated.elapsed().as_secs_f64()
    );
    ensure!(code == 0, "a drained node exits 0, not {code}");
    let log = std::fs::read_to_string(world.world.server.log_path()).unwrap_or_default();
    ensure!(
        log.contains("draining: no new rooms") && log.contains("drained:"),
        "the drain is logged:\n{}",
        world.world.server.log_tail(30)
    );
    drop(back);
    pair.close().await;

    let secret = world.world.server.token_secret().to_owned();
    let data_dir = world.world.server.data_dir();
    let detail = verify_after_restart(&data_dir, &secret, &id).await?;
    ensure!(
        detail["status"] == "complete" && detail["verification"]["state"] == "verified",
        "the drained node's recording is complete and verified: {detail}"
    );
    // The restarted server removed its own directory at `stop`; the first one's holds the
    // data both used.
    world.world.server.remove_dir();
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_sigterm_moves_everyone_and_stores_the_recording() -> Result<()> {
    let mut world = SessionWorld::new_with_env(&[accord_tests::ONE_PROCESS]).await?;
    let pair = RecordedPair::join(&world, APPLICANT).await?;
    pair.start_recording().await?;
    let id = recording_of_case(&world.world.api, &world.world.mediator_a, &world.case_id).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let server = &world.world.server;
    server.terminate()?;
    wait_draining(server).await?;
    // Still serving: the session did not end, so the node waits for it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    ensure!(world.world.server.is_running(), "one SIGTERM only drains");
    let server = &world.world.server;
    server.terminate()?;
    let second = Instant::now();

    for client in [&pair.mediator, &pair.party] {
        let left = client
            .wait_for_frame("to be told to join again", FRAME_WAIT, |f| {
                matches!(f, ServerFrame::Left { .. })
            })
            .await?;
        ensure!(
            matches!(&left, ServerFrame::Left { reason, .. } if reason == "node_moving"),
            "{} is told node_moving (join again), not the end of the session: {left:?}",
            client.identity()
        );
    }
    let code = world.world.server.wait_exit(EXIT_WITHIN).await?;
    eprintln!(
        "forced drain: exited {code} {:.1} s after the second SIGTERM",
        second.elapsed().as_secs_f64()
    );
    ensure!(
        code == 0,
        "a node moved off by a second signal exits 0, not {code}"
    );
    let log = std::fs::read_to_string(world.world.server.log_path()).unwrap_or_default();
    ensure!(
        log.contains("second stop signal") && log.contains("recordings stored; stopping"),
        "the forced drain is logged:\n{}",
        world.world.server.log_tail(30)
    );
    pair.close().await;

    let secret = world.world.server.token_secret().to_owned();
    let data_dir = world.world.server.data_dir();
    let detail = verify_after_restart(&data_dir, &secret, &id).await?;
    ensure!(
        detail["status"] == "complete" && detail["verification"]["state"] == "verified",
        "the recording was stopped cleanly and stored before the exit: {detail}"
    );
    world.world.server.remove_dir();
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn at_the_drain_deadline_everyone_is_moved_and_the_node_exits() -> Result<()> {
    const DEADLINE_S: u64 = 3;
    let deadline = DEADLINE_S.to_string();
    let mut server = TestServer::start_with_env(&[
        accord_tests::ONE_PROCESS,
        ("ACCORD_CLUSTER_DRAIN_DEADLINE_SECONDS", &deadline),
    ])
    .await?;
    let room = "deadline";
    let mut people = Vec::new();
    for who in ["mediator", "party"] {
        let token = server.mint(&TokenRequest::new(room, who, who)).await?;
        people.push(Bystander::join(&server.ws_url(), &token, None, who).await?);
    }
    server.terminate()?;
    let terminated = Instant::now();
    wait_draining(&server).await?;
    for person in &people {
        let left = person
            .wait_for_frame(
                "to be told to join again",
                Duration::from_secs(DEADLINE_S + 10),
                |f| matches!(f, ServerFrame::Left { .. }),
            )
            .await?;
        ensure!(
            matches!(&left, ServerFrame::Left { reason, .. } if reason == "node_moving"),
            "told node_moving at the deadline: {left:?}"
        );
    }
    let told_after = terminated.elapsed();
    ensure!(
        told_after >= Duration::from_secs(DEADLINE_S),
        "nobody is moved before the deadline ({told_after:?})"
    );
    let code = server.wait_exit(EXIT_WITHIN).await?;
    eprintln!(
        "deadline: moved {:.1} s after SIGTERM, exited {code} at {:.1} s",
        told_after.as_secs_f64(),
        terminated.elapsed().as_secs_f64()
    );
    ensure!(code == 0, "exits 0 after the deadline, not {code}");
    let log = std::fs::read_to_string(server.log_path()).unwrap_or_default();
    ensure!(
        log.contains("drain deadline reached"),
        "the deadline is logged:\n{}",
        server.log_tail(20)
    );
    drop(people);
    server.remove_dir();
    Ok(())
}
