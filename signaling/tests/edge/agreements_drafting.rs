//! Drafting an agreement live, on a real server (in this process) over SQLite and PostgreSQL,
//! with the mediator and a party on real WebSockets: created from the template over HTTP,
//! followed with `draft_open`, an edit acknowledged only once stored and passed to the other
//! seat, a party's edit and a garbage update refused, drafting over HTTP between the two,
//! finalising (the text and hash as `canonical_text` computes them), and an edit after that
//! reopening the agreement as version 2. Updates are made with the server's own document
//! model: a second document's creation, merged in, adds its clause.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use accord_cases::agreements::document::{ClauseKind, Draft, canonical_text, text_sha256};
use accord_cases::blobs::LocalBlobs;
use accord_cases::store::model::{Actor, Case, NewStaff, Organisation, Side, Staff, StaffRole};
use accord_cases::store::{Store, now_ms};
use accord_cases::tokens::{JoinClaims, Role};
use accord_signaling::cluster::{Cluster, ClusterConfig};
use accord_signaling::{AppState, SignalingConfig};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{Scratch, new_case, organisation, person};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A safety net against a test that would otherwise hang; nothing is timed by it.
const HANG: Duration = Duration::from_secs(30);

struct World {
    state: AppState,
    base: String,
    addr: SocketAddr,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl World {
    async fn start(store: &Store) -> World {
        World::start_in(store, None).await
    }

    /// A node of the cluster `cluster` describes (a single node of its own without one),
    /// reached by the other nodes at its own address: a join it does not own is relayed there.
    async fn start_in(store: &Store, cluster: Option<ClusterConfig>) -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        let cluster = match cluster {
            Some(config) => Some(
                Cluster::start(ClusterConfig {
                    internal_url: base.clone(),
                    ..config
                })
                .await
                .expect("cluster node"),
            ),
            None => None,
        };
        let sfu = accord_sfu::Sfu::start(accord_sfu::SfuConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            tcp: accord_sfu::TcpListen::Off,
            ..Default::default()
        })
        .expect("sfu");
        let config = SignalingConfig {
            public_url: Some(base.clone()),
            ..Default::default()
        };
        let blobs = Arc::new(LocalBlobs::open(dir.path().join("blobs")).expect("blobs"));
        let recording = accord_signaling::recording::RecordingSettings {
            recorder: accord_recordings::recorder::RecorderConfig {
                work_dir: dir.path().join("recordings"),
                ..Default::default()
            },
            keys_dir: dir.path().join("keys"),
            notice: Duration::from_millis(0),
        };
        let state = match cluster {
            Some(cluster) => AppState::new_in_cluster(
                sfu,
                &[9u8; 32],
                config,
                store.clone(),
                blobs,
                recording,
                cluster,
            ),
            None => AppState::new(sfu, &[9u8; 32], config, store.clone(), blobs, recording),
        }
        .expect("state");
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
            addr,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        crate::api::call(&self.http, &self.base, method, path, token, body).await
    }

    /// A socket that has sent `join` with `token` and read `joined` or `waiting`.
    async fn join(&self, token: &str) -> (Socket, Value) {
        let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", self.addr))
            .await
            .expect("ws");
        send(
            &mut socket,
            json!({"type": "join", "protocol": 1, "token": token}),
        )
        .await;
        let first = next_where(&mut socket, |f| {
            f["type"] == "joined" || f["type"] == "waiting"
        })
        .await;
        (socket, first)
    }
}

async fn send(socket: &mut Socket, frame: Value) {
    socket
        .send(Message::text(frame.to_string()))
        .await
        .expect("send");
}

/// The next frame `wanted` accepts, skipping the room's other news.
async fn next_where(socket: &mut Socket, wanted: impl Fn(&Value) -> bool) -> Value {
    tokio::time::timeout(HANG, async {
        loop {
            let message = socket.next().await.expect("socket open").expect("frame");
            let Message::Text(text) = message else {
                continue;
            };
            let frame: Value = serde_json::from_str(text.as_str()).expect("json");
            if wanted(&frame) {
                return frame;
            }
        }
    })
    .await
    .expect("the expected frame came")
}

async fn next_of(socket: &mut Socket, kind: &str) -> Value {
    next_where(socket, |f| f["type"] == kind || f["type"] == "error").await
}

/// An update that adds one clause: a second document's creation, merged into any other.
fn clause_update(kind: ClauseKind, text: &str) -> Vec<u8> {
    Draft::new_from("", &[(kind, text.to_owned())]).1
}

