//! Staff accounts and their sign-in records in the store, on SQLite and PostgreSQL (see
//! `store.rs` for the databases): unique usernames, signing keys that rotate, refresh tokens
//! spent once, first-run setup under a race, and disabled accounts.

#[macro_use]
mod common;

use accord_signaling::error::Error;
use accord_signaling::store::Store;
use accord_signaling::store::model::{NewStaff, StaffRole};
use common::{Scratch, admin};
use sqlx::Row;

async fn usernames_are_unique_and_staff_are_found_by_them(s: &Scratch) {
    let store = &s.store;
    assert_eq!(store.staff_count().await.expect("count"), 0);
    let new = || NewStaff {
        organisation_id: None,
        username: "admin".into(),
        display_name: "管理员".into(),
        role: StaffRole::Administrator,
        court: None,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    };
    let admin_account = store.create_staff(&admin(), new()).await.expect("first");
    assert!(matches!(
        store.create_staff(&admin(), new()).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(store.staff_count().await.expect("count"), 1);
    let found = store
        .staff_by_username("admin")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found, admin_account);
    assert!(
        store
            .staff_by_username("nobody")
            .await
            .expect("lookup")
            .is_none()
    );
    store
        .set_password_hash(&admin(), &found.id, "$argon2id$new")
        .await
        .expect("password");
    assert_eq!(
        store.staff(&found.id).await.expect("staff").password_hash,
        "$argon2id$new"
    );
    assert!(matches!(
        store.set_password_hash(&admin(), "ST_nobody", "x").await,
        Err(Error::NotFound(_))
    ));
}
both_databases!(
    staff_accounts,
    usernames_are_unique_and_staff_are_found_by_them
);

async fn staff_member(store: &Store, username: &str) -> accord_signaling::store::model::Staff {
    let new = NewStaff {
        organisation_id: None,
        username: username.into(),
        display_name: username.into(),
        role: StaffRole::Mediator,
        court: None,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    };
    store.create_staff(&admin(), new).await.expect("staff")
}

async fn access_tokens_verify_across_key_rotation_until_their_key_retires(s: &Scratch) {
    use accord_signaling::staff::{issue_access, issue_access_at, verify_access};
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

    let an_hour_ago = accord_signaling::store::now_ms() as u64 / 1000 - 3600;
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
    use accord_signaling::auth::{TokenKeys, TokenRequest};
    use accord_signaling::staff::{issue_access, verify_access};
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

async fn a_refresh_token_is_spent_once_and_its_reuse_revokes_the_rest(s: &Scratch) {
    use accord_signaling::store::Refreshed;
    let store = &s.store;
    let staff = staff_member(store, "mediator").await;
    let later = accord_signaling::store::now_ms() + 60_000;
    store
        .record_login(&staff.id, "h1", later)
        .await
        .expect("login");
    store
        .record_login(&staff.id, "other-device", later)
        .await
        .expect("login");
    let rotated = Refreshed::Rotated {
        staff_id: staff.id.clone(),
    };
    assert_eq!(
        store
            .rotate_refresh_token("h1", "h2", later)
            .await
            .expect("rotate"),
        rotated
    );
    assert_eq!(
        store
            .rotate_refresh_token("h1", "h3", later)
            .await
            .expect("reuse"),
        Refreshed::Reused {
            staff_id: staff.id.clone()
        }
    );
    for spent in ["h2", "other-device"] {
        assert_eq!(
            store
                .rotate_refresh_token(spent, "h4", later)
                .await
                .expect("after reuse"),
            Refreshed::Reused {
                staff_id: staff.id.clone()
            },
            "every token of the account is revoked after a reuse"
        );
    }
    assert_eq!(
        store
            .rotate_refresh_token("unknown", "h5", later)
            .await
            .expect("unknown"),
        Refreshed::Refused
    );
    let past = accord_signaling::store::now_ms() - 1;
    store
        .record_login(&staff.id, "stale", past)
        .await
        .expect("login");
    assert_eq!(
        store
            .rotate_refresh_token("stale", "h6", later)
            .await
            .expect("expired"),
        Refreshed::Refused
    );
    store
        .record_login(&staff.id, "l1", later)
        .await
        .expect("login");
    assert_eq!(
        store.revoke_refresh_token("l1").await.expect("logout"),
        Some(staff.id.clone())
    );
    assert_eq!(store.revoke_refresh_token("l1").await.expect("again"), None);
    let actions: Vec<String> = store
        .audit_of(&format!("staff:{}", staff.id))
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.contains(&"staff.login".to_owned()));
    assert!(actions.contains(&"staff.logout".to_owned()));
    assert!(actions.contains(&"staff.refresh_token_reused".to_owned()));
    let trail = store.verify_audit().await.expect("verify");
    assert!(trail.intact(), "{:?}", trail.problems);
}
both_databases!(
    refresh_token_rotation,
    a_refresh_token_is_spent_once_and_its_reuse_revokes_the_rest
);

async fn first_run_setup_creates_one_administrator_even_when_raced(s: &Scratch) {
    let store = &s.store;
    let attempts = (0..4).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .complete_setup(format!("admin{i}"), "管理员".into(), "$argon2id$x".into())
                .await
        })
    });
    let mut created = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        match attempt.await.expect("task") {
            Ok(staff) => {
                assert_eq!(staff.role, StaffRole::Administrator);
                created += 1;
            }
            Err(Error::Conflict(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(store.staff_count().await.expect("count"), 1);
    assert!(matches!(
        store
            .complete_setup("late".into(), "x".into(), "$argon2id$x".into())
            .await,
        Err(Error::Conflict(_))
    ));
}
both_databases!(
    first_run_setup,
    first_run_setup_creates_one_administrator_even_when_raced
);

async fn a_disabled_account_loses_its_refresh_tokens(s: &Scratch) {
    let store = &s.store;
    let staff = staff_member(store, "li").await;
    let (_token, hash) = accord_signaling::staff::tokens::new_refresh_token();
    store
        .record_login(
            &staff.id,
            &hash,
            accord_signaling::store::now_ms() + 3_600_000,
        )
        .await
        .expect("login");
    let disabled = store
        .disable_staff(&admin(), &staff.id)
        .await
        .expect("disable");
    assert!(disabled.disabled_at.is_some());
    let row = sqlx::query(
        "SELECT COUNT(*) FROM refresh_tokens WHERE staff_id = $1 AND revoked_at IS NULL",
    )
    .bind(&staff.id)
    .fetch_one(s.store.pool())
    .await
    .expect("count");
    assert_eq!(row.try_get::<i64, _>(0).expect("count"), 0);
    assert_eq!(
        store.staff_list(None).await.expect("list")[0].disabled_at,
        disabled.disabled_at
    );
}

both_databases!(disable_staff, a_disabled_account_loses_its_refresh_tokens);
