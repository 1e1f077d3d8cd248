//! WHIP/WHEP requests for another node: a new offer whose session another node owns goes to
//! that owner, signed as a relay; a `PATCH` or `DELETE` of a resource goes to the node its id
//! names. The answer comes back as the other node gave it.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, Method, header};
use axum::response::Response;

use crate::AppState;
use crate::cluster::send_on::{self, Hop, Keep, Outgoing};
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

/// What of the client's request goes on.
const PASSED: &[HeaderName] = &[
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::IF_MATCH,
];

/// What of the other node's answer comes back: what a WHIP client reads. The CORS headers
/// are this node's own layer's.
const KEPT: &[HeaderName] = &[
    header::CONTENT_TYPE,
    header::LOCATION,
    header::ETAG,
    header::LINK,
    header::RETRY_AFTER,
];

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
    let (node, internal_url, signed) = match relay_to {
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
            (
                placement.owner.clone(),
                placement.internal_url.clone(),
                signed,
            )
        }
        Relay::Resource(node) => {
            let nodes = state.cluster().live_nodes().await;
            let Some(owner) = nodes.into_iter().find(|n| n.id == node) else {
                // Its node is gone, and its media with it.
                return Err(Error::NotFound("no such session"));
            };
            (owner.id, owner.internal_url, Vec::new())
        }
    };
    let hop = Hop {
        node: &node,
        internal_url: &internal_url,
        signed,
    };
    let request = Outgoing {
        method,
        path,
        headers,
        pass: PASSED,
        deadline: SEND_ON_TIMEOUT,
    };
    send_on::send_on(hop, request, body, Keep::Only(KEPT)).await
}
