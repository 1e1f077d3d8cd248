//! Read-only questions about what a [`TestClient`] has received, for assertions and failure
//! messages.

use super::TestClient;
use super::state::PacketRecord;
use crate::payload::PayloadLedger;
use crate::protocol::{ServerFrame, TrackInfo};
use anyhow::{Result, bail};
use std::collections::BTreeMap;

impl TestClient {
    /// Checks every payload received from `publisher` against what it sent: the count of
    /// distinct payloads checked. Fails if any payload was never sent by `publisher`.
    pub fn check_payloads_from(&self, publisher: &TestClient) -> Result<usize> {
        self.check_payloads_against(publisher.id(), publisher.identity(), &publisher.ledger)
    }

    /// [`Self::check_payloads_from`] for a publisher that is not a [`TestClient`] (a WHIP
    /// publisher): its participant id, a name for messages, and the ledger of what it sent.
    pub fn check_payloads_against(
        &self,
        publisher_id: &str,
        publisher_name: &str,
        ledger: &PayloadLedger,
    ) -> Result<usize> {
        let state = self.shared.lock();
        let mut checked = 0;
        for track in state
            .tracks
            .values()
            .filter(|t| t.participant_id == publisher_id)
        {
            let Some(rx) = state.received.get(&track.id) else {
                continue;
            };
            let unknown = ledger.unknown(&rx.payload_hashes);
            if !unknown.is_empty() {
                bail!(
                    "{} received {} of {} distinct {:?} payloads on track {} that {} never \
                     sent (corrupted or misrouted); {}",
                    self.identity(),
                    unknown.len(),
                    rx.payload_hashes.len(),
                    rx.kind,
                    track.id,
                    publisher_name,
                    rx.summary()
                );
            }
            if rx.unparsable > 0 {
                bail!(
                    "{} received {} {:?} payloads too short to parse on track {}",
                    self.identity(),
                    rx.unparsable,
                    rx.kind,
                    track.id
                );
            }
            checked += rx.payload_hashes.len();
        }
        Ok(checked)
    }

    /// A multi-line description of what this client has seen, for failure messages.
    pub fn describe(&self) -> String {
        let state = self.shared.lock();
        let mut out = format!(
            "\n[{} id={} pc={} answers_applied={} offers_answered={} rollbacks={} \
             socket_closed={}]",
            self.identity(),
            self.id(),
            *self.connection.borrow(),
            state.answers_applied,
            state.offers_answered,
            state.rollbacks,
            state.socket_closed
        );
        out.push_str("\n  participants: ");
        out.push_str(
            &state
                .participants
                .values()
                .map(|p| format!("{}({})", p.identity, p.id))
                .collect::<Vec<_>>()
                .join(", "),
        );
        out.push_str("\n  tracks: ");
        out.push_str(
            &state
                .tracks
                .values()
                .map(|t| format!("{}:{}/{}", t.id, t.participant_id, t.kind))
                .collect::<Vec<_>>()
                .join(", "),
        );
        out.push_str(&format!("\n  mid map: {:?}", state.mid_map));
        for r in state.received.values() {
            out.push_str("\n  rx ");
            out.push_str(&r.summary());
        }
        let errors: Vec<String> = state
            .frames
            .iter()
            .filter_map(|f| match f {
                ServerFrame::Error(e) => Some(format!("{}: {}", e.code, e.message)),
                _ => None,
            })
            .collect();
        if !errors.is_empty() {
            out.push_str(&format!("\n  server errors: {errors:?}"));
        }
        if !state.local_errors.is_empty() {
            out.push_str(&format!("\n  local errors: {:?}", state.local_errors));
        }
        out
    }

    /// The announced track of `publisher` of `kind` (`audio`/`video`).
    pub fn track_of(&self, publisher: &str, kind: &str) -> Option<TrackInfo> {
        self.shared
            .lock()
            .tracks
            .values()
            .find(|t| t.participant_id == publisher && t.kind == kind)
            .cloned()
    }

    /// Which of `publisher`'s simulcast layers the most recent video payloads came from:
    /// rid → count over the last `last` payloads (`single` for non-simulcast, `unknown` for
    /// payloads `publisher` never sent).
    pub fn recent_layers_from(
        &self,
        publisher: &TestClient,
        last: usize,
    ) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        let Some(rx) = self.received_from(publisher.id(), "video") else {
            return counts;
        };
        let skip = rx.recent_hashes.len().saturating_sub(last);
        for hash in rx.recent_hashes.iter().skip(skip) {
            let name = match publisher.ledger().layer_of(*hash) {
                Some(Some(rid)) => rid.to_owned(),
                Some(None) => "single".to_owned(),
                None => "unknown".to_owned(),
            };
            *counts.entry(name).or_insert(0) += 1;
        }
        counts
    }

    /// Waits until the last 15 video payloads from `publisher` all came from layer `rid`.
    pub async fn wait_for_layer_from(
        &self,
        publisher: &TestClient,
        rid: &str,
        timeout: std::time::Duration,
    ) -> Result<()> {
        const WINDOW: usize = 15;
        crate::wait::wait_until(
            timeout,
            &format!(
                "{} to receive only layer {rid} of {}'s video",
                self.identity(),
                publisher.identity()
            ),
            || {
                let layers = self.recent_layers_from(publisher, WINDOW);
                Ok((layers.get(rid) == Some(&WINDOW)).then_some(()))
            },
            || {
                format!(
                    "recent layers {:?}; {}",
                    self.recent_layers_from(publisher, WINDOW),
                    self.describe()
                )
            },
        )
        .await
    }

    /// Starts logging every received RTP packet (see [`PacketRecord`]); packets that
    /// arrived before are not in the log.
    pub fn start_packet_log(&self) {
        self.shared
            .lock()
            .packet_log
            .get_or_insert_with(Default::default);
    }

    /// The packets of `publisher`'s `kind` track received since [`Self::start_packet_log`],
    /// in arrival order (empty if logging is off or nothing arrived).
    pub fn packet_log_from(&self, publisher: &str, kind: &str) -> Vec<PacketRecord> {
        let state = self.shared.lock();
        let Some(log) = state.packet_log.as_ref() else {
            return Vec::new();
        };
        state
            .tracks
            .values()
            .filter(|t| t.participant_id == publisher && t.kind == kind)
            .find_map(|t| log.get(&t.id).cloned())
            .unwrap_or_default()
    }

    /// How many of our offers were rolled back by perfect negotiation so far.
    pub fn rollbacks(&self) -> u64 {
        self.shared.lock().rollbacks
    }
}
