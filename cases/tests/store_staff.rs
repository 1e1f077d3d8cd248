//! Staff accounts and their sign-in records in the store, on SQLite and PostgreSQL (see
//! `store.rs` for the databases): unique usernames, signing keys that rotate, refresh tokens
//! spent once, first-run setup under a race, and disabled accounts.

#[macro_use]
mod common;

use accord_cases::Error;
use accord_cases::store::model::{NewStaff, StaffRole};
use common::{Scratch, admin, staff_member};
use sha2::Digest as _;
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
        store
            .set_password_hash(&admin(), &"ST_nobody".into(), "x")
            .await,
        Err(Error::NotFound(_))
    ));
}
both_databases!(
    staff_accounts,
    usernames_are_unique_and_staff_are_found_by_them
);

async fn a_refresh_token_is_spent_once_and_its_reuse_revokes_the_rest(s: &Scratch) {
    use accord_cases::store::Refreshed;
    let store = &s.store;
    let staff = staff_member(store, "mediator").await;
    let later = accord_cases::store::now_ms() + 60_000;
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
    let past = accord_cases::store::now_ms() - 1;
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
    let hash = hex::encode(sha2::Sha256::digest(accord_cases::random_token(32)));
    store
        .record_login(&staff.id, &hash, accord_cases::store::now_ms() + 3_600_000)
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
