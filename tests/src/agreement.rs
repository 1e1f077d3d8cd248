//! Drafting an agreement the way the web client does, over the real session socket: a Yjs
//! document kept with `yrs` ([`DraftDoc`], the document model of the project brief: a root
//! Y.Text `title` and a root Y.Array `clauses` of Y.Maps `{id, kind, text}`) and a seat that
//! sends drafting frames with request ids and keeps every frame it receives ([`DraftSeat`]).
//!
//! The document code is written here from the model, not borrowed from the server, so the
//! tests check the server against an independent client.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use yrs::types::GetString;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{
    Any, Array, ArrayRef, ClientID, Doc, Map, OffsetKind, Options, Out, ReadTxn, StateVector, Text,
    TextRef, Transact, Update,
};

use crate::client::signaling::{Socket, open_and_join};
use crate::client::state::Shared;
use crate::protocol::{ClientFrame, ErrorFrame, Joined, ServerFrame, parse_server_frame};
use crate::session_world::SessionWorld;
use crate::staff_api::StaffApi;

const JOIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The gap between two `draft_update`s of one seat that stays under the server's burst limit
/// (40 per 2 s, counted in fixed windows): at most 37 fall into any 2 s.
pub const UPDATE_GAP: Duration = Duration::from_millis(55);

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64, standard alphabet, padded: how updates and state vectors travel. Written out here
/// rather than taken from the server's crate so a mistake on either side shows.
pub fn b64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The inverse of [`b64_encode`]; padding is required.
pub fn b64_decode(text: &str) -> Result<Vec<u8>> {
    let bytes = text.as_bytes();
    ensure!(
        bytes.len().is_multiple_of(4),
        "base64 of length {} is not padded",
        bytes.len()
    );
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (q, quad) in bytes.chunks(4).enumerate() {
        let last = q + 1 == bytes.len() / 4;
        let pad = quad.iter().rev().take_while(|b| **b == b'=').count();
        ensure!(pad <= 2 && (pad == 0 || last), "misplaced base64 padding");
        let mut n = 0u32;
        for (i, b) in quad[..4 - pad].iter().enumerate() {
            let v = B64
                .iter()
                .position(|c| c == b)
                .with_context(|| format!("{:?} is not base64", char::from(*b)))?;
            n |= (v as u32) << (18 - 6 * i);
        }
        for i in 0..3 - pad {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Ok(out)
}

/// One clause as it reads now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// Stable id.
    pub id: String,
    /// `facts`, `term`, `breach` or `closing`.
    pub kind: String,
    /// Its text.
    pub text: String,
}

/// A client's copy of an agreement document.
pub struct DraftDoc {
    doc: Doc,
    title: TextRef,
    clauses: ArrayRef,
}

impl DraftDoc {
    /// An empty document whose own edits carry `client_id`; positions count UTF-16 code
    /// units, as Yjs in the browser does.
    pub fn new(client_id: u64) -> Self {
        let mut options = Options::with_client_id(ClientID::new(client_id));
        options.offset_kind = OffsetKind::Utf16;
        let doc = Doc::with_options(options);
        let title = doc.get_or_insert_text("title");
        let clauses = doc.get_or_insert_array("clauses");
        Self {
            doc,
            title,
            clauses,
        }
    }

    /// Applies a base64 v1 update; fails when it does not decode or leaves gaps (changes it
    /// builds on that this copy never saw).
    pub fn apply_b64(&self, update: &str) -> Result<()> {
        self.apply(&b64_decode(update)?)
    }

    /// Applies a v1 update; see [`DraftDoc::apply_b64`].
    pub fn apply(&self, update: &[u8]) -> Result<()> {
        let update =
            Update::decode_v1(update).map_err(|e| anyhow!("update does not decode: {e}"))?;
        let mut txn = self.doc.transact_mut();
        txn.apply_update(update)
            .map_err(|e| anyhow!("update does not apply: {e}"))?;
        ensure!(
            !txn.has_missing_updates(),
            "the update builds on changes this copy lacks"
        );
        Ok(())
    }

    /// This copy's state vector, base64.
    pub fn state_vector_b64(&self) -> String {
        b64_encode(&self.doc.transact().state_vector().encode_v1())
    }

    /// What a peer with state vector `sv` (base64) lacks, as one v1 update.
    pub fn diff(&self, sv: &str) -> Result<Vec<u8>> {
        let sv = StateVector::decode_v1(&b64_decode(sv)?)
            .map_err(|e| anyhow!("state vector does not decode: {e}"))?;
        Ok(self.doc.transact().encode_state_as_update_v1(&sv))
    }

    /// The whole document as one v1 update (a copy starts from it).
    pub fn full_update(&self) -> Vec<u8> {
        self.doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    /// The title.
    pub fn title(&self) -> String {
        self.title.get_string(&self.doc.transact())
    }

    /// The clauses in order; an element that is not a well-formed clause is an error.
    pub fn clauses(&self) -> Result<Vec<Clause>> {
        let txn = self.doc.transact();
        let mut out = Vec::new();
        for value in self.clauses.iter(&txn) {
            let Out::YMap(map) = value else {
                bail!("a clause that is not a map: {value:?}");
            };
            let id = match map.get(&txn, "id") {
                Some(Out::Any(Any::String(s))) => s.to_string(),
                other => bail!("a clause id that is not a string: {other:?}"),
            };
            let kind = match map.get(&txn, "kind") {
                Some(Out::Any(Any::String(s))) => s.to_string(),
                other => bail!("a clause kind that is not a string: {other:?}"),
            };
            let text = match map.get(&txn, "text") {
                Some(Out::YText(text)) => text.get_string(&txn),
                other => bail!("a clause text that is not a Y.Text: {other:?}"),
            };
            out.push(Clause { id, kind, text });
        }
        Ok(out)
    }

    /// The text of clause `id`.
    pub fn clause_text(&self, id: &str) -> Result<String> {
        self.clauses()?
            .into_iter()
            .find(|c| c.id == id)
            .map(|c| c.text)
            .with_context(|| format!("no clause {id}"))
    }

    /// Inserts `chunk` into clause `id` at `at` (UTF-16 units, clamped to its length; `None`
    /// for the end) as one transaction; returns that transaction's v1 update.
    pub fn insert(&self, id: &str, at: Option<u32>, chunk: &str) -> Result<Vec<u8>> {
        let text = self.clause_ref(id)?;
        let mut txn = self.doc.transact_mut();
        let len = text.len(&txn);
        let at = at.map_or(len, |at| at.min(len));
        text.insert(&mut txn, at, chunk);
        Ok(txn.encode_update_v1())
    }

    /// The length of clause `id` in UTF-16 units.
    pub fn clause_len(&self, id: &str) -> Result<u32> {
        let text = self.clause_ref(id)?;
        Ok(text.len(&self.doc.transact()))
    }

    fn clause_ref(&self, id: &str) -> Result<TextRef> {
        let txn = self.doc.transact();
        for value in self.clauses.iter(&txn) {
            let Out::YMap(map) = value else { continue };
            let is_it = matches!(map.get(&txn, "id"), Some(Out::Any(Any::String(s))) if &*s == id);
            if is_it && let Some(Out::YText(text)) = map.get(&txn, "text") {
                return Ok(text);
            }
        }
        bail!("no clause {id}")
    }

    /// A v1 update that adds a root map `name` with one key: outside the document model.
    pub fn foreign_root_update(&self, name: &str) -> Vec<u8> {
        let map = self.doc.get_or_insert_map(name);
        let mut txn = self.doc.transact_mut();
        map.insert(&mut txn, "x", "y");
        txn.encode_update_v1()
    }
}

/// A seat in a live session that drafts: it sends frames with request ids and keeps every
/// frame it receives, in order.
pub struct DraftSeat {
    who: String,
    joined: Joined,
    shared: Arc<Shared>,
    closed: Arc<AtomicBool>,
    reader: JoinHandle<()>,
    writer: tokio::sync::Mutex<SplitSink<Socket, Message>>,
    /// How many `draft_changed` frames [`DraftSeat::catch_up`] has applied.
    applied: std::sync::Mutex<usize>,
}

impl DraftSeat {
    /// Joins with `token` (and `resume`, a resume token, to take an earlier seat back);
    /// returns once `joined` arrived (for a party: once admitted).
    pub async fn join(ws_url: &str, token: &str, resume: Option<&str>, who: &str) -> Result<Self> {
        crate::init_logging();
        let shared = Arc::new(Shared::default());
        let (socket, joined, _) =
            open_and_join(ws_url, token, resume, who, &shared, JOIN_TIMEOUT).await?;
        let (writer, stream) = socket.split();
        let closed = Arc::new(AtomicBool::new(false));
        let reader = tokio::spawn(read_frames(
            stream,
            Arc::clone(&shared),
            Arc::clone(&closed),
        ));
        Ok(Self {
            who: who.to_owned(),
            joined,
            shared,
            closed,
            reader,
            writer: tokio::sync::Mutex::new(writer),
            applied: std::sync::Mutex::new(0),
        })
    }

    /// The `joined` frame.
    pub fn joined(&self) -> &Joined {
        &self.joined
    }

    /// Our seat's id.
    pub fn id(&self) -> &str {
        &self.joined.participant.id
    }

    /// Sends `frame` with `request_id`.
    pub async fn send(&self, frame: &ClientFrame, request_id: Option<&str>) -> Result<()> {
        self.send_text(frame.to_json(request_id)?).await
    }

    /// Sends a text frame as is.
    pub async fn send_text(&self, text: String) -> Result<()> {
        self.writer
            .lock()
            .await
            .send(Message::text(text))
            .await
            .with_context(|| format!("{}: sending a frame", self.who))
    }

    /// Every frame received so far, in order.
    pub fn frames(&self) -> Vec<ServerFrame> {
        self.shared.lock().frames.clone()
    }

    /// Whether the server closed the socket (or it broke).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Waits for a frame matching `pred` (already received ones count).
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&ServerFrame) -> bool,
    ) -> Result<ServerFrame> {
        self.shared
            .wait_for_frame(&self.who, what, timeout, pred, || {
                let frames = self.frames();
                let start = frames.len().saturating_sub(8);
                format!("last frames: {:?}", &frames[start..])
            })
            .await
    }

    /// The `error` frame answering `request_id`, if any arrived.
    pub fn error_for(&self, request_id: &str) -> Option<ErrorFrame> {
        self.frames().into_iter().find_map(|f| match f {
            ServerFrame::Error(e) if e.request_id.as_deref() == Some(request_id) => Some(e),
            _ => None,
        })
    }

    /// Request ids of our `draft_ack`s so far, with the stored sequence numbers.
    pub fn acks(&self) -> HashMap<String, i64> {
        self.frames()
            .into_iter()
            .filter_map(|f| match f {
                ServerFrame::DraftAck {
                    request_id: Some(id),
                    seq,
                    ..
                } => Some((id, seq)),
                _ => None,
            })
            .collect()
    }

    /// Waits for the answer to `request_id`: `Ok(seq)` for a `draft_ack`, `Err` carrying the
    /// error frame otherwise.
    pub async fn answer(&self, request_id: &str) -> Result<std::result::Result<i64, ErrorFrame>> {
        let frame = self
            .wait_for(
                &format!("the answer to {request_id}"),
                JOIN_TIMEOUT,
                |f| match f {
                    ServerFrame::DraftAck { request_id: r, .. }
                    | ServerFrame::DraftState { request_id: r, .. } => {
                        r.as_deref() == Some(request_id)
                    }
                    ServerFrame::Error(e) => e.request_id.as_deref() == Some(request_id),
                    _ => false,
                },
            )
            .await?;
        Ok(match frame {
            ServerFrame::DraftAck { seq, .. } | ServerFrame::DraftState { seq, .. } => Ok(seq),
            ServerFrame::Error(e) => Err(e),
            other => return Err(anyhow!("unexpected answer {other:?}")),
        })
    }

    /// Opens `doc` of `agreement` from `local`'s state and applies what the server sent;
    /// returns the `draft_state`'s `(state_vector, seq)`.
    pub async fn open(
        &self,
        agreement: &str,
        doc: &str,
        local: &DraftDoc,
    ) -> Result<(String, i64)> {
        let request_id = format!("open-{}", rand::random::<u32>());
        let frame = ClientFrame::DraftOpen {
            agreement_id: agreement.to_owned(),
            doc: doc.to_owned(),
            state_vector: local.state_vector_b64(),
        };
        self.send(&frame, Some(&request_id)).await?;
        let state = self
            .wait_for("draft_state", JOIN_TIMEOUT, |f| match f {
                ServerFrame::DraftState { request_id: r, .. } => r.as_deref() == Some(&request_id),
                ServerFrame::Error(e) => e.request_id.as_deref() == Some(&request_id),
                _ => false,
            })
            .await?;
        match state {
            ServerFrame::DraftState {
                update,
                state_vector,
                seq,
                ..
            } => {
                local.apply_b64(&update)?;
                // Changes announced before the state are in it; start after them.
                *self.applied_count() = self.changed_frames().len();
                Ok((state_vector, seq))
            }
            other => bail!("{}: draft_open refused: {other:?}", self.who),
        }
    }

    /// Sends one update to `doc` of `agreement` with `request_id`.
    pub async fn update(
        &self,
        agreement: &str,
        doc: &str,
        update: &[u8],
        request_id: &str,
    ) -> Result<()> {
        let frame = ClientFrame::DraftUpdate {
            agreement_id: agreement.to_owned(),
            doc: doc.to_owned(),
            update: b64_encode(update),
        };
        self.send(&frame, Some(request_id)).await
    }

    /// Applies to `local` every `draft_changed` received since the last call; returns the
    /// highest sequence number seen so far.
    pub fn catch_up(&self, local: &DraftDoc) -> Result<i64> {
        let changed = self.changed_frames();
        let mut applied = self.applied_count();
        for (update, _) in &changed[(*applied).min(changed.len())..] {
            local.apply_b64(update)?;
        }
        *applied = changed.len();
        Ok(changed.iter().map(|(_, seq)| *seq).max().unwrap_or(0))
    }

    fn applied_count(&self) -> std::sync::MutexGuard<'_, usize> {
        self.applied.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed_frames(&self) -> Vec<(String, i64)> {
        self.frames()
            .into_iter()
            .filter_map(|f| match f {
                ServerFrame::DraftChanged { update, seq, .. } => Some((update, seq)),
                _ => None,
            })
            .collect()
    }

    /// The socket vanishes without a close frame (a phone losing its network); returns the
    /// resume token.
    pub fn drop_socket(self) -> String {
        self.reader.abort();
        self.joined.resume_token.clone().unwrap_or_default()
    }
}

