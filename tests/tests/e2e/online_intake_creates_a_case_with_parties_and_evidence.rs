//! Online intake (一站式自主申报) through the real binary: a resident's application becomes a
//! case in `intake` status for their region's organisation, with both parties and the photos
//! in the blob store; retries, wrong files, oversized files and bad forms are answered
//! clearly; the tracking code shows progress; the ID number stays out of logs and the
//! database in clear.

use accord_cases::store::model::{Actor, CaseStatus, Channel, NewOrganisation, PartyKind, Side};
use accord_cases::store::{Store, StoreKeys};
use accord_tests::server::TestServer;
use anyhow::{Context, Result, ensure};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::Digest;
use sqlx::Row;

const REGION: &str = "新安街道";
const ID_NUMBER: &str = "11010519491231002X";

/// The store `accord serve` uses, opened on its data directory: the organisations an
/// administrator would register.
async fn seeded_store(server: &TestServer) -> Result<Store> {
    let data_dir = server.data_dir();
    let keys = StoreKeys::load_or_create(&data_dir)?;
    let store = Store::open(server.database_url(), keys).await?;
    store
        .create_organisation(
            &Actor::System,
            NewOrganisation {
                name: "宝安区新安街道人民调解委员会".into(),
                short_name: "宝安".into(),
                region: REGION.into(),
                channel: Channel::Peoples,
                court: None,
            },
        )
        .await?;
    Ok(store)
}

fn application(region: &str) -> Value {
    json!({
        "applicant": {"name": "张三", "phone": "13800138000", "id_number": ID_NUMBER},
        "respondent": {"name": "某物业服务有限公司", "phone": "075523456789", "kind": "organisation"},
        "region": region,
        "category": "property",
        "facts": "楼上漏水三个月，物业一直未处理。",
        "claims": "维修漏水并赔偿损失两千元。"
    })
}

/// A PNG signature and some bytes: the server judges files by their first bytes.
fn png(seed: u8, len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    bytes
}

fn form(application: &Value, photos: &[(&str, &str, Vec<u8>)]) -> Result<Form> {
    let mut form = Form::new().text("application", application.to_string());
    for (name, mime, bytes) in photos {
        let part = Part::bytes(bytes.clone())
            .file_name(name.to_string())
            .mime_str(mime)?;
        form = form.part("photos[]", part);
    }
    Ok(form)
}

async fn submit(server: &TestServer, key: &str, form: Form) -> Result<(u16, Value)> {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/intake", server.http_url()))
        .header("Idempotency-Key", key)
        .multipart(form)
        .send()
        .await
        .context("posting the intake")?;
    let status = response.status().as_u16();
    let body = response.json().await.context("reading the answer")?;
    Ok((status, body))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test]
async fn valid_intake_creates_a_case_retries_add_nothing_and_tracking_follows_it() -> Result<()> {
    let server = TestServer::start().await?;
    let store = seeded_store(&server).await?;
    let http = reqwest::Client::new();

    let regions: Value = http
        .get(format!("{}/api/v1/regions", server.http_url()))
        .send()
        .await?
        .json()
        .await?;
    ensure!(regions == json!({"regions": [REGION]}), "{regions}");

    let photos = vec![
        ("漏水.png", "image/png", png(1, 40_000)),
        ("墙面.png", "image/png", png(2, 5_000)),
    ];
    let key = "intake-test-key-0001";
    let (status, first) = submit(&server, key, form(&application(REGION), &photos)?).await?;
    ensure!(status == 201, "{status}: {first}");
    ensure!(first["status"] == "intake", "{first}");
    let code = first["tracking_code"].as_str().context("tracking code")?;
    let number = first["case_number"].as_str().context("case number")?;
    ensure!(code.len() == 10, "{code}");
    ensure!(number.contains("-宝安-"), "{number}");

    let case = store.case_by_tracking_code(code).await?;
    ensure!(case.status == CaseStatus::Intake);
    let org = store
        .organisation_for_region(REGION)
        .await?
        .context("org")?;
    ensure!(case.organisation_id == org.id);
    let parties = store.parties(&case.id).await?;
    ensure!(parties.len() == 2, "{parties:?}");
    ensure!(parties[0].side == Side::Applicant && parties[0].name == "张三");
    ensure!(parties[0].id_number_masked.as_deref() == Some("110***********002X"));
    ensure!(parties[1].side == Side::Respondent && parties[1].kind == PartyKind::Organisation);

    let evidence = store.evidence(&case.id).await?;
    ensure!(evidence.len() == 2, "{evidence:?}");
    for (name, _, bytes) in &photos {
        let record = evidence
            .iter()
            .find(|e| e.file_name == *name)
            .with_context(|| format!("no evidence named {name}"))?;
        let hash = sha256_hex(bytes);
        ensure!(record.sha256 == hash && record.media_type == "image/png");
        ensure!(record.size == bytes.len() as i64);
        let path = server
            .data_dir()
            .join("blobs")
            .join(&hash[0..2])
            .join(&hash[2..4])
            .join(&hash);
        let stored = std::fs::read(&path).with_context(|| format!("{}", path.display()))?;
        ensure!(
            sha256_hex(&stored) == hash,
            "the blob's content is not its name"
        );
    }

    // The phone did not see the answer and sends the same application again.
    let (status, again) = submit(&server, key, form(&application(REGION), &photos)?).await?;
    ensure!(status == 200, "{status}: {again}");
    ensure!(again == first, "{again} vs {first}");
    let row = sqlx::query("SELECT COUNT(*) FROM cases")
        .fetch_one(store.pool())
        .await?;
    ensure!(row.try_get::<i64, _>(0)? == 1, "a retry made a second case");
    ensure!(store.parties(&case.id).await?.len() == 2);
    ensure!(store.evidence(&case.id).await?.len() == 2);

    let tracked: Value = http
        .get(format!(
            "{}/api/v1/intake/{}",
            server.http_url(),
            code.to_lowercase()
        ))
        .send()
        .await?
        .json()
        .await?;
    ensure!(tracked["case_number"] == number, "{tracked}");
    ensure!(tracked["status"] == "intake", "{tracked}");
    ensure!(tracked["history"][0]["status"] == "intake", "{tracked}");
    ensure!(!tracked.to_string().contains("张三"), "{tracked}");
    let unknown = http
        .get(format!("{}/api/v1/intake/ABCDEFGHJK", server.http_url()))
        .send()
        .await?;
    ensure!(unknown.status().as_u16() == 404);

    // The ID number is sealed in the row and never logged.
    let raw = sqlx::query("SELECT id_number_sealed, id_number_masked FROM parties WHERE id = $1")
        .bind(&parties[0].id)
        .fetch_one(store.pool())
        .await?;
    let sealed: Vec<u8> = raw.try_get(0)?;
    ensure!(!sealed.is_empty());
    ensure!(
        !sealed
            .windows(ID_NUMBER.len())
            .any(|w| w.eq_ignore_ascii_case(ID_NUMBER.as_bytes())),
        "the ID number is stored in clear"
    );
    store.close().await;
    let log = std::fs::read_to_string(server.log_path())?;
    ensure!(
        !log.contains(ID_NUMBER) && !log.contains("110105194912310"),
        "the ID number is in the log"
    );
    server.stop().await
}

