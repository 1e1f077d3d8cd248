//! A phone that loses its network sends no close, so the server still holds its seat for the
//! old socket when the phone comes back on a new one and presents its resume token. The new
//! socket takes the seat over, and the others never see the phone leave.

use accord_tests::protocol::ServerFrame;
use accord_tests::{Bystander, TestServer, TokenRequest};
use anyhow::{Result, ensure};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn a_resume_takes_over_the_seat_from_a_socket_that_died_unnoticed() -> Result<()> {
    let server = TestServer::start().await?;
    let room = "unnoticed-drop";
    let mediator_token = server
        .mint(&TokenRequest::new(room, "mediator", "mediator"))
        .await?;
    let mediator = Bystander::join(&server.ws_url(), &mediator_token, None, "mediator").await?;
    let phone_token = server
        .mint(&TokenRequest::new(room, "phone", "party"))
        .await?;
    let mut phone = Bystander::join(&server.ws_url(), &phone_token, None, "phone").await?;
    let phone_id = phone.id().to_owned();

    let resume = phone.lose_network();
    let back = Bystander::join(&server.ws_url(), &phone_token, Some(&resume), "phone").await?;
    ensure!(back.id() == phone_id, "the phone got a new seat");
    // Long enough for a leave to have been announced, had there been one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    ensure!(
        !mediator
            .frames()
            .iter()
            .any(|f| matches!(f, ServerFrame::ParticipantLeft { participant_id, .. } if *participant_id == phone_id)),
        "the mediator saw the phone leave: {:?}",
        mediator.frames()
    );
    ensure!(
        mediator.participants().iter().any(|p| p.id == phone_id),
        "the phone is no longer in the mediator's list"
    );
    drop(phone);
    server.stop().await
}