fn doc_of(update_b64: &Value) -> Draft {
    let bytes = B64
        .decode(update_b64.as_str().expect("update"))
        .expect("base64");
    Draft::from_updates([bytes.as_slice()]).expect("a document")
}

/// A new organisation (`org`: its name and seat) with a mediator and a case not yet assigned.
async fn mediated_case(
    store: &Store,
    org: (&str, &str),
    mediator_name: &str,
    title: &str,
) -> (Organisation, Staff, Case) {
    let system = Actor::System;
    let org = organisation(store, org.0, org.1).await;
    let mediator = store
        .create_staff(
            &system,
            NewStaff {
                organisation_id: Some(org.id.clone()),
                username: format!("m{}", rand::random::<u32>()),
                display_name: mediator_name.into(),
                role: StaffRole::Mediator,
                court: None,
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            },
        )
        .await
        .expect("mediator");
    let case = store
        .create_case(&system, new_case(&org, title), None)
        .await
        .expect("case");
    (org, mediator, case)
}

async fn drafting_live_and_between_sessions(s: &Scratch) {
    let store = &s.store;
    let w = World::start(store).await;
    let system = Actor::System;
    let (org, mediator, case) =
        mediated_case(store, ("海淀", "北京市海淀区"), "陈调解", "楼上漏水纠纷").await;
    let case = store
        .assign_case(&system, &case.id, &mediator.id)
        .await
        .expect("assigned");
    let applicant = store
        .add_party(&system, &case.id, person("张三", Side::Applicant, None))
        .await
        .expect("applicant");
    store
        .add_party(&system, &case.id, person("李四", Side::Respondent, None))
        .await
        .expect("respondent");
    let session = store
        .schedule_session(&system, &case.id, now_ms())
        .await
        .expect("session");
    let invite = store
        .create_invite(&system, &session.id, &applicant.id, 3600)
        .await
        .expect("invite");
    store
        .give_consent(&case.id, &applicant.id, Some(&session.id), None, None)
        .await
        .expect("consent");
    let issued = u64::try_from(invite.issued_at).expect("time");
    let party_claims = JoinClaims {
        sub: applicant.id.to_string(),
        name: applicant.name.clone(),
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
    let party_token = w.state.keys().sign(&party_claims).expect("token");
    let mediator_token = w
        .state
        .keys()
        .sign(&JoinClaims {
            sub: mediator.id.to_string(),
            name: mediator.display_name.clone(),
            role: Role::Mediator,
            inv: None,
            ..party_claims.clone()
        })
        .expect("token");
    let access = accord_cases::tokens::staff::issue_access(store, &mediator)
        .await
        .expect("access token");

    // Created from the organisation's template for the case's category, names filled in.
    let (status, templates) = w
        .call("GET", "/agreement-templates?locale=zh-CN", &access, None)
        .await;
    assert_eq!(status, 200, "{templates}");
    assert!(templates.as_array().is_some_and(|t| !t.is_empty()));
    let (status, created) = w
        .call(
            "POST",
            &format!("/cases/{}/agreement", case.id),
            &access,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "drafting");
    assert_eq!(created["version"], 1);
    assert_eq!(created["locale"], "zh-CN");
    let id = created["id"].as_str().expect("id").to_owned();
    let (status, again) = w
        .call(
            "POST",
            &format!("/cases/{}/agreement", case.id),
            &access,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 409, "one agreement per case: {again}");

    // The mediator and the party, seated; both follow the main document.
    let (mut host, joined) = w.join(&mediator_token).await;
    assert_eq!(joined["type"], "joined", "{joined}");
    let (mut guest, first) = w.join(&party_token).await;
    if first["type"] == "waiting" {
        send(&mut host, json!({"type": "admit"})).await;
        next_of(&mut guest, "joined").await;
    }
    for socket in [&mut host, &mut guest] {
        send(
            socket,
            json!({"type": "draft_open", "agreement_id": id, "doc": "main", "state_vector": "", "request_id": "o"}),
        )
        .await;
    }
    let host_state = next_of(&mut host, "draft_state").await;
    let guest_state = next_of(&mut guest, "draft_state").await;
    assert_eq!(host_state["seq"], 1, "{host_state}");
    assert_eq!(guest_state["request_id"], "o");
    let start = doc_of(&guest_state["update"]);
    assert!(start.title().contains("调解协议书"), "{}", start.title());
    let filled = |needle: &str| start.clauses().iter().any(|c| c.text.contains(needle));
    assert!(
        filled("楼上卫生间漏水") && filled("陈调解"),
        "the case's facts and mediator are filled in"
    );
    let clauses_at_start = start.clauses().len();

    // An edit: acknowledged once stored, passed on to the party with the clause it touched.
    let update = clause_update(
        ClauseKind::Term,
        "李四于2026年12月31日前赔偿张三维修费3000元。",
    );
    send(
        &mut host,
        json!({"type": "draft_update", "agreement_id": id, "doc": "main", "update": B64.encode(&update), "request_id": "u1"}),
    )
    .await;
    let ack = next_of(&mut host, "draft_ack").await;
    assert_eq!(
        ack,
        json!({"type": "draft_ack", "request_id": "u1", "agreement_id": id, "doc": "main", "seq": 2})
    );
    let changed = next_of(&mut guest, "draft_changed").await;
    assert_eq!(changed["seq"], 2, "{changed}");
    assert_eq!(changed["by_name"], "陈调解");
    assert_eq!(changed["update"], B64.encode(&update));
    assert_eq!(changed["clauses"].as_array().map(Vec::len), Some(1));

    // Typing is relayed, not stored.
    let clause_id = changed["clauses"][0].as_str().expect("clause").to_owned();
    send(
        &mut host,
        json!({"type": "draft_typing", "agreement_id": id, "doc": "main", "clause_id": clause_id}),
    )
    .await;
    let typing = next_of(&mut guest, "draft_typing").await;
    assert_eq!(typing["name"], "陈调解", "{typing}");

    // A party never edits; a garbage update is refused; neither reaches the store.
    send(
        &mut guest,
        json!({"type": "draft_update", "agreement_id": id, "doc": "main", "update": B64.encode(clause_update(ClauseKind::Term, "x")), "request_id": "p"}),
    )
    .await;
    let refused = next_of(&mut guest, "draft_ack").await;
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_str()),
        (Some("error"), Some("draft_rejected")),
        "{refused}"
    );
    assert_eq!(refused["request_id"], "p");
    send(
        &mut host,
        json!({"type": "draft_update", "agreement_id": id, "doc": "main", "update": B64.encode([0xffu8; 16]), "request_id": "g"}),
    )
    .await;
    let refused = next_of(&mut host, "draft_ack").await;
    assert_eq!(refused["code"], "draft_rejected", "{refused}");
    let agreement_id = accord_cases::AgreementId::from(id.as_str());
    assert_eq!(store.last_seq(&agreement_id, "main").await.expect("seq"), 2);

    // A comment: stored, to the mediators and its author.
    send(
        &mut guest,
        json!({"type": "draft_comment", "agreement_id": id, "clause_id": clause_id, "text": "能否分两期支付？"}),
    )
    .await;
    let seen = next_of(&mut host, "draft_comment").await;
    assert_eq!(seen["comment"]["author_name"], "张三", "{seen}");
    let mine = next_of(&mut guest, "draft_comment").await;
    assert_eq!(mine["comment"]["text"], "能否分两期支付？");

    // Between sessions over HTTP: what the server has, and an edit the session sees.
    let (status, draft) = w
        .call(
            "GET",
            &format!("/agreements/{id}/draft?doc=main"),
            &access,
            None,
        )
        .await;
    assert_eq!(status, 200, "{draft}");
    assert_eq!(draft["seq"], 2);
    assert_eq!(
        doc_of(&draft["update"]).clauses().len(),
        clauses_at_start + 1
    );
    let update = clause_update(ClauseKind::Breach, "逾期支付的，按日万分之五支付违约金。");
    let (status, stored) = w
        .call(
            "POST",
            &format!("/agreements/{id}/draft"),
            &access,
            Some(json!({"doc": "main", "update": B64.encode(&update)})),
        )
        .await;
    assert_eq!((status, &stored), (200, &json!({"seq": 3})));
    let changed = next_of(&mut guest, "draft_changed").await;
    assert_eq!(changed["seq"], 3, "{changed}");
    let (status, refused) = w
        .call(
            "POST",
            &format!("/agreements/{id}/draft"),
            &party_token,
            Some(json!({"update": B64.encode(&update)})),
        )
        .await;
    assert_eq!(status, 403, "a party does not draft: {refused}");

    // Finalised: the text is the canonical text of the document and the case's parties.
    let (status, finalised) = w
        .call("POST", &format!("/agreements/{id}/finalise"), &access, None)
        .await;
    assert_eq!(status, 200, "{finalised}");
    assert_eq!(finalised["status"], "final");
    let (_, now) = w
        .call(
            "GET",
            &format!("/agreements/{id}/draft?doc=main"),
            &access,
            None,
        )
        .await;
    let doc = doc_of(&now["update"]);
    let parties = vec![
        "申请人：张三".to_owned(),
        "被申请人：李四".to_owned(),
        format!("调解组织：{}", org.name),
        "调解员：陈调解".to_owned(),
    ];
    let text = canonical_text(&doc.title(), &parties, &doc.clauses(), "zh-CN");
    assert_eq!(finalised["final"]["text"], text);
    assert_eq!(finalised["final"]["text_sha256"], text_sha256(&text));
    assert_eq!(finalised["final"]["version"], 1);
    let news = next_of(&mut guest, "agreement_changed").await;
    assert_eq!(news["status"], "final", "{news}");

    // An edit after that reopens it as version 2; everyone is told.
    let update = clause_update(ClauseKind::Term, "维修由李四委托物业完成。");
    send(
        &mut host,
        json!({"type": "draft_update", "agreement_id": id, "doc": "main", "update": B64.encode(&update), "request_id": "u2"}),
    )
    .await;
    assert_eq!(next_of(&mut host, "draft_ack").await["seq"], 4);
    let news = next_where(&mut guest, |f| {
        f["type"] == "agreement_changed" && f["status"] == "drafting"
    })
    .await;
    assert_eq!(news["version"], 2, "{news}");
    let (status, agreement) = w
        .call(
            "GET",
            &format!("/cases/{}/agreement", case.id),
            &party_token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{agreement}");
    assert_eq!(
        (agreement["status"].as_str(), agreement["version"].as_i64()),
        (Some("drafting"), Some(2))
    );
    assert!(agreement["final"].is_null());

    // The record: versions and the moments each clause was last changed.
    let (status, version) = w
        .call(
            "GET",
            &format!("/agreements/{id}/versions/1"),
            &access,
            None,
        )
        .await;
    assert_eq!(status, 200, "{version}");
    assert_eq!(version["status"], "superseded");
    assert_eq!(version["text"], text);
    let (status, moments) = w
        .call("GET", &format!("/agreements/{id}/moments"), &access, None)
        .await;
    assert_eq!(status, 200, "{moments}");
    let moment = moments
        .as_array()
        .and_then(|m| m.iter().find(|m| m["clause_id"] == clause_id.as_str()))
        .expect("the edited clause has a moment");
    assert_eq!(moment["session_id"], session.id.as_str());
    assert!(
        moment["label"]
            .as_str()
            .is_some_and(|l| l.starts_with('第')),
        "{moment}"
    );
}

