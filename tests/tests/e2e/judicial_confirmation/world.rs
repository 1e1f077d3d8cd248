//! What the judicial-confirmation suite stands on: a data directory seeded through the store
//! with an agreement IN FORCE (signed by real P-256 device keys, sealed with the
//! organisation's key and countersigned by the platform key the binary itself loads), a
//! stand-in court system on loopback that answers as scripted, and the real `accord serve`
//! started on that data directory with the court configured.
//!
//! Seeding goes through `accord_cases::store::Store`, the same code the binary runs, before
//! the binary starts: the signing flow over the wire needs a live room for the free-will
//! question, which this suite is not about. Everything after the seal (case links, the
//! applications, the package, the delivery, the callbacks) runs through the binary's HTTP API.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accord_cases::agreements::document::{ClauseKind, Draft, canonical_text};
use accord_cases::agreements::model::{Editor, NewAgreement};
use accord_cases::store::model::{
    Actor, CaseStatus, Category, Channel, NewCase, NewOrganisation, NewParty, NewStaff, PartyKind,
    Risk, Side, StaffRole,
};
use accord_cases::store::{
    FreeWillAnswer, IdentityProof, NewFreeWill, SignRequest, SignerRef, Store, StoreKeys, now_ms,
};
use accord_recordings::signing::{PlatformKeys, signing_dir};
use accord_tests::{StaffApi, TestServer};
use anyhow::{Context, Result, ensure};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::EncodePublicKey as _;
use serde_json::{Value, json};
use tokio::sync::Notify;

/// Every staff account's password.
pub const PASSWORD: &str = "correct horse battery";
/// The court the organisation sits under: the proposed venue (organisation_seat).
pub const COURT: &str = "深圳市宝安区人民法院";
/// The shared secret of the court's system: at least 16 bytes, as the config demands.
pub const SECRET: &str = "stand-in-court-shared-secret-0123456789";
/// In a stand-in court's script: read the whole body, then hold the response open without
/// answering, as a court system hanging mid-request does. In [`Received::answered`]: no
/// answer was given.
pub const HOLD: u16 = 0;
/// How long a held response stays open at most: longer than any test waits, so it is never
/// answered while the test looks, and still bounded.
const HOLD_FOR: Duration = Duration::from_secs(180);
/// A valid resident ID number (its check character is right).
const ID_NUMBER: &str = "11010519491231002X";

/// A phone's signing key: P-256, signatures as WebCrypto gives them (`r || s`).
pub struct Device {
    /// The signer (`PT_…` or `ST_…`).
    pub signer: String,
    /// The key.
    pub key: p256::ecdsa::SigningKey,
}

impl Device {
    fn new(signer: &str) -> Result<Device> {
        let key = p256::ecdsa::SigningKey::from_slice(&rand::random::<[u8; 32]>())
            .context("a random P-256 scalar")?;
        Ok(Device {
            signer: signer.to_owned(),
            key,
        })
    }

    fn public_key(&self) -> Result<String> {
        let spki = self
            .key
            .verifying_key()
            .to_public_key_der()
            .context("SPKI of a device key")?;
        Ok(B64.encode(spki.as_bytes()))
    }

    /// Base64 of the 64-byte `r || s` signature over `payload`.
    pub fn sign(&self, payload: &[u8]) -> String {
        let signature: p256::ecdsa::Signature = self.key.sign(payload);
        B64.encode(signature.to_bytes())
    }
}

/// A data directory holding an agreement in force, ready for `accord serve`.
pub struct Seeded {
    /// The temp directory everything of this world lives in.
    pub root: PathBuf,
    /// `root/data`: the binary's data directory.
    pub data_dir: PathBuf,
    /// The agreement (`AG_…`).
    pub agreement_id: String,
    /// The case (`CA_…`).
    pub case_id: String,
    /// The signers' device keys, the parties first.
    pub devices: Vec<Device>,
}