#[tokio::test]
async fn wrong_files_too_large_files_and_bad_forms_are_refused() -> Result<()> {
    // A 1 MiB limit, so the oversized upload is quick (and the setting is shown to work).
    let server = TestServer::start_with_env(&[("ACCORD_SIGNALING_MAX_EVIDENCE_MIB", "1")]).await?;
    let store = seeded_store(&server).await?;

    // A program renamed to look like a photo.
    let exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".repeat(100);
    let (status, body) = submit(
        &server,
        "intake-test-exe-0001",
        form(&application(REGION), &[("photo.jpg", "image/jpeg", exe)])?,
    )
    .await?;
    ensure!(status == 415, "{status}: {body}");
    ensure!(body["code"] == "unsupported_media_type", "{body}");

    let (status, body) = submit(
        &server,
        "intake-test-big-0001",
        form(
            &application(REGION),
            &[("big.png", "image/png", png(3, 1024 * 1024))],
        )?,
    )
    .await?;
    ensure!(status == 413, "{status}: {body}");
    ensure!(body["code"] == "payload_too_large", "{body}");

    let ten: Vec<_> = (0..10u8)
        .map(|i| ("p.png", "image/png", png(i, 100)))
        .collect();
    let (status, body) = submit(
        &server,
        "intake-test-ten-0001",
        form(&application(REGION), &ten)?,
    )
    .await?;
    ensure!(
        status == 422 && body["fields"][0]["field"] == "photos",
        "{status}: {body}"
    );

    let (status, body) = submit(&server, "intake-test-missing-01", form(&json!({}), &[])?).await?;
    ensure!(status == 422, "{status}: {body}");
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .context("fields")?
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    ensure!(
        fields.contains(&"applicant.name") && fields.contains(&"facts"),
        "{body}"
    );

    let (status, body) = submit(
        &server,
        "intake-test-region-01",
        form(&application("不存在的街道"), &[])?,
    )
    .await?;
    ensure!(
        status == 422 && body["fields"][0]["field"] == "region",
        "{status}: {body}"
    );

    let missing_key = reqwest::Client::new()
        .post(format!("{}/api/v1/intake", server.http_url()))
        .multipart(form(&application(REGION), &[])?)
        .send()
        .await?;
    ensure!(missing_key.status().as_u16() == 400);

    // Nothing refused was stored: no case, no blob.
    let row = sqlx::query("SELECT COUNT(*) FROM cases")
        .fetch_one(store.pool())
        .await?;
    ensure!(
        row.try_get::<i64, _>(0)? == 0,
        "a refused application made a case"
    );
    let blobs: Vec<_> = std::fs::read_dir(server.data_dir().join("blobs"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() != "tmp")
        .collect();
    ensure!(blobs.is_empty(), "refused uploads left blobs: {blobs:?}");
    store.close().await;
    server.stop().await
}
