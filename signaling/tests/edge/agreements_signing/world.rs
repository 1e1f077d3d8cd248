//! What the signing tests stand on: a server with a notification gateway that keeps the
//! codes it is asked to send, a case with four people in a live session, devices that sign
//! as phones do, and the steps of the signing flow.

use crate::common::{new_case, organisation, person};
use accord_cases::agreements::document::{ClauseKind, Draft, canonical_text};
use accord_cases::agreements::model::{Editor, NewAgreement};
use accord_cases::blobs::LocalBlobs;
use accord_cases::notify::NotifyConfig;
use accord_cases::store::model::{
    Actor, Case, Category, NewParty, NewStaff, Party, PartyKind, Session, Side, Staff, StaffRole,
};
use accord_cases::store::{Store, now_ms};
use accord_cases::tokens::{JoinClaims, Role};
use accord_protocol::Space;
use accord_signaling::rooms::{Admission, Seating, SessionLink};
use accord_signaling::{AppState, SignalingConfig};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey as _;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The one-time codes a gateway was asked to send.
pub(crate) type Outbox = Arc<Mutex<Vec<Value>>>;

/// A notification gateway that keeps what it is sent.
pub(crate) async fn gateway() -> (String, Outbox) {
    let outbox: Outbox = Arc::default();
    let kept = outbox.clone();
    let app = axum::Router::new().route(
        "/send",
        axum::routing::post(move |axum::Json(message): axum::Json<Value>| {
            let kept = kept.clone();
            async move {
                kept.lock().expect("outbox").push(message);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/send", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, outbox)
}

pub(crate) struct World {
    pub(crate) state: AppState,
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) outbox: Outbox,
    pub(crate) _dir: tempfile::TempDir,
}

impl World {
    pub(crate) async fn start(store: &Store) -> World {
        Self::start_with(store, |_| {}).await
    }

    /// [`World::start`] with settings changed by `tweak` (the courts' systems of the
    /// confirmation suites).
    pub(crate) async fn start_with(
        store: &Store,
        tweak: impl FnOnce(&mut SignalingConfig),
    ) -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let (gateway_url, outbox) = gateway().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        let sfu = accord_sfu::Sfu::start(accord_sfu::SfuConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            tcp: accord_sfu::TcpListen::Off,
            ..Default::default()
        })
        .expect("sfu");
        let mut config = SignalingConfig {
            public_url: Some(base.clone()),
            notify: NotifyConfig::Http {
                url: gateway_url,
                bearer_token: None,
            },
            ..Default::default()
        };
        tweak(&mut config);
        let blobs = Arc::new(LocalBlobs::open(dir.path().join("blobs")).expect("blobs"));
        let recording = accord_signaling::recording::RecordingSettings {
            recorder: accord_recordings::recorder::RecorderConfig {
                work_dir: dir.path().join("recordings"),
                ..Default::default()
            },
            keys_dir: dir.path().join("keys"),
            notice: std::time::Duration::from_millis(0),
        };
        let state =
            AppState::new(sfu, &[7u8; 32], config, store.clone(), blobs, recording).expect("state");
        let app = accord_signaling::http::router(state.clone());
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        });
        World {
            state,
            base,
            http: reqwest::Client::new(),
            outbox,
            _dir: dir,
        }
    }

    /// `(status, body)` of a request with `token` as the bearer.
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        crate::api::call(&self.http, &self.base, method, path, token, body).await
    }

    /// The code the gateway was last asked to send to `phone`.
    pub(crate) fn last_code(&self) -> String {
        let outbox = self.outbox.lock().expect("outbox");
        let message = outbox.last().expect("a code was sent");
        assert_eq!(message["template"], "signing_code");
        message["params"]["code"]
            .as_str()
            .expect("code param")
            .to_owned()
    }
}

/// A case of `category` with its mediator, an applicant, a respondent and the respondent's
/// representative (without a power of attorney), a live session and everyone's join token.
pub(crate) struct Case4 {
    pub(crate) case: Case,
    pub(crate) mediator: Staff,
    pub(crate) mediator_access: String,
    pub(crate) applicant: Party,
    pub(crate) respondent: Party,
    pub(crate) representative: Party,
    pub(crate) session: Session,
    pub(crate) tokens: Vec<(Party, JoinClaims, String)>,
}

