//! Two real `accord serve` nodes on loopback sharing one PostgreSQL database, one Redis, one
//! keys folder and the token secret, each announcing its own media address: sessions are
//! placed on both, and whichever node a participant's socket or WHIP/WHEP request reaches,
//! they end up in the one room of their session, on the node that owns it.

use std::time::Duration;

use accord_tests::client::{WhepViewer, WhipHttp, WhipPublisher};
use accord_tests::media::VideoSize;
use accord_tests::payload::PayloadKind;
use accord_tests::protocol::{ClientFrame, ServerFrame};
use accord_tests::scenario::{MediaExpectation, expect_full_mesh};
use accord_tests::scratch_db::ScratchDatabase;
use accord_tests::server::TokenRequest;
use accord_tests::session_world::{APPLICANT, SessionWorld, admit};
use accord_tests::shared_nodes::{SharedNodes, env_refs};
use accord_tests::whip_world::{CONNECT_TIMEOUT, expect_created};
use accord_tests::{Bystander, ClientOptions, TestClient, TestServer, VideoPublish};
use anyhow::{Context, Result, bail, ensure};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Two nodes of one cluster: A carries the case world (its staff, case and session).
struct Cluster {
    world: SessionWorld,
    b: TestServer,
    /// What a further node of the same cluster is started with (its id aside).
    env: Vec<(&'static str, String)>,
}

impl Cluster {
    fn a(&self) -> &TestServer {
        &self.world.world.server
    }

    /// The node whose `accord_participants` is not zero, when exactly one is.
    async fn owner_of_participants(&self) -> Result<Option<&TestServer>> {
        let on_a = self.a().metric("accord_participants").await?.unwrap_or(0.0);
        let on_b = self.b.metric("accord_participants").await?.unwrap_or(0.0);
        Ok(match (on_a > 0.0, on_b > 0.0) {
            (true, false) => Some(self.a()),
            (false, true) => Some(&self.b),
            _ => None,
        })
    }

    /// The node that does not hold the room of the mediator seated so far.
    async fn non_owner(&self) -> Result<&TestServer> {
        let owner = self
            .owner_of_participants()
            .await?
            .context("the mediator's seat is on one node")?;
        Ok(self.other(owner))
    }