/// Seeds a fresh data directory: an organisation whose court is [`COURT`], a mediator
/// `li` and a court user `judge` (password [`PASSWORD`]), a case with 张三 (applicant) and
/// 李四 (respondent), and its agreement signed by both and the mediator, then sealed.
pub async fn seed() -> Result<Seeded> {
    let root = accord_tests::fresh_temp_dir("accord-confirmation")?;
    let data_dir = root.join("data");
    std::fs::create_dir_all(&data_dir)?;
    let keys = StoreKeys::load_or_create(&data_dir).context("store keys")?;
    let url = format!("sqlite://{}", data_dir.join("accord.db").display());
    let store = Store::open(&url, keys).await.context("opening the store")?;
    let seeded = seed_store(&store, &root, &data_dir).await;
    store.close().await;
    seeded
}

async fn seed_store(store: &Store, root: &Path, data_dir: &Path) -> Result<Seeded> {
    let system = Actor::System;
    let org = store
        .create_organisation(
            &system,
            NewOrganisation {
                name: "宝安区新安街道人民调解委员会".into(),
                short_name: "宝安".into(),
                region: "新安街道".into(),
                channel: Channel::Peoples,
                court: Some(COURT.into()),
            },
        )
        .await?;
    let hash = accord_cases::staff_password::hash_password(PASSWORD)?;
    let staff = |username: &str, role, org, court: Option<&str>| NewStaff {
        organisation_id: org,
        username: username.into(),
        display_name: username.into(),
        role,
        court: court.map(str::to_owned),
        password_hash: hash.clone(),
    };
    let mediator = store
        .create_staff(
            &system,
            staff("li", StaffRole::Mediator, Some(org.id.clone()), None),
        )
        .await?;
    store
        .create_staff(&system, staff("judge", StaffRole::Court, None, Some(COURT)))
        .await?;
    let case = store
        .create_case(
            &system,
            NewCase {
                organisation_id: org.id.clone(),
                category: Category::Neighbours,
                region: org.region.clone(),
                risk: Risk::Blue,
                title: "楼上漏水纠纷".into(),
                facts: "楼上卫生间漏水，浸泡楼下天花板。".into(),
                claims: "赔偿维修费用3000元。".into(),
                status: CaseStatus::Accepted,
                tracking_code: None,
            },
            None,
        )
        .await?;
    let case = store.assign_case(&system, &case.id, &mediator.id).await?;
    let person = |name: &str, side, phone: &str, id_number: Option<&str>| NewParty {
        side,
        kind: PartyKind::Person,
        name: name.into(),
        phone: Some(phone.into()),
        id_number: id_number.map(str::to_owned),
        represents: None,
        attorney_letter: None,
    };
    let applicant = store
        .add_party(
            &system,
            &case.id,
            person("张三", Side::Applicant, "13800138000", Some(ID_NUMBER)),
        )
        .await?;
    let respondent = store
        .add_party(
            &system,
            &case.id,
            person("李四", Side::Respondent, "13900139000", None),
        )
        .await?;
    let session = store.schedule_session(&system, &case.id, now_ms()).await?;

    let editor = Editor {
        identity: mediator.id.to_string(),
        name: mediator.display_name.clone(),
        role: "mediator".into(),
        actor: Actor::Staff(mediator.id.clone()),
    };
    let clauses = vec![
        (
            ClauseKind::Facts,
            "楼上卫生间漏水，楼下天花板发霉。".to_owned(),
        ),
        (
            ClauseKind::Term,
            "李四于2026年12月31日前赔偿张三维修费3000元。".to_owned(),
        ),
        (
            ClauseKind::Closing,
            "本协议自各方签名并加盖调解委员会印章之日起生效。".to_owned(),
        ),
    ];
    let (draft, update) = Draft::new_from("人民调解协议书", &clauses);
    let agreement = store
        .create_agreement(
            NewAgreement {
                case_id: case.id.clone(),
                locale: "zh-CN".into(),
                template_id: None,
                personal_status: Some(false),
                initial_update: update,
            },
            &editor,
        )
        .await?;
    let parties = vec![
        format!("申请人：{}", applicant.name),
        format!("被申请人：{}", respondent.name),
    ];
    let text = canonical_text(&draft.title(), &parties, &draft.clauses(), "zh-CN");
    store.finalise(&agreement.id, &text, &editor).await?;

    let mut devices = Vec::new();
    for party in [&applicant, &respondent] {
        let signer = SignerRef::Party(party.id.clone());
        let device = Device::new(party.id.as_str())?;
        store
            .record_free_will(
                &mediator.id,
                &agreement.id,
                NewFreeWill {
                    party_id: party.id.clone(),
                    answer: FreeWillAnswer::Yes,
                    note: None,
                    session_id: session.id.clone(),
                    recording_id: None,
                    recording_offset_ms: None,
                },
            )
            .await?;
        let code = store
            .issue_otp(&agreement.id, &party.id, now_ms())
            .await?
            .code;
        let actor = Actor::Party(party.id.clone());
        store
            .check_identity(
                &actor,
                &agreement.id,
                &signer,
                IdentityProof::Otp { code },
                &device.public_key()?,
                now_ms(),
            )
            .await?;
        sign(store, &actor, &agreement.id, &signer, &device).await?;
        devices.push(device);
    }
    let signer = SignerRef::Staff(mediator.id.clone());
    let device = Device::new(mediator.id.as_str())?;
    let actor = Actor::Staff(mediator.id.clone());
    store
        .check_identity(
            &actor,
            &agreement.id,
            &signer,
            IdentityProof::Staff,
            &device.public_key()?,
            now_ms(),
        )
        .await?;
    sign(store, &actor, &agreement.id, &signer, &device).await?;
    devices.push(device);

    // The countersignature is the binary's own platform key, from where it loads it.
    let platform = PlatformKeys::load_or_create(&signing_dir(data_dir))
        .map_err(|e| anyhow::anyhow!("platform keys: {e}"))?;
    store
        .seal(
            &mediator.id,
            &agreement.id,
            |statement| {
                let signature = platform.sign(statement);
                Ok((signature.key_id, signature.signature))
            },
            now_ms(),
        )
        .await?;
    Ok(Seeded {
        root: root.to_path_buf(),
        data_dir: data_dir.to_path_buf(),
        agreement_id: agreement.id.to_string(),
        case_id: case.id.to_string(),
        devices,
    })
}

