//! What one hostile or broken client can do to a room and to the server is bounded: the
//! first connectivity check of a new participant is routed rather than dropped.

use std::time::Duration;

use accord_tests::{ClientOptions, TestClient, TestServer, VideoPublish};
use anyhow::{Result, ensure};

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread")]
async fn the_first_connectivity_check_of_each_join_is_routed() -> Result<()> {
    let server = TestServer::start().await?;
    let unrouted = || async {
        Ok::<f64, anyhow::Error>(
            server
                .metric("accord_unrouted_datagrams_total")
                .await?
                .unwrap_or(0.0),
        )
    };
    let before = unrouted().await?;
    let mut clients = Vec::new();
    for i in 0..8 {
        let options = ClientOptions::new(&format!("c{i}"), "party").with_video(VideoPublish::None);
        let client = TestClient::join(&server, &format!("routing-{i}"), options).await?;
        client.wait_connected(WAIT).await?;
        clients.push(client);
    }
    let after = unrouted().await?;
    eprintln!("unrouted datagrams over 8 joins: {before} before, {after} after");
    ensure!(
        after == before,
        "{} datagrams of 8 joins went unrouted (a first binding request dropped)",
        after - before
    );
    for c in clients {
        c.close().await?;
    }
    server.stop().await
}
