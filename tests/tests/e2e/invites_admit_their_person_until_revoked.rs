//! Invites through the real binary: the link and QR codes, the mediator opening the room,
//! the invited person joining by name until the invite is revoked, the log channel's
//! message with the phone masked, and the audit trail of it all in order.

use accord_tests::Bystander;
use accord_tests::case_world::{CaseWorld as World, ID_NUMBER, PHONE, id_of};
use anyhow::{Context, Result, ensure};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn an_invite_admits_its_person_until_revoked_and_the_audit_trail_tells_the_story()
-> Result<()> {
    let world = World::new().await?;
    let api = &world.api;
    let detail = world.case("楼上漏水纠纷").await?;
    let case = id_of(&detail, "/case/id")?;
    let party = id_of(&detail, "/parties/0/id")?;
    let session = world.session(&case).await?;
    let invite = api
        .post(
            &format!("/api/v1/sessions/{session}/invites"),
            json!({"party_id": party}),
            &world.mediator_a,
        )
        .await?
        .expect(StatusCode::CREATED)?;
    let link = invite.text("link")?;
    let message = invite.text("message")?;
    let invite_id = invite.text("id")?;
    ensure!(
        link.starts_with(&format!("{}/join#token=", world.server.http_url())),
        "{link}"
    );
    ensure!(
        message.contains(&link) && message.contains("张三") && message.contains("宝安"),
        "{message}"
    );
    ensure!(
        invite.body["status"] == "active" && invite.body["side"] == "applicant",
        "{}",
        invite.body
    );
    let token = link
        .split("#token=")
        .nth(1)
        .context("token in the link")?
        .to_owned();
    // Asking again shows the same link.
    let again = api
        .get(&format!("/api/v1/invites/{invite_id}"), &world.mediator_a)
        .await?;
    ensure!(again.text("link")? == link, "{}", again.body);

    let (status, content_type, svg) = api
        .get_bytes(
            &format!("/api/v1/invites/{invite_id}/qr.svg"),
            &world.mediator_a,
        )
        .await?;
    ensure!(
        status == StatusCode::OK && content_type == "image/svg+xml",
        "{status} {content_type}"
    );
    ensure!(String::from_utf8(svg)?.contains("<svg"), "not an SVG");
    let (status, content_type, png) = api
        .get_bytes(
            &format!("/api/v1/invites/{invite_id}/qr.png"),
            &world.mediator_a,
        )
        .await?;
    ensure!(
        status == StatusCode::OK
            && content_type == "image/png"
            && png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{status} {content_type}"
    );

    // The mediator opens the room; the party joins with the invite and is seen by name.
    let started = api
        .post(
            &format!("/api/v1/sessions/{session}/start"),
            json!({}),
            &world.mediator_a,
        )
        .await?
        .expect(StatusCode::OK)?;
    ensure!(
        started.body["session"]["status"] == "live",
        "{}",
        started.body
    );
    let mediator = Bystander::join(
        &world.server.ws_url(),
        &started.text("token")?,
        None,
        "mediator",
    )
    .await?;
    // They consent to online mediation first, then wait until the mediator admits them.
    api.post(
        "/api/v1/room/consent",
        json!({"online_mediation": true, "recording": true}),
        &token,
    )
    .await?
    .expect(StatusCode::CREATED)?;
    let (url, party_token) = (world.server.ws_url(), token.clone());
    let joining =
        tokio::spawn(async move { Bystander::join(&url, &party_token, None, "applicant").await });
    accord_tests::session_world::admit(&mediator, "张三").await?;
    let applicant = joining.await??;
    ensure!(
        applicant.joined().participant.name == "张三",
        "{:?}",
        applicant.joined().participant
    );
    ensure!(
        mediator.joined().participant.role == "mediator",
        "{:?}",
        mediator.joined().participant
    );
    drop(applicant);
    let case_now = api
        .get(&format!("/api/v1/cases/{case}"), &world.mediator_a)
        .await?;
    ensure!(
        case_now.body["case"]["status"] == "in_mediation",
        "{}",
        case_now.body["case"]
    );

    // The log channel "sends" the message: the phone shows masked, the ID number never.
    let sent = api
        .post(
            &format!("/api/v1/invites/{invite_id}/send"),
            json!({}),
            &world.mediator_a,
        )
        .await?
        .expect(StatusCode::ACCEPTED)?;
    ensure!(
        sent.body["channel"] == "log" && sent.body["to_masked"] == "138****8000",
        "{}",
        sent.body
    );

    // Revoked: the same link no longer joins.
    let revoked = api
        .post(
            &format!("/api/v1/invites/{invite_id}/revoke"),
            json!({}),
            &world.mediator_a,
        )
        .await?
        .expect(StatusCode::OK)?;
    ensure!(revoked.body["status"] == "revoked", "{}", revoked.body);
    let refused = Bystander::join(&world.server.ws_url(), &token, None, "applicant again").await;
    let why = format!(
        "{:#}",
        refused.err().context("a revoked invite still joined")?
    );
    ensure!(why.contains("invalid_token"), "{why}");
    let answer = api
        .post(
            &format!("/api/v1/invites/{invite_id}/send"),
            json!({}),
            &world.mediator_a,
        )
        .await?;
    ensure!(answer.status == StatusCode::CONFLICT, "{answer:?}");

    let audit = api
        .get(&format!("/api/v1/cases/{case}/audit"), &world.mediator_a)
        .await?
        .expect(StatusCode::OK)?;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .context("audit items")?
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    let expected = [
        "case.created",
        "party.added",
        "party.added",
        // A mediator's new case is theirs from the start.
        "case.assigned",
        "session.scheduled",
        "invite.created",
        "case.status_changed",
        "session.started",
        "consent.given",
        "invite.sent",
        "invite.revoked",
    ];
    ensure!(actions == expected, "{actions:?}");
    drop(mediator);
    let log = std::fs::read_to_string(world.server.log_path())?;
    ensure!(
        log.contains("138****8000"),
        "the log channel wrote no message"
    );
    ensure!(
        !log.contains(ID_NUMBER) && !log.contains(PHONE),
        "personal data in the log"
    );
    world.server.stop().await
}
