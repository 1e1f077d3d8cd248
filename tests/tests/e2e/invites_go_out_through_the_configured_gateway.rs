//! Invite messages through an HTTP notification gateway (`[notify] gateway_url`): the server
//! POSTs one JSON object per message with the bearer token from its environment, and a
//! gateway that fails is reported as 502 `upstream_failed` with nothing recorded as sent.

use accord_tests::{StaffApi, TestServer};
use anyhow::{Context, Result, ensure};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const PASSWORD: &str = "correct horse battery";
const GATEWAY_TOKEN: &str = "gateway-token-for-tests-0001";

/// One request as the gateway saw it.
struct Received {
    head: String,
    body: Value,
}

/// A gateway on loopback that answers each request with the next status of `statuses`.
async fn gateway(statuses: Vec<u16>) -> Result<(String, mpsc::UnboundedReceiver<Received>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/send", listener.local_addr()?);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        for status in statuses {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut data = Vec::new();
            let mut buffer = [0u8; 4096];
            // Read the head, then as much body as Content-Length says.
            let (head, body) = loop {
                let Ok(n) = socket.read(&mut buffer).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                data.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&data).into_owned();
                let Some(split) = text.find("\r\n\r\n") else {
                    continue;
                };
                let head = text[..split].to_owned();
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_owned())
                    })
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let body_bytes = &data[split + 4..];
                if body_bytes.len() >= length {
                    break (
                        head,
                        serde_json::from_slice(&body_bytes[..length]).unwrap_or(Value::Null),
                    );
                }
            };
            let _ = tx.send(Received { head, body });
            let answer =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    Ok((url, rx))
}

#[tokio::test]
async fn an_invite_is_posted_to_the_gateway_with_its_token_and_a_failing_gateway_is_reported()
-> Result<()> {
    let (url, mut received) = gateway(vec![200, 500]).await?;
    let server = TestServer::start_with_env(&[
        ("ACCORD_NOTIFY_GATEWAY_URL", &url),
        ("ACCORD_NOTIFY_GATEWAY_TOKEN", GATEWAY_TOKEN),
    ])
    .await?;
    let api = StaffApi::new(server.http_url());
    let admin = api.setup("admin", PASSWORD).await?;
    let org = api
        .post(
            "/api/v1/organisations",
            json!({"name": "宝安区新安街道人民调解委员会", "short_name": "宝安", "region": "新安街道", "channel": "peoples"}),
            &admin,
        )
        .await?
        .expect(StatusCode::CREATED)?
        .text("id")?;
    let case = api
        .post(
            "/api/v1/cases",
            json!({"organisation_id": org, "category": "family", "title": "赡养纠纷", "facts": "子女不支付赡养费。", "claims": "每月支付赡养费。",
                   "parties": [{"side": "applicant", "kind": "person", "name": "赵大爷", "phone": "13600136000"},
                               {"side": "respondent", "kind": "person", "name": "赵小明", "phone": "13500135000"}]}),
            &admin,
        )
        .await?
        .expect(StatusCode::CREATED)?;
    let case_id = case.body["case"]["id"]
        .as_str()
        .context("case id")?
        .to_owned();
    let party = case.body["parties"][0]["id"]
        .as_str()
        .context("party id")?
        .to_owned();
    let at = accord_cases::store::now_ms() + 3_600_000;
    let session = api
        .post(
            &format!("/api/v1/cases/{case_id}/sessions"),
            json!({"scheduled_at": at}),
            &admin,
        )
        .await?
        .expect(StatusCode::CREATED)?
        .text("id")?;
    let invite = api
        .post(
            &format!("/api/v1/sessions/{session}/invites"),
            json!({"party_id": party}),
            &admin,
        )
        .await?
        .expect(StatusCode::CREATED)?;
    let invite_id = invite.text("id")?;

    let sent = api
        .post(
            &format!("/api/v1/invites/{invite_id}/send"),
            json!({"lang": "en"}),
            &admin,
        )
        .await?
        .expect(StatusCode::ACCEPTED)?;
    ensure!(
        sent.body["channel"] == "http" && sent.body["to_masked"] == "136****6000",
        "{}",
        sent.body
    );
    let request = received.recv().await.context("the gateway got nothing")?;
    ensure!(request.head.starts_with("POST /send "), "{}", request.head);
    ensure!(
        request.head.to_ascii_lowercase().contains(&format!(
            "authorization: bearer {}",
            GATEWAY_TOKEN.to_ascii_lowercase()
        )),
        "{}",
        request.head
    );
    let body = request.body;
    ensure!(
        body["template"] == "session_invite" && body["to"] == "13600136000",
        "{body}"
    );
    ensure!(
        body["params"]["link"] == invite.body["link"] && body["params"]["name"] == "赵大爷",
        "{body}"
    );
    ensure!(
        body["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Dear 赵大爷") && t.contains("Beijing time")),
        "{body}"
    );

    // The gateway fails the second time: the staff member is told, and no send is recorded.
    let answer = api
        .post(
            &format!("/api/v1/invites/{invite_id}/send"),
            json!({}),
            &admin,
        )
        .await?;
    ensure!(
        answer.status == StatusCode::BAD_GATEWAY && answer.body["code"] == "upstream_failed",
        "{answer:?}"
    );
    let audit = api
        .get(&format!("/api/v1/cases/{case_id}/audit"), &admin)
        .await?;
    let sends = audit.body["items"].as_array().map_or(0, |items| {
        items
            .iter()
            .filter(|e| e["action"] == "invite.sent")
            .count()
    });
    ensure!(sends == 1, "{}", audit.body);
    let log = std::fs::read_to_string(server.log_path())?;
    ensure!(
        !log.contains(GATEWAY_TOKEN),
        "the gateway token reached the log"
    );
    server.stop().await
}
