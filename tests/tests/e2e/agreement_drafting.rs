//! Drafting an agreement over the session socket against the real binary: acknowledged edits
//! survive a SIGKILL, concurrent and offline editors converge with every follower and the
//! server, parties cannot edit, and bad or excessive drafting frames are refused while the
//! socket stays usable.

use std::collections::HashSet;
use std::time::Duration;

use accord_tests::TestServer;
use accord_tests::agreement::{
    DraftDoc, DraftSeat, UPDATE_GAP, b64_encode, co_mediator_token, create_agreement, join_party,
    numbered_clauses, server_doc,
};
use accord_tests::case_world::PASSWORD;
use accord_tests::protocol::{ClientFrame, ServerFrame};
use accord_tests::session_world::{APPLICANT, SessionWorld};
use accord_tests::staff_api::StaffApi;
use accord_tests::wait::wait_until;
use anyhow::{Context, Result, bail, ensure};
use reqwest::StatusCode;
use serde_json::json;

const MAIN: &str = "main";
const SETTLE: Duration = Duration::from_secs(15);

/// Pipelined single edits, SIGKILL once at least this many were acknowledged.
const CRASH_EDITS: usize = 200;
const ACKS_BEFORE_KILL: usize = 80;

#[tokio::test]
async fn acknowledged_edits_survive_a_kill_in_the_middle_of_a_burst() -> Result<()> {
    // Killed and restarted on its folder: about one process.
    let world = SessionWorld::new_with_env(&[accord_tests::ONE_PROCESS]).await?;
    let agreement = create_agreement(&world).await?;
    let mediator =
        DraftSeat::join(&world.ws_url(), &world.mediator_token, None, "mediator").await?;
    let local = DraftDoc::new(7_001);
    mediator.open(&agreement, MAIN, &local).await?;
    let clauses = numbered_clauses(&local)?;
    ensure!(!clauses.is_empty(), "the template has numbered clauses");

    let secret = world.world.server.token_secret().to_owned();
    let mut server = Some(world.world.server);
    let mut kill = None;
    // (request id, clause, marker) of every edit that left this client.
    let mut sent = Vec::new();
    for i in 0..CRASH_EDITS {
        let clause = &clauses[i % clauses.len()];
        // A CJK character in every marker: positions are UTF-16 on both sides.
        let marker = format!("[e{i:03}调]");
        let update = local.insert(clause, None, &marker)?;
        let request_id = format!("e{i:03}");
        if mediator
            .update(&agreement, MAIN, &update, &request_id)
            .await
            .is_err()
        {
            break;
        }
        sent.push((request_id, clause.clone(), marker));
        if kill.is_none() {
            if mediator.acks().len() >= ACKS_BEFORE_KILL {
                // From here on the rest go out as fast as the socket takes them, so the
                // kill lands with edits queued, half-applied and being stored.
                let server = server.take().context("the server")?;
                kill = Some(tokio::spawn(server.kill_hard()));
            } else {
                tokio::time::sleep(UPDATE_GAP).await;
            }
        }
    }
    let data_dir = match kill {
        Some(kill) => kill.await??,
        None => bail!(
            "only {} of {} edits were acknowledged; frames: {:?}",
            mediator.acks().len(),
            sent.len(),
            mediator.frames()
        ),
    };
    // Nothing more can arrive: the server is gone.
    let acks = mediator.acks();
    let refused: Vec<_> = sent
        .iter()
        .filter_map(|(id, _, _)| mediator.error_for(id).map(|e| (id.clone(), e.code)))
        .collect();
    let in_flight = sent.len() - acks.len() - refused.len();

    let data = data_dir.to_string_lossy().into_owned();
    let server = TestServer::start_with_args(
        &[
            ("ACCORD_DATA_DIR", data.as_str()),
            ("ACCORD_AUTH_TOKEN_SECRET", secret.as_str()),
        ],
        &[],
    )
    .await?;
    let api = StaffApi::new(server.http_url());
    let staff = api.login("li", PASSWORD).await?;
    let (stored, seq) = server_doc(&api, &staff, &agreement, MAIN)
        .await
        .context("the draft after the restart")?;
    let mut present = 0;
    let mut lost = Vec::new();
    for (id, clause, marker) in &sent {
        let there = stored.clause_text(clause)?.contains(marker.as_str());
        present += usize::from(there);
        if acks.contains_key(id) && !there {
            lost.push(id.clone());
        }
    }
    eprintln!(
        "crash: sent {}, acknowledged {}, refused {} ({:?}), in flight at the kill {}, \
         present after the restart {present}, stored seq {seq}",
        sent.len(),
        acks.len(),
        refused.len(),
        refused
            .iter()
            .map(|(_, code)| code.as_str())
            .collect::<HashSet<_>>(),
        in_flight,
    );
    ensure!(
        lost.is_empty(),
        "acknowledged edits missing after the restart: {lost:?}"
    );
    let max_acked = acks.values().copied().max().unwrap_or(0);
    ensure!(
        seq >= max_acked,
        "the stored sequence {seq} is behind the acknowledged {max_acked}"
    );
    // Acknowledgements carry distinct, rising numbers in the order the edits were sent.
    let seqs: Vec<i64> = sent
        .iter()
        .filter_map(|(id, _, _)| acks.get(id).copied())
        .collect();
    ensure!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "acknowledged sequence numbers out of order: {seqs:?}"
    );
    // The document after the restart goes on: one more edit over the socket of a new seat.
    let started = api
        .post(
            &format!("/api/v1/sessions/{}/start", world.session_id),
            json!({}),
            &staff,
        )
        .await?
        .expect(StatusCode::OK)?;
    let again =
        DraftSeat::join(&server.ws_url(), &started.text("token")?, None, "mediator").await?;
    let fresh = DraftDoc::new(7_002);
    again.open(&agreement, MAIN, &fresh).await?;
    ensure!(
        fresh.clauses()? == stored.clauses()?,
        "the socket and the HTTP route load different documents after the restart"
    );
    let update = fresh.insert(&clauses[0], Some(0), "[after]")?;
    again.update(&agreement, MAIN, &update, "after").await?;
    let answer = again.answer("after").await?;
    ensure!(
        answer.is_ok(),
        "an edit after the restart was refused: {answer:?}"
    );
    server.stop().await
}

