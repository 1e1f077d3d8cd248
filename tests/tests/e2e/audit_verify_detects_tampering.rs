//! `accord audit verify` on a real data directory: intact after ordinary changes, and exit 1
//! naming the entry once a stored audit row is altered or deleted in the database.

use accord_cases::store::model::{
    Actor, CaseStatus, Category, Channel, NewCase, NewOrganisation, Risk,
};
use accord_cases::store::{Store, StoreKeys};
use accord_tests::server::accord_binary;
use anyhow::{Context, Result, ensure};
use std::path::Path;
use std::process::Output;

fn verify(data_dir: &Path) -> Result<Output> {
    std::process::Command::new(accord_binary()?)
        .args(["audit", "verify"])
        .env("ACCORD_DATA_DIR", data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("ACCORD_DATABASE_URL")
        .output()
        .context("running accord audit verify")
}

#[tokio::test]
async fn audit_verify_reports_altered_and_deleted_rows() -> Result<()> {
    let data_dir = accord_tests::fresh_temp_dir("accord-audit")?;
    // The same database and key files `accord serve` would use in this data directory.
    let keys = StoreKeys::load_or_create(&data_dir)?;
    let url = format!("sqlite://{}", data_dir.join("accord.db").display());
    let store = Store::open(&url, keys).await?;
    let org = store
        .create_organisation(
            &Actor::System,
            NewOrganisation {
                name: "新安街道人民调解委员会".into(),
                short_name: "宝安".into(),
                region: "新安街道".into(),
                channel: Channel::Peoples,
                court: None,
            },
        )
        .await?;
    let case = store
        .create_case(
            &Actor::System,
            NewCase {
                organisation_id: org.id.clone(),
                category: Category::Labour,
                region: "新安街道".into(),
                risk: Risk::Yellow,
                title: "欠薪".into(),
                facts: "三个月工资未发。".into(),
                claims: "支付工资。".into(),
                status: CaseStatus::Accepted,
                tracking_code: None,
            },
            None,
        )
        .await?;
    store
        .transition_case(&Actor::System, &case.id, CaseStatus::Closed)
        .await?;

    let intact = verify(&data_dir)?;
    let stdout = String::from_utf8_lossy(&intact.stdout);
    ensure!(
        intact.status.success(),
        "an intact trail failed verification: {stdout}"
    );
    ensure!(stdout.contains("intact: 3 entries"), "{stdout}");

    sqlx::query("UPDATE audit_log SET actor = 'staff:someone-else' WHERE seq = 2")
        .execute(store.pool())
        .await?;
    let altered = verify(&data_dir)?;
    let stdout = String::from_utf8_lossy(&altered.stdout);
    ensure!(
        altered.status.code() == Some(1),
        "an altered row passed: {stdout}"
    );
    ensure!(stdout.contains("entry 2 was altered"), "{stdout}");

    sqlx::query("DELETE FROM audit_log WHERE seq = 2")
        .execute(store.pool())
        .await?;
    let deleted = verify(&data_dir)?;
    let stdout = String::from_utf8_lossy(&deleted.stdout);
    ensure!(
        deleted.status.code() == Some(1),
        "a deleted row passed: {stdout}"
    );
    ensure!(stdout.contains("entries are missing"), "{stdout}");

    store.close().await;
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(())
}
