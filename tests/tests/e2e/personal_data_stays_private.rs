//! Personal data stays where it belongs: no log line of a whole session carries a token, a
//! link, a name, a phone or an ID number; phones are sealed in the database (whose files only
//! the server's user can read) and shown in full only to the case's mediator; hostile input
//! (multi-byte ID numbers, a forged `Host`, long request ids, right-to-left overrides in file
//! names, password guessing) gets a clear answer instead of a panic or a trap.

use std::time::Duration;

use accord_tests::case_world::{CaseWorld, ID_NUMBER, PASSWORD, PHONE, id_of, tiny_png};
use accord_tests::protocol::{ClientFrame, ServerFrame};
use accord_tests::session_world::{
    APPLICANT, APPLICANT_LAWYER, LATECOMER, RESPONDENT, RESPONDENT_INTERPRETER, SessionWorld,
    join_admitted,
};
use accord_tests::{Bystander, TestServer};
use anyhow::{Context, Result, ensure};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);
/// An ID number of 18 bytes whose 17th byte is inside a character.
const MULTI_BYTE_ID: &str = "1234567890123456é";
const CHAT: &str = "我方愿意赔偿两千元，请转告对方";

/// Every place in `log` where one of `secrets` appears, by what it is.
fn leaks(log: &str, secrets: &[(String, String)]) -> Vec<String> {
    secrets
        .iter()
        .filter(|(_, value)| !value.is_empty() && log.contains(value.as_str()))
        .map(|(what, _)| what.clone())
        .collect()
}

#[tokio::test]
async fn a_whole_session_leaves_no_token_name_phone_or_id_number_in_the_log() -> Result<()> {
    let world = SessionWorld::new().await?;
    let api = &world.world.api;
    let mediator_token = &world.world.mediator_a;
    let detail = api
        .get(&format!("/api/v1/cases/{}", world.case_id), mediator_token)
        .await?
        .expect(StatusCode::OK)?
        .body;
    let mut secrets = vec![
        ("the case title".to_owned(), "楼上漏水纠纷".to_owned()),
        (
            "the case number".to_owned(),
            id_of(&detail, "/case/number")?,
        ),
        ("the ID number".to_owned(), ID_NUMBER.to_owned()),
        ("the applicant's phone".to_owned(), PHONE.to_owned()),
        (
            "the respondent's phone".to_owned(),
            "13900139000".to_owned(),
        ),
        ("the latecomer's phone".to_owned(), "13700137000".to_owned()),
        (
            "the mediator's join token".to_owned(),
            world.mediator_token.clone(),
        ),
        ("a chat message".to_owned(), CHAT.to_owned()),
    ];
    for name in [
        APPLICANT,
        APPLICANT_LAWYER,
        RESPONDENT,
        RESPONDENT_INTERPRETER,
        LATECOMER,
    ] {
        secrets.push((format!("the name {name}"), name.to_owned()));
        secrets.push((
            format!("the join token of {name}"),
            world.token(name)?.to_owned(),
        ));
    }

    // Every invite goes out through the default channel, the log.
    for (name, party_id) in &world.party_ids {
        let invite = api
            .post(
                &format!("/api/v1/sessions/{}/invites", world.session_id),
                json!({"party_id": party_id}),
                mediator_token,
            )
            .await?
            .expect(StatusCode::CREATED)?;
        let link = invite.text("link")?;
        let token = link.split("#token=").nth(1).context("a token")?.to_owned();
        secrets.push((format!("the invite link of {name}"), link));
        secrets.push((format!("the new join token of {name}"), token));
        let invite_id = invite.text("id")?;
        let answer = api
            .post(
                &format!("/api/v1/invites/{invite_id}/send"),
                json!({}),
                mediator_token,
            )
            .await?;
        // Helpers have no phone on record: staff copy their message instead.
        ensure!(
            answer.status == StatusCode::ACCEPTED || answer.status == StatusCode::CONFLICT,
            "{answer:?}"
        );
    }

    // The session runs: everyone joins with their own token, talks, leaves.
    let mediator =
        Bystander::join(&world.ws_url(), &world.mediator_token, None, "mediator").await?;
    let applicant = join_admitted(&world, &mediator, APPLICANT).await?;
    let respondent = join_admitted(&world, &mediator, RESPONDENT).await?;
    applicant
        .send(ClientFrame::Chat { text: CHAT.into() })
        .await?;
    respondent
        .wait_for_frame("the chat message", WAIT, |f| {
            matches!(f, ServerFrame::Chat { .. })
        })
        .await?;
    mediator.send(ClientFrame::EndSession).await?;
    applicant
        .wait_for_frame("the end", WAIT, |f| matches!(f, ServerFrame::Left { .. }))
        .await?;
    drop((applicant, respondent, mediator));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let log = std::fs::read_to_string(world.world.server.log_path())?;
    ensure!(
        log.contains("session_invite"),
        "the log channel wrote nothing about the invites:\n{log}"
    );
    let found = leaks(&log, &secrets);
    ensure!(found.is_empty(), "the log holds {found:?}:\n{log}");
    world.world.server.stop().await
}

