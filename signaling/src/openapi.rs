//! The HTTP API described as OpenAPI 3.1 (`signaling/openapi.json`, written by hand next to
//! the handlers it describes), served at `/api/docs/openapi.json`, and a page at `/api/docs`
//! that renders it for reading. The page is self-contained: deployments and developer
//! machines often have no internet, so no script or style comes from elsewhere.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;

/// The document.
pub const DOCUMENT: &str = include_str!("../openapi.json");

/// The page that renders the document (`signaling/openapi.html`).
const PAGE: &str = include_str!("../openapi.html");

/// `/api/docs` and `/api/docs/openapi.json`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/docs", get(page))
        .route("/api/docs/openapi.json", get(document))
}

async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The page's script and style are inline (it must work offline); nothing else runs.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                 connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            ),
        ],
        PAGE,
    )
}
