//! A live case session, made through the API as a mediation centre would: a case with both
//! sides (each with a helper who follows their party), a session opened by its mediator, an
//! invite for everyone, and each party's consent to online mediation given.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::case_world::{CaseWorld, ID_NUMBER, PHONE, id_of};
use crate::client::Bystander;
use crate::protocol::{ClientFrame, ServerFrame};

/// Everyone in [`SessionWorld`], by display name.
pub const APPLICANT: &str = "张三";
/// The applicant's representative (follows 张三).
pub const APPLICANT_LAWYER: &str = "王律师";
/// The respondent.
pub const RESPONDENT: &str = "李四";
/// The respondent's interpreter (follows 李四).
pub const RESPONDENT_INTERPRETER: &str = "赵翻译";
/// A second applicant who is invited but joins late.
pub const LATECOMER: &str = "陈六";

/// See the module docs.
pub struct SessionWorld {
    /// The server, its staff and API.
    pub world: CaseWorld,
    /// The case.
    pub case_id: String,
    /// The session.
    pub session_id: String,
    /// The mediator's join token (from opening the session).
    pub mediator_token: String,
    /// Invite join tokens by name.
    tokens: HashMap<String, String>,
    /// Party ids by name.
    pub party_ids: HashMap<String, String>,
}

impl SessionWorld {
    /// Builds it all; everyone but the latecomer has consented.
    pub async fn new() -> Result<Self> {
        Self::new_with_env(&[]).await
    }

    /// Like [`SessionWorld::new`], the server started with extra environment variables.
    pub async fn new_with_env(env: &[(&str, &str)]) -> Result<Self> {
        let world = CaseWorld::new_with_env(env).await?;
        let api = &world.api;
        let body = json!({
            "category": "neighbours", "risk": "yellow", "title": "楼上漏水纠纷",
            "facts": "楼上卫生间漏水，浸泡楼下天花板。", "claims": "赔偿维修费用3000元。",
            "parties": [
                {"side": "applicant", "kind": "person", "name": APPLICANT, "phone": PHONE, "id_number": ID_NUMBER},
                {"side": "respondent", "kind": "person", "name": RESPONDENT, "phone": "13900139000"},
                {"side": "applicant", "kind": "person", "name": LATECOMER, "phone": "13700137000"}
            ]
        });
        let detail = api
            .post("/api/v1/cases", body, &world.mediator_a)
            .await?
            .expect(StatusCode::CREATED)?
            .body;
        let case_id = id_of(&detail, "/case/id")?;
        let mut party_ids = HashMap::new();
        for party in detail["parties"].as_array().context("parties")? {
            party_ids.insert(
                party["name"].as_str().context("name")?.to_owned(),
                party["id"].as_str().context("id")?.to_owned(),
            );
        }
        for (name, kind, represents) in [
            (APPLICANT_LAWYER, "representative", APPLICANT),
            (RESPONDENT_INTERPRETER, "interpreter", RESPONDENT),
        ] {
            let of = party_ids.get(represents).context("the represented party")?;
            let helper = api
                .post(
                    &format!("/api/v1/cases/{case_id}/parties"),
                    json!({"side": "applicant", "kind": kind, "name": name, "represents": of}),
                    &world.mediator_a,
                )
                .await?
                .expect(StatusCode::CREATED)?;
            party_ids.insert(name.to_owned(), helper.text("id")?);
        }
        let session_id = world.session(&case_id).await?;
        let mut tokens = HashMap::new();
        for (name, party_id) in &party_ids {
            let invite = api
                .post(
                    &format!("/api/v1/sessions/{session_id}/invites"),
                    json!({"party_id": party_id}),
                    &world.mediator_a,
                )
                .await?
                .expect(StatusCode::CREATED)?;
            let link = invite.text("link")?;
            let token = link
                .split("#token=")
                .nth(1)
                .context("a token in the link")?
                .to_owned();
            tokens.insert(name.clone(), token);
        }
        let started = api
            .post(
                &format!("/api/v1/sessions/{session_id}/start"),
                json!({}),
                &world.mediator_a,
            )
            .await?
            .expect(StatusCode::OK)?;
        let this = Self {
            mediator_token: started.text("token")?,
            world,
            case_id,
            session_id,
            tokens,
            party_ids,
        };
        for name in [
            APPLICANT,
            APPLICANT_LAWYER,
            RESPONDENT,
            RESPONDENT_INTERPRETER,
        ] {
            this.consent(name).await?;
        }
        Ok(this)
    }