async fn sign(
    store: &Store,
    actor: &Actor,
    agreement: &accord_cases::AgreementId,
    signer: &SignerRef,
    device: &Device,
) -> Result<()> {
    let payload = store.issue_challenge(agreement, signer, now_ms()).await?;
    let request = SignRequest {
        signature: device.sign(payload.as_bytes()),
        payload,
        public_key: Some(device.public_key()?),
        image_sha256: None,
    };
    store
        .sign(actor, agreement, signer, request, now_ms())
        .await?;
    Ok(())
}

/// One POST the stand-in court received.
#[derive(Clone, Debug)]
pub struct Received {
    /// Its headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// What the stand-in answered ([`HOLD`]: nothing, yet).
    pub answered: u16,
}

impl Received {
    /// The value of header `name` (lower case), or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct CourtLog {
    script: VecDeque<u16>,
    received: Vec<Received>,
    /// The packages taken (answered 2xx), by Idempotency-Key: a repeat is not stored again.
    stored: BTreeMap<String, Vec<u8>>,
}

/// A court's system on 127.0.0.1: answers POSTs with the scripted statuses (or [`HOLD`]s
/// them), then 200, keeps every request, and stores each package it takes once per
/// Idempotency-Key, as docs/court-integration.md asks of a court.
#[derive(Clone)]
pub struct StandInCourt {
    log: Arc<Mutex<CourtLog>>,
    seen: Arc<Notify>,
    /// Where it takes packages.
    pub endpoint: String,
}

impl CourtLog {
    /// Records `post` and decides its answer: (status or [`HOLD`], its index).
    fn take(&mut self, mut post: Received) -> (u16, usize) {
        let status = self.script.pop_front().unwrap_or(200);
        post.answered = status;
        if (200..300).contains(&status) {
            self.stored
                .entry(post.header("idempotency-key").to_owned())
                .or_insert_with(|| post.body.clone());
        }
        self.received.push(post);
        (status, self.received.len() - 1)
    }
}

