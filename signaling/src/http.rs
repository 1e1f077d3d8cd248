//! HTTP routes: health, metrics, join-token minting, and the WebSocket upgrade.

use accord_protocol::MAX_FRAME_BYTES;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde::Serialize;

use crate::AppState;
use crate::auth::ApiKey;
use crate::cluster::relay;
use crate::error::{Error, Result};
use crate::limits::ClientAddress;
use accord_cases::tokens::TokenRequest;

/// Every route of the service.
pub fn router(state: AppState) -> Router {
    let max_file_bytes = state.config().max_evidence_bytes;
    let one_file = crate::evidence::body_limit(max_file_bytes, 1, crate::evidence::FRAMING_BYTES);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/tokens", post(create_token))
        .route("/ws", any(websocket))
        .merge(crate::whip::router().layer(whip_cors()))
        .merge(crate::intake::router(max_file_bytes))
        .merge(crate::staff::router())
        .merge(crate::casework::router(one_file))
        .merge(crate::recording::review::router())
        .merge(crate::room_api::router(one_file))
        .merge(crate::agreements::router())
        .merge(crate::confirmation::router())
        .merge(crate::openapi::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

/// What the browser app needs and nothing more: its own scripts, styles and fonts; images and
/// media of its own origin or made in the page (evidence previews, QR codes); the API and the
/// WebSocket of its own origin; and no page may frame it (the mediator's console must not be
/// clickjacked). A response that brings its own policy (the API docs page) keeps it.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; \
     font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The browser security headers of every answer, pages and API alike; API answers carry
/// personal data, so no cache keeps them.
async fn security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if api {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    // Draining first: a node going away must take no new traffic even while it still serves.
    if crate::drain::is_draining(&state) {
        (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response()
    } else if state.is_ready() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting").into_response()
    }
}

async fn metrics(State(state): State<AppState>) -> Result<Response> {
    let body = state
        .metrics()
        .render()
        .map_err(|e| Error::Internal(format!("rendering metrics: {e}")))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

#[derive(Serialize)]
struct TokenResponse {
    token: String,
}

async fn create_token(
    State(state): State<AppState>,
    _: ApiKey,
    body: std::result::Result<Json<TokenRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<TokenResponse>> {
    let Json(request) = body?;
    // A case session's seats come from its invites and from opening it, so that each one
    // passes the waiting room and consent and appears in the session's record.
    if state
        .store()
        .session_by_room(&request.room)
        .await?
        .is_some()
    {
        return Err(Error::field(
            "room",
            "belongs to a mediation session; invite people to the session instead",
        ));
    }
    let token = state.keys().mint(request)?;
    Ok(Json(TokenResponse { token }))
}

async fn websocket(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    // A socket another node relayed says whose it is; headers that do not verify are
    // ignored, and the socket is placed like any client's.
    let relayed = relay::verify(state.keys(), &headers, "GET", "/ws", relay::now_s());
    let origin = crate::session::Origin {
        client: relayed.as_ref().map_or(client.0, |r| r.client),
        relayed,
    };
    // The transport accepts somewhat more than the protocol allows, so an oversized frame
    // gets a readable error frame rather than a torn connection.
    upgrade
        .max_message_size(MAX_FRAME_BYTES * 4)
        .max_frame_size(MAX_FRAME_BYTES * 4)
        .on_upgrade(move |socket| crate::session::run(socket, state, origin))
}

/// Browser-based WHIP/WHEP players call from other origins; they need `Location`.
fn whip_cors() -> tower_http::cors::CorsLayer {
    use axum::http::Method;
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::POST, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([header::LOCATION, header::LINK])
}

/// The browser app answers GETs no route took; everything else is an API 404.
async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    crate::web::serve(&method, &uri)
        .unwrap_or_else(|| Error::NotFound("no such route").into_response())
}
