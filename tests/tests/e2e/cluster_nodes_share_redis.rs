//! Two real `accord serve` processes on one Redis: limits anyone can reach from outside
//! count both nodes' hits, and a node whose Redis is unreachable refuses to start.

use std::time::Duration;

use accord_tests::{StaffApi, TestServer};
use anyhow::{Result, ensure};
use reqwest::{Method, StatusCode};

fn redis_url() -> String {
    std::env::var("ACCORD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

#[tokio::test]
async fn an_address_that_used_its_applications_on_one_node_is_refused_on_the_other() -> Result<()> {
    let url = redis_url();
    // A prefix of its own: nothing else in this Redis is touched, and what the nodes leave
    // expires (node entries with their 3 s lease, counts with their window).
    let prefix = format!("accord-test-{:016x}", rand::random::<u64>());
    let env = [
        ("ACCORD_CLUSTER_REDIS_URL", url.as_str()),
        ("ACCORD_CLUSTER_PREFIX", prefix.as_str()),
        ("ACCORD_CLUSTER_LEASE_SECONDS", "3"),
    ];
    let a = TestServer::start_with_env(&env).await?;
    let b = TestServer::start_with_env(&env).await?;
    let intake = |api: StaffApi| async move {
        // Empty bodies are refused on their own merits, but they count.
        api.call(Method::POST, "/api/v1/intake", None, None, &[])
            .await
    };
    let on_a = StaffApi::new(a.http_url());
    let on_b = StaffApi::new(b.http_url());
    for attempt in 1..=10 {
        let answer = intake(on_a.clone()).await?;
        ensure!(
            answer.status != StatusCode::TOO_MANY_REQUESTS,
            "attempt {attempt} on A: {answer:?}"
        );
    }
    ensure!(intake(on_a.clone()).await?.status == StatusCode::TOO_MANY_REQUESTS);
    // A pushes its count within 200 ms. B, which has not seen this address, lets one
    // through (the bound limits.rs documents) and learns the total when it pushes that.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let _first_on_b = intake(on_b.clone()).await?;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let answer = intake(on_b.clone()).await?;
    ensure!(
        answer.status == StatusCode::TOO_MANY_REQUESTS,
        "B admits an address A used up: {answer:?}"
    );
    a.stop().await?;
    b.stop().await
}

#[tokio::test]
async fn a_node_whose_redis_is_unreachable_refuses_to_start() -> Result<()> {
    let started = TestServer::start_with_env(&[(
        "ACCORD_CLUSTER_REDIS_URL",
        "redis://:not-for-logs@127.0.0.1:1",
    )])
    .await;
    let Err(e) = started else {
        anyhow::bail!("started without its Redis");
    };
    let message = format!("{e:#}");
    ensure!(message.contains("cannot reach redis://"), "{message}");
    ensure!(!message.contains("not-for-logs"), "{message}");
    Ok(())
}
