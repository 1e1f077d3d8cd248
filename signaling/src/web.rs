//! The browser app (`web-client/`, built by Vite into `web-client/dist/`), embedded in the binary.
//!
//! Release builds carry the files inside the binary; debug builds read them from
//! `web-client/dist/` at run time (rust-embed's behaviour), so a rebuilt web client shows up
//! without recompiling Rust. Any GET that is not an API route and not a file is a screen of the
//! single-page app (`/join`, …) and gets `index.html`.

use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

/// `web-client/dist/`; `build.rs` creates it empty when the web client was never built.
#[derive(RustEmbed)]
#[folder = "../web-client/dist/"]
struct WebClient;

/// Paths that belong to the API: an unknown one there is a 404, never the app.
const API_PREFIXES: &[&str] = &[
    "/api/", "/ws", "/whip", "/whep", "/metrics", "/healthz", "/readyz",
];

/// `web-client/public/favicon.svg`, which every page of the app links as its icon.
const FAVICON: &str = "favicon.svg";

/// Vite names everything under `assets/` by content hash, so a file there never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `index.html` names the current hashed assets: always revalidate it.
const REVALIDATE: &str = "no-cache";

/// What to answer for a request no API route took, or `None` when it is not the app's.
pub fn serve(method: &Method, uri: &Uri) -> Option<Response> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let path = uri.path();
    if API_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return None;
    }
    let file = match path.trim_start_matches('/') {
        // Browsers ask for `/favicon.ico` on every page they have no icon link for (the API's
        // own pages); the app's icon is an SVG.
        "favicon.ico" => FAVICON,
        other => other,
    };
    if !file.is_empty() {
        if let Some(response) = asset(file) {
            return Some(response);
        }
        // A missing hashed asset is a stale page asking for an old build: say so with a 404
        // rather than answering JavaScript with HTML.
        if file.starts_with("assets/") || file.contains('.') {
            return Some((StatusCode::NOT_FOUND, "no such file").into_response());
        }
    }
    Some(asset("index.html").unwrap_or_else(not_built))
}

fn asset(file: &str) -> Option<Response> {
    let content = WebClient::get(file)?;
    let cache = if file.starts_with("assets/") {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let mime = content.metadata.mimetype();
    // Text types need the charset: the app's strings are Chinese.
    let content_type = if mime.starts_with("text/") || mime == "application/javascript" {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    let mut response = content.data.into_owned().into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Some(response)
}

/// A fresh clone run with plain `cargo run` has no built web client yet.
fn not_built() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        "The Accord web client is not built into this binary.\n\
         Build it and run the server with: scripts/serve.sh\n\
         (or: cd web-client && npm ci && npm run build, then rebuild accord)\n\
         网页客户端尚未构建：请运行 scripts/serve.sh\n",
    )
        .into_response()
}