impl Drop for DraftSeat {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn read_frames(
    mut socket: SplitStream<Socket>,
    shared: Arc<Shared>,
    closed: Arc<AtomicBool>,
) {
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        shared.record_raw(text.as_str());
        match parse_server_frame(text.as_str()).context("an unparsable server frame") {
            Ok(frame) => shared.apply_frame(&frame),
            Err(err) => shared.local_error(format!("{err:#}")),
        }
    }
    closed.store(true, Ordering::SeqCst);
}

/// Waits until `mediator` sees `name` waiting, then admits them.
pub async fn admit(mediator: &DraftSeat, name: &str) -> Result<()> {
    let frame = mediator
        .wait_for(&format!("{name} waiting"), JOIN_TIMEOUT, |f| {
            matches!(f, ServerFrame::WaitingRoom { waiting } if waiting.iter().any(|p| p.name == name))
        })
        .await?;
    let ServerFrame::WaitingRoom { waiting } = frame else {
        bail!("not a waiting list");
    };
    let id = waiting
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.id.clone())
        .context("the waiting person")?;
    mediator
        .send(
            &ClientFrame::Admit {
                participant_id: Some(id),
            },
            None,
        )
        .await
}

/// Joins party `name` of `world` through the waiting room, admitted by `mediator`.
pub async fn join_party(
    world: &SessionWorld,
    mediator: &DraftSeat,
    name: &str,
) -> Result<DraftSeat> {
    let (url, token, who) = (
        world.ws_url(),
        world.token(name)?.to_owned(),
        name.to_owned(),
    );
    let joining = tokio::spawn(async move { DraftSeat::join(&url, &token, None, &who).await });
    admit(mediator, name).await?;
    joining.await?
}

