//! A staff member's side of the HTTP API, for tests: JSON in and out, with the answer's
//! status and body kept together so a test can assert on both.

use anyhow::{Context, Result, ensure};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

/// An HTTP client for one server.
#[derive(Clone)]
pub struct StaffApi {
    http: Client,
    base: String,
}

/// An answer: the status and the JSON body (`Null` when there is none).
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// The parsed body.
    pub body: Value,
}

impl Answer {
    /// The body's `key` as text.
    pub fn text(&self, key: &str) -> Result<String> {
        self.body[key]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("no `{key}` in {}", self.body))
    }

    /// Fails unless the status is `status`.
    pub fn expect(self, status: StatusCode) -> Result<Self> {
        ensure!(
            self.status == status,
            "expected {status}, got {} {}",
            self.status,
            self.body
        );
        Ok(self)
    }

    /// The `field` names of a 422 answer.
    pub fn field_names(&self) -> Vec<String> {
        self.body["fields"]
            .as_array()
            .map(|fields| {
                fields
                    .iter()
                    .filter_map(|f| f["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl StaffApi {
    /// A client for the server at `base` (`http://127.0.0.1:port`).
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            http: Client::new(),
            base: base.into(),
        }
    }

    /// Sends `method path` with an optional JSON body, bearer token and extra headers.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        bearer: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Answer> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        Ok(Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        })
    }

    /// `POST path` with one multipart `file` as `bearer`.
    pub async fn upload(
        &self,
        path: &str,
        file_name: &str,
        media_type: &str,
        bytes: Vec<u8>,
        bearer: &str,
    ) -> Result<Answer> {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name.to_owned())
            .mime_str(media_type)?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(bearer)
            .multipart(form)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        Ok(Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        })
    }

    /// `GET path` as `bearer`.
    pub async fn get(&self, path: &str, bearer: &str) -> Result<Answer> {
        self.call(Method::GET, path, None, Some(bearer), &[]).await
    }

    /// `POST path` with `body` as `bearer`.
    pub async fn post(&self, path: &str, body: Value, bearer: &str) -> Result<Answer> {
        self.call(Method::POST, path, Some(&body), Some(bearer), &[])
            .await
    }

    /// The raw bytes and content type of `GET path` as `bearer`.
    pub async fn get_bytes(
        &self,
        path: &str,
        bearer: &str,
    ) -> Result<(StatusCode, String, Vec<u8>)> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(bearer)
            .send()
            .await?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok((status, content_type, response.bytes().await?.to_vec()))
    }

    /// Creates the first administrator and returns their access token.
    pub async fn setup(&self, username: &str, password: &str) -> Result<String> {
        let body =
            json!({"username": username, "display_name": "系统管理员", "password": password});
        self.call(Method::POST, "/api/v1/setup", Some(&body), None, &[])
            .await?
            .expect(StatusCode::CREATED)?
            .text("access_token")
    }

    /// Signs in and returns the access token.
    pub async fn login(&self, username: &str, password: &str) -> Result<String> {
        let body = json!({"username": username, "password": password});
        self.call(Method::POST, "/api/v1/auth/login", Some(&body), None, &[])
            .await?
            .expect(StatusCode::OK)?
            .text("access_token")
    }
}
