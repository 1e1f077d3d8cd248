//! The drafts being edited, in memory: one [`Draft`] per (agreement, doc), built from the
//! stored updates the first time someone needs it and kept while people follow it.
//!
//! Every change goes through [`apply`]: the update is tried on a copy, stored, and only then
//! becomes the document everyone is sent, under the document's own lock, so what is in memory
//! is always exactly what the store holds and followers receive the updates in `seq` order. A
//! bounded number of documents stay open; one nobody follows is dropped after
//! [`IDLE_EVICTION`] and built again from the store when needed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accord_cases::agreements::Rule;
use accord_cases::agreements::document::Draft;
use accord_cases::agreements::model::{Agreement, Editor, StoredUpdate};
use accord_cases::store::now_ms;
use accord_cases::{AgreementId, SessionId};
use accord_protocol::ServerMessage;
use base64::Engine as _;
use tokio::sync::OwnedMutexGuard;

use crate::AppState;
use crate::cluster::ClusterEvent;
use crate::error::{Error, Result};

/// Documents open at once, across every agreement: far more than the live sessions of one
/// node edit, and a bound on the memory they take.
pub const MAX_OPEN_DOCS: usize = 1000;
/// A document nobody follows is dropped from memory after this long.
pub const IDLE_EVICTION: Duration = Duration::from_secs(10 * 60);
/// How often the open documents are looked over for idle ones.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

type DocKey = (AgreementId, String);

/// A seat that follows a document (sent `draft_open`), sent every change of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Follower {
    /// The room of the seat.
    pub room: String,
    /// The seat.
    pub participant_id: String,
}

/// A document as it is in memory, and the number of its last stored update.
pub struct Loaded {
    /// The document.
    pub draft: Draft,
    /// Its last stored update's number.
    pub seq: i64,
}

struct OpenDoc {
    /// `None` until built from the store.
    state: Arc<tokio::sync::Mutex<Option<Loaded>>>,
    followers: Mutex<Vec<Follower>>,
    last_used: Mutex<Instant>,
}

/// Every open document.
#[derive(Clone)]
pub struct Drafts {
    inner: Arc<Mutex<Open>>,
}

struct Open {
    docs: HashMap<DocKey, Arc<OpenDoc>>,
    last_sweep: Instant,
}

impl Default for Drafts {
    fn default() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Open {
                docs: HashMap::new(),
                last_sweep: Instant::now(),
            })),
        }
    }
}

/// A document locked for its holder: built from the store when it was not in memory.
pub struct DocGuard {
    guard: OwnedMutexGuard<Option<Loaded>>,
    doc: Arc<OpenDoc>,
}

impl DocGuard {
    /// The document.
    pub fn loaded(&mut self) -> Result<&mut Loaded> {
        self.guard
            .as_mut()
            .ok_or_else(|| Error::Internal("a draft was used before it was loaded".to_owned()))
    }