/// Where editor `who` (0 or 1) puts its `i`th insert in a text `len` long: both at the start
/// every few edits (the same position, concurrently), otherwise apart.
fn position(who: usize, i: usize, len: u32) -> Option<u32> {
    match (who, i % 3) {
        (_, 0) => Some(0),
        (0, 1) => Some(len / 2),
        (0, _) => None,
        (_, 1) => None,
        _ => Some(len / 3),
    }
}

#[tokio::test]
async fn concurrent_and_offline_editors_converge_and_a_party_cannot_edit() -> Result<()> {
    let world = SessionWorld::new().await?;
    let agreement = create_agreement(&world).await?;
    let url = world.ws_url();
    let a = DraftSeat::join(&url, &world.mediator_token, None, "mediator A").await?;
    let b_token = co_mediator_token(&world, "zhou").await?;
    let b = DraftSeat::join(&url, &b_token, None, "mediator B").await?;
    let party = join_party(&world, &a, APPLICANT).await?;
    let (doc_a, doc_b, doc_p) = (DraftDoc::new(11), DraftDoc::new(12), DraftDoc::new(13));
    a.open(&agreement, MAIN, &doc_a).await?;
    b.open(&agreement, MAIN, &doc_b).await?;
    party.open(&agreement, MAIN, &doc_p).await?;
    let clause = numbered_clauses(&doc_a)?
        .first()
        .cloned()
        .context("a numbered clause")?;
    let start_len = doc_a.clause_text(&clause)?.chars().count();
    let mut inserted = 0;

    // 50 edits each into the same clause, interleaved; each editor takes in the other's
    // changes only every fourth round, so most edits are made on a stale copy.
    for i in 0..50 {
        if i % 4 == 0 {
            a.catch_up(&doc_a)?;
            b.catch_up(&doc_b)?;
        }
        let (mark_a, mark_b) = (format!("<A{i}>"), format!("<B{i}·乙>"));
        let ua = doc_a.insert(&clause, position(0, i, doc_a.clause_len(&clause)?), &mark_a)?;
        let ub = doc_b.insert(&clause, position(1, i, doc_b.clause_len(&clause)?), &mark_b)?;
        inserted += mark_a.chars().count() + mark_b.chars().count();
        a.update(&agreement, MAIN, &ua, &format!("a{i}")).await?;
        b.update(&agreement, MAIN, &ub, &format!("b{i}")).await?;
        tokio::time::sleep(UPDATE_GAP).await;
    }
    for (seat, prefix) in [(&a, "a"), (&b, "b")] {
        for i in 0..50 {
            let answer = seat.answer(&format!("{prefix}{i}")).await?;
            ensure!(answer.is_ok(), "edit {prefix}{i} was refused: {answer:?}");
        }
    }

    // The party tries to edit, from a copy of its document so its own copy stays true.
    let attempt = DraftDoc::new(14);
    attempt.apply(&doc_p.full_update())?;
    let forged = attempt.insert(&clause, Some(0), "甲方放弃全部请求")?;
    party
        .update(&agreement, MAIN, &forged, "party-edit")
        .await?;
    match party.answer("party-edit").await? {
        Err(e) if e.code == "draft_rejected" => {}
        other => bail!("a party's draft_update was answered {other:?}"),
    }

    // B loses its network and writes 20 edits offline while A writes 10 more.
    b.catch_up(&doc_b)?;
    let resume = b.drop_socket();
    for i in 0..20 {
        let mark = format!("<b{i}离线>");
        doc_b.insert(&clause, position(1, i, doc_b.clause_len(&clause)?), &mark)?;
        inserted += mark.chars().count();
    }
    for i in 50..60 {
        a.catch_up(&doc_a)?;
        let mark = format!("<A{i}>");
        let ua = doc_a.insert(&clause, position(0, i, doc_a.clause_len(&clause)?), &mark)?;
        inserted += mark.chars().count();
        a.update(&agreement, MAIN, &ua, &format!("a{i}")).await?;
        tokio::time::sleep(UPDATE_GAP).await;
    }
    for i in 50..60 {
        let answer = a.answer(&format!("a{i}")).await?;
        ensure!(answer.is_ok(), "edit a{i} was refused: {answer:?}");
    }

    // B comes back: takes its seat back, loads what it lacks and sends what the server lacks.
    let b = match DraftSeat::join(&url, &b_token, Some(&resume), "mediator B again").await {
        Ok(seat) => seat,
        Err(e) => {
            eprintln!("convergence: resuming B's seat failed ({e:#}); joining afresh");
            DraftSeat::join(&url, &b_token, None, "mediator B again").await?
        }
    };
    let (server_sv, _) = b.open(&agreement, MAIN, &doc_b).await?;
    let offline = doc_b.diff(&server_sv)?;
    b.update(&agreement, MAIN, &offline, "b-offline").await?;
    let answer = b.answer("b-offline").await?;
    ensure!(answer.is_ok(), "B's offline edits were refused: {answer:?}");

    let api = &world.world.api;
    let (stored, seq) = server_doc(api, &world.world.mediator_a, &agreement, MAIN).await?;
    let expected = stored.clauses()?;
    let stored_text = stored.clause_text(&clause)?;
    ensure!(
        stored_text.chars().count() == start_len + inserted,
        "the server's clause holds {} characters, not {} + {inserted}: {stored_text}",
        stored_text.chars().count(),
        start_len
    );
    ensure!(
        !stored_text.contains("甲方放弃全部请求"),
        "the party's edit reached the document"
    );
    wait_until(
        SETTLE,
        "every client to hold the server's document",
        || {
            a.catch_up(&doc_a)?;
            b.catch_up(&doc_b)?;
            party.catch_up(&doc_p)?;
            let same = [&doc_a, &doc_b, &doc_p]
                .iter()
                .map(|d| Ok(d.clauses()? == expected && d.title() == stored.title()))
                .collect::<Result<Vec<bool>>>()?;
            Ok(same.iter().all(|s| *s).then_some(()))
        },
        || {
            let text = |d: &DraftDoc| d.clause_text(&clause).unwrap_or_default();
            format!(
                "server (seq {seq}): {stored_text}\nA: {}\nB: {}\nparty: {}",
                text(&doc_a),
                text(&doc_b),
                text(&doc_p)
            )
        },
    )
    .await?;
    // Byte-equal, not just equal as strings of the same characters.
    for d in [&doc_a, &doc_b, &doc_p] {
        ensure!(d.clause_text(&clause)?.as_bytes() == stored_text.as_bytes());
    }
    eprintln!(
        "convergence: {} edits by A, 50 + 20 offline by B, clause of {} characters, seq {seq}",
        60,
        stored_text.chars().count()
    );
    world.world.server.stop().await
}

