//! Staff access tokens against the store they are signed with, on SQLite and PostgreSQL:
//! signing keys that rotate, and join and staff tokens never taken for each other. The
//! scratch databases are the store suites' own (`cases/tests/common`).

use crate::common::{Scratch, staff_member};
use accord_cases::Error;
use accord_cases::store::model::StaffRole;
use sqlx::Row;

async fn access_tokens_verify_across_key_rotation_until_their_key_retires(s: &Scratch) {
    use accord_cases::tokens::staff::{issue_access, issue_access_at, verify_access};
    let store = &s.store;
    let staff = staff_member(store, "mediator").await;
    let old = issue_access(store, &staff)
        .await
        .expect("first key is made");
    let claims = verify_access(store, &old).await.expect("valid");
    assert_eq!(claims.sub, staff.id);
    assert_eq!(claims.role, StaffRole::Mediator);
    assert_eq!(claims.aud, "accord-staff");
    assert_eq!(claims.exp - claims.iat, 15 * 60);
    let first = store
        .current_signing_key()
        .await
        .expect("key")
        .expect("one");

    let second = store.add_signing_key(&[7u8; 32]).await.expect("rotate");
    let new = issue_access(store, &staff).await.expect("signed");
    let kid = |token: &str| jsonwebtoken::decode_header(token).expect("header").kid;
    assert_eq!(kid(&new), Some(second.kid.clone()));
    assert_eq!(kid(&old), Some(first.kid.clone()));
    verify_access(store, &old)
        .await
        .expect("older key still verifies");

    store.retire_signing_key(&first.kid).await.expect("retire");
    assert!(matches!(
        verify_access(store, &old).await,
        Err(Error::Unauthorized(_))
    ));
    verify_access(store, &new)
        .await
        .expect("current key verifies");

    let an_hour_ago = accord_cases::store::now_ms() as u64 / 1000 - 3600;
    let expired = issue_access_at(store, &staff, an_hour_ago)
        .await
        .expect("signed");
    assert!(matches!(
        verify_access(store, &expired).await,
        Err(Error::Unauthorized("the access token has expired"))
    ));

    let mut forged = new.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    assert!(matches!(
        verify_access(store, &forged).await,
        Err(Error::Unauthorized(_))
    ));
    let raw: Vec<u8> = sqlx::query("SELECT secret FROM signing_keys WHERE kid = $1")
        .bind(&second.kid)
        .fetch_one(store.pool())
        .await
        .expect("row")
        .get(0);
    assert_ne!(raw, vec![7u8; 32], "signing secrets are sealed at rest");
}
both_databases!(
    signing_key_rotation,
    access_tokens_verify_across_key_rotation_until_their_key_retires
);

async fn join_and_staff_tokens_are_never_taken_for_each_other(s: &Scratch) {
    use accord_cases::tokens::staff::{issue_access, verify_access};
    use accord_cases::tokens::{TokenKeys, TokenRequest};
    let store = &s.store;
    let staff = staff_member(store, "mediator").await;
    let secret = [9u8; 32];
    let join_keys = TokenKeys::new(&secret);
    let request: TokenRequest =
        serde_json::from_value(serde_json::json!({"room": "r1", "identity": "p1"}))
            .expect("request");
    let join = join_keys.mint(request).expect("join token");
    assert!(matches!(
        verify_access(store, &join).await,
        Err(Error::Unauthorized(_))
    ));

    // Even signed with the very key of the staff tokens and naming its kid, a join token's
    // audience keeps it out.
    let key = store.add_signing_key(&secret).await.expect("key");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(key.kid);
    let claims = join_keys.verify(&join).expect("join claims");
    let resigned = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&secret),
    )
    .expect("resign");
    assert!(matches!(
        verify_access(store, &resigned).await,
        Err(Error::Unauthorized(_))
    ));

    let access = issue_access(store, &staff).await.expect("access");
    assert!(join_keys.verify(&access).is_err());
}
both_databases!(
    join_tokens_are_not_staff_tokens,
    join_and_staff_tokens_are_never_taken_for_each_other
);
