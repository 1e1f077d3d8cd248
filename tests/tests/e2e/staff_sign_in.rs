//! Staff sign-in through the real binary: first-run setup once, login, the access token on
//! `/api/v1/auth/me` (refused when expired, forged or a join token), refresh rotation with
//! reuse detection, logout, and a password change that retires the old password.

use accord_cases::store::{Store, StoreKeys};
use accord_tests::{TestServer, TokenRequest};
use anyhow::{Context, Result, ensure};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

struct Api {
    http: Client,
    base: String,
}

impl Api {
    async fn post(
        &self,
        path: &str,
        body: Value,
        bearer: Option<&str>,
    ) -> Result<(StatusCode, Value)> {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    async fn me(&self, bearer: &str) -> Result<(StatusCode, Value)> {
        let response = self
            .http
            .get(format!("{}/api/v1/auth/me", self.base))
            .bearer_auth(bearer)
            .send()
            .await?;
        Ok((
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        ))
    }

    async fn login(&self, username: &str, password: &str) -> Result<(StatusCode, Value)> {
        self.post(
            "/api/v1/auth/login",
            json!({"username": username, "password": password}),
            None,
        )
        .await
    }
}

fn text<'a>(value: &'a Value, key: &str) -> Result<&'a str> {
    value[key]
        .as_str()
        .with_context(|| format!("no `{key}` in {value}"))
}

