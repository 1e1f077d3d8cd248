use accord_signaling::auth::bearer_token;
use axum::http::{HeaderMap, HeaderValue, header};

#[test]
fn the_bearer_scheme_is_matched_in_any_case() {
    let with = |value: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("header"),
        );
        bearer_token(&headers).map(str::to_owned)
    };
    for value in ["Bearer xyz", "bearer xyz", "BEARER  xyz "] {
        assert_eq!(with(value).as_deref(), Some("xyz"), "{value}");
    }
    assert_eq!(with("Basic xyz"), None);
    assert_eq!(with("Bearer "), None);
    assert_eq!(with("Bearerxyz"), None);
}
