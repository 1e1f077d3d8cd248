//! The embedded web client: which requests it answers, and with what.

use accord_signaling::web::serve;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;

fn get(path: &str) -> Option<Response> {
    serve(&Method::GET, &path.parse().expect("a valid test URI"))
}

#[test]
fn api_paths_and_other_methods_are_never_the_app() {
    assert!(get("/api/v1/nope").is_none());
    assert!(get("/whip/abc").is_none());
    assert!(serve(&Method::POST, &"/".parse().expect("a valid test URI")).is_none());
}

#[test]
fn screens_get_the_app_and_missing_files_get_404() {
    let join = get("/join").expect("the app answers /join");
    assert_ne!(join.status(), StatusCode::NOT_FOUND);
    let missing = get("/assets/gone-1234.js").expect("the app answers its own assets");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[test]
fn the_favicon_is_an_image_at_both_addresses() {
    // A binary without the built web client answers every screen with 503 and a note.
    if get("/join").is_some_and(|screen| screen.status() == StatusCode::SERVICE_UNAVAILABLE) {
        return; // the web client was never built: nothing to serve
    }
    for path in ["/favicon.ico", "/favicon.svg"] {
        let icon = get(path).expect("the app answers its icon");
        assert_eq!(icon.status(), StatusCode::OK, "{path}");
        let kind = icon.headers().get(header::CONTENT_TYPE).cloned();
        assert!(
            kind.as_ref()
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("image/")),
            "{path}: {kind:?}"
        );
    }
}
