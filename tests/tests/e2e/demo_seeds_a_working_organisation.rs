//! `accord serve --demo` through the real binary: the printed accounts sign in, the mediator
//! sees the two example cases and the court sees none yet, the audit trail holds the seeding,
//! and a second start on the same data seeds nothing more but prints the password again.

use accord_tests::{StaffApi, TestServer};
use anyhow::{Context, Result, ensure};
use reqwest::StatusCode;
use serde_json::Value;

/// The demo password from the server's printed instructions.
fn printed_password(server: &TestServer) -> Result<String> {
    let log = std::fs::read_to_string(server.log_path())?;
    log.lines()
        .filter_map(|line| line.split("password").nth(1))
        .map(str::trim)
        .find(|rest| !rest.is_empty() && !rest.starts_with('('))
        .map(str::to_owned)
        .with_context(|| format!("no password printed in:\n{log}"))
}

fn count(answer: &Value) -> usize {
    answer["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn demo_data_signs_in_and_is_seeded_once() -> Result<()> {
    // A data directory of the test's own: a stopped server removes its own directory.
    let data_dir = accord_tests::fresh_temp_dir("accord-demo-data")?;
    let data = data_dir.to_string_lossy().into_owned();
    let first = TestServer::start_with_args(&[("ACCORD_DATA_DIR", &data)], &["--demo"]).await?;
    let password = printed_password(&first)?;
    let log = std::fs::read_to_string(first.log_path())?;
    ensure!(
        log.contains("demo.mediator") && log.contains("/staff/login"),
        "{log}"
    );
    let api = StaffApi::new(first.http_url());

    let mediator = api.login("demo.mediator", &password).await?;
    let cases = api
        .get("/api/v1/cases", &mediator)
        .await?
        .expect(StatusCode::OK)?;
    ensure!(count(&cases.body) == 2, "{}", cases.body);
    let statuses: Vec<&str> = cases.body["items"]
        .as_array()
        .context("items")?
        .iter()
        .filter_map(|c| c["status"].as_str())
        .collect();
    ensure!(
        statuses.contains(&"intake") && statuses.contains(&"assigned"),
        "{statuses:?}"
    );
    let assigned = cases.body["items"]
        .as_array()
        .and_then(|items| items.iter().find(|c| c["status"] == "assigned"))
        .and_then(|c| c["id"].as_str())
        .context("the assigned case")?
        .to_owned();
    let detail = api
        .get(&format!("/api/v1/cases/{assigned}"), &mediator)
        .await?
        .expect(StatusCode::OK)?;
    ensure!(
        detail.body["sessions"].as_array().map(Vec::len) == Some(1),
        "{}",
        detail.body
    );
    ensure!(
        detail.body["mediator"]["username"] == "demo.mediator",
        "{}",
        detail.body["mediator"]
    );
    let audit = api
        .get(&format!("/api/v1/cases/{assigned}/audit"), &mediator)
        .await?;
    ensure!(
        audit.body["items"][0]["actor"] == "system",
        "{}",
        audit.body
    );

    // The court user signs in and sees nothing: no confirmation was requested yet.
    let court = api.login("demo.court", &password).await?;
    let inbox = api
        .get("/api/v1/cases", &court)
        .await?
        .expect(StatusCode::OK)?;
    ensure!(count(&inbox.body) == 0, "{}", inbox.body);
    // First-run setup is closed: the demo made accounts.
    let setup = api
        .call(reqwest::Method::GET, "/api/v1/setup", None, None, &[])
        .await?;
    ensure!(setup.body["needed"] == false, "{}", setup.body);

    first.stop().await?;
    let second = TestServer::start_with_args(&[("ACCORD_DATA_DIR", &data)], &["--demo"]).await?;
    ensure!(
        printed_password(&second)? == password,
        "the second start printed another password"
    );
    let log = std::fs::read_to_string(second.log_path())?;
    ensure!(log.contains("already present"), "{log}");
    let api = StaffApi::new(second.http_url());
    let mediator = api.login("demo.mediator", &password).await?;
    let cases = api
        .get("/api/v1/cases", &mediator)
        .await?
        .expect(StatusCode::OK)?;
    ensure!(count(&cases.body) == 2, "seeded twice: {}", cases.body);
    let detail = api
        .get(&format!("/api/v1/cases/{assigned}"), &mediator)
        .await?;
    ensure!(
        detail.body["sessions"].as_array().map(Vec::len) == Some(1),
        "{}",
        detail.body
    );
    second.stop().await?;
    std::fs::remove_dir_all(&data_dir)?;
    Ok(())
}