    /// The other node.
    fn other(&self, node: &TestServer) -> &TestServer {
        if std::ptr::eq(node, self.a()) {
            &self.b
        } else {
            self.a()
        }
    }
}

async fn two_nodes(database_url: &str, shared: &std::path::Path) -> Result<Cluster> {
    // What the nodes leave in Redis expires with their 3 s leases.
    let nodes = SharedNodes::new(database_url, shared, "test")
        .with_lease_seconds(3)
        // A step's seats are gone soon after it, even one whose socket only dropped.
        .with_var("ACCORD_SIGNALING_RESUME_GRACE_SECONDS", "2");
    let env_a = nodes.node_env("N_place-a");
    let env_a = env_refs(&env_a);
    let world = SessionWorld::new_with_env(&env_a).await?;
    let mut env_b = nodes.node_env("N_place-b");
    env_b.push((
        "ACCORD_AUTH_TOKEN_SECRET",
        world.world.server.token_secret().to_owned(),
    ));
    let env_b = env_refs(&env_b);
    let b = TestServer::start_with_env(&env_b).await?;
    ensure!(
        world.world.server.media_addr() != b.media_addr(),
        "each node announces its own media address"
    );
    let mut env = nodes.node_env("N_place-c");
    env.push((
        "ACCORD_AUTH_TOKEN_SECRET",
        world.world.server.token_secret().to_owned(),
    ));
    Ok(Cluster { world, b, env })
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_spread_and_every_participant_reaches_the_owner() -> Result<()> {
    let database = ScratchDatabase::create("accord_placement").await?;
    let shared = accord_tests::fresh_temp_dir("accord-placement-shared")?;
    let outcome = match two_nodes(&database.url, &shared).await {
        Ok(cluster) => match check_everything(&cluster).await {
            Ok(()) => an_owner_that_died_is_retried_then_replaced(cluster).await,
            Err(e) => {
                let _ = stop(cluster).await;
                Err(e)
            }
        },
        Err(e) => Err(e),
    };
    database.drop().await?;
    if outcome.is_ok() {
        let _ = std::fs::remove_dir_all(&shared);
    }
    outcome
}

async fn stop(cluster: Cluster) -> Result<()> {
    let Cluster { world, b, .. } = cluster;
    b.stop().await?;
    world.world.server.stop().await
}

async fn check_everything(cluster: &Cluster) -> Result<()> {
    waiting_room_arrival_on_a_shows_on_a_console_on_b(cluster).await?;
    a_party_on_the_other_node_meets_the_mediator_with_media(cluster).await?;
    a_forged_relay_signature_is_placed_like_any_client(cluster).await?;
    whip_through_one_node_is_watched_through_the_other(cluster).await?;
    rooms_spread_across_both_nodes(cluster).await?;
    joins_through_either_node(cluster).await?;
    a_draining_node_relays_a_join_for_a_new_room(cluster).await
}

/// What the relay costs a join: the time from connecting to `joined`, through the owner and
/// through the other node, printed for docs/benchmarks.md (not asserted: a shared machine's
/// timings say nothing about correctness).
async fn joins_through_either_node(cluster: &Cluster) -> Result<()> {
    wait_until_empty(cluster).await?;
    let room = "placement-timing";
    let mint = |identity: String| {
        let request = TokenRequest::new(room, &identity, "mediator");
        async move { cluster.a().mint(&request).await }
    };
    let anchor = Bystander::join(
        &cluster.a().ws_url(),
        &mint("anchor".into()).await?,
        None,
        "anchor",
    )
    .await?;
    let owner = cluster
        .owner_of_participants()
        .await?
        .context("the anchor's seat is on one node")?;
    let mut times = [Vec::new(), Vec::new()];
    for n in 0..10 {
        for (through, list) in [owner, cluster.other(owner)]
            .into_iter()
            .zip(times.iter_mut())
        {
            let token = mint(format!("timed-{n}")).await?;
            let started = std::time::Instant::now();
            let seat = Bystander::join(&through.ws_url(), &token, None, "timed").await?;
            list.push(started.elapsed());
            seat.send(ClientFrame::Leave).await?;
        }
    }
    let median = |list: &mut Vec<Duration>| {
        list.sort();
        list[list.len() / 2]
    };
    let [direct, relayed] = &mut times;
    eprintln!(
        "join to `joined`, median of 10: {:?} through the owner, {:?} through the other node",
        median(direct),
        median(relayed)
    );
    anchor.send(ClientFrame::Leave).await?;
    Ok(())
}

/// A third node C owns a live room and is told to stop (SIGTERM): it drains, keeping that
/// room, and a join for a new room that reaches it is placed on another node and relayed
/// there rather than refused. Once its room ends, C exits 0.
async fn a_draining_node_relays_a_join_for_a_new_room(cluster: &Cluster) -> Result<()> {
    wait_until_empty(cluster).await?;
    let env = env_refs(&cluster.env);
    let mut c = TestServer::start_with_env(&env).await?;
    let mut host = None;
    for n in 0..6 {
        let token = cluster
            .a()
            .mint(&TokenRequest::new(
                &format!("placement-on-c-{n}"),
                "c-host",
                "mediator",
            ))
            .await?;
        let seat = Bystander::join(&c.ws_url(), &token, None, "host").await?;
        if c.metric("accord_participants").await?.unwrap_or(0.0) > 0.0 {
            host = Some(seat);
            break;
        }
        seat.send(ClientFrame::Leave).await?;
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let host = host.context("no room was placed on C in six tries")?;
    c.terminate()?;
    // Until the registry says so, placement could still choose C: wait for /readyz.
    let ready = format!("{}/readyz", c.http_url());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while reqwest::get(&ready).await?.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "C never said it drains"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let token = cluster
        .a()
        .mint(&TokenRequest::new(
            "placement-while-draining",
            "newcomer",
            "mediator",
        ))
        .await?;
    let (answer, socket) = join_raw(c.ws_url(), &token).await?;
    ensure!(
        answer["type"] == "joined",
        "a join for a new room through a draining node is relayed, not refused: {answer}"
    );
    ensure!(
        c.metric("accord_participants").await?.unwrap_or(0.0) == 1.0,
        "the draining node seats only its own room's host"
    );
    let elsewhere = cluster
        .a()
        .metric("accord_participants")
        .await?
        .unwrap_or(0.0)
        + cluster
            .b
            .metric("accord_participants")
            .await?
            .unwrap_or(0.0);
    ensure!(
        elsewhere == 1.0,
        "the newcomer is seated on A or B: {elsewhere}"
    );
    drop(socket);
    host.send(ClientFrame::Leave).await?;
    let code = c.wait_exit(Duration::from_secs(30)).await?;
    ensure!(code == 0, "C exits 0 once its room has ended: {code}");
    eprintln!("draining node: a join for a new room was relayed; C exited 0 after its room");
    c.remove_dir();
    Ok(())
}

/// The case session: the mediator's console on B, the party arriving through A.
async fn waiting_room_arrival_on_a_shows_on_a_console_on_b(cluster: &Cluster) -> Result<()> {
    let world = &cluster.world;
    let mediator = Bystander::join(&cluster.b.ws_url(), &world.mediator_token, None, "mediator")
        .await
        .context("the mediator joins through B")?;
    let (url, token) = (cluster.a().ws_url(), world.token(APPLICANT)?.to_owned());
    let arriving =
        tokio::spawn(async move { Bystander::join(&url, &token, None, APPLICANT).await });
    // `admit` waits for the applicant on the console's waiting list, then lets them in.
    let seat = admit(&mediator, APPLICANT).await?;
    let party = arriving.await??;
    ensure!(
        party.id() == seat,
        "the admitted seat is the party's: {} vs {seat}",
        party.id()
    );
    ensure!(
        party
            .joined()
            .participants
            .iter()
            .any(|p| p.id == mediator.id()),
        "the party, joined through A, sees the mediator who joined through B: {:?}",
        party.joined().participants
    );
    let owner = cluster
        .owner_of_participants()
        .await?
        .context("both seats are on one node")?;
    eprintln!(
        "case session: owned by the node at {}, console on B, party through A",
        owner.http_url()
    );
    party.send(ClientFrame::Leave).await?;
    mediator.send(ClientFrame::Leave).await?;
    Ok(())
}

/// A plain room: a mediator placed first, a party that reaches the node not owning the room.
async fn a_party_on_the_other_node_meets_the_mediator_with_media(cluster: &Cluster) -> Result<()> {
    let room = "placement-media";
    wait_until_empty(cluster).await?;
    let mediator = TestClient::join(
        cluster.a(),
        room,
        ClientOptions::new("mediator", "mediator")
            .with_video(VideoPublish::Single(VideoSize::Quarter)),
    )
    .await?;
    let wrong = cluster.non_owner().await?;
    let token = cluster
        .a()
        .mint(&TokenRequest::new(room, "party", "party"))
        .await?;
    let party = TestClient::connect(
        &wrong.ws_url(),
        &token,
        ClientOptions::new("party", "party").with_video(VideoPublish::Single(VideoSize::Quarter)),
    )
    .await
    .context("the party joins through the node that does not own the room")?;
    ensure!(
        party
            .joined()
            .participants
            .iter()
            .any(|p| p.id == mediator.id()),
        "the party sees the mediator in `joined`: {:?}",
        party.joined().participants
    );
    mediator
        .wait_for_frame("participant_joined for the party", Duration::from_secs(5), |f| {
            matches!(f, ServerFrame::ParticipantJoined { participant } if participant.id == party.id())
        })
        .await?;
    ensure!(
        wrong.metric("accord_participants").await?.unwrap_or(0.0) == 0.0,
        "the node the party reached seats nobody: it relays"
    );
    expect_full_mesh(&[&mediator, &party], &MediaExpectation::default()).await?;
    eprintln!("wrong node: the party's media flows both ways through the owner");
    party.close().await?;
    mediator.close().await
}

/// A socket whose relay headers are forged reaches the node that does not own the room: it
/// is placed like any client's (so relayed to the owner), not served where it landed.
async fn a_forged_relay_signature_is_placed_like_any_client(cluster: &Cluster) -> Result<()> {
    let room = "placement-forged";
    wait_until_empty(cluster).await?;
    let mediator_token = cluster
        .a()
        .mint(&TokenRequest::new(room, "forged-mediator", "mediator"))
        .await?;
    let mediator =
        Bystander::join(&cluster.a().ws_url(), &mediator_token, None, "mediator").await?;
    let wrong = cluster.non_owner().await?;
    let token = cluster
        .a()
        .mint(&TokenRequest::new(room, "forger", "party"))
        .await?;
    let mut request = wrong.ws_url().into_client_request()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        .to_string();
    for (name, value) in [
        ("x-accord-relay-node", "N_place-a".to_owned()),
        ("x-accord-relay-at", now),
        ("x-accord-relay-client", "192.0.2.1".to_owned()),
        ("x-accord-relay-moved-from", String::new()),
        ("x-accord-relay-signature", "00".repeat(32)),
    ] {
        request.headers_mut().insert(name, value.parse()?);
    }
    let (joined, mut socket) = join_raw(request, &token).await?;
    ensure!(joined["type"] == "joined", "refused: {joined}");
    let sees_mediator = joined["participants"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["id"] == mediator.id()));
    ensure!(
        sees_mediator,
        "a forged relay is placed and relayed to the owner, where the mediator is: {joined}"
    );
    ensure!(
        wrong.metric("accord_participants").await?.unwrap_or(0.0) == 0.0,
        "the node with the forged headers seated nobody"
    );
    let _ = socket.close(None).await;
    mediator.send(ClientFrame::Leave).await?;
    Ok(())
}

type RawSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends `join` with `token` on a new socket; the first `joined` or fatal `error` frame.
async fn join_raw(
    request: impl IntoClientRequest + Unpin,
    token: &str,
) -> Result<(serde_json::Value, RawSocket)> {
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let join =
        serde_json::json!({"type": "join", "protocol": 1, "token": token, "request_id": "j1"});
    socket.send(Message::text(join.to_string())).await?;
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(frame) = socket.next().await {
            if let Message::Text(text) = frame? {
                let value: serde_json::Value = serde_json::from_str(text.as_str())?;
                match value["type"].as_str() {
                    Some("joined") => return Ok(value),
                    Some("error") if value["fatal"] == true => return Ok(value),
                    _ => {}
                }
            }
        }
        bail!("the socket closed before `joined` or a refusal")
    })
    .await
    .context("no `joined` or refusal within 10 s")??;
    Ok((answer, socket))
}