#[tokio::test]
async fn bad_updates_and_typing_floods_are_refused_and_the_socket_stays_usable() -> Result<()> {
    let world = SessionWorld::new().await?;
    let agreement = create_agreement(&world).await?;
    let mediator =
        DraftSeat::join(&world.ws_url(), &world.mediator_token, None, "mediator").await?;
    let local = DraftDoc::new(21);
    mediator.open(&agreement, MAIN, &local).await?;
    let clause = numbered_clauses(&local)?
        .first()
        .cloned()
        .context("a numbered clause")?;

    let garbage = ClientFrame::DraftUpdate {
        agreement_id: agreement.clone(),
        doc: MAIN.to_owned(),
        update: "这不是base64!!".to_owned(),
    };
    mediator.send(&garbage, Some("garbage")).await?;
    let not_yjs = b64_encode(b"a perfectly good base64 text that is no Yjs update");
    let not_yjs = ClientFrame::DraftUpdate {
        agreement_id: agreement.clone(),
        doc: MAIN.to_owned(),
        update: not_yjs,
    };
    mediator.send(&not_yjs, Some("not-yjs")).await?;
    // A well-formed Yjs update outside the document model, from a scratch copy.
    let scratch = DraftDoc::new(22);
    scratch.apply(&local.full_update())?;
    let foreign = scratch.foreign_root_update("evil");
    mediator
        .update(&agreement, MAIN, &foreign, "foreign")
        .await?;
    for id in ["garbage", "not-yjs", "foreign"] {
        match mediator.answer(id).await? {
            Err(e) if e.code == "draft_rejected" && !e.fatal => {}
            other => bail!("`{id}` was answered {other:?}"),
        }
    }
    // Still usable: a real edit is stored.
    let update = local.insert(&clause, None, "（补充）")?;
    mediator.update(&agreement, MAIN, &update, "good").await?;
    let answer = mediator.answer("good").await?;
    ensure!(answer.is_ok(), "a good edit after bad ones: {answer:?}");

    // An update over 64 KiB decoded, over HTTP (the case page's route): 422 on `update`.
    let big = scratch.insert(&clause, None, &"长".repeat(30_000))?;
    ensure!(
        big.len() > 64 * 1024,
        "the big update is {} bytes",
        big.len()
    );
    let answer = world
        .world
        .api
        .post(
            &format!("/api/v1/agreements/{agreement}/draft"),
            json!({"doc": MAIN, "update": b64_encode(&big)}),
            &world.world.mediator_a,
        )
        .await?;
    ensure!(
        answer.status == StatusCode::UNPROCESSABLE_ENTITY,
        "a {} byte update over HTTP: {} {}",
        big.len(),
        answer.status,
        answer.body
    );

    // Typing notices beyond the limit are refused with `rate_limited`, the socket kept.
    for i in 0..20 {
        let typing = ClientFrame::DraftTyping {
            agreement_id: agreement.clone(),
            doc: MAIN.to_owned(),
            clause_id: clause.clone(),
        };
        mediator.send(&typing, Some(&format!("typing-{i}"))).await?;
    }
    mediator
        .wait_for(
            "rate_limited",
            SETTLE,
            |f| matches!(f, ServerFrame::Error(e) if e.code == "rate_limited" && !e.fatal),
        )
        .await?;
    mediator
        .send(&ClientFrame::Ping, Some("still-there"))
        .await?;
    mediator
        .wait_for("pong", SETTLE, |f| {
            matches!(f, ServerFrame::Pong { request_id } if request_id.as_deref() == Some("still-there"))
        })
        .await?;
    ensure!(!mediator.is_closed(), "the socket was closed");
    world.world.server.stop().await
}

