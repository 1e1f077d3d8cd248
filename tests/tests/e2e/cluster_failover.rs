//! A session outlives the node running it: two `accord serve` processes share one PostgreSQL
//! database, one Redis (a prefix of the test's own, a 3 s lease), one keys folder and one
//! blob folder. On node A a mediator and both parties hold a case session over real WebRTC:
//! the parties came in through the waiting room, the mediator separated the respondent into
//! their private room. Node B is up too. A is killed with SIGKILL; each client, its socket
//! gone, joins B with its join token and the resume token A gave it, trying again when told
//! to (`retry_after_ms`), as the web client does. Within 10 s of the kill all three are seated
//! again in the same session as the same people, the respondent in their private room, nobody
//! in the waiting room, and media flows between the mediator and the applicant again; the
//! session record and the case's audit trail, read from B, say the session moved.

use std::time::{Duration, Instant};

use accord_tests::StaffApi;
use accord_tests::case_world::PASSWORD;
use accord_tests::protocol::{ClientFrame, ServerFrame};
use accord_tests::scratch_db::ScratchDatabase;
use accord_tests::server::TestServer;
use accord_tests::session_world::{APPLICANT, RESPONDENT, SessionWorld};
use accord_tests::shared_nodes::{SharedNodes, env_refs};
use accord_tests::{ClientOptions, TestClient};
use anyhow::{Context, Result, ensure};
use reqwest::StatusCode;

/// Everyone must be back this soon after the kill (issue 17: "within 10 s").
const BACK_WITHIN: Duration = Duration::from_secs(10);
const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread")]
async fn after_its_node_is_killed_the_session_goes_on_on_the_other_in_the_same_rooms() -> Result<()>
{
    let database = ScratchDatabase::create("accord_failover").await?;
    let outcome = killed_on_a_back_on_b(&database.url).await;
    database.drop().await?;
    outcome
}

/// Who was in the session on A, and how they join again.
struct Person {
    label: &'static str,
    token: String,
    identity: String,
    name: String,
    space: String,
    resume: String,
}

impl Person {
    fn of(label: &'static str, token: &str, client: &TestClient) -> Result<Self> {
        let joined = client.joined();
        Ok(Self {
            label,
            token: token.to_owned(),
            identity: joined.participant.identity.clone(),
            name: joined.participant.name.clone(),
            space: String::new(),
            resume: joined
                .resume_token
                .clone()
                .context("a resume token in joined")?,
        })
    }
}