/// The bytes of the SQLite database and its WAL.
fn database_bytes(server: &TestServer) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    for file in ["accord.db", "accord.db-wal"] {
        let path = server.data_dir().join(file);
        if path.exists() {
            bytes.extend(std::fs::read(&path)?);
        }
    }
    Ok(bytes)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The phone of the party named `name` in a case detail.
fn phone_of(detail: &Value, name: &str) -> Result<String> {
    let party = detail["parties"]
        .as_array()
        .context("parties")?
        .iter()
        .find(|p| p["name"] == name)
        .with_context(|| format!("no {name} in {detail}"))?;
    Ok(party["phone"].as_str().unwrap_or_default().to_owned())
}

/// The applicant's phone as `token`'s bearer sees it.
async fn seen(world: &CaseWorld, case: &str, token: &str) -> Result<String> {
    let answer = world
        .api
        .get(&format!("/api/v1/cases/{case}"), token)
        .await?
        .expect(StatusCode::OK)?;
    phone_of(&answer.body, "张三")
}

#[tokio::test]
async fn phones_are_sealed_at_rest_and_shown_in_full_to_the_cases_mediator_only() -> Result<()> {
    // Reads the SQLite file itself.
    let world = CaseWorld::new_with_env(&[accord_tests::ONE_PROCESS]).await?;
    let api = &world.api;
    let detail = world.case("楼上漏水纠纷").await?;
    let case = id_of(&detail, "/case/id")?;
    if detail["case"]["mediator_id"] != json!(world.mediator_a_id) {
        api.post(
            &format!("/api/v1/cases/{case}/assign"),
            json!({"mediator_id": world.mediator_a_id}),
            &world.admin,
        )
        .await?
        .expect(StatusCode::OK)?;
    }
    // Sent to the court for confirmation, so that its court users see it.
    for status in [
        "in_mediation",
        "agreement_reached",
        "signed",
        "confirmation_requested",
    ] {
        api.post(
            &format!("/api/v1/cases/{case}/status"),
            json!({"status": status}),
            &world.mediator_a,
        )
        .await?
        .expect(StatusCode::OK)?;
    }
    // A second mediator of the same organisation, not on this case.
    let org = id_of(&detail, "/case/organisation_id")?;
    api.post(
        "/api/v1/staff",
        json!({"username": "zhou", "display_name": "周调解员", "password": PASSWORD,
               "role": "mediator", "organisation_id": org}),
        &world.admin,
    )
    .await?
    .expect(StatusCode::CREATED)?;
    let colleague = api.login("zhou", PASSWORD).await?;

    ensure!(seen(&world, &case, &world.mediator_a).await? == PHONE);
    for (who, token) in [
        ("an administrator", world.admin.clone()),
        ("a mediator not on the case", colleague),
        ("a court user", world.court.clone()),
    ] {
        let phone = seen(&world, &case, &token).await?;
        ensure!(phone == "138****8000", "{who} saw the phone as {phone:?}");
    }

    let bytes = database_bytes(&world.server)?;
    ensure!(bytes.len() > 4096, "no database found");
    for phone in [PHONE, "13900139000"] {
        ensure!(
            !contains(&bytes, phone),
            "the database holds {phone} in clear"
        );
    }
    #[cfg(unix)]
    for file in ["accord.db", "accord.db-wal", "accord.db-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let path = world.server.data_dir().join(file);
        let mode = std::fs::metadata(&path)
            .with_context(|| format!("{}", path.display()))?
            .permissions()
            .mode();
        ensure!(mode & 0o777 == 0o600, "{file} has mode {:o}", mode & 0o777);
    }
    world.server.stop().await
}

