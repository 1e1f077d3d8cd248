//! The recorder tap over real WebRTC on loopback: publishers built on the async `webrtc`
//! crate (its default interceptors send RTCP sender reports) join an in-process SFU, and a
//! tap on their room receives what a recorder would store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use accord_sfu::{
    JoinRequest, MediaKind, ParticipantHandle, ParticipantId, RoomId, Sfu, SfuConfig, Space,
    TapConfig, TapEvent, TapStopReason, TcpListen, TrackDeclaration, TrackId, TrackSource,
};
use bytes::Bytes;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceGatheringState, RTCSessionDescription, Registry,
    SettingEngineBuilder, register_default_interceptors,
};
use webrtc::rtp_transceiver::RtpTransceiver;

const WAIT: Duration = Duration::from_secs(15);

fn start_sfu() -> Sfu {
    Sfu::start(SfuConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        announce: vec!["127.0.0.1".parse().expect("address")],
        shards: 1,
        tcp: TcpListen::Off,
        ..SfuConfig::default()
    })
    .expect("the SFU starts")
}

struct Gathering(watch::Sender<RTCIceGatheringState>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Gathering {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        self.0.send_replace(state);
    }
}

/// A publisher of one Opus and one VP8 track that paces made-up frames in real time (a VP8
/// keyframe every half second, as an encoder answering keyframe requests would).
struct Publisher {
    handle: ParticipantHandle,
    pc: Arc<dyn PeerConnection>,
    stop: watch::Sender<bool>,
}

impl Publisher {
    async fn join(sfu: &Sfu, room: &RoomId, name: &str) -> Publisher {
        let joined = sfu
            .join(JoinRequest {
                room: room.clone(),
                participant: ParticipantId::new(name),
                can_publish: true,
                can_subscribe: false,
                space: Space::MAIN,
            })
            .await
            .expect("joined");
        // Nothing is subscribed, so the server never offers; its events are not needed.
        let mut events = joined.events;
        tokio::spawn(async move { while events.recv().await.is_some() {} });

        let mut media = MediaEngine::default();
        media.register_default_codecs().expect("codecs");
        let registry =
            register_default_interceptors(Registry::new(), &mut media).expect("interceptors");
        let (gathering_tx, mut gathering) = watch::channel(RTCIceGatheringState::New);
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .with_setting_engine(
                SettingEngineBuilder::new()
                    .with_multicast_dns_mode(MulticastDnsMode::Disabled)
                    .build(),
            )
            .with_handler(Arc::new(Gathering(gathering_tx)) as Arc<dyn PeerConnectionEventHandler>)
            .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
            .build()
            .await
            .expect("a peer connection");
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);

        let audio = add_track(&pc, RtpCodecKind::Audio, opus()).await;
        let video = add_track(&pc, RtpCodecKind::Video, vp8()).await;
        let offer = pc.create_offer(None).await.expect("offer");
        pc.set_local_description(offer).await.expect("local offer");
        tokio::time::timeout(
            WAIT,
            gathering.wait_for(|s| *s == RTCIceGatheringState::Complete),
        )
        .await
        .expect("gathering completes in time")
        .expect("gathering completes");
        let local = pc.local_description().await.expect("local description");
        let mut tracks = Vec::new();
        for (t, source) in [
            (&audio, TrackSource::Microphone),
            (&video, TrackSource::Camera),
        ] {
            let mid = t.1.mid().await.expect("mid").expect("a mid");
            tracks.push(TrackDeclaration {
                mid,
                source,
                width: (source == TrackSource::Camera).then_some(640),
                height: (source == TrackSource::Camera).then_some(360),
            });
        }
        let answer = joined
            .handle
            .offer(local.sdp, tracks)
            .await
            .expect("answer");
        pc.set_remote_description(RTCSessionDescription::answer(answer).expect("answer sdp"))
            .await
            .expect("remote answer");

        let (stop, stopped) = watch::channel(false);
        tokio::spawn(pace(audio, MediaKind::Audio, stopped.clone()));
        tokio::spawn(pace(video, MediaKind::Video, stopped));
        Publisher {
            handle: joined.handle,
            pc,
            stop,
        }
    }

    async fn close(self) {
        self.stop.send_replace(true);
        let _ = self.pc.close().await;
        self.handle.leave();
    }
}

