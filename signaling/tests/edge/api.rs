//! Calling the HTTP API as a client does, for the suites that drive a server in this process.

use serde_json::Value;

/// `(status, body)` of `method path` under `/api/v1` with `token` as the bearer; a body that
/// is not JSON comes back as a JSON string, so a test can show it.
pub async fn call(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{base}/api/v1{path}");
    let mut request = match method {
        "GET" => http.get(url),
        _ => http.post(url),
    }
    .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}
