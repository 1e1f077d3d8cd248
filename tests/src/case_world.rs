//! A server with two mediation organisations, a mediator in each and a court user for the
//! first one's court, for tests of the case-work API.

use anyhow::{Context, Result};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{StaffApi, TestServer};

/// Every account's password.
pub const PASSWORD: &str = "correct horse battery";
/// A valid resident ID number (its check character is right); it must never reach the log.
pub const ID_NUMBER: &str = "11010519491231002X";
/// The applicant's phone number.
pub const PHONE: &str = "13800138000";

/// Two organisations, a mediator in each, a court user for the first one's court.
pub struct CaseWorld {
    /// The server.
    pub server: TestServer,
    /// A client for it.
    pub api: StaffApi,
    /// The system administrator's access token.
    pub admin: String,
    /// The access token of the mediator of organisation A (宝安).
    pub mediator_a: String,
    /// That mediator's staff id.
    pub mediator_a_id: String,
    /// The access token of the mediator of organisation B (南山).
    pub mediator_b: String,
    /// The access token of the court user of A's court.
    pub court: String,
}

impl CaseWorld {
    /// Starts a server and creates everyone through the API.
    pub async fn new() -> Result<Self> {
        Self::new_with_env(&[]).await
    }

    /// Like [`CaseWorld::new`], the server started with extra environment variables.
    pub async fn new_with_env(env: &[(&str, &str)]) -> Result<Self> {
        let server = TestServer::start_with_env(env).await?;
        let api = StaffApi::new(server.http_url());
        let admin = api.setup("admin", PASSWORD).await?;
        let org = |name: &str, short: &str, region: &str, court: Option<&str>| json!({"name": name, "short_name": short, "region": region, "channel": "peoples", "court": court});
        let org_a = api
            .post(
                "/api/v1/organisations",
                org(
                    "宝安区新安街道人民调解委员会",
                    "宝安",
                    "新安街道",
                    Some("深圳市宝安区人民法院"),
                ),
                &admin,
            )
            .await?
            .expect(StatusCode::CREATED)?
            .text("id")?;
        let org_b = api
            .post(
                "/api/v1/organisations",
                org("南山区粤海街道人民调解委员会", "南山", "粤海街道", None),
                &admin,
            )
            .await?
            .expect(StatusCode::CREATED)?
            .text("id")?;
        let staff = |username: &str, role: &str, org: Option<&str>, court: Option<&str>| {
            json!({"username": username, "display_name": username, "password": PASSWORD,
                   "role": role, "organisation_id": org, "court": court})
        };
        let mediator_a_id = api
            .post(
                "/api/v1/staff",
                staff("li", "mediator", Some(&org_a), None),
                &admin,
            )
            .await?
            .expect(StatusCode::CREATED)?
            .text("id")?;
        api.post(
            "/api/v1/staff",
            staff("wang", "mediator", Some(&org_b), None),
            &admin,
        )
        .await?
        .expect(StatusCode::CREATED)?;
        api.post(
            "/api/v1/staff",
            staff("judge", "court", None, Some("深圳市宝安区人民法院")),
            &admin,
        )
        .await?
        .expect(StatusCode::CREATED)?;
        Ok(Self {
            mediator_a: api.login("li", PASSWORD).await?,
            mediator_b: api.login("wang", PASSWORD).await?,
            court: api.login("judge", PASSWORD).await?,
            mediator_a_id,
            admin,
            api,
            server,
        })
    }

    /// Registers a case with an applicant and a respondent as mediator A; returns the
    /// detail.
    pub async fn case(&self, title: &str) -> Result<Value> {
        let body = json!({
            "category": "neighbours", "risk": "yellow", "title": title,
            "facts": "楼上卫生间漏水，浸泡楼下天花板。", "claims": "赔偿维修费用3000元。",
            "parties": [
                {"side": "applicant", "kind": "person", "name": "张三", "phone": PHONE, "id_number": ID_NUMBER},
                {"side": "respondent", "kind": "person", "name": "李四", "phone": "13900139000"}
            ]
        });
        Ok(self
            .api
            .post("/api/v1/cases", body, &self.mediator_a)
            .await?
            .expect(StatusCode::CREATED)?
            .body)
    }

    /// Schedules a session of `case_id` an hour from now; returns its id.
    pub async fn session(&self, case_id: &str) -> Result<String> {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as i64
            + 3_600_000;
        self.api
            .post(
                &format!("/api/v1/cases/{case_id}/sessions"),
                json!({"scheduled_at": at}),
                &self.mediator_a,
            )
            .await?
            .expect(StatusCode::CREATED)?
            .text("id")
    }
}

/// The text at JSON `pointer` of `value`.
pub fn id_of(value: &Value, pointer: &str) -> Result<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("no {pointer} in {value}"))
}

/// The smallest PNG there is: signature, IHDR, IDAT, IEND of a 1×1 image.
pub fn tiny_png() -> Vec<u8> {
    const HEX: &str = "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082";
    (0..HEX.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&HEX[i..i + 2], 16).ok())
        .collect()
}