type Local = (Arc<TrackLocalStaticRTP>, Arc<dyn RtpTransceiver>, u32);

fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: "audio/opus".to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

fn vp8() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: "video/VP8".to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

async fn add_track(pc: &Arc<dyn PeerConnection>, kind: RtpCodecKind, codec: RTCRtpCodec) -> Local {
    let ssrc = rand::random::<u32>();
    let id = format!("{kind}-{ssrc:08x}");
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        "stream".to_owned(),
        id.clone(),
        id,
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            active: true,
            codec,
            ..Default::default()
        }],
    )));
    let transceiver = pc
        .add_transceiver_from_track(
            Arc::clone(&track) as Arc<dyn TrackLocal>,
            Some(RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Sendonly,
                streams: vec!["stream".to_owned()],
                send_encodings: vec![],
            }),
        )
        .await
        .expect("a transceiver");
    (track, transceiver, ssrc)
}

/// Writes a packet every 20 ms (audio) or a one-packet frame every 33 ms (video) until
/// stopped, with the payload type the answer chose.
async fn pace(local: Local, kind: MediaKind, mut stop: watch::Receiver<bool>) {
    let (track, transceiver, ssrc) = local;
    let (interval, ticks) = match kind {
        MediaKind::Audio => (Duration::from_millis(20), 960),
        MediaKind::Video => (Duration::from_millis(33), 3000),
    };
    let mut payload_type = None;
    let mut ticker = tokio::time::interval(interval);
    let (mut seq, mut ts) = (rand::random::<u16>(), rand::random::<u32>());
    for i in 0u64.. {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if payload_type.is_none() {
            payload_type = negotiated_payload_type(&transceiver).await;
        }
        let Some(pt) = payload_type else { continue };
        let payload = match kind {
            MediaKind::Audio => Bytes::from_static(&[0xf8, 0xff, 0xfe]),
            MediaKind::Video => vp8_frame(i % 15 == 0),
        };
        let packet = rtp::Packet {
            header: rtp::Header {
                version: 2,
                marker: kind == MediaKind::Video,
                payload_type: pt,
                sequence_number: seq,
                timestamp: ts,
                ssrc,
                ..Default::default()
            },
            payload,
        };
        let _ = track.write_rtp(packet).await;
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(ticks);
    }
}

async fn negotiated_payload_type(transceiver: &Arc<dyn RtpTransceiver>) -> Option<u8> {
    let sender = transceiver.sender().await.ok().flatten()?;
    let params = sender.get_parameters().await.ok()?;
    params.rtp_parameters.codecs.first().map(|c| c.payload_type)
}

/// One VP8 frame in one packet: the payload descriptor (start of partition 0) and a frame
/// header whose first bit says key or delta frame; a keyframe carries its 640×360 size.
fn vp8_frame(key: bool) -> Bytes {
    let mut payload = vec![0x10];
    if key {
        payload.extend_from_slice(&[0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01]);
    } else {
        payload.extend_from_slice(&[0x01, 0x00, 0x00]);
    }
    payload.extend_from_slice(&[0u8; 40]);
    Bytes::from(payload)
}

/// What the tap delivered, per track.
#[derive(Default, Debug)]
struct Seen {
    started: HashMap<TrackId, (ParticipantId, MediaKind, Space)>,
    stopped: Vec<(TrackId, TapStopReason)>,
    moved: Vec<(TrackId, Space)>,
    sequence: HashMap<TrackId, Vec<(u16, bool)>>,
    reports: HashMap<TrackId, usize>,
}

impl Seen {
    fn take(&mut self, event: TapEvent) {
        match event {
            TapEvent::TrackStarted {
                track,
                participant,
                kind,
                space,
                ..
            } => {
                self.started.insert(track, (participant, kind, space));
            }
            TapEvent::TrackStopped { track, reason, .. } => self.stopped.push((track, reason)),
            TapEvent::TrackSpace { track, space, .. } => self.moved.push((track, space)),
            TapEvent::Rtp { track, packet, .. } => self
                .sequence
                .entry(track)
                .or_default()
                .push((packet.sequence_number, packet.keyframe)),
            TapEvent::SenderReport { track, .. } => *self.reports.entry(track).or_default() += 1,
        }
    }

