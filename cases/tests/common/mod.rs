//! What the store suites share: a store on a scratch database of each kind, the macro that
//! runs a test body on both, and small builders of test records. Each suite uses part of it.
#![allow(dead_code)]

pub mod recordings;

use accord_cases::store::model::{
    Actor, CaseStatus, Category, Channel, NewCase, NewOrganisation, NewParty, NewStaff,
    Organisation, PartyKind, Risk, Side, Staff, StaffRole,
};
use accord_cases::store::{Store, StoreKeys};

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A store on a database of its own, removed when dropped.
pub struct Scratch {
    /// The store under test.
    pub store: Store,
    /// Its database URL.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Schema(String, String),
}

impl Scratch {
    pub async fn sqlite() -> Scratch {
        let dir = std::env::temp_dir().join(format!("accord-store-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite://{}/accord.db", dir.display());
        let store = Store::open(&url, StoreKeys::random())
            .await
            .expect("open sqlite");
        Scratch {
            store,
            url,
            cleanup: Cleanup::File(dir),
        }
    }

    pub async fn postgres() -> Scratch {
        let base =
            std::env::var("ACCORD_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.into());
        let schema = format!("accord_test_{:016x}", rand::random::<u64>());
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(&base)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {base} is needed for the store tests: {e}"));
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .expect("schema");
        admin.close().await;
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        let store = Store::open(&url, StoreKeys::random())
            .await
            .expect("open postgres");
        Scratch {
            store,
            url,
            cleanup: Cleanup::Schema(base, schema),
        }
    }

    pub async fn finish(self) {
        self.store.close().await;
        match self.cleanup {
            Cleanup::File(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema(base, schema) => {
                if let Ok(admin) = sqlx::AnyPool::connect(&base).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                        .execute(&admin)
                        .await;
                    admin.close().await;
                }
            }
        }
    }
}

/// Runs `$body(scratch)` on SQLite and on PostgreSQL, as two tests.
#[macro_export]
macro_rules! both_databases {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let scratch = super::Scratch::sqlite().await;
                super::$body(&scratch).await;
                scratch.finish().await;
            }

            #[tokio::test]
            async fn postgres() {
                let scratch = super::Scratch::postgres().await;
                super::$body(&scratch).await;
                scratch.finish().await;
            }
        }
    };
}

pub fn admin() -> Actor {
    Actor::System
}

pub async fn organisation(store: &Store, short: &str, region: &str) -> Organisation {
    store
        .create_organisation(
            &admin(),
            NewOrganisation {
                name: format!("{short}区人民调解委员会"),
                short_name: short.into(),
                region: region.into(),
                channel: Channel::Peoples,
                court: Some(format!("{short}区人民法院")),
            },
        )
        .await
        .expect("organisation")
}

pub fn new_case(org: &Organisation, title: &str) -> NewCase {
    NewCase {
        organisation_id: org.id.clone(),
        category: Category::Neighbours,
        region: org.region.clone(),
        risk: Risk::Blue,
        title: title.into(),
        facts: "楼上卫生间漏水，楼下天花板发霉。".into(),
        claims: "赔偿维修费 3000 元。".into(),
        status: CaseStatus::Accepted,
        tracking_code: None,
    }
}

pub fn person(name: &str, side: Side, id_number: Option<&str>) -> NewParty {
    NewParty {
        side,
        kind: PartyKind::Person,
        name: name.into(),
        phone: Some("13800138000".into()),
        id_number: id_number.map(str::to_owned),
        represents: None,
        attorney_letter: None,
    }
}

/// A mediator with no organisation, for the sign-in tests.
pub async fn staff_member(store: &Store, username: &str) -> Staff {
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