#[tokio::test]
async fn administrator_sets_up_once_signs_in_refreshes_and_changes_password() -> Result<()> {
    let server = TestServer::start().await?;
    let api = Api {
        http: Client::new(),
        base: server.http_url(),
    };
    let status: Value = api
        .http
        .get(format!("{}/api/v1/setup", api.base))
        .send()
        .await?
        .json()
        .await?;
    ensure!(status == json!({"needed": true}), "{status}");

    let (code, body) = api
        .post(
            "/api/v1/setup",
            json!({"username": "admin", "display_name": "管理员", "password": "short"}),
            None,
        )
        .await?;
    ensure!(code == StatusCode::UNPROCESSABLE_ENTITY, "{code} {body}");
    ensure!(body["fields"][0]["field"] == "password", "{body}");

    let (code, setup) = api
        .post(
            "/api/v1/setup",
            json!({"username": "admin", "display_name": "管理员", "password": "first password"}),
            None,
        )
        .await?;
    ensure!(code == StatusCode::CREATED, "{code} {setup}");
    ensure!(setup["staff"]["role"] == "administrator", "{setup}");
    let (code, _) = api
        .post(
            "/api/v1/setup",
            json!({"username": "second", "display_name": "x", "password": "another password"}),
            None,
        )
        .await?;
    ensure!(code == StatusCode::CONFLICT, "setup twice: {code}");

    let (code, wrong) = api.login("admin", "not the password").await?;
    ensure!(code == StatusCode::UNAUTHORIZED, "{code}");
    let (code, unknown) = api.login("nobody", "not the password").await?;
    ensure!(code == StatusCode::UNAUTHORIZED, "{code}");
    ensure!(
        wrong == unknown,
        "no user enumeration: {wrong} vs {unknown}"
    );

    let (code, login) = api.login("admin", "first password").await?;
    ensure!(code == StatusCode::OK, "{code} {login}");
    ensure!(login["expires_in"] == 900, "{login}");
    let access = text(&login, "access_token")?;
    let (code, me) = api.me(access).await?;
    ensure!(code == StatusCode::OK, "{code} {me}");
    ensure!(
        me["username"] == "admin" && me["id"] == login["staff"]["id"],
        "{me}"
    );

    let (code, body) = api.me("").await?;
    ensure!(
        code == StatusCode::UNAUTHORIZED && body["code"] == "unauthorized",
        "{body}"
    );
    let forged = format!("{}x", &access[..access.len() - 1]);
    ensure!(
        api.me(&forged).await?.0 == StatusCode::UNAUTHORIZED,
        "forged"
    );
    let join = server
        .mint(&TokenRequest::new("room-1", "party-1", "party"))
        .await?;
    ensure!(
        api.me(&join).await?.0 == StatusCode::UNAUTHORIZED,
        "join token"
    );
    let (code, _) = api
        .post(
            "/api/v1/tokens",
            json!({"room": "r", "identity": "i"}),
            Some(access),
        )
        .await?;
    ensure!(
        code == StatusCode::UNAUTHORIZED,
        "staff token as API key: {code}"
    );

    // An expired token signed with the server's own keys, from its own database.
    let data_dir = server.data_dir();
    let store = Store::open(server.database_url(), StoreKeys::load_or_create(&data_dir)?).await?;
    let staff = store.staff(&text(&me, "id")?.into()).await?;
    let an_hour_ago = accord_cases::store::now_ms() as u64 / 1000 - 3600;
    let expired = accord_cases::tokens::staff::issue_access_at(&store, &staff, an_hour_ago).await?;
    store.close().await;
    let (code, body) = api.me(&expired).await?;
    ensure!(code == StatusCode::UNAUTHORIZED, "expired: {code} {body}");

    let first_refresh = text(&login, "refresh_token")?;
    let (code, refreshed) = api
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": first_refresh}),
            None,
        )
        .await?;
    ensure!(code == StatusCode::OK, "{code} {refreshed}");
    let second_refresh = text(&refreshed, "refresh_token")?;
    ensure!(second_refresh != first_refresh, "rotated");
    ensure!(api.me(text(&refreshed, "access_token")?).await?.0 == StatusCode::OK);
    let (code, _) = api
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": first_refresh}),
            None,
        )
        .await?;
    ensure!(code == StatusCode::UNAUTHORIZED, "reuse refused: {code}");
    let (code, _) = api
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": second_refresh}),
            None,
        )
        .await?;
    ensure!(
        code == StatusCode::UNAUTHORIZED,
        "reuse revoked the whole family: {code}"
    );

    let (_, login) = api.login("admin", "first password").await?;
    let refresh = text(&login, "refresh_token")?;
    let (code, _) = api
        .post(
            "/api/v1/auth/logout",
            json!({"refresh_token": refresh}),
            None,
        )
        .await?;
    ensure!(code == StatusCode::NO_CONTENT, "{code}");
    let (code, _) = api
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": refresh}),
            None,
        )
        .await?;
    ensure!(code == StatusCode::UNAUTHORIZED, "logged out: {code}");

    let (_, login) = api.login("admin", "first password").await?;
    let access = text(&login, "access_token")?;
    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let (code, _) = api
        .post(
            "/api/v1/auth/password",
            change("first password", "second password"),
            None,
        )
        .await?;
    ensure!(code == StatusCode::UNAUTHORIZED, "needs a token: {code}");
    let (code, body) = api
        .post("/api/v1/auth/password", change("wrong", "x"), Some(access))
        .await?;
    ensure!(code == StatusCode::UNPROCESSABLE_ENTITY, "{code} {body}");
    ensure!(body["fields"][0]["field"] == "current_password", "{body}");
    ensure!(body["fields"][1]["field"] == "new_password", "{body}");
    let (code, body) = api
        .post(
            "/api/v1/auth/password",
            change("first password", "second password"),
            Some(access),
        )
        .await?;
    ensure!(code == StatusCode::NO_CONTENT, "{code} {body}");
    ensure!(api.login("admin", "first password").await?.0 == StatusCode::UNAUTHORIZED);
    ensure!(api.login("admin", "second password").await?.0 == StatusCode::OK);

    let log = std::fs::read_to_string(server.log_path()).unwrap_or_default();
    for secret in ["first password", "second password", refresh, access] {
        ensure!(!log.contains(secret), "a secret reached the log");
    }
    Ok(())
}