impl StandInCourt {
    /// Starts it; the first POSTs are answered with `script`, in order.
    pub async fn start(script: &[u16]) -> Result<StandInCourt> {
        let log = Arc::new(Mutex::new(CourtLog {
            script: script.iter().copied().collect(),
            ..CourtLog::default()
        }));
        let seen = Arc::new(Notify::new());
        let (handler_log, handler_seen) = (log.clone(), seen.clone());
        let app = axum::Router::new().route(
            "/packages",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (log, seen) = (handler_log.clone(), handler_seen.clone());
                async move {
                    let post = Received {
                        headers: headers
                            .iter()
                            .map(|(n, v)| {
                                (
                                    n.as_str().to_owned(),
                                    v.to_str().unwrap_or_default().to_owned(),
                                )
                            })
                            .collect(),
                        body: body.to_vec(),
                        answered: HOLD,
                    };
                    let (status, index) = log.lock().unwrap_or_else(|e| e.into_inner()).take(post);
                    seen.notify_waiters();
                    if status == HOLD {
                        // Bounded whether or not the server drops this future when the
                        // sender's socket closes (as a SIGKILL does).
                        tokio::time::sleep(HOLD_FOR).await;
                        log.lock().unwrap_or_else(|e| e.into_inner()).received[index].answered =
                            504;
                        return StatusCode::GATEWAY_TIMEOUT;
                    }
                    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}/packages", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(StandInCourt {
            log,
            seen,
            endpoint,
        })
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .received
            .clone()
    }

    /// The packages it took, by Idempotency-Key.
    pub fn stored(&self) -> BTreeMap<String, Vec<u8>> {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stored
            .clone()
    }

    /// Waits until at least `n` POSTs arrived, for up to `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Result<Vec<Received>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.seen.notified();
            let received = self.received();
            if received.len() >= n {
                return Ok(received);
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            ensure!(
                !left.is_zero(),
                "the stand-in court got {} POST(s) within {timeout:?}, expected {n}",
                received.len()
            );
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), notified).await;
        }
    }
}

/// The connector's lease when a test does not care: an attempt may then take 120 s.
pub const LONG_LEASE_MS: u64 = 130_000;

