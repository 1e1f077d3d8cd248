//! WHIP/WHEP requests for another node: a new offer whose session another node owns goes to
//! that owner, signed as a relay; a `PATCH` or `DELETE` of a resource goes to the node its id
//! names. The answer comes back as the other node gave it.

use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, header};
use axum::response::Response;

use crate::AppState;
use crate::cluster::{Placement, relay};
use crate::error::{Error, Result};
use crate::limits::ClientAddress;

/// Between a resource id's node and its random part (node ids never hold a `.`).
pub(super) const ID_SEPARATOR: char = '.';

/// The node a resource id names, when that is not this node.
pub(super) fn elsewhere(state: &AppState, id: &str) -> Option<String> {
    let (node, _) = id.split_once(ID_SEPARATOR)?;
    (node != state.cluster().node_id() && crate::cluster::valid_node_id(node))
        .then(|| node.to_owned())
}

/// Where a request is sent on to.
pub(super) enum Relay<'a> {
    /// A new offer, to the node that owns its session; signed as a relay so the owner
    /// serves it without placing it again.
    Offer {
        placement: &'a Placement,
        client: ClientAddress,
    },
    /// A `PATCH` or `DELETE` of a resource, to the node its id names.
    Resource(String),
}

/// How long the owner gets to answer a request sent on to it: an offer's answer is made
/// at once (candidates trickle afterwards).
const SEND_ON_TIMEOUT: Duration = Duration::from_secs(15);

/// One client for every node-to-node request: connections to the other nodes are reused.
fn node_client() -> Result<&'static reqwest::Client> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    let client = reqwest::Client::builder()
        .connect_timeout(relay::CONNECT_TIMEOUT)
        .timeout(SEND_ON_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::Internal(format!("building the node-to-node client: {e}")))?;
    Ok(CLIENT.get_or_init(|| client))
}

/// Sends a WHIP/WHEP request on to the node that serves it, and returns that node's answer
/// as it came (status, the headers a WHIP client reads, body).
pub(super) async fn send_on(
    state: &AppState,
    relay_to: Relay<'_>,
    method: Method,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let unreachable = || {
        Error::Unavailable(
            "the server running this session cannot be reached; try again shortly".into(),
        )
    };
    let (base, signed) = match relay_to {
        Relay::Offer { placement, client } => {
            let signed = relay::signed_headers(
                state.keys(),
                state.cluster().node_id(),
                client.0,
                placement.moved_from.as_deref(),
                method.as_str(),
                path,
                relay::now_s(),
            );
            (placement.internal_url.clone(), signed)
        }
        Relay::Resource(node) => {
            let nodes = state.cluster().live_nodes().await;
            let Some(owner) = nodes.into_iter().find(|n| n.id == node) else {
                // Its node is gone, and its media with it.
                return Err(Error::NotFound("no such session"));
            };
            (owner.internal_url, Vec::new())
        }
    };
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let mut request = node_client()?.request(method, &url).body(body);
    for name in [
        header::AUTHORIZATION,
        header::CONTENT_TYPE,
        header::IF_MATCH,
    ] {
        for value in headers.get_all(&name) {
            request = request.header(&name, value);
        }
    }
    for (name, value) in signed {
        request = request.header(name, value);
    }
    let answer = request.send().await.map_err(|e| {
        tracing::warn!(error = %e, "cannot reach the node serving a WHIP/WHEP session");
        unreachable()
    })?;
    let status = answer.status();
    let mut response = Response::builder().status(status);
    for name in [
        header::CONTENT_TYPE,
        header::LOCATION,
        header::ETAG,
        header::LINK,
        header::RETRY_AFTER,
    ] {
        for value in answer.headers().get_all(&name) {
            response = response.header(&name, value);
        }
    }
    let body = answer.bytes().await.map_err(|e| {
        tracing::warn!(error = %e, "the node serving a WHIP/WHEP session broke off its answer");
        unreachable()
    })?;
    response
        .body(axum::body::Body::from(body))
        .map_err(|e| Error::Internal(format!("passing on a node's answer: {e}")))
}
