//! The way out for invite messages: the channel the configuration names. The log channel
//! and what a message is ([`accord_cases::notify`]) are the domain's; the HTTP gateway's
//! transport is here at the edge, so the domain crate carries no HTTP client.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::{Error, Result};
use accord_cases::notify::{DeliveryError, LogNotifier, Notification, Notifier, NotifyConfig};

/// The notifier `config` asks for.
pub fn notifier(config: &NotifyConfig) -> Result<Box<dyn Notifier>> {
    Ok(match config {
        NotifyConfig::Log => Box::new(LogNotifier),
        NotifyConfig::Http { url, bearer_token } => {
            Box::new(HttpNotifier::new(url, bearer_token.clone())?)
        }
    })
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

    async fn send(&self, notification: &Notification) -> Result<(), DeliveryError> {
        let mut request = self.client.post(&self.url).json(notification);
        if let Some(token) = &self.bearer_token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| {
            // Without the URL: a gateway's address may carry its credentials.
            tracing::warn!(error = %e.without_url(), "notification gateway unreachable");
            DeliveryError::Unreachable
        })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            tracing::warn!(%status, "notification gateway refused a message");
            Err(DeliveryError::Refused(status.as_u16()))
        }
    }
}