    /// The invite token of `name`.
    pub fn token(&self, name: &str) -> Result<&str> {
        self.tokens
            .get(name)
            .map(String::as_str)
            .with_context(|| format!("no invite for {name}"))
    }

    /// The WebSocket URL.
    pub fn ws_url(&self) -> String {
        self.world.server.ws_url()
    }

    /// `name` agrees to online mediation and recording.
    pub async fn consent(&self, name: &str) -> Result<Value> {
        let answer = self
            .world
            .api
            .post(
                "/api/v1/room/consent",
                json!({"online_mediation": true, "recording": true}),
                self.token(name)?,
            )
            .await?
            .expect(StatusCode::CREATED)?;
        Ok(answer.body)
    }

    /// The session record as the mediator reads it.
    pub async fn timeline(&self) -> Result<Vec<Value>> {
        let answer = self
            .world
            .api
            .get(
                &format!("/api/v1/sessions/{}/timeline", self.session_id),
                &self.world.mediator_a,
            )
            .await?
            .expect(StatusCode::OK)?;
        Ok(answer.body["items"].as_array().context("items")?.to_owned())
    }

    /// What the media server forwarded to whom: subscriber seat → publisher seat → packets.
    pub async fn media(&self) -> Result<HashMap<String, HashMap<String, u64>>> {
        let answer = self
            .world
            .api
            .get(
                &format!("/api/v1/sessions/{}/media", self.session_id),
                &self.world.mediator_a,
            )
            .await?
            .expect(StatusCode::OK)?;
        let mut report = HashMap::new();
        for subscriber in answer.body["subscribers"]
            .as_array()
            .context("subscribers")?
        {
            let mut from = HashMap::new();
            for r in subscriber["received_from"]
                .as_array()
                .context("received_from")?
            {
                from.insert(
                    r["participant_id"].as_str().context("id")?.to_owned(),
                    r["packets"].as_u64().context("packets")?,
                );
            }
            report.insert(
                subscriber["participant_id"]
                    .as_str()
                    .context("participant_id")?
                    .to_owned(),
                from,
            );
        }
        Ok(report)
    }
}

/// Waits until `mediator` sees `name` in the waiting room, then admits them. Returns their
/// seat.
pub async fn admit(mediator: &Bystander, name: &str) -> Result<String> {
    let frame = mediator
        .wait_for_frame(
            &format!("{name} in the waiting room"),
            Duration::from_secs(10),
            |f| matches!(f, ServerFrame::WaitingRoom { waiting } if waiting.iter().any(|p| p.name == name)),
        )
        .await?;
    let ServerFrame::WaitingRoom { waiting } = frame else {
        return Err(anyhow!("not a waiting list"));
    };
    let id = waiting
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.id.clone())
        .context("the waiting person")?;
    mediator
        .send(ClientFrame::Admit {
            participant_id: Some(id.clone()),
        })
        .await?;
    Ok(id)
}

/// Joins `name` through the waiting room, admitted by `mediator`.
pub async fn join_admitted(
    world: &SessionWorld,
    mediator: &Bystander,
    name: &str,
) -> Result<Bystander> {
    let (url, token) = (world.ws_url(), world.token(name)?.to_owned());
    let who = name.to_owned();
    let joining = tokio::spawn(async move { Bystander::join(&url, &token, None, &who).await });
    admit(mediator, name).await?;
    let joined = joining.await??;
    ensure!(joined.joined().participant.name == name);
    Ok(joined)
}