/// Creates the case's agreement from the built-in template as the case's mediator; returns
/// its id.
pub async fn create_agreement(world: &SessionWorld) -> Result<String> {
    let answer = world
        .world
        .api
        .post(
            &format!("/api/v1/cases/{}/agreement", world.case_id),
            json!({"locale": "zh-CN"}),
            &world.world.mediator_a,
        )
        .await?
        .expect(StatusCode::CREATED)?;
    answer.text("id")
}

/// A second mediator of the case's organisation (username `username`) who opens the same
/// live session; returns their join token.
pub async fn co_mediator_token(world: &SessionWorld, username: &str) -> Result<String> {
    let api = &world.world.api;
    let case = api
        .get(
            &format!("/api/v1/cases/{}", world.case_id),
            &world.world.mediator_a,
        )
        .await?
        .expect(StatusCode::OK)?;
    let org = case.body["case"]["organisation_id"]
        .as_str()
        .with_context(|| format!("no case.organisation_id in {}", case.body))?
        .to_owned();
    api.post(
        "/api/v1/staff",
        json!({"username": username, "display_name": username, "password": crate::case_world::PASSWORD,
               "role": "mediator", "organisation_id": org}),
        &world.world.admin,
    )
    .await?
    .expect(StatusCode::CREATED)?;
    let access = api.login(username, crate::case_world::PASSWORD).await?;
    api.post(
        &format!("/api/v1/sessions/{}/start", world.session_id),
        json!({}),
        &access,
    )
    .await?
    .expect(StatusCode::OK)?
    .text("token")
}

/// The server's copy of `doc` of `agreement`, read over HTTP as `bearer`, with its sequence
/// number.
pub async fn server_doc(
    api: &StaffApi,
    bearer: &str,
    agreement: &str,
    doc: &str,
) -> Result<(DraftDoc, i64)> {
    let answer = api
        .get(
            &format!("/api/v1/agreements/{agreement}/draft?doc={doc}"),
            bearer,
        )
        .await?
        .expect(StatusCode::OK)?;
    let local = DraftDoc::new(1);
    local
        .apply_b64(&answer.text("update")?)
        .context("the server's document")?;
    let seq = answer.body["seq"]
        .as_i64()
        .with_context(|| format!("no seq in {}", answer.body))?;
    Ok((local, seq))
}

/// The numbered clauses (`term`, `breach`, `closing`) of `doc`, in order.
pub fn numbered_clauses(doc: &DraftDoc) -> Result<Vec<String>> {
    Ok(doc
        .clauses()?
        .into_iter()
        .filter(|c| c.kind != "facts")
        .map(|c| c.id)
        .collect())
}
