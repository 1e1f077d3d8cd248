//! HTTP requests one node sends on to another: a WHIP/WHEP offer or resource request
//! ([`crate::whip`]) or a participant's room request ([`crate::room_api`]) that reached a
//! node which does not hold what it needs. The request goes to the other node's
//! `internal_url`, signed as a relay when the caller says so ([`super::relay`]), and the
//! other node's answer comes back as it gave it.
//!
//! One client serves every such request, so connections to the other nodes are reused.
//! Bodies sent on are already bounded by the route that took them; answers are passed back
//! chunk by chunk, each hop within the request's deadline, so a large evidence file is never
//! held whole in memory here.

use std::sync::OnceLock;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, Method, Uri, header};
use axum::response::Response;
use futures_util::stream;

use super::{Placement, relay};
use crate::AppState;
use crate::error::{Error, Result};
use crate::limits::ClientAddress;

/// Where a request goes, and the relay headers that go with it (none for a request the
/// other node serves as any client's).
pub struct Hop<'a> {
    /// The other node's id, for logs.
    pub node: &'a str,
    /// Its `internal_url`.
    pub internal_url: &'a str,
    /// [`relay::signed_headers`] for this method and path, or nothing.
    pub signed: Vec<(&'static str, String)>,
}

/// Which headers of the other node's answer come back.
pub enum Keep {
    /// Only these: for routes whose own layers (CORS) add the rest here, where a second copy
    /// would make browsers refuse the answer.
    Only(&'static [HeaderName]),
    /// All but the hop-by-hop ones (RFC 9110 §7.6.1): the answer as the other node gave it.
    EndToEnd,
}

/// Headers that describe one connection, never the message: not passed back.
const HOP_BY_HOP: &[HeaderName] = &[
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
];

/// What a request sends on besides its body.
pub struct Outgoing<'a> {
    /// Its method.
    pub method: Method,
    /// Its path with the query, as the other node routes it (and as the relay signs it).
    pub path: &'a str,
    /// The client's headers.
    pub headers: &'a HeaderMap,
    /// Which of them go on (the bearer token, the body's type, …).
    pub pass: &'a [HeaderName],
    /// How long the other node gets, from connecting to the answer's last byte.
    pub deadline: Duration,
}

/// The client every node-to-node request uses.
fn node_client() -> Result<&'static reqwest::Client> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    let client = reqwest::Client::builder()
        .connect_timeout(relay::CONNECT_TIMEOUT)
        // A redirect from another node is passed back, never followed: it is the client's.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::Internal(format!("building the node-to-node client: {e}")))?;
    Ok(CLIENT.get_or_init(|| client))
}

fn unreachable() -> Error {
    Error::Unavailable(
        "the server running this session cannot be reached; try again shortly".into(),
    )
}

/// Sends `request` with `body` to `hop` and returns its answer: status, the headers `keep`
/// names, and the body passed on as it arrives.
pub async fn send_on(
    hop: Hop<'_>,
    request: Outgoing<'_>,
    body: Bytes,
    keep: Keep,
) -> Result<Response> {
    let url = format!("{}{}", hop.internal_url.trim_end_matches('/'), request.path);
    let mut sending = node_client()?
        .request(request.method, &url)
        .timeout(request.deadline)
        .body(body);
    for name in request.pass {
        for value in request.headers.get_all(name) {
            sending = sending.header(name, value);
        }
    }
    for (name, value) in hop.signed {
        sending = sending.header(name, value);
    }
    let answer = sending.send().await.map_err(|e| {
        tracing::warn!(node = %hop.node, error = %e, "cannot reach the node serving a request");
        unreachable()
    })?;
    let mut response = Response::builder().status(answer.status());
    match keep {
        Keep::Only(names) => {
            for name in names {
                for value in answer.headers().get_all(name) {
                    response = response.header(name, value);
                }
            }
        }
        Keep::EndToEnd => {
            for (name, value) in answer.headers() {
                if !HOP_BY_HOP.contains(name) {
                    response = response.header(name, value);
                }
            }
        }
    }
    let node = hop.node.to_owned();
    // One chunk at a time, each read within the request's deadline (set above); a broken
    // answer ends the body with an error, which the client sees as a cut download.
    let chunks = stream::unfold(Some(answer), move |answer| {
        let node = node.clone();
        async move {
            let mut answer = answer?;
            match answer.chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(answer))),
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(node = %node, error = %e, "a node broke off its answer");
                    Some((Err(std::io::Error::other(e)), None))
                }
            }
        }
    });
    response
        .body(Body::from_stream(chunks))
        .map_err(|e| Error::Internal(format!("passing on a node's answer: {e}")))
}