both_databases!(drafting, drafting_live_and_between_sessions);

/// Two nodes on one database: an edit stored through one is what the other serves and sends
/// its followers, though the other built the document before the edit.
async fn a_draft_edited_on_one_node_is_fresh_on_another(s: &Scratch) {
    let (a, b) = (World::start(&s.store).await, World::start(&s.store).await);
    drafting_on_two_nodes(s, a, b, false).await;
}

/// The same on two nodes of a cluster (the local Redis, a key prefix of its own): the other
/// node's follower is sent the edit at once, told by the cluster's event, before anyone there
/// reads the draft.
async fn a_draft_edited_on_one_node_reaches_the_others_followers_at_once(s: &Scratch) {
    let prefix = crate::cluster::fresh_prefix();
    let node = |id: &str| ClusterConfig {
        node_id: id.into(),
        redis_url: Some(crate::cluster::redis_url()),
        prefix: prefix.clone(),
        ..ClusterConfig::default()
    };
    let (a, b) = (
        World::start_in(&s.store, Some(node("N_a"))).await,
        World::start_in(&s.store, Some(node("N_b"))).await,
    );
    drafting_on_two_nodes(s, a, b, true).await;
    crate::cluster::clean(&prefix).await;
}

async fn drafting_on_two_nodes(s: &Scratch, a: World, b: World, clustered: bool) {
    let store = &s.store;
    let system = Actor::System;
    let (_, mediator, case) =
        mediated_case(store, ("朝阳", "北京市朝阳区"), "王调解", "物业费纠纷").await;
    store
        .assign_case(&system, &case.id, &mediator.id)
        .await
        .expect("assigned");
    let session = store
        .schedule_session(&system, &case.id, now_ms())
        .await
        .expect("session");
    let access = accord_cases::tokens::staff::issue_access(store, &mediator)
        .await
        .expect("access token");
    let (status, created) = a
        .call(
            "POST",
            &format!("/cases/{}/agreement", case.id),
            &access,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let agreement_id = accord_cases::AgreementId::from(id.as_str());
    let draft_path = format!("/agreements/{id}/draft?doc=main");

    // Node B builds the document and seats the mediator, who follows it there.
    let (status, before) = b.call("GET", &draft_path, &access, None).await;
    assert_eq!((status, &before["seq"]), (200, &json!(1)), "{before}");
    let now = u64::try_from(now_ms() / 1000).expect("time");
    let token = b
        .state
        .keys()
        .sign(&JoinClaims {
            sub: mediator.id.to_string(),
            name: mediator.display_name.clone(),
            room: session.room.clone(),
            role: Role::Mediator,
            can_publish: true,
            can_subscribe: true,
            hidden: false,
            case: Some(case.id.to_string()),
            session: Some(session.id.to_string()),
            inv: None,
            aud: String::new(),
            iat: now,
            nbf: now.saturating_sub(300),
            exp: now + 3600,
        })
        .expect("token");
    let (mut seat, joined) = b.join(&token).await;
    assert_eq!(joined["type"], "joined", "{joined}");
    send(
        &mut seat,
        json!({"type": "draft_open", "agreement_id": id, "doc": "main", "state_vector": "", "request_id": "o"}),
    )
    .await;
    assert_eq!(next_of(&mut seat, "draft_state").await["seq"], 1);

    // Edited through node A: node B's copy is behind, and catches up when next read.
    let update = clause_update(ClauseKind::Term, "物业公司于本月底前退还多收的物业费。");
    let (status, stored) = a
        .call(
            "POST",
            &format!("/agreements/{id}/draft"),
            &access,
            Some(json!({"doc": "main", "update": B64.encode(&update)})),
        )
        .await;
    assert_eq!((status, &stored), (200, &json!({"seq": 2})));
    if clustered {
        // Told by the cluster's event, before anyone on B reads the draft.
        let changed = next_of(&mut seat, "draft_changed").await;
        assert_eq!(changed["seq"], 2, "{changed}");
    }
    let (status, after) = b.call("GET", &draft_path, &access, None).await;
    assert_eq!((status, &after["seq"]), (200, &json!(2)), "{after}");
    let clauses = doc_of(&after["update"]).clauses();
    assert!(clauses.iter().any(|c| c.text.contains("退还多收")));
    assert_eq!(clauses.len(), doc_of(&before["update"]).clauses().len() + 1);
    // …and its follower there is sent the edit it missed (already, in a cluster).
    if !clustered {
        let changed = next_of(&mut seat, "draft_changed").await;
        assert_eq!(changed["seq"], 2, "{changed}");
        assert_eq!(changed["update"], B64.encode(&update));
        assert_eq!(changed["by_name"], "王调解");
    }

    // Told a draft changed elsewhere (the cluster's event), node B catches up at once.
    let update = clause_update(ClauseKind::Breach, "逾期退还的，按日万分之五支付违约金。");
    let (status, stored) = a
        .call(
            "POST",
            &format!("/agreements/{id}/draft"),
            &access,
            Some(json!({"doc": "main", "update": B64.encode(&update)})),
        )
        .await;
    assert_eq!((status, &stored), (200, &json!({"seq": 3})));
    b.state
        .drafts()
        .refresh(&b.state, &agreement_id, "main")
        .await
        .expect("refresh");
    let changed = next_of(&mut seat, "draft_changed").await;
    assert_eq!(changed["seq"], 3, "{changed}");

    // An edit through B after that builds on everything: numbered after A's, nothing lost.
    let update = clause_update(ClauseKind::Term, "双方无其他争议。");
    let (status, stored) = b
        .call(
            "POST",
            &format!("/agreements/{id}/draft"),
            &access,
            Some(json!({"doc": "main", "update": B64.encode(&update)})),
        )
        .await;
    assert_eq!((status, &stored), (200, &json!({"seq": 4})));
    let (_, on_a) = a.call("GET", &draft_path, &access, None).await;
    let (_, on_b) = b.call("GET", &draft_path, &access, None).await;
    assert_eq!(on_a["seq"], 4);
    assert_eq!(
        doc_of(&on_a["update"]).clauses(),
        doc_of(&on_b["update"]).clauses()
    );
}

both_databases!(
    drafts_across_nodes,
    a_draft_edited_on_one_node_is_fresh_on_another
);
both_databases!(
    drafts_across_cluster_nodes,
    a_draft_edited_on_one_node_reaches_the_others_followers_at_once
);
