//! Signaling in the simulated room: joining, offers and answers both ways, and requests,
//! straight through the shard's commands and events.

use super::*;
use tokio::sync::oneshot;

impl SimRoom {
    pub(super) fn join(&mut self, i: usize) -> Result<()> {
        let (events, receiver) = tokio::sync::mpsc::channel(crate::EVENT_QUEUE);
        let (reply, answer) = oneshot::channel();
        let publishes = self.clients[i].audio.is_some();
        self.shard.command(
            Command::Join {
                request: JoinRequest {
                    room: self.room.clone(),
                    participant: Self::participant_id(i),
                    can_publish: publishes,
                    can_subscribe: true,
                    space: Space::MAIN,
                },
                events,
                reply,
            },
            self.now,
        );
        let (key, tracks) = take_reply(answer)??;
        let client = &mut self.clients[i];
        client.key = Some(key);
        client.events = Some(receiver);
        for track in tracks {
            client
                .announced
                .insert(track.id.to_string(), (track.participant_id, track.kind));
        }
        Ok(())
    }

    /// Client `i` offers (what it publishes, or an ICE restart). A crossing offer of the
    /// server's wins: the client then answers that and tries again later.
    pub(super) fn offer(&mut self, i: usize, ice_restart: bool) -> Result<bool> {
        let now = self.now;
        let client = &mut self.clients[i];
        let options = ice_restart.then_some(RTCOfferOptions { ice_restart: true });
        let offer = client.pc.create_offer(options)?;
        let tracks = client
            .own_mids()
            .into_iter()
            .map(|(kind, mid)| TrackDeclaration {
                mid,
                source: match kind {
                    MediaKind::Audio => TrackSource::Microphone,
                    MediaKind::Video => TrackSource::Camera,
                },
                width: (kind == MediaKind::Video).then_some(u32::from(client::FRAME_SIZE.0)),
                height: (kind == MediaKind::Video).then_some(u32::from(client::FRAME_SIZE.1)),
            })
            .collect();
        let sdp = offer.sdp.clone();
        match self.call(i, Offer { sdp, tracks }) {
            Ok(answer) => {
                let client = &mut self.clients[i];
                client.pc.set_local_description(now, offer)?;
                client
                    .pc
                    .set_remote_description(now, RTCSessionDescription::answer(answer)?)?;
                client.learn_sender_parameters();
                Ok(true)
            }
            Err(Error::Glare) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Client `i` answers an offer of the server's.
    pub(super) fn answer(&mut self, i: usize, sdp: String) -> Result<()> {
        let now = self.now;
        let client = &mut self.clients[i];
        client
            .pc
            .set_remote_description(now, RTCSessionDescription::offer(sdp)?)?;
        let answer = client.pc.create_answer(None)?;
        client.pc.set_local_description(now, answer.clone())?;
        client.learn_sender_parameters();
        self.call(i, Answer { sdp: answer.sdp })
    }

    /// Carries out one request for client `i` on the shard and returns its reply.
    pub(super) fn call<R: Request>(&mut self, i: usize, request: R) -> Result<R::Reply> {
        let key = self.clients[i].key.ok_or(Error::ParticipantGone)?;
        let (reply, answer) = oneshot::channel();
        self.shard.command(
            Command::Participant {
                key,
                call: Box::new(Pending { request, reply }),
            },
            self.now,
        );
        take_reply(answer)?
    }
}

/// The reply to a command the shard has just handled: it is always there already.
fn take_reply<T>(mut answer: oneshot::Receiver<T>) -> Result<T> {
    answer
        .try_recv()
        .map_err(|_| Error::Engine("the shard did not answer a simulated command".into()))
}