#[tokio::test]
async fn a_multi_byte_id_number_is_refused_with_422_and_never_logged() -> Result<()> {
    let world = CaseWorld::new().await?;
    let form = reqwest::multipart::Form::new().text(
        "application",
        json!({
            "applicant": {"name": "张三", "phone": PHONE, "id_number": MULTI_BYTE_ID},
            "respondent": {"name": "李四", "phone": "13900139000"},
            "region": "新安街道", "category": "neighbours",
            "facts": "楼上漏水三个月。", "claims": "维修漏水。"
        })
        .to_string(),
    );
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v1/intake", world.server.http_url()))
        .header("Idempotency-Key", "multi-byte-id-0001")
        .multipart(form)
        .send()
        .await
        .context("the intake answer")?;
    ensure!(
        answer.status() == StatusCode::UNPROCESSABLE_ENTITY,
        "{answer:?}"
    );
    let body: Value = answer.json().await?;
    ensure!(
        body["code"].is_string() && body.to_string().contains("applicant.id_number"),
        "{body}"
    );

    let staff_form = world
        .api
        .post(
            "/api/v1/cases",
            json!({
                "category": "neighbours", "risk": "yellow", "title": "漏水",
                "facts": "楼上漏水。", "claims": "维修。",
                "parties": [
                    {"side": "applicant", "kind": "person", "name": "张三", "id_number": MULTI_BYTE_ID},
                    {"side": "respondent", "kind": "person", "name": "李四"}
                ]
            }),
            &world.mediator_a,
        )
        .await?
        .expect(StatusCode::UNPROCESSABLE_ENTITY)?;
    ensure!(
        staff_form.field_names() == ["parties[0].id_number"],
        "{:?}",
        staff_form.body
    );

    // Still serving.
    world
        .api
        .get("/api/v1/auth/me", &world.mediator_a)
        .await?
        .expect(StatusCode::OK)?;
    let log = std::fs::read_to_string(world.server.log_path())?;
    ensure!(
        !log.contains("1234567890123456"),
        "the value is in the log:\n{log}"
    );
    world.server.stop().await
}

#[tokio::test]
async fn invite_links_ignore_the_host_header() -> Result<()> {
    let world = CaseWorld::new().await?;
    let detail = world.case("楼上漏水纠纷").await?;
    let case = id_of(&detail, "/case/id")?;
    let party = id_of(&detail, "/parties/0/id")?;
    let session = world.session(&case).await?;
    let invite = world
        .api
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{session}/invites"),
            Some(&json!({"party_id": party})),
            Some(&world.mediator_a),
            &[("host", "attacker.example"), ("x-forwarded-proto", "https")],
        )
        .await?
        .expect(StatusCode::CREATED)?;
    let link = invite.text("link")?;
    let expected = format!("{}/join#token=", world.server.http_url());
    ensure!(link.starts_with(&expected), "{link}");
    let message = invite.text("message")?;
    ensure!(!message.contains("attacker.example"), "{message}");
    world.server.stop().await
}

#[tokio::test]
async fn password_changes_stop_after_a_few_wrong_current_passwords() -> Result<()> {
    let world = CaseWorld::new().await?;
    let change = |current: &str| {
        let body = json!({"current_password": current, "new_password": "a brand new password"});
        let api = &world.api;
        let token = world.mediator_a.clone();
        async move {
            api.call(
                Method::POST,
                "/api/v1/auth/password",
                Some(&body),
                Some(&token),
                &[],
            )
            .await
        }
    };
    let mut statuses = Vec::new();
    for i in 0..12 {
        let answer = change(&format!("guess number {i}")).await?;
        statuses.push(answer.status.as_u16());
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            ensure!(answer.body["code"].is_string(), "{}", answer.body);
            break;
        }
        ensure!(
            answer.status == StatusCode::UNPROCESSABLE_ENTITY,
            "{statuses:?}"
        );
    }
    ensure!(
        statuses.last() == Some(&429) && statuses.len() <= 11,
        "{statuses:?}"
    );
    // Locked for now, even with the right password.
    let right = change(PASSWORD).await?;
    ensure!(right.status == StatusCode::TOO_MANY_REQUESTS, "{right:?}");
    world.server.stop().await
}

/// The next frame of `socket` that is not about the room (a `pong` or an `error`).
async fn next_answer<S>(socket: &mut S) -> Result<Value>
where
    S: StreamExt<Item = tokio_tungstenite::tungstenite::Result<Message>> + Unpin,
{
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .context("no answer")?
            .context("socket closed")??;
        if let Message::Text(text) = frame {
            let value: Value = serde_json::from_str(&text)?;
            if value["type"] == "pong" || value["type"] == "error" {
                return Ok(value);
            }
        }
    }
}

