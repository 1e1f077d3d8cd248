//! A recording outlives the node that was writing it, when another node of the cluster is
//! there to finish it: two `accord serve` processes on one PostgreSQL database, one Redis, one
//! blob folder and one keys folder (as nodes share S3 and the mounted keys), each with a data
//! folder of its own. Node A records a session with two people publishing; 8 s in it is killed
//! with SIGKILL and its data folder removed (the disk went with it). Node B, started after,
//! finds the recording of a node whose lease ran out, rebuilds it from the pieces A stored at
//! its checkpoints, and finishes it `interrupted` and verified; the archive a court downloads
//! from B verifies offline with `accord verify` against B's published keys.

use std::time::Duration;

use accord_tests::StaffApi;
use accord_tests::case_world::PASSWORD;
use accord_tests::recording::{finished_detail, recording_of_case};
use accord_tests::recording_checks::{RecordedPair, accord_verify};
use accord_tests::scratch_db::ScratchDatabase;
use accord_tests::server::TestServer;
use accord_tests::session_world::{APPLICANT, SessionWorld};
use accord_tests::shared_nodes::{SharedNodes, env_refs};
use anyhow::{Context, Result, ensure};
use reqwest::StatusCode;

#[tokio::test]
async fn a_recording_whose_node_died_is_finished_by_another_node() -> Result<()> {
    let database = ScratchDatabase::create("accord_nodes").await?;
    let outcome = recorded_on_a_finished_on_b(&database.url).await;
    database.drop().await?;
    outcome
}

async fn recorded_on_a_finished_on_b(database_url: &str) -> Result<()> {
    let shared = accord_tests::fresh_temp_dir("accord-nodes-shared")?;
    let nodes = SharedNodes::new(database_url, &shared, "test").with_lease_seconds(3);
    let env_a = nodes.node_env("N_a");
    let env_a = env_refs(&env_a);
    let world = SessionWorld::new_with_env(&env_a).await?;
    let pair = RecordedPair::join(&world, APPLICANT).await?;
    pair.start_recording().await?;
    let api = &world.world.api;
    let id = recording_of_case(api, &world.world.mediator_a, &world.case_id).await?;
    tokio::time::sleep(Duration::from_secs(8)).await;

    // Node A dies with its disk.
    let secret = world.world.server.token_secret().to_owned();
    let case_id = world.case_id.clone();
    let data_a = world.world.server.kill_hard().await?;
    pair.close().await;
    std::fs::remove_dir_all(&data_a).context("removing A's data folder")?;

    // Node B, with the same token secret so the staff's sessions carry over.
    let mut env_b = nodes.node_env("N_b");
    env_b.push(("ACCORD_AUTH_TOKEN_SECRET", secret));
    let env_b = env_refs(&env_b);
    let b = TestServer::start_with_env(&env_b).await?;
    let api = StaffApi::new(b.http_url());
    let mediator = api.login("li", PASSWORD).await?;
    // B waits out A's lease and 30 s of silence from the recorder, then takes it over.
    let detail = finished_detail(&api, &mediator, &id).await?;
    ensure!(
        detail["status"] == "interrupted" && detail["verification"]["state"] == "verified",
        "finished by node B: {detail}"
    );
    ensure!(
        detail["case_id"] == case_id.as_str(),
        "the recording stays with its case"
    );
    let log = std::fs::read_to_string(b.log_path()).unwrap_or_default();
    ensure!(
        log.contains("taking over the recording of a node that is gone"),
        "node B took the recording over from N_a; its log:\n{log}"
    );
    let tracks = detail["tracks"].as_array().map_or(0, Vec::len);
    ensure!(
        tracks >= 2,
        "both people's tracks reached storage: {detail}"
    );

    let work = accord_tests::fresh_temp_dir("accord-nodes-verify")?;
    let archive_url = detail["downloads"]["archive_url"]
        .as_str()
        .context("no archive_url")?;
    let (status, _, zip) = api.get_bytes(archive_url, &mediator).await?;
    ensure!(status == StatusCode::OK, "the archive downloads: {status}");
    let zip_path = work.join("recording.zip");
    std::fs::write(&zip_path, &zip)?;
    let (status, _, keys) = api
        .get_bytes("/.well-known/accord/signing-keys.json", &mediator)
        .await?;
    ensure!(status == StatusCode::OK, "the signing keys are published");
    let keys_path = work.join("signing-keys.json");
    std::fs::write(&keys_path, &keys)?;
    let run = accord_verify(&zip_path, Some(&keys_path))?;
    ensure!(
        run.code == 0 && run.stdout.starts_with("OK "),
        "accord verify on the archive B stored (exit {}):\n{}",
        run.code,
        run.stdout
    );
    eprintln!("node death: {}", run.stdout.trim());
    drop(b);
    let _ = std::fs::remove_dir_all(&shared);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