    fn tracks_of(&self, who: &str) -> Vec<TrackId> {
        self.started
            .iter()
            .filter(|(_, (p, _, _))| p.as_str() == who)
            .map(|(t, _)| t.clone())
            .collect()
    }

    fn packets_of(&self, who: &str) -> usize {
        self.tracks_of(who)
            .iter()
            .map(|t| self.sequence.get(t).map_or(0, Vec::len))
            .sum()
    }
}

/// Collects events for `period`.
async fn collect(events: &mut mpsc::Receiver<TapEvent>, seen: &mut Seen, period: Duration) {
    let until = tokio::time::Instant::now() + period;
    while let Ok(Some(event)) = tokio::time::timeout_at(until, events.recv()).await {
        seen.take(event);
    }
}

/// Collects events until `done` holds (or fails the test after [`WAIT`]).
async fn collect_until(
    events: &mut mpsc::Receiver<TapEvent>,
    seen: &mut Seen,
    what: &str,
    done: impl Fn(&Seen) -> bool,
) {
    let until = tokio::time::Instant::now() + WAIT;
    while !done(seen) {
        match tokio::time::timeout_at(until, events.recv()).await {
            Ok(Some(event)) => seen.take(event),
            _ => panic!("{what}: not seen in {WAIT:?}; got {seen:?}"),
        }
    }
}