#[tokio::test]
async fn request_ids_beyond_64_characters_are_refused_not_echoed() -> Result<()> {
    let server = TestServer::start().await?;
    let token = server
        .mint_token("room-ids", "alice", "Alice", "party", false, true)
        .await?;
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url()).await?;
    let join = json!({"type": "join", "protocol": 1, "token": token});
    socket.send(Message::Text(join.to_string().into())).await?;
    let ping =
        |id: &str| Message::Text(json!({"type": "ping", "request_id": id}).to_string().into());

    let fits = "请".repeat(64);
    socket.send(ping(&fits)).await?;
    let answer = next_answer(&mut socket).await?;
    ensure!(
        answer["type"] == "pong" && answer["request_id"] == json!(fits),
        "{answer}"
    );
    let long = "x".repeat(65);
    socket.send(ping(&long)).await?;
    let answer = next_answer(&mut socket).await?;
    ensure!(
        answer["type"] == "error"
            && answer["code"] == "bad_json"
            && answer["fatal"] == false
            && answer.get("request_id").is_none(),
        "{answer}"
    );
    // The socket stays open.
    socket.send(ping("after")).await?;
    let answer = next_answer(&mut socket).await?;
    ensure!(answer["type"] == "pong", "{answer}");
    server.stop().await
}

#[tokio::test]
async fn evidence_names_lose_bidi_controls_and_id_numbers_are_masked_tightly() -> Result<()> {
    let world = CaseWorld::new().await?;
    let detail = world.case("楼上漏水纠纷").await?;
    let case = id_of(&detail, "/case/id")?;
    let masked = id_of(&detail, "/parties/0/id_number_masked")?;
    let shown: Vec<char> = masked.chars().filter(|c| *c != '*').collect();
    ensure!(
        masked.chars().count() == ID_NUMBER.chars().count()
            && ID_NUMBER.starts_with(masked.split('*').next().unwrap_or_default())
            && ID_NUMBER.ends_with(masked.rsplit('*').next().unwrap_or_default())
            && shown.len() < 10,
        "{masked}"
    );

    let stored = world
        .api
        .upload(
            &format!("/api/v1/cases/{case}/evidence"),
            "invoice\u{202E}gnp.exe",
            "image/png",
            tiny_png(),
            &world.mediator_a,
        )
        .await?
        .expect(StatusCode::CREATED)?;
    let name = stored.text("file_name")?;
    ensure!(name == "invoicegnp.exe", "{name:?}");
    let detail = world
        .api
        .get(&format!("/api/v1/cases/{case}"), &world.mediator_a)
        .await?
        .expect(StatusCode::OK)?;
    ensure!(
        !detail.body["evidence"].to_string().contains('\u{202E}'),
        "{}",
        detail.body["evidence"]
    );
    world.server.stop().await
}

/// A client's address locates the person, so the log keeps only its network (a /24 here)
/// and the port that ties one connection's lines together. A raw ICE-TCP connection from
/// this machine is a real client socket whose full address (`127.0.0.1:<its port>`) is
/// unique to this test, so its absence from the log means something.
#[tokio::test]
async fn a_client_address_is_logged_by_its_network_only() -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = TestServer::start_with_env(&[
        accord_tests::ONE_PROCESS,
        ("RUST_LOG", "info,accord_sfu::net::tcp=debug"),
    ])
    .await?;
    let mut client = tokio::net::TcpStream::connect(server.media_addr()).await?;
    let from = client.local_addr()?;
    // One RFC 4571 frame that is no STUN binding request: the server hangs up and logs why.
    client.write_all(&[0, 4, 1, 2, 3, 4]).await?;
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, client.read_to_end(&mut rest))
        .await
        .context("the server kept a connection that did not name itself")??;

    let masked = format!("127.0.0.x:{}", from.port());
    let deadline = tokio::time::Instant::now() + WAIT;
    let log = loop {
        let log = std::fs::read_to_string(server.log_path())?;
        if log.contains("ICE-TCP connection closed") || tokio::time::Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    ensure!(
        log.contains("ICE-TCP connection closed"),
        "the server did not log the connection's end; log:\n{}",
        server.log_tail(20)
    );
    ensure!(
        !log.contains(&from.to_string()),
        "the client's full address {from} is in the log:\n{}",
        server.log_tail(20)
    );
    ensure!(
        log.contains(&masked),
        "the connection's lines do not name it as {masked}:\n{}",
        server.log_tail(20)
    );
    Ok(())
}
