//! Telling people about their invites: an SMS or WeChat template message carrying the link.
//!
//! Deployments connect their own gateway (a government SMS platform, a WeChat official
//! account): Accord POSTs one JSON object per message to a configured URL and the gateway
//! does the rest. Without one, the log records that a message was due (template, invite,
//! masked phone) and staff copy the text shown with each invite into whatever channel they
//! use. The text itself never reaches the log: it carries the join link, whose token lets
//! anyone who reads it act as that person, and the case's title and number.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::error::{Error, Result};
use accord_cases::store::mask_phone;

/// How notifications leave the server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum NotifyConfig {
    /// Written to the log (the default: nothing to set up).
    #[default]
    Log,
    /// POSTed as JSON to a gateway.
    Http {
        /// The gateway's endpoint.
        url: String,
        /// Sent as `Authorization: Bearer …` when set.
        bearer_token: Option<String>,
    },
}

/// One message to one person.
#[derive(Clone, Debug, Serialize)]
pub struct Notification {
    /// The template the gateway maps to its SMS or WeChat template id, e.g.
    /// `session_invite`.
    pub template: &'static str,
    /// The recipient's phone number.
    pub to: String,
    /// The template's parameters, for gateways that fill templates themselves.
    pub params: BTreeMap<&'static str, String>,
    /// The whole message as text, for gateways that send free text.
    pub text: String,
    /// The invite the message is about, for the log channel's record.
    #[serde(skip)]
    pub invite_id: Option<String>,
}

/// Sends notifications.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// The channel's name as reported to staff (`log`, `http`).
    fn channel(&self) -> &'static str;
    /// Delivers one message or says why it could not.
    async fn send(&self, notification: &Notification) -> Result<()>;
}

/// The notifier `config` asks for.
pub fn notifier(config: &NotifyConfig) -> Result<Box<dyn Notifier>> {
    Ok(match config {
        NotifyConfig::Log => Box::new(LogNotifier),
        NotifyConfig::Http { url, bearer_token } => {
            Box::new(HttpNotifier::new(url, bearer_token.clone())?)
        }
    })
}

/// Records each message in the log by what it is (template, invite, masked phone), never by
/// what it says: see the module docs.
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    fn channel(&self) -> &'static str {
        "log"
    }

    async fn send(&self, notification: &Notification) -> Result<()> {
        tracing::info!(
            template = notification.template,
            invite = notification.invite_id.as_deref().unwrap_or("-"),
            to = %mask_phone(&notification.to),
            "notification due (log channel: no gateway configured; staff send the invite's text)"
        );
        Ok(())
    }
}

/// POSTs each message as JSON to a gateway; any answer but 2xx is a failure.
pub struct HttpNotifier {
    client: reqwest::Client,
    url: String,
    bearer_token: Option<String>,
}

impl HttpNotifier {
    /// A notifier for the gateway at `url`.
    pub fn new(url: &str, bearer_token: Option<String>) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::Internal(format!("building the notification client: {e}")))?;
        Ok(Self {
            client,
            url: url.to_owned(),
            bearer_token,
        })
    }
}

#[async_trait]
impl Notifier for HttpNotifier {
    fn channel(&self) -> &'static str {
        "http"
    }

    async fn send(&self, notification: &Notification) -> Result<()> {
        let mut request = self.client.post(&self.url).json(notification);
        if let Some(token) = &self.bearer_token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| {
            // Without the URL: a gateway's address may carry its credentials.
            tracing::warn!(error = %e.without_url(), "notification gateway unreachable");
            Error::Upstream("the notification gateway could not be reached".into())
        })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            tracing::warn!(%status, "notification gateway refused a message");
            Err(Error::Upstream(format!(
                "the notification gateway answered {}",
                status.as_u16()
            )))
        }
    }
}