async fn killed_on_a_back_on_b(database_url: &str) -> Result<()> {
    let shared = accord_tests::fresh_temp_dir("accord-failover-shared")?;
    let nodes = SharedNodes::new(database_url, &shared, "test")
        .with_lease_seconds(3)
        .with_var("ACCORD_RECORDING_NOTICE_MS", "250");
    let env_a = nodes.node_env("N_fa");
    let env_a = env_refs(&env_a);
    let world = SessionWorld::new_with_env(&env_a).await?;
    let a_ws = world.ws_url();

    // On A, the only node so far, so the session is placed there: the mediator, then both
    // parties through the waiting room.
    let mediator = TestClient::connect(
        &a_ws,
        &world.mediator_token,
        ClientOptions::new("mediator", "mediator"),
    )
    .await?;
    let applicant = through_waiting_room(&world, &mediator, APPLICANT, "applicant").await?;
    let respondent = through_waiting_room(&world, &mediator, RESPONDENT, "respondent").await?;
    mediator
        .wait_for_media_from(applicant.id(), "audio", 20, WAIT)
        .await?;
    applicant
        .wait_for_media_from(mediator.id(), "video", 20, WAIT)
        .await?;
    mediator
        .send(ClientFrame::Move {
            participant_id: respondent.id().to_owned(),
            to: "respondent".into(),
        })
        .await?;
    respondent
        .wait_for_frame(
            "moved to the respondent's room",
            WAIT,
            |f| matches!(f, ServerFrame::Moved { space } if space == "respondent"),
        )
        .await?;
    record(&mediator, "the recording on A").await?;
    // At least one checkpoint (every 5 s) puts the recording's pieces in the blob store.
    tokio::time::sleep(Duration::from_secs(6)).await;

    let mut people = [
        Person::of("mediator", &world.mediator_token, &mediator)?,
        Person::of("applicant", world.token(APPLICANT)?, &applicant)?,
        Person::of("respondent", world.token(RESPONDENT)?, &respondent)?,
    ];
    people[0].space = "joint".into();
    people[1].space = "joint".into();
    people[2].space = "respondent".into();
    let (case_id, session_id) = (world.case_id.clone(), world.session_id.clone());

    // Node B, sharing A's token secret as nodes share their keys.
    let mut env_b = nodes.node_env("N_fb");
    env_b.push((
        "ACCORD_AUTH_TOKEN_SECRET",
        world.world.server.token_secret().to_owned(),
    ));
    let env_b = env_refs(&env_b);
    let b = TestServer::start_with_env(&env_b).await?;

    // A dies; the clients' sockets and peer connections die with it.
    let data_a = world.world.server.kill_hard().await?;
    let killed = Instant::now();
    for client in [mediator, applicant, respondent] {
        client.close().await?;
    }

    let b_ws = b.ws_url();
    let returning = people.iter().map(|p| rejoin(&b_ws, p, killed));
    let back: Vec<(TestClient, Duration)> = futures_util::future::try_join_all(returning).await?;
    let all_back = back.iter().map(|(_, at)| *at).max().unwrap_or_default();
    for (person, (client, at)) in people.iter().zip(&back) {
        eprintln!(
            "failover: {} seated on B {} ms after the kill",
            person.label,
            at.as_millis()
        );
        let joined = client.joined();
        ensure!(
            joined.participant.identity == person.identity
                && joined.participant.name == person.name,
            "{} is the same person on B: {:?}",
            person.label,
            joined.participant
        );
        ensure!(
            joined.space.as_deref() == Some(person.space.as_str()),
            "{} is back in the {} room, not {:?}",
            person.label,
            person.space,
            joined.space
        );
        ensure!(
            !client
                .raw_frames()
                .iter()
                .any(|f| f.contains(r#""type":"waiting""#)),
            "{} went straight in, not through the waiting room",
            person.label
        );
    }
    eprintln!(
        "failover: all three back {} ms after the kill (lease 3 s)",
        all_back.as_millis()
    );
    ensure!(
        all_back <= BACK_WITHIN,
        "everyone is back within {BACK_WITHIN:?} of the kill, not {all_back:?}"
    );

    let [(mediator, _), (applicant, _), (respondent, _)]: [(TestClient, Duration); 3] = back
        .try_into()
        .map_err(|_| anyhow::anyhow!("three clients"))?;
    ensure!(mediator.joined().moderator, "the mediator moderates again");
    for client in [&mediator, &applicant, &respondent] {
        ensure!(
            client.joined().recording.is_none(),
            "the room on B is not recording: the recording is not started again behind anyone's back"
        );
    }
    ensure!(
        !applicant
            .joined()
            .participants
            .iter()
            .any(|p| p.id == respondent.id()),
        "the applicant in the joint room does not see the respondent in their private room"
    );
    for (to, from) in [(&mediator, &applicant), (&applicant, &mediator)] {
        for kind in ["audio", "video"] {
            to.wait_for_media_from(from.id(), kind, 20, WAIT)
                .await
                .with_context(|| format!("{kind} flows again on B"))?;
        }
    }

    // The case record, read from B as the case page reads it.
    let api = StaffApi::new(b.http_url());
    let staff = api.login("li", PASSWORD).await?;
    let timeline = api
        .get(&format!("/api/v1/sessions/{session_id}/timeline"), &staff)
        .await?
        .expect(StatusCode::OK)?
        .body;
    let items = timeline["items"].as_array().context("items")?;
    let failover = items
        .iter()
        .find(|e| e["kind"] == "node_failover")
        .with_context(|| format!("a node_failover entry in the session record: {timeline}"))?;
    ensure!(
        failover["detail"] == "N_fa → N_fb",
        "the entry names the nodes only: {failover}"
    );
    let moved_at = failover["seq"].as_i64().context("seq")?;
    ensure!(
        items
            .iter()
            .any(|e| e["kind"] == "moved" && e["seq"].as_i64().is_some_and(|seq| seq < moved_at)),
        "the move made on A stays in the record before the failover"
    );
    let audit = api
        .get(&format!("/api/v1/cases/{case_id}/audit"), &staff)
        .await?
        .expect(StatusCode::OK)?
        .body;
    ensure!(
        audit["items"]
            .as_array()
            .context("audit items")?
            .iter()
            .any(|e| e["action"] == "session.failed_over" && e["actor"] == "system"),
        "the case's audit trail shows the interruption: {audit}"
    );

    // A's recording is finished by B as interrupted; then the mediator records again.
    let finished = wait_for_entry(&api, &staff, &session_id, "recording_interrupted").await?;
    eprintln!(
        "failover: A's recording finished as interrupted {} ms after the kill",
        killed.elapsed().as_millis()
    );
    ensure!(
        finished["seq"].as_i64().is_some_and(|seq| seq > moved_at),
        "the interruption of the recording is in the record after the failover: {finished}"
    );
    record(&mediator, "a new recording on B").await?;

    for client in [mediator, applicant, respondent] {
        client.close().await?;
    }
    b.stop().await?;
    let _ = std::fs::remove_dir_all(&data_a);
    let _ = std::fs::remove_dir_all(&shared);
    Ok(())
}

/// The mediator starts recording; returns once they are told it is on.
async fn record(mediator: &TestClient, what: &str) -> Result<()> {
    mediator
        .send(ClientFrame::Record {
            action: "start".into(),
        })
        .await?;
    mediator
        .wait_for_frame(
            what,
            WAIT,
            |f| matches!(f, ServerFrame::Recording(r) if r.state == "on"),
        )
        .await
        .map(|_| ())
}

/// Waits (up to a minute) for an entry of `kind` in the session record.
async fn wait_for_entry(
    api: &StaffApi,
    staff: &str,
    session_id: &str,
    kind: &str,
) -> Result<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let timeline = api
            .get(&format!("/api/v1/sessions/{session_id}/timeline"), staff)
            .await?
            .expect(StatusCode::OK)?
            .body;
        let items = timeline["items"].as_array().context("items")?;
        if let Some(entry) = items.iter().find(|e| e["kind"] == kind) {
            return Ok(entry.clone());
        }
        ensure!(
            Instant::now() < deadline,
            "no {kind} entry in the session record within a minute: {timeline}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A party with media, let in from the waiting room by the mediator.
async fn through_waiting_room(
    world: &SessionWorld,
    mediator: &TestClient,
    name: &str,
    label: &str,
) -> Result<TestClient> {
    let (url, token) = (world.ws_url(), world.token(name)?.to_owned());
    let options = ClientOptions::new(label, "party");
    let joining = tokio::spawn(async move { TestClient::connect(&url, &token, options).await });
    let frame = mediator
        .wait_for_frame(&format!("{name} in the waiting room"), WAIT, |f| {
            matches!(f, ServerFrame::WaitingRoom { waiting } if waiting.iter().any(|p| p.name == name))
        })
        .await?;
    let ServerFrame::WaitingRoom { waiting } = frame else {
        anyhow::bail!("not a waiting list");
    };
    let id = waiting
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.id.clone())
        .context("the waiting person")?;
    mediator
        .send(ClientFrame::Admit {
            participant_id: Some(id),
        })
        .await?;
    joining.await?
}

/// Joins B again as `person`, with the resume token A gave them, until seated: a refusal that
/// says when to try again is tried again then, a socket that could not open a moment later.
/// Returns the client and how long after the kill it was seated.
async fn rejoin(ws_url: &str, person: &Person, killed: Instant) -> Result<(TestClient, Duration)> {
    let deadline = killed + BACK_WITHIN + Duration::from_secs(20);
    loop {
        let options = ClientOptions::new(person.label, "party");
        match TestClient::connect_resuming(ws_url, &person.token, Some(&person.resume), options)
            .await
        {
            Ok(client) => return Ok((client, killed.elapsed())),
            Err(e) if Instant::now() < deadline => {
                let retry =
                    e.downcast_ref::<accord_tests::client::JoinRefused>()
                        .map(|refused| {
                            refused.frame.retry_after_ms.with_context(|| {
                                format!("{} refused for good: {e:#}", person.label)
                            })
                        })
                        .transpose()?
                        .map_or(Duration::from_millis(200), Duration::from_millis);
                tokio::time::sleep(retry).await;
            }
            Err(e) => return Err(e.context(format!("{} never got back in", person.label))),
        }
    }
}