pub(crate) async fn case_with_people(w: &World, store: &Store, category: Category) -> Case4 {
    let org = organisation(store, "朝阳", "北京市朝阳区").await;
    let system = Actor::System;
    let mediator = store
        .create_staff(
            &system,
            NewStaff {
                organisation_id: Some(org.id.clone()),
                username: format!("m{}", rand::random::<u32>()),
                display_name: "王调解".into(),
                role: StaffRole::Mediator,
                court: None,
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            },
        )
        .await
        .expect("mediator");
    let mut new = new_case(&org, "楼上漏水纠纷");
    new.category = category;
    let case = store.create_case(&system, new, None).await.expect("case");
    let case = store
        .assign_case(&system, &case.id, &mediator.id)
        .await
        .expect("assigned");
    let applicant = store
        .add_party(&system, &case.id, person("张三", Side::Applicant, None))
        .await
        .expect("applicant");
    let respondent = store
        .add_party(&system, &case.id, person("李四", Side::Respondent, None))
        .await
        .expect("respondent");
    let representative = store
        .add_party(
            &system,
            &case.id,
            NewParty {
                side: Side::Respondent,
                kind: PartyKind::Representative,
                name: "赵律师".into(),
                phone: Some("13900139000".into()),
                id_number: None,
                represents: Some(respondent.id.clone()),
                attorney_letter: None,
            },
        )
        .await
        .expect("representative");
    let session = store
        .schedule_session(&system, &case.id, now_ms())
        .await
        .expect("session");
    let mut tokens = Vec::new();
    for party in [&applicant, &respondent, &representative] {
        let invite = store
            .create_invite(&system, &session.id, &party.id, 3600)
            .await
            .expect("invite");
        let issued = u64::try_from(invite.issued_at).expect("time");
        let claims = JoinClaims {
            sub: party.id.to_string(),
            name: party.name.clone(),
            room: session.room.clone(),
            role: Role::Party,
            can_publish: true,
            can_subscribe: true,
            hidden: false,
            case: Some(case.id.to_string()),
            session: Some(session.id.to_string()),
            inv: Some(invite.id.to_string()),
            aud: String::new(),
            iat: issued,
            nbf: issued.saturating_sub(300),
            exp: u64::try_from(invite.expires_at).expect("time"),
        };
        let token = w.state.keys().sign(&claims).expect("token");
        tokens.push((party.clone(), claims, token));
    }
    let mediator_access = accord_cases::tokens::staff::issue_access(store, &mediator)
        .await
        .expect("access token");
    Case4 {
        case,
        mediator,
        mediator_access,
        applicant,
        respondent,
        representative,
        session,
        tokens,
    }
}

impl Case4 {
    pub(crate) fn token(&self, party: &Party) -> &str {
        let (_, _, token) = self
            .tokens
            .iter()
            .find(|(p, _, _)| p.id == party.id)
            .expect("a token");
        token
    }

    pub(crate) fn editor(&self) -> Editor {
        Editor {
            identity: self.mediator.id.to_string(),
            name: self.mediator.display_name.clone(),
            role: "mediator".into(),
            actor: Actor::Staff(self.mediator.id.clone()),
        }
    }

    /// Seats everyone in the session's room: the mediator, then each party (admitted).
    pub(crate) fn seat_everyone(&self, state: &AppState) -> (Admission, Vec<Admission>) {
        let link = SessionLink {
            case_id: self.case.id.clone(),
            session_id: self.session.id.clone(),
        };
        let mediator = JoinClaims {
            sub: self.mediator.id.to_string(),
            name: self.mediator.display_name.clone(),
            role: Role::Mediator,
            inv: None,
            ..self.tokens[0].1.clone()
        };
        let host = state
            .rooms()
            .admit(
                &mediator,
                Seating {
                    session: Some(link.clone()),
                    ..Default::default()
                },
                20,
            )
            .expect("mediator seated");
        let mut seats = Vec::new();
        for (party, claims, _) in &self.tokens {
            let seat = state
                .rooms()
                .admit(
                    claims,
                    Seating {
                        side: Some(party.side),
                        kind: Some(party.kind),
                        follows: party.represents.as_ref().map(|p| p.to_string()),
                        lobby: false,
                        session: Some(link.clone()),
                    },
                    20,
                )
                .expect("party seated");
            assert!(!seat.waiting);
            seats.push(seat);
        }
        (host, seats)
    }
}

