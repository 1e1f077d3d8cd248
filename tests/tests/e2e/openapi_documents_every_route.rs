//! The OpenAPI document at `/api/docs/openapi.json` against the real server: every operation
//! it lists is a route the server has, every route the server has is listed, every operation
//! it marks as needing a staff or join token refuses a request without one (401), and the
//! reading page is served.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use accord_tests::{StaffApi, TestServer};
use anyhow::{Context, Result, ensure};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Routes the document leaves out on purpose: the WebSocket is described in docs/protocol.md.
const NOT_HTTP_API: &[&str] = &["/ws"];

/// The methods a route may answer; a route that does not take one answers 405.
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// A path with every `{parameter}` replaced by the same value, so that the document's
/// parameter names and the router's need not agree to be compared.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|part| {
            if part.starts_with('{') {
                "XX_placeholder"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every path the signaling crate gives to `.route(…)`, read from its source: the router is
/// assembled from many modules, and a route added to one of them without a document entry
/// is exactly what this test exists to catch (it once missed the whole drafting API because
/// it only walked the document).
fn routed_paths() -> Result<BTreeSet<String>> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
        for entry in std::fs::read_dir(dir).with_context(|| dir.display().to_string())? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, files)?;
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
        Ok(())
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../signaling/src");
    let mut files = Vec::new();
    walk(&src, &mut files)?;
    let mut paths = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        for (at, _) in text.match_indices(".route(") {
            let rest = text[at + ".route(".len()..].trim_start();
            let Some(quoted) = rest.strip_prefix('"') else {
                continue;
            };
            let end = quoted
                .find('"')
                .with_context(|| format!("unterminated route in {}", file.display()))?;
            paths.insert(quoted[..end].to_owned());
        }
    }
    Ok(paths)
}

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
            let concrete = concrete(path);
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
    // The other way round: every method of every routed path is documented. Asking each
    // route with each method finds the methods it takes (the others answer 405), without a
    // token or a body, so nothing is changed.
    let mut documented = BTreeSet::new();
    for (path, operations) in doc["paths"].as_object().context("paths")? {
        for method in operations.as_object().context("operations")?.keys() {
            documented.insert((method.to_uppercase(), concrete(path)));
        }
    }
    let routed = routed_paths()?;
    ensure!(routed.len() >= 40, "only {} routes found", routed.len());
    let mut undocumented = Vec::new();
    for path in routed
        .iter()
        .filter(|p| !NOT_HTTP_API.contains(&p.as_str()))
    {
        let concrete = concrete(path);
        for method in METHODS {
            let key = (method.to_string(), concrete.clone());
            if documented.contains(&key) {
                continue;
            }
            let answer = api.call(method.clone(), &concrete, None, None, &[]).await?;
            if !is_unrouted(answer.status, &answer.body) {
                undocumented.push(format!("{method} {path} ({})", answer.status));
            }
        }
    }
    ensure!(
        undocumented.is_empty(),
        "routed but not in signaling/openapi.json: {undocumented:?}"
    );
    // And an undocumented path is told apart from a documented one.
    let answer = api
        .call(Method::GET, "/api/v1/no-such-thing", None, None, &[])
        .await?;
    ensure!(is_unrouted(answer.status, &answer.body), "{answer:?}");
    server.stop().await
}