    /// Everyone following the document.
    pub fn followers(&self) -> Vec<Follower> {
        lock(&self.doc.followers).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Drafts {
    fn slot(&self, state: &AppState, agreement: &AgreementId, doc: &str) -> Result<Arc<OpenDoc>> {
        let now = Instant::now();
        let mut open = lock(&self.inner);
        let key = (agreement.clone(), doc.to_owned());
        if let Some(found) = open.docs.get(&key) {
            *lock(&found.last_used) = now;
            return Ok(Arc::clone(found));
        }
        if open.docs.len() >= MAX_OPEN_DOCS || now.duration_since(open.last_sweep) >= SWEEP_EVERY {
            open.last_sweep = now;
            sweep(&mut open.docs, state, now);
        }
        if open.docs.len() >= MAX_OPEN_DOCS {
            return Err(Error::Unavailable(
                "too many agreement drafts are open on this server; try again in a few minutes"
                    .to_owned(),
            ));
        }
        let slot = Arc::new(OpenDoc {
            state: Arc::new(tokio::sync::Mutex::new(None)),
            followers: Mutex::new(Vec::new()),
            last_used: Mutex::new(now),
        });
        open.docs.insert(key, Arc::clone(&slot));
        Ok(slot)
    }

    /// Locks document `doc` of `agreement`, building it from the stored updates when needed.
    pub async fn lock(
        &self,
        state: &AppState,
        agreement: &AgreementId,
        doc: &str,
    ) -> Result<DocGuard> {
        let slot = self.slot(state, agreement, doc)?;
        let mut guard = Arc::clone(&slot.state).lock_owned().await;
        match guard.as_mut() {
            None => {
                let updates = state.store().draft_updates(agreement, doc).await?;
                let draft = Draft::from_updates(updates.iter().map(|u| u.data.as_slice()))?;
                let seq = updates.last().map_or(0, |u| u.seq);
                *guard = Some(Loaded { draft, seq });
            }
            // The log is shared by every node and the copy in memory only caches it: another
            // node may have stored updates since, which this one's readers (a page polling
            // the draft) and followers must see too.
            Some(loaded) => {
                let missed = catch_up(state, agreement, doc, loaded).await?;
                tell_missed(state, &slot, agreement, doc, &missed, None);
            }
        }
        Ok(DocGuard { guard, doc: slot })
    }

    /// Catches document `doc` of `agreement` up with the store if this node holds it open,
    /// telling its followers here what other nodes stored: what a node does when told a draft
    /// changed elsewhere. One not open here is built from the store when someone needs it.
    pub async fn refresh(
        &self,
        state: &AppState,
        agreement: &AgreementId,
        doc: &str,
    ) -> Result<()> {
        let open = lock(&self.inner)
            .docs
            .contains_key(&(agreement.clone(), doc.to_owned()));
        if open {
            drop(self.lock(state, agreement, doc).await?);
        }
        Ok(())
    }

    /// Adds a follower of `doc` (once).
    pub fn follow(
        &self,
        state: &AppState,
        agreement: &AgreementId,
        doc: &str,
        who: Follower,
    ) -> Result<()> {
        let slot = self.slot(state, agreement, doc)?;
        let mut followers = lock(&slot.followers);
        if !followers.contains(&who) {
            followers.push(who);
        }
        Ok(())
    }

    /// Keeps only the followers of `doc` that `keep` allows (a private draft shown to
    /// another side stops reaching the one it was shown to).
    pub fn retain_followers(
        &self,
        agreement: &AgreementId,
        doc: &str,
        keep: impl Fn(&Follower) -> bool,
    ) {
        let open = lock(&self.inner);
        if let Some(slot) = open.docs.get(&(agreement.clone(), doc.to_owned())) {
            lock(&slot.followers).retain(|f| keep(f));
        }
    }

    /// The followers of `doc`, if it is open.
    pub fn followers(&self, agreement: &AgreementId, doc: &str) -> Vec<Follower> {
        let open = lock(&self.inner);
        open.docs
            .get(&(agreement.clone(), doc.to_owned()))
            .map(|slot| lock(&slot.followers).clone())
            .unwrap_or_default()
    }

    /// Documents in memory (metrics, tests).
    pub fn open_count(&self) -> usize {
        lock(&self.inner).docs.len()
    }
}

/// Drops followers whose seats are gone and documents nobody follows or holds that were not
/// used for [`IDLE_EVICTION`].
fn sweep(docs: &mut HashMap<DocKey, Arc<OpenDoc>>, state: &AppState, now: Instant) {
    docs.retain(|_, slot| {
        lock(&slot.followers).retain(|f| {
            state
                .rooms()
                .case_seat(&f.room, &f.participant_id)
                .is_some()
        });
        // Someone holding the slot (an edit under way) keeps it: a second copy built from the
        // store beside it could miss the edit.
        let held = Arc::strong_count(slot) > 1;
        let idle = now.duration_since(*lock(&slot.last_used)) >= IDLE_EVICTION;
        held || !idle || !lock(&slot.followers).is_empty()
    });
}

/// Merges into `loaded` the updates stored after `loaded.seq` (by another node), and returns
/// them. Yjs updates commute, so applying them after what this node holds builds the same
/// document every node builds; one applied already changes nothing.
async fn catch_up(
    state: &AppState,
    agreement: &AgreementId,
    doc: &str,
    loaded: &mut Loaded,
) -> Result<Vec<StoredUpdate>> {
    let missed = state
        .store()
        .draft_updates_after(agreement, doc, loaded.seq)
        .await?;
    let Some(last) = missed.last() else {
        return Ok(missed);
    };
    let current = loaded.draft.full_update();
    let draft = Draft::from_updates(
        std::iter::once(current.as_slice()).chain(missed.iter().map(|u| u.data.as_slice())),
    )?;
    loaded.seq = last.seq;
    loaded.draft = draft;
    Ok(missed)
}

/// Sends this node's followers of a document the updates another node stored, in order, as
/// they would have been sent had the change been made here; `except` is the update this
/// node stored itself (sent with its author).
fn tell_missed(
    state: &AppState,
    slot: &OpenDoc,
    agreement: &AgreementId,
    doc: &str,
    missed: &[StoredUpdate],
    except: Option<i64>,
) {
    for update in missed.iter().filter(|u| Some(u.seq) != except) {
        let frame = ServerMessage::DraftChanged {
            agreement_id: agreement.to_string(),
            doc: doc.to_owned(),
            update: base64::engine::general_purpose::STANDARD.encode(&update.data),
            seq: update.seq,
            // Their seat is on another node: no seat here to leave out or name.
            by: String::new(),
            by_name: update.by_name.clone(),
            clauses: update.clauses.clone(),
        };
        tell_followers(state, slot, &frame, None);
    }
}

/// An update that was stored and applied.
#[derive(Debug)]
pub struct Applied {
    /// Its number.
    pub seq: i64,
    /// The new version, when the update reopened a final agreement.
    pub reopened: Option<i64>,
    /// The clauses it changed.
    pub clauses: Vec<String>,
}

/// Why an update was not taken.
#[derive(Debug)]
pub enum ApplyError {
    /// The update itself is refused (does not decode, does not fit, out of shape).
    Rejected(String),
    /// The agreement refuses changes (in force).
    Rule(Rule),
    /// Storing it failed; nothing changed.
    NotStored(Error),
}

impl From<ApplyError> for Error {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::Rejected(m) => Error::BadRequest(m),
            ApplyError::Rule(rule) => Error::Rule(rule),
            ApplyError::NotStored(e) => e,
        }
    }
}