/// Sends a valid update of `chars` CJK characters inserted into a clause over the socket and
/// returns how it was answered, whether the socket survived, and the update's decoded size.
async fn send_large(chars: usize) -> Result<(String, bool, usize)> {
    let world = SessionWorld::new().await?;
    let agreement = create_agreement(&world).await?;
    let mediator =
        DraftSeat::join(&world.ws_url(), &world.mediator_token, None, "mediator").await?;
    let local = DraftDoc::new(31);
    mediator.open(&agreement, MAIN, &local).await?;
    let clause = numbered_clauses(&local)?
        .first()
        .cloned()
        .context("a numbered clause")?;
    let update = local.insert(&clause, None, &"长".repeat(chars))?;
    let size = update.len();
    mediator.update(&agreement, MAIN, &update, "large").await?;
    let answer = mediator
        .wait_for("an answer to the large update", SETTLE, |f| match f {
            ServerFrame::DraftAck { request_id, .. } => request_id.as_deref() == Some("large"),
            ServerFrame::Error(_) => true,
            _ => false,
        })
        .await?;
    let answered = match answer {
        ServerFrame::DraftAck { seq, .. } => format!("draft_ack seq {seq}"),
        ServerFrame::Error(e) => format!("error {} (fatal {}): {}", e.code, e.fatal, e.message),
        other => format!("{other:?}"),
    };
    // A closed socket fails the send; that is an answer here, not an error of the test.
    let alive = mediator
        .send(&ClientFrame::Ping, Some("after-large"))
        .await
        .is_ok()
        && mediator
        .wait_for("pong", Duration::from_secs(5), |f| {
            matches!(f, ServerFrame::Pong { request_id } if request_id.as_deref() == Some("after-large"))
        })
        .await
        .is_ok()
        && !mediator.is_closed();
    world.world.server.stop().await?;
    Ok((answered, alive, size))
}