/// Writes the configuration: the court with its secret and, when given, its system's
/// endpoint; retries from `retry_base_ms`; deliveries claimed for `lease_ms`.
pub fn write_config(
    root: &Path,
    endpoint: Option<&str>,
    retry_base_ms: u64,
    lease_ms: u64,
) -> Result<PathBuf> {
    let endpoint = endpoint.map_or(String::new(), |e| format!("endpoint = \"{e}\"\n"));
    let text = format!(
        "[confirmation]\nretry_base_ms = {retry_base_ms}\npoll_ms = 100\nlease_ms = {lease_ms}\n\n\
         [[confirmation.courts]]\nname = \"{COURT}\"\n{endpoint}hmac_secret = \"{SECRET}\"\n"
    );
    let path = root.join("accord.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The binary on `seeded`'s data directory with the configuration at `config`.
pub async fn serve(seeded: &Seeded, config: &Path) -> Result<TestServer> {
    let data_dir = seeded.data_dir.display().to_string();
    let config = config.display().to_string();
    TestServer::start_with_args(
        &[("ACCORD_DATA_DIR", data_dir.as_str())],
        &["--config", config.as_str()],
    )
    .await
}

/// Fails when the server's log carries what no log line may: a party's name, phone or ID
/// number, a join token (JWTs start `eyJ`) or a link with one, the court's shared secret.
pub fn ensure_log_clean(server: &TestServer) -> Result<()> {
    ensure_log_file_clean(server.log_path())
}

/// [`ensure_log_clean`] on the log at `path` (of a server that may be gone).
pub fn ensure_log_file_clean(path: &Path) -> Result<()> {
    let log = std::fs::read_to_string(path)?;
    for secret in [
        "张三",
        "李四",
        "13800138000",
        "13900139000",
        ID_NUMBER,
        "eyJ",
        "#token=",
        SECRET,
    ] {
        let line = log.lines().find(|line| line.contains(secret));
        ensure!(line.is_none(), "the server logged {secret:?}: {line:?}");
    }
    Ok(())
}

/// `accord audit verify` on `seeded`'s data directory: (exit code, output).
pub async fn audit_verify(seeded: &Seeded, config: &Path) -> Result<(i32, String)> {
    let bin = accord_tests::server::accord_binary()?;
    let mut command = tokio::process::Command::new(&bin);
    command
        .arg("--config")
        .arg(config)
        .args(["audit", "verify"])
        .env("ACCORD_DATA_DIR", &seeded.data_dir)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .context("accord audit verify ran for more than a minute")??;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((output.status.code().unwrap_or(-1), text))
}

/// A running binary and who acts on it.
pub struct Session {
    /// The server.
    pub server: TestServer,
    /// Its API.
    pub api: StaffApi,
    /// The mediator's access token.
    pub mediator: String,
    /// The court user's access token.
    pub court: String,
}

impl Session {
    /// Signs the mediator and the court user in on `server`.
    pub async fn sign_in(server: TestServer) -> Result<Session> {
        let api = StaffApi::new(server.http_url());
        Ok(Session {
            mediator: api.login("li", PASSWORD).await?,
            court: api.login("judge", PASSWORD).await?,
            api,
            server,
        })
    }

    /// The confirmation view of `agreement`, as the mediator sees it.
    pub async fn view(&self, agreement: &str) -> Result<Value> {
        Ok(self
            .api
            .get(
                &format!("/api/v1/agreements/{agreement}/confirmation"),
                &self.mediator,
            )
            .await?
            .expect(reqwest::StatusCode::OK)?
            .body)
    }

    /// How many entries of the case's audit trail have `action`.
    pub async fn audited(&self, case: &str, action: &str) -> Result<usize> {
        let list = self
            .api
            .get(&format!("/api/v1/cases/{case}/audit"), &self.mediator)
            .await?
            .expect(reqwest::StatusCode::OK)?
            .body;
        let items = list["items"]
            .as_array()
            .with_context(|| format!("no audit items in {list}"))?;
        Ok(items.iter().filter(|i| i["action"] == action).count())
    }

    /// The mediator sends the case links; every required party applies with theirs. Returns
    /// the view after the last application.
    pub async fn everyone_applies(&self, agreement: &str) -> Result<Value> {
        let links = self
            .api
            .post(
                &format!("/api/v1/agreements/{agreement}/confirmation/links"),
                json!({}),
                &self.mediator,
            )
            .await?
            .expect(reqwest::StatusCode::OK)?
            .body;
        let links = links["links"]
            .as_array()
            .with_context(|| format!("no links in {links}"))?;
        ensure!(links.len() == 2, "a link per party: {links:?}");
        let mut view = Value::Null;
        for (n, link) in links.iter().enumerate() {
            let token = link["link"]
                .as_str()
                .and_then(|l| l.split_once("#token="))
                .map(|(_, token)| token.to_owned())
                .with_context(|| format!("no token in {link}"))?;
            view = self
                .api
                .post(
                    &format!("/api/v1/agreements/{agreement}/confirmation/apply"),
                    json!({"address": format!("深圳市宝安区新安街道{}号", n + 1), "declarations": true}),
                    &token,
                )
                .await?
                .expect(reqwest::StatusCode::OK)?
                .body;
        }
        Ok(view)
    }

    /// Waits until the mediator's view of `agreement` satisfies `done`, for up to `timeout`.
    pub async fn wait_for_view(
        &self,
        agreement: &str,
        what: &str,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let view = self.view(agreement).await?;
            if done(&view) {
                return Ok(view);
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "{what} did not happen within {timeout:?}; the view: {view}"
            );
            // Views are rate-limited per caller (120 a minute): poll well under that.
            tokio::time::sleep(Duration::from_millis(750)).await;
        }
    }
}