/// Who made a change, as followers are told.
pub struct ChangedBy<'a> {
    /// The editor.
    pub editor: &'a Editor,
    /// Their seat, when the change came over a session's socket (they are not sent it back).
    pub seat: Option<&'a Follower>,
    /// The session it was made in.
    pub session: Option<&'a SessionId>,
}

/// Tries `update` on a copy of the document, stores it, makes the copy the document and sends
/// the change to every follower but its author's seat.
pub async fn apply(
    state: &AppState,
    agreement: &Agreement,
    doc: &str,
    update: &[u8],
    by: ChangedBy<'_>,
) -> std::result::Result<Applied, ApplyError> {
    let mut guard = state
        .drafts()
        .lock(state, &agreement.id, doc)
        .await
        .map_err(ApplyError::NotStored)?;
    let loaded = guard.loaded().map_err(ApplyError::NotStored)?;
    // The copy takes the update first: a refused one leaves the document as it was, and a
    // store that fails leaves it too.
    let mut trial = Draft::from_updates([loaded.draft.full_update().as_slice()])
        .map_err(|e| ApplyError::NotStored(e.into()))?;
    let clauses = match trial.apply(update) {
        Ok(clauses) => clauses,
        Err(accord_cases::Error::BadRequest(m)) => return Err(ApplyError::Rejected(m)),
        Err(e) => return Err(ApplyError::NotStored(e.into())),
    };
    let appended = state
        .store()
        .append_update(
            &agreement.id,
            doc,
            update,
            by.editor,
            by.session,
            &clauses,
            now_ms(),
        )
        .await
        .map_err(|e| match e {
            accord_cases::Error::Rule(rule) => ApplyError::Rule(rule),
            other => ApplyError::NotStored(other.into()),
        })?;
    let before = loaded.seq;
    loaded.draft = trial;
    // Another node stored updates between this node's catch-up and this append: they are
    // numbered before this one and this copy lacks them. Merged now, or the next catch-up
    // (which starts after this update's number) would never see them.
    let missed = if appended.seq > before + 1 {
        loaded.seq = before;
        catch_up(state, &agreement.id, doc, loaded)
            .await
            .map_err(ApplyError::NotStored)?
    } else {
        Vec::new()
    };
    loaded.seq = loaded.seq.max(appended.seq);
    tell_missed(
        state,
        &guard.doc,
        &agreement.id,
        doc,
        &missed,
        Some(appended.seq),
    );
    let frame = ServerMessage::DraftChanged {
        agreement_id: agreement.id.to_string(),
        doc: doc.to_owned(),
        update: base64::engine::general_purpose::STANDARD.encode(update),
        seq: appended.seq,
        by: by
            .seat
            .map(|s| s.participant_id.clone())
            .unwrap_or_default(),
        by_name: by.editor.name.clone(),
        clauses: clauses.clone(),
    };
    // Sent under the lock, so every follower gets the updates in the order they were stored.
    tell_followers(state, &guard.doc, &frame, by.seat);
    // Other nodes holding the document catch up and tell their followers at once, rather
    // than when someone there next reads it.
    if state.cluster().clustered() {
        state.cluster().publish(ClusterEvent::DraftUpdated {
            agreement_id: agreement.id.to_string(),
            doc: doc.to_owned(),
        });
    }
    Ok(Applied {
        seq: appended.seq,
        reopened: appended.reopened,
        clauses,
    })
}

/// Sends `frame` to every follower of a document but `except`; a follower whose seat is gone
/// stops following.
fn tell_followers(
    state: &AppState,
    doc: &OpenDoc,
    frame: &ServerMessage,
    except: Option<&Follower>,
) {
    let mut followers = lock(&doc.followers);
    followers.retain(|f| {
        if Some(f) == except {
            return state
                .rooms()
                .case_seat(&f.room, &f.participant_id)
                .is_some();
        }
        state
            .rooms()
            .tell_seat(&f.room, &f.participant_id, frame.clone())
    });
}

/// Sends `frame` to every follower of `doc` of `agreement` but `except`.
pub fn tell(
    state: &AppState,
    agreement: &AgreementId,
    doc: &str,
    frame: &ServerMessage,
    except: Option<&Follower>,
) {
    let slot = lock(&state.drafts().inner)
        .docs
        .get(&(agreement.clone(), doc.to_owned()))
        .cloned();
    if let Some(slot) = slot {
        tell_followers(state, &slot, frame, except);
    }
}
