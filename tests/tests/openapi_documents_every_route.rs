//! The OpenAPI document at `/api/docs/openapi.json` against the real server: every operation
//! it lists is a route the server has, every operation it marks as needing a staff or join
//! token refuses a request without one (401), and the reading page is served.

use accord_tests::{StaffApi, TestServer};
use anyhow::{Context, Result, ensure};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The fallback's answer for a path no route takes.
fn is_unrouted(status: StatusCode, body: &Value) -> bool {
    (status == StatusCode::NOT_FOUND && body["message"] == "no such route")
        || status == StatusCode::METHOD_NOT_ALLOWED
}

#[tokio::test]
async fn every_documented_operation_exists_and_its_tokens_are_required() -> Result<()> {
    let server = TestServer::start().await?;
    let client = reqwest::Client::new();
    let page = client
        .get(format!("{}/api/docs", server.http_url()))
        .send()
        .await?;
    ensure!(page.status() == StatusCode::OK, "{}", page.status());
    ensure!(page.text().await?.contains("/api/docs/openapi.json"));
    let doc: Value = client
        .get(format!("{}/api/docs/openapi.json", server.http_url()))
        .send()
        .await?
        .json()
        .await?;
    let api = StaffApi::new(server.http_url());
    let default_security = doc["security"].clone();
    let mut checked = 0;
    for (path, operations) in doc["paths"].as_object().context("paths")? {
        for (method, operation) in operations.as_object().context("operations")? {
            let concrete = path
                .split('/')
                .map(|part| {
                    if part.starts_with('{') {
                        "XX_placeholder"
                    } else {
                        part
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let method = Method::from_bytes(method.to_uppercase().as_bytes())?;
            let answer = api.call(method.clone(), &concrete, None, None, &[]).await?;
            ensure!(
                !is_unrouted(answer.status, &answer.body),
                "{method} {path} is documented but not routed: {} {}",
                answer.status,
                answer.body
            );
            let security = operation.get("security").unwrap_or(&default_security);
            let needs_token = security.as_array().is_some_and(|schemes| {
                schemes.iter().any(|s| {
                    s.get("staffBearer").is_some()
                        || s.get("joinBearer").is_some()
                        || s.get("apiKey").is_some()
                })
            });
            // The token endpoint is switched off (404) unless an API key is configured; the
            // test server configures one.
            if needs_token {
                ensure!(
                    answer.status == StatusCode::UNAUTHORIZED
                        && answer.body["code"] == "unauthorized",
                    "{method} {path} without a token: {} {}",
                    answer.status,
                    answer.body
                );
            }
            checked += 1;
        }
    }
    ensure!(checked >= 40, "only {checked} operations documented");
    // And an undocumented path is told apart from a documented one.
    let answer = api
        .call(Method::GET, "/api/v1/no-such-thing", None, None, &[])
        .await?;
    ensure!(is_unrouted(answer.status, &answer.body), "{answer:?}");
    server.stop().await
}