fn assert_increasing(seen: &Seen, track: &TrackId) {
    let seqs = &seen.sequence[track];
    let backwards = seqs
        .windows(2)
        .filter(|w| w[1].0.wrapping_sub(w[0].0) >= 0x8000)
        .count();
    assert_eq!(backwards, 0, "sequence numbers go backwards: {seqs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_publisher_arrives_with_sender_reports_and_pause_and_drop_stop_it() {
    let sfu = start_sfu();
    let room = RoomId::new("recorded");
    // The tap comes first: tracks published later still reach it.
    let mut tap = sfu.tap_room(&room, TapConfig::default()).expect("a tap");
    assert!(
        sfu.tap_room(&room, TapConfig::default()).is_err(),
        "a room is recorded once"
    );
    let alice = Publisher::join(&sfu, &room, "alice").await;
    let mut seen = Seen::default();
    collect_until(
        &mut tap.events,
        &mut seen,
        "both tracks with packets and reports",
        |s| {
            let tracks = s.tracks_of("alice");
            tracks.len() == 2
                && tracks.iter().all(|t| {
                    s.sequence.get(t).is_some_and(|p| p.len() > 20) && s.reports.contains_key(t)
                })
        },
    )
    .await;
    let kinds: Vec<MediaKind> = seen.started.values().map(|(_, k, _)| *k).collect();
    assert!(kinds.contains(&MediaKind::Audio) && kinds.contains(&MediaKind::Video));
    for track in seen.tracks_of("alice") {
        assert_increasing(&seen, &track);
        let (_, kind, _) = seen.started[&track];
        if kind == MediaKind::Video {
            assert!(seen.sequence[&track][0].1, "video starts at a keyframe");
        }
    }

    tap.pause();
    let before = tap.counters().delivered;
    let mut paused = Seen::default();
    // What was queued before the pause may still be read; nothing is added while paused. The
    // shard handles one packet at a time, and the one it may be delivering as `pause` returns
    // (checked before the pause, counted after `before` was read) is the only one that can
    // follow.
    collect(&mut tap.events, &mut paused, Duration::from_millis(1500)).await;
    let after = tap.counters().delivered;
    assert!(
        after <= before + 1,
        "nothing is delivered while paused: {before} before, {after} after"
    );

    tap.resume();
    let mut resumed = Seen::default();
    collect_until(&mut tap.events, &mut resumed, "packets after resume", |s| {
        s.sequence.len() == 2 && s.sequence.values().all(|p| p.len() > 5)
    })
    .await;
    for (track, packets) in &resumed.sequence {
        if seen.started[track].1 == MediaKind::Video {
            assert!(packets[0].1, "video resumes at a keyframe");
        }
    }

    let recorded = sfu.stats().recorded_packets;
    assert!(recorded > 0);
    drop(tap);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_drop = sfu.stats().recorded_packets;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        sfu.stats().recorded_packets,
        after_drop,
        "a dropped tap gets nothing"
    );
    // The room can be recorded again.
    let again = sfu.tap_room(&room, TapConfig::default());
    assert!(again.is_ok(), "a stopped tap frees the room");
    alice.close().await;
    sfu.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_from_an_unrecorded_private_room_reaches_the_recorder() {
    let sfu = start_sfu();
    let room = RoomId::new("caucus");
    let alice = Publisher::join(&sfu, &room, "alice").await;
    let bob = Publisher::join(&sfu, &room, "bob").await;
    // Nobody subscribes, so any keyframe request from now on is the recorder's.
    let keyframe_requests = sfu.stats().keyframe_requests;
    let mut tap = sfu.tap_room(&room, TapConfig::default()).expect("a tap");
    let mut seen = Seen::default();
    collect_until(
        &mut tap.events,
        &mut seen,
        "both publishers recorded",
        |s| s.packets_of("alice") > 20 && s.packets_of("bob") > 20,
    )
    .await;
    assert!(
        sfu.stats().keyframe_requests >= keyframe_requests + 2,
        "a starting tap asks each camera for a keyframe"
    );

    bob.handle.move_to(Space(1)).await.expect("moved");
    let mut private = Seen::default();
    collect_until(&mut tap.events, &mut private, "bob's tracks stop", |s| {
        s.stopped.len() == 2
    })
    .await;
    assert!(
        private
            .stopped
            .iter()
            .all(|(_, reason)| *reason == TapStopReason::PrivateRoom)
    );
    let withheld_before = tap.counters().withheld_private;
    // Bob's track ids are known from before the move; count any packet of theirs.
    let mut during = Seen {
        started: seen.started.clone(),
        ..Seen::default()
    };
    collect(&mut tap.events, &mut during, Duration::from_millis(2000)).await;
    assert_eq!(
        during.packets_of("bob"),
        0,
        "not one packet from the private room"
    );
    assert!(
        during.packets_of("alice") > 20,
        "the joint room is still recorded"
    );
    let counters = tap.counters();
    assert!(counters.withheld_private > withheld_before, "{counters:?}");
    assert_eq!(counters.from_private_rooms, 0);
    assert!(sfu.stats().recorder_withheld_private > 0);

    bob.handle.move_to(Space::MAIN).await.expect("back");
    let mut back = Seen::default();
    collect_until(&mut tap.events, &mut back, "bob recorded again", |s| {
        s.packets_of("bob") > 10
    })
    .await;
    assert!(back.tracks_of("bob").len() == 2, "both tracks start again");
    alice.close().await;
    bob.close().await;
    sfu.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_private_room_is_announced_and_counted() {
    let sfu = start_sfu();
    let room = RoomId::new("caucus-recorded");
    let bob = Publisher::join(&sfu, &room, "bob").await;
    let config = TapConfig {
        record_private_rooms: true,
        ..TapConfig::default()
    };
    let mut tap = sfu.tap_room(&room, config).expect("a tap");
    let mut seen = Seen::default();
    collect_until(&mut tap.events, &mut seen, "bob recorded", |s| {
        s.packets_of("bob") > 10
    })
    .await;
    bob.handle.move_to(Space(2)).await.expect("moved");
    collect_until(&mut tap.events, &mut seen, "bob's tracks move", |s| {
        s.moved.len() == 2
    })
    .await;
    let before = seen.packets_of("bob");
    collect_until(
        &mut tap.events,
        &mut seen,
        "packets from the private room",
        |s| s.packets_of("bob") > before + 20,
    )
    .await;
    assert!(seen.moved.iter().all(|(_, space)| *space == Space(2)));
    assert!(tap.counters().from_private_rooms > 0);
    assert_eq!(tap.counters().withheld_private, 0);
    bob.close().await;
    let mut end = Seen::default();
    collect_until(&mut tap.events, &mut end, "bob's tracks end", |s| {
        s.stopped.len() == 2
    })
    .await;
    assert!(end.stopped.iter().all(|(_, r)| *r == TapStopReason::Left));
    sfu.shutdown();
}