/// Whether another node of the cluster relayed this request here, with a signature that
/// verifies: it placed the session here, so the request is served here and never sent on
/// again (a relay never loops). Made-up relay headers count for nothing.
pub fn relayed_here(state: &AppState, request: &Parts) -> bool {
    let path = path_of(&request.uri);
    let method = request.method.as_str();
    relay::verify(
        state.keys(),
        &request.headers,
        method,
        &path,
        relay::now_s(),
    )
    .is_some()
}

/// The owner of placement `key` when that is another node whose registration is there.
/// `None` (served here) when this node owns it, when no node does (nobody is in the
/// session), when its owner's registration is gone (it died; the session is being placed
/// again), and when the registry cannot be read (as placing does without Redis: what is
/// here is served).
pub async fn owner_elsewhere(state: &AppState, key: &str) -> Option<Placement> {
    match state.cluster().owner_of(key).await {
        Ok(Some(owner)) if !owner.local && !owner.internal_url.is_empty() => Some(owner),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look up a session's owner; serving here");
            None
        }
    }
}

/// How a client's request is sent on to a session's owner.
pub struct Sending {
    /// The body's most bytes: more is refused here (413), as the route's own limit would.
    pub body_limit: usize,
    /// How long the client has to send the body.
    pub body_deadline: Duration,
    /// What of the client's headers goes on.
    pub pass: &'static [HeaderName],
    /// How long the owner has to answer, to the answer's last byte.
    pub deadline: Duration,
}

/// Sends a client's `request` on to `owner`, signed as a relay for the client's address,
/// its body read here first within `sending`'s bounds; returns the owner's answer as it
/// gave it.
pub async fn relay_to_owner(
    state: &AppState,
    owner: &Placement,
    request: Request,
    sending: Sending,
) -> Result<Response> {
    let path = path_of(request.uri());
    let peer = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let (parts, body) = request.into_parts();
    let client = ClientAddress::of(&parts.headers, peer, state.config().trust_forwarded_for);
    let reading = read_body(body, sending.body_limit);
    let Ok(body) = tokio::time::timeout(sending.body_deadline, reading).await else {
        return Err(Error::BadRequest(
            "the request's body did not arrive in time".into(),
        ));
    };
    let body = body?;
    let signed = relay::signed_headers(
        state.keys(),
        state.cluster().node_id(),
        client.0,
        None,
        parts.method.as_str(),
        &path,
        relay::now_s(),
    );
    tracing::debug!(
        owner = %owner.owner,
        client = %relay::MaskedIp(client.0),
        "sending a request on to the node that owns its session"
    );
    let hop = Hop {
        node: &owner.owner,
        internal_url: &owner.internal_url,
        signed,
    };
    let outgoing = Outgoing {
        method: parts.method.clone(),
        path: &path,
        headers: &parts.headers,
        pass: sending.pass,
        deadline: sending.deadline,
    };
    send_on(hop, outgoing, body, Keep::EndToEnd).await
}

/// A request's path with its query, as routed and as a relay signs it.
fn path_of(uri: &Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned())
}

/// A request's body, refused (413) past `limit` bytes.
async fn read_body(body: Body, limit: usize) -> Result<Bytes> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut read = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| Error::BadRequest("the request's body broke off".into()))?;
        if read.len().saturating_add(chunk.len()) > limit {
            return Err(Error::PayloadTooLarge(
                "the request is larger than this endpoint takes".into(),
            ));
        }
        read.extend_from_slice(&chunk);
    }
    Ok(read.into())
}