/// B dies (SIGKILL) owning a room. Within its lease a join for that room through A cannot
/// reach it: the client is told `session_unavailable` with a pause, not refused for good;
/// joining again as told, it is seated on A (the placement moves once B's lease runs out)
/// within 10 s of the death.
async fn an_owner_that_died_is_retried_then_replaced(cluster: Cluster) -> Result<()> {
    let found = orphaned_room(&cluster).await;
    let Cluster { world, b, .. } = cluster;
    let (room, host) = match found {
        Ok(found) => found,
        Err(e) => {
            let _ = b.stop().await;
            let _ = world.world.server.stop().await;
            return Err(e);
        }
    };
    b.kill_hard().await?;
    let died = tokio::time::Instant::now();
    drop(host);
    let outcome = rejoined_on_a(&world.world.server, &room, died).await;
    let stopped = world.world.server.stop().await;
    outcome.and(stopped)
}

async fn rejoined_on_a(a: &TestServer, room: &str, died: tokio::time::Instant) -> Result<()> {
    let token = a
        .mint(&TokenRequest::new(room, "after-death", "party"))
        .await?;
    let (first, _) = join_raw(a.ws_url(), &token).await?;
    ensure!(
        first["type"] == "error"
            && first["code"] == "session_unavailable"
            && first["fatal"] == true
            && first["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0),
        "a join for a room on a dead node is told to come back: {first}"
    );
    let pause = Duration::from_millis(first["retry_after_ms"].as_u64().unwrap_or(2000));
    let mut attempts = 1;
    loop {
        tokio::time::sleep(pause).await;
        attempts += 1;
        let (answer, _socket) = join_raw(a.ws_url(), &token).await?;
        if answer["type"] == "joined" {
            break;
        }
        ensure!(
            answer["code"] == "session_unavailable",
            "only `session_unavailable` while the owner's lease runs: {answer}"
        );
        ensure!(
            died.elapsed() < Duration::from_secs(10),
            "still not seated 10 s after the owner died: {answer}"
        );
    }
    let after = died.elapsed();
    ensure!(
        after < Duration::from_secs(10),
        "seated {after:?} after the owner died"
    );
    eprintln!("owner died: seated on the other node {after:?} later, on attempt {attempts}");
    Ok(())
}

/// A room of its own on B, with its host connected to B: the room's name and the host.
async fn orphaned_room(cluster: &Cluster) -> Result<(String, Bystander)> {
    wait_until_empty(cluster).await?;
    for n in 0..6 {
        let room = format!("placement-orphan-{n}");
        let token = cluster
            .a()
            .mint(&TokenRequest::new(&room, "orphan-host", "mediator"))
            .await?;
        let host = Bystander::join(&cluster.b.ws_url(), &token, None, "host").await?;
        if cluster
            .b
            .metric("accord_participants")
            .await?
            .unwrap_or(0.0)
            > 0.0
        {
            return Ok((room, host));
        }
        host.send(ClientFrame::Leave).await?;
        wait_until_empty(cluster).await?;
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    bail!("no room was placed on B in six tries")
}

/// A WHIP publisher through A and a WHEP viewer through B: the viewer gets the publisher's
/// media, and the viewer's resource is hung up through the other node.
async fn whip_through_one_node_is_watched_through_the_other(cluster: &Cluster) -> Result<()> {
    let room = "placement-broadcast";
    wait_until_empty(cluster).await?;
    let mint = |identity: &str| {
        let request = TokenRequest::new(room, identity, "guest");
        async move { cluster.a().mint(&request).await }
    };
    let publisher = WhipPublisher::offer(true, VideoPublish::Single(VideoSize::Quarter), 8).await?;
    let publisher_token = mint("whip-publisher").await?;
    let through_a = WhipHttp::new(&cluster.a().http_url())?;
    let created = through_a
        .post_offer("/whip", &publisher_token, publisher.offer_sdp())
        .await?;
    let published = expect_created(&created, "whip")?;
    publisher.accept(&created).await?;
    publisher.wait_connected(CONNECT_TIMEOUT).await?;

    let viewer = WhepViewer::offer().await?;
    let viewer_token = mint("whep-viewer").await?;
    let through_b = WhipHttp::new(&cluster.b.http_url())?;
    let answered = through_b
        .post_offer("/whep", &viewer_token, viewer.offer_sdp())
        .await?;
    let resource = expect_created(&answered, "whep")?;
    viewer.accept(&answered).await?;
    viewer.wait_connected(CONNECT_TIMEOUT).await?;
    let exp = MediaExpectation::default();
    viewer
        .wait_for_media(PayloadKind::Vp8, exp.video_packets, exp.timeout)
        .await?;
    viewer
        .wait_for_media(PayloadKind::Opus, exp.audio_packets, exp.timeout)
        .await?;
    let checked = viewer.check_payloads(publisher.ledger())?;
    eprintln!("WHIP through A, WHEP through B: {checked} payloads the publisher sent arrived");
    // The resource id names its node: a DELETE through A reaches it wherever it is.
    let hung_up = through_a.delete(&resource, &viewer_token).await?;
    ensure!(
        hung_up.status == 200,
        "DELETE {resource} through A: {} {}",
        hung_up.status,
        hung_up.body
    );
    let again = through_b.delete(&resource, &viewer_token).await?;
    ensure!(
        again.status == 404,
        "the resource is gone: {}",
        again.status
    );
    // And the publisher's, created through A, is hung up through B.
    let hung_up = through_b.delete(&published, &publisher_token).await?;
    ensure!(
        hung_up.status == 200,
        "DELETE {published} through B: {} {}",
        hung_up.status,
        hung_up.body
    );
    viewer.close().await?;
    publisher.close().await
}

/// Six rooms opened alternately through A and B, a second or two apart (each node reports
/// its load every lease/3): placement by load puts rooms on both.
async fn rooms_spread_across_both_nodes(cluster: &Cluster) -> Result<()> {
    wait_until_empty(cluster).await?;
    let mut seats = Vec::new();
    for n in 0..6 {
        let through = if n % 2 == 0 { cluster.a() } else { &cluster.b };
        let room = format!("placement-spread-{n}");
        let token = cluster
            .a()
            .mint(&TokenRequest::new(&room, &format!("host-{n}"), "mediator"))
            .await?;
        seats.push(Bystander::join(&through.ws_url(), &token, None, "host").await?);
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let on_a = cluster.a().metric("accord_rooms").await?.unwrap_or(0.0);
    let on_b = cluster.b.metric("accord_rooms").await?.unwrap_or(0.0);
    eprintln!(
        "placement: 6 rooms opened alternately through A and B; A owns {on_a}, B owns {on_b}"
    );
    ensure!(
        on_a + on_b == 6.0,
        "every room is on exactly one node: A {on_a} + B {on_b}"
    );
    ensure!(
        on_a >= 1.0 && on_b >= 1.0,
        "rooms spread across both nodes: A {on_a}, B {on_b}"
    );
    for seat in seats {
        seat.send(ClientFrame::Leave).await?;
    }
    Ok(())
}

/// Waits until neither node seats anyone, so the next room's owner can be read from the
/// metrics (seats of earlier steps go once their sockets have closed).
async fn wait_until_empty(cluster: &Cluster) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let a = cluster
            .a()
            .metric("accord_participants")
            .await?
            .unwrap_or(0.0);
        let b = cluster
            .b
            .metric("accord_participants")
            .await?
            .unwrap_or(0.0);
        if a == 0.0 && b == 0.0 {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("seats of an earlier step are still there: A {a}, B {b}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