/// Creates the agreement and finalises its first version; returns its id and text hash.
pub(crate) async fn final_agreement(
    store: &Store,
    c: &Case4,
    personal_status: bool,
) -> (String, String) {
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
                case_id: c.case.id.clone(),
                locale: "zh-CN".into(),
                template_id: None,
                personal_status: Some(personal_status),
                initial_update: update,
            },
            &c.editor(),
        )
        .await
        .expect("agreement");
    let sha = finalise(store, c, agreement.id.as_ref(), &draft).await;
    (agreement.id.to_string(), sha)
}

pub(crate) async fn finalise(store: &Store, c: &Case4, id: &str, draft: &Draft) -> String {
    let parties = vec![
        format!("申请人：{}", c.applicant.name),
        format!("被申请人：{}", c.respondent.name),
    ];
    let text = canonical_text(&draft.title(), &parties, &draft.clauses(), "zh-CN");
    store
        .finalise(&id.into(), &text, &c.editor())
        .await
        .expect("final")
        .text_sha256
}

/// A device: its key and the SPKI it registers.
pub(crate) struct Device(pub(super) SigningKey);

impl Device {
    pub(crate) fn new() -> Device {
        Device(SigningKey::from_slice(&rand::random::<[u8; 32]>()).expect("a scalar"))
    }
    pub(crate) fn public_key(&self) -> String {
        let spki = self.0.verifying_key().to_public_key_der().expect("spki");
        B64.encode(spki.as_bytes())
    }
    pub(crate) fn sign(&self, payload: &str) -> String {
        let signature: Signature = self.0.sign(payload.as_bytes());
        B64.encode(signature.to_bytes())
    }
}

/// A 4×2 PNG, as a drawn signature.
pub(crate) fn drawn() -> String {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, 4, 2);
        encoder.set_color(png::ColorType::Grayscale);
        let mut writer = encoder.write_header().expect("png header");
        writer
            .write_image_data(&[0, 255, 0, 255, 255, 0, 255, 0])
            .expect("png data");
    }
    B64.encode(bytes)
}

pub(crate) async fn challenge(w: &World, id: &str, token: &str) -> String {
    let (status, body) = w
        .call(
            "GET",
            &format!("/agreements/{id}/signing/challenge"),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["payload"].as_str().expect("payload").to_owned()
}

pub(crate) async fn sign(
    w: &World,
    id: &str,
    token: &str,
    device: &Device,
    payload: &str,
) -> (u16, Value) {
    w.call(
        "POST",
        &format!("/agreements/{id}/signatures"),
        token,
        Some(json!({
            "payload": payload,
            "signature": device.sign(payload),
            "image": drawn(),
            "public_key": device.public_key(),
        })),
    )
    .await
}

/// The mediator asks `party` about free will with the two of them alone in the party's
/// private room, then everyone returns to the joint room.
pub(crate) async fn free_will_alone(
    w: &World,
    c: &Case4,
    id: &str,
    host: &Admission,
    seat: &Admission,
    party: &Party,
) {
    let space = if party.side == Side::Applicant {
        Space::Applicant
    } else {
        Space::Respondent
    };
    let rooms = w.state.rooms();
    let room = &c.session.room;
    let host_id = &host.participant.id;
    rooms
        .move_to(room, host_id, &seat.participant.id, space)
        .expect("moved");
    rooms
        .move_to(room, host_id, host_id, space)
        .expect("mediator moved");
    let (status, body) = w
        .call(
            "POST",
            &format!("/agreements/{id}/free-will"),
            &c.mediator_access,
            Some(json!({"party_id": party.id.to_string(), "answer": "yes"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    rooms.gather(room, host_id).expect("gathered");
}

/// The party registers `device` with a one-time code sent to their phone.
pub(crate) async fn by_code(w: &World, id: &str, token: &str, device: &Device) {
    let (status, body) = w
        .call(
            "POST",
            &format!("/agreements/{id}/identity/otp"),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["sent_to"].as_str().expect("masked").contains("****"));
    let (status, body) = w
        .call(
            "POST",
            &format!("/agreements/{id}/identity"),
            token,
            Some(
                json!({"method": "otp", "code": w.last_code(), "public_key": device.public_key()}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}