#[tokio::test]
async fn an_update_within_the_documented_limit_is_stored_over_the_socket() -> Result<()> {
    // 18 000 CJK characters: about 54 KiB decoded, under the 64 KiB a document update may
    // be (and the HTTP route takes), but about 72 KiB in base64: over the 64 KiB frame.
    let (answered, alive, size) = send_large(18_000).await?;
    eprintln!("large update: {size} bytes decoded -> {answered}; socket usable: {alive}");
    ensure!(size <= 64 * 1024, "the update is {size} bytes");
    ensure!(
        answered.starts_with("draft_ack") && alive,
        "a {size} byte update (within the 64 KiB update limit) over the socket: {answered}; \
         socket usable afterwards: {alive}"
    );
    Ok(())
}

#[tokio::test]
async fn an_update_over_the_limit_is_refused_and_the_socket_stays_usable() -> Result<()> {
    let (answered, alive, size) = send_large(30_000).await?;
    eprintln!("oversized update: {size} bytes decoded -> {answered}; socket usable: {alive}");
    ensure!(size > 64 * 1024, "the update is {size} bytes");
    ensure!(
        answered.starts_with("error") && alive,
        "a {size} byte update over the socket: {answered}; socket usable afterwards: {alive}"
    );
    Ok(())
}

#[tokio::test]
async fn a_private_draft_reaches_only_the_side_it_is_shown_to() -> Result<()> {
    let world = SessionWorld::new().await?;
    let agreement = create_agreement(&world).await?;
    let api = &world.world.api;
    let staff = &world.world.mediator_a;
    let mediator =
        DraftSeat::join(&world.ws_url(), &world.mediator_token, None, "mediator").await?;
    let party = join_party(&world, &mediator, APPLICANT).await?;
    let main_before = DraftDoc::new(41);
    party.open(&agreement, MAIN, &main_before).await?;
    let private = api
        .post(
            &format!("/api/v1/agreements/{agreement}/private-drafts"),
            json!({}),
            staff,
        )
        .await?
        .expect(StatusCode::CREATED)?
        .text("doc")?;

    // Not shown to anyone: the applicant cannot follow it.
    let hidden = DraftDoc::new(42);
    let open = ClientFrame::DraftOpen {
        agreement_id: agreement.clone(),
        doc: private.clone(),
        state_vector: hidden.state_vector_b64(),
    };
    party.send(&open, Some("peek")).await?;
    match party.answer("peek").await? {
        Err(e) if e.code == "draft_rejected" => {}
        other => bail!("the applicant opened an unshown private draft: {other:?}"),
    }

    // The mediator writes in it; shown to the respondent, the applicant still sees nothing.
    let own = DraftDoc::new(43);
    mediator.open(&agreement, &private, &own).await?;
    let clause = numbered_clauses(&own)?
        .first()
        .cloned()
        .context("a numbered clause")?;
    let update = own.insert(&clause, Some(0), "【私下方案】")?;
    mediator
        .update(&agreement, &private, &update, "private-edit")
        .await?;
    let answer = mediator.answer("private-edit").await?;
    ensure!(answer.is_ok(), "the private edit: {answer:?}");
    api.post(
        &format!("/api/v1/agreements/{agreement}/private-drafts/{private}/show"),
        json!({"side": "respondent"}),
        staff,
    )
    .await?
    .expect(StatusCode::OK)?;
    party.send(&open, Some("peek-2")).await?;
    match party.answer("peek-2").await? {
        Err(e) if e.code == "draft_rejected" => {}
        other => bail!("the applicant opened the respondent's private draft: {other:?}"),
    }

    // Shown to the applicant: they load it with the mediator's words in it.
    api.post(
        &format!("/api/v1/agreements/{agreement}/private-drafts/{private}/show"),
        json!({"side": "applicant"}),
        staff,
    )
    .await?
    .expect(StatusCode::OK)?;
    let shown = DraftDoc::new(44);
    party.open(&agreement, &private, &shown).await?;
    ensure!(
        shown.clause_text(&clause)?.starts_with("【私下方案】"),
        "the private draft as the applicant loads it: {}",
        shown.clause_text(&clause)?
    );
    // Nothing of it reached the shared text or the applicant's copy of it.
    let (main_now, _) = server_doc(api, staff, &agreement, MAIN).await?;
    party.catch_up(&main_before)?;
    ensure!(
        !main_now.clause_text(&clause)?.contains("私下方案")
            && !main_before.clause_text(&clause)?.contains("私下方案"),
        "the private edit leaked into the main document"
    );
    let leaked = party
        .frames()
        .iter()
        .any(|f| matches!(f, ServerFrame::DraftChanged { doc, .. } if doc == &private));
    ensure!(
        !leaked,
        "the applicant got draft_changed of a private draft before it was shown to them"
    );
    world.world.server.stop().await
}
