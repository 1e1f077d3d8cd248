//! Telling people about their invites: an SMS or WeChat template message carrying the link.
//!
//! Deployments connect their own gateway (a government SMS platform, a WeChat official
//! account): the server POSTs one JSON object per message to a configured URL and the
//! gateway does the rest; that transport is the edge's (`accord-signaling`), so this crate
//! needs no HTTP client. Without a gateway, [`LogNotifier`] records that a message was due
//! (template, invite, masked phone) and staff copy the text shown with each invite into
//! whatever channel they use. The text itself never reaches the log: it carries the join
//! link, whose token lets anyone who reads it act as that person, and the case's title and
//! number.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Serialize;

use crate::store::mask_phone;

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

/// Why a message did not go out. The words are shown to staff, so they name the gateway's
/// answer and never its address (which may carry its credentials).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The gateway could not be reached (down, refused the connection, timed out).
    #[error("the notification gateway could not be reached")]
    Unreachable,
    /// The gateway answered with this HTTP status instead of a 2xx.
    #[error("the notification gateway answered {0}")]
    Refused(u16),
}

/// Sends notifications.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// The channel's name as reported to staff (`log`, `http`).
    fn channel(&self) -> &'static str;
    /// Delivers one message or says why it could not.
    async fn send(&self, notification: &Notification) -> Result<(), DeliveryError>;
}

/// Records each message in the log by what it is (template, invite, masked phone), never by
/// what it says: see the module docs.
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    fn channel(&self) -> &'static str {
        "log"
    }

    async fn send(&self, notification: &Notification) -> Result<(), DeliveryError> {
        tracing::info!(
            template = notification.template,
            invite = notification.invite_id.as_deref().unwrap_or("-"),
            to = %mask_phone(&notification.to),
            "notification due (log channel: no gateway configured; staff send the invite's text)"
        );
        Ok(())
    }
}
