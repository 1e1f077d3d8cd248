//! Rate limits through the real binary: password guessing on one account stops after ten
//! failures (429 with Retry-After, even for the right password) while other accounts still
//! sign in, and the public intake endpoint takes ten applications per address per window.

use accord_tests::{StaffApi, TestServer};
use anyhow::{Context, Result, ensure};
use reqwest::{Method, StatusCode};
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn guessing_a_password_is_stopped_and_other_accounts_still_sign_in() -> Result<()> {
    let server = TestServer::start().await?;
    let api = StaffApi::new(server.http_url());
    let admin = api.setup("admin", PASSWORD).await?;
    api.post(
        "/api/v1/staff",
        json!({"username": "li", "display_name": "李", "password": PASSWORD, "role": "administrator"}),
        &admin,
    )
    .await?
    .expect(StatusCode::CREATED)?;

    let login = |username: &'static str, password: &'static str| {
        let body = json!({"username": username, "password": password});
        let api = api.clone();
        async move {
            api.call(Method::POST, "/api/v1/auth/login", Some(&body), None, &[])
                .await
        }
    };
    for attempt in 1..=10 {
        let answer = login("admin", "wrong password!").await?;
        ensure!(
            answer.status == StatusCode::UNAUTHORIZED,
            "attempt {attempt}: {answer:?}"
        );
    }
    let answer = login("admin", "wrong password!").await?;
    ensure!(
        answer.status == StatusCode::TOO_MANY_REQUESTS
            && answer.body["code"] == "too_many_requests",
        "{answer:?}"
    );
    // The right password waits too: otherwise the answer would tell a guess was right.
    let answer = login("admin", PASSWORD).await?;
    ensure!(answer.status == StatusCode::TOO_MANY_REQUESTS, "{answer:?}");
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", server.http_url()))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await?;
    let retry_after: u64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .context("Retry-After")?
        .to_str()?
        .parse()?;
    ensure!((1..=900).contains(&retry_after), "{retry_after}");
    // Another account from the same address is not locked.
    let answer = login("li", PASSWORD).await?;
    ensure!(answer.status == StatusCode::OK, "{answer:?}");
    server.stop().await
}

#[tokio::test]
async fn one_address_files_at_most_ten_applications_per_window() -> Result<()> {
    let server = TestServer::start().await?;
    let api = StaffApi::new(server.http_url());
    for attempt in 1..=10 {
        // Empty bodies are refused on their own merits, but they count.
        let answer = api
            .call(Method::POST, "/api/v1/intake", None, None, &[])
            .await?;
        ensure!(
            answer.status != StatusCode::TOO_MANY_REQUESTS,
            "attempt {attempt}: {answer:?}"
        );
    }
    let answer = api
        .call(Method::POST, "/api/v1/intake", None, None, &[])
        .await?;
    ensure!(
        answer.status == StatusCode::TOO_MANY_REQUESTS
            && answer.body["code"] == "too_many_requests",
        "{answer:?}"
    );
    // Tracking a case is not limited by it.
    let answer = api
        .call(Method::GET, "/api/v1/regions", None, None, &[])
        .await?;
    ensure!(answer.status == StatusCode::OK, "{answer:?}");
    server.stop().await
}
