//! The SFU core in simulated time: forwarding, caucus isolation, loss repair and a moved
//! path, with no sockets and no sleeps.

use std::collections::HashMap;
use std::time::Duration;

use super::{AUDIO_PAYLOAD, Link, SimRoom, VIDEO_PAYLOAD};
use crate::ids::{MediaKind, Space};
use crate::shard::VIDEO_BACKLOG_MAX;

/// One step of media: 20 ms of audio from each publisher, and every other step a video
/// delta frame of this many packets.
const STEP: Duration = Duration::from_millis(20);
const PACKETS_PER_FRAME: usize = 3;

fn connected_room(participants: usize, publishers: usize) -> SimRoom {
    let mut room = SimRoom::new(participants, publishers).expect("a simulated room");
    room.connect().expect("the room connects in virtual time");
    room
}

/// Publishers talk and show for `steps` steps; returns the frames each sent.
fn talk(room: &mut SimRoom, publishers: &[usize], steps: usize) -> usize {
    let mut frames = 0;
    for step in 0..steps {
        for &p in publishers {
            room.publish_audio_packet(p).expect("audio is published");
            if step % 2 == 0 {
                room.publish_video_frame(p, false, PACKETS_PER_FRAME)
                    .expect("video is published");
            }
        }
        if step % 2 == 0 {
            frames += 1;
        }
        room.run_for(STEP).expect("the simulation runs");
    }
    frames
}

/// Everything client `subscriber` received, whoever published it.
fn total_received(room: &SimRoom, subscriber: usize) -> u64 {
    room.clients[subscriber]
        .received
        .values()
        .map(|log| log.packets)
        .sum()
}

#[test]
fn in_a_room_of_four_everyone_receives_everyone_else_continuously() {
    let mut room = connected_room(4, 4);
    room.clear_received();
    let steps = 100;
    let frames = talk(&mut room, &[0, 1, 2, 3], steps);
    for subscriber in 0..4 {
        for publisher in (0..4).filter(|&p| p != subscriber) {
            let audio = room
                .received(subscriber, publisher, MediaKind::Audio)
                .expect("audio arrives");
            assert_eq!(
                audio.packets, steps as u64,
                "audio p{publisher} → p{subscriber}"
            );
            assert_eq!(
                audio.discontinuities(),
                0,
                "audio p{publisher} → p{subscriber}"
            );
            assert!(
                audio
                    .timestamps
                    .windows(2)
                    .all(|w| w[1].wrapping_sub(w[0]) == 960),
                "audio timestamps p{publisher} → p{subscriber} advance 20 ms a packet"
            );
            let video = room
                .received(subscriber, publisher, MediaKind::Video)
                .expect("video arrives");
            assert_eq!(
                video.packets,
                (frames * PACKETS_PER_FRAME) as u64,
                "video p{publisher} → p{subscriber}"
            );
            assert_eq!(
                video.discontinuities(),
                0,
                "video p{publisher} → p{subscriber}"
            );
        }
        // Nobody is sent their own media.
        assert_eq!(room.packets_from(subscriber, subscriber), 0);
    }
}

/// A browser lines a speaker's audio up with their video by each stream's sender reports,
/// so both streams forwarded to a subscriber keep getting them from the server (once a
/// second each).
#[test]
fn subscribers_get_sender_reports_for_the_streams_forwarded_to_them() {
    let mut room = connected_room(3, 1);
    let before: Vec<HashMap<u32, u64>> =
        (0..3).map(|i| room.sender_reports_to(i).clone()).collect();
    talk(&mut room, &[0], 175);
    for (subscriber, before) in before.iter().enumerate().skip(1) {
        let reported: Vec<u64> = room
            .sender_reports_to(subscriber)
            .iter()
            .map(|(ssrc, n)| n - before.get(ssrc).copied().unwrap_or(0))
            .filter(|&n| n > 0)
            .collect();
        assert_eq!(
            reported.len(),
            2,
            "subscriber {subscriber}: sender reports about audio and video, got {reported:?}"
        );
        assert!(
            reported.iter().all(|&n| n >= 2),
            "subscriber {subscriber}: sender reports per stream in 3.5 s: {reported:?}"
        );
    }
}

#[test]
fn a_caucus_hears_nothing_of_the_joint_room_and_the_joint_room_nothing_of_it() {
    let mut room = connected_room(4, 4);
    room.move_to(2, Space(1)).expect("p2 moves to the caucus");
    room.move_to(3, Space(1)).expect("p3 moves to the caucus");
    // Renegotiation after the move.
    room.run_for(Duration::from_millis(500))
        .expect("the simulation runs");
    room.clear_received();
    talk(&mut room, &[0, 1, 2, 3], 50);
    let joint = [0, 1];
    let caucus = [2, 3];
    for (side, other) in [(joint, caucus), (caucus, joint)] {
        for &s in &side {
            for &o in &other {
                assert_eq!(room.packets_from(s, o), 0, "p{o} leaked to p{s}");
            }
            let partner = side.into_iter().find(|&p| p != s).expect("two a side");
            let from_partner = room.packets_from(s, partner);
            assert!(from_partner > 0, "p{s} still receives p{partner}");
            assert_eq!(
                total_received(&room, s),
                from_partner,
                "p{s} receives nothing but its own side"
            );
        }
    }
}

#[test]
fn video_lost_on_the_way_to_a_subscriber_is_resent_from_the_servers_history() {
    let mut room = connected_room(2, 1);
    room.clear_received();
    room.set_downlink(
        1,
        Link {
            loss: 0.05,
            delay: Duration::from_millis(20),
        },
    );
    talk(&mut room, &[0], 200);
    // Whatever was lost last is noticed once later packets arrive.
    room.set_downlink(
        1,
        Link {
            loss: 0.0,
            delay: Duration::from_millis(20),
        },
    );
    talk(&mut room, &[0], 10);
    room.run_for(Duration::from_millis(500))
        .expect("the simulation runs");
    let video = room
        .received(1, 0, MediaKind::Video)
        .expect("video arrives");
    assert!(
        video.discontinuities() > 0,
        "5 % loss over 300 packets reorders some (retransmissions arrive late)"
    );
    assert_eq!(video.missing(), 0, "every lost packet is resent");
    let audio = room
        .received(1, 0, MediaKind::Audio)
        .expect("audio arrives");
    assert!(
        audio.missing() > 0,
        "audio is not repaired: the loss was real"
    );
}

#[test]
fn after_a_nat_rebinding_an_ice_restart_brings_media_back_to_the_new_address() {
    let mut room = connected_room(2, 2);
    room.rebind(0);
    talk(&mut room, &[0, 1], 200);
    assert!(
        room.restarts_asked(0) > 0,
        "the server noticed the moved path"
    );
    room.clear_received();
    talk(&mut room, &[0, 1], 50);
    for (s, p) in [(0, 1), (1, 0)] {
        let audio = room
            .received(s, p, MediaKind::Audio)
            .expect("audio arrives");
        assert_eq!(audio.packets, 50, "audio p{p} → p{s} after the restart");
        assert_eq!(audio.discontinuities(), 0);
        let video = room
            .received(s, p, MediaKind::Video)
            .expect("video arrives");
        assert_eq!(
            video.packets,
            25 * PACKETS_PER_FRAME as u64,
            "video p{p} → p{s}"
        );
    }
}

#[test]
fn a_simulcast_layer_switch_keeps_the_subscribers_stream_continuous() {
    let mut room = SimRoom::with_simulcast(2, 1).expect("a simulated room");
    room.connect().expect("the room connects in virtual time");
    let switches_before = room.stats().layer_switches;
    // A thumbnail, then a large tile: from the lowest layer to the top one, each switch
    // made at a keyframe of the new layer.
    let mut frames = 0;
    for size in [(160, 90), (640, 360), (160, 90)] {
        room.set_rendered_size(1, 0, size)
            .expect("the subscriber says its size");
        for step in 0..60 {
            room.publish_audio_packet(0).expect("audio is published");
            if step % 2 == 0 {
                // A keyframe on every layer twice a second; the rest delta frames.
                room.publish_video_frame(0, step % 24 == 0, PACKETS_PER_FRAME)
                    .expect("video is published");
                frames += 1;
            }
            room.run_for(STEP).expect("the simulation runs");
        }
    }
    assert!(
        room.stats().layer_switches >= switches_before + 2,
        "switched up and down: {} switches",
        room.stats().layer_switches - switches_before
    );
    let video = room
        .received(1, 0, MediaKind::Video)
        .expect("video arrives");
    assert_eq!(
        video.discontinuities(),
        0,
        "one continuous sequence across switches"
    );
    assert!(
        video.packets <= ((frames + 10) * PACKETS_PER_FRAME) as u64,
        "one layer at a time is forwarded: {} packets for {frames} frames",
        video.packets
    );
    assert!(
        video.timestamps.windows(2).all(|w| {
            let step = w[1].wrapping_sub(w[0]);
            step < 0x8000_0000
        }),
        "timestamps never go back"
    );
}

/// Whether a datagram the server sent is the size of a video packet (an audio one is a tenth).
fn is_video(len: usize) -> bool {
    len > VIDEO_PAYLOAD
}

/// Publisher `p` sends `packets` packets of video at once; the server reads them all and
/// forwards none yet (the driver forwards them in slices on its next turns).
fn read_video_burst(room: &mut SimRoom, p: usize, packets: usize) {
    for _ in 0..packets {
        let uplink = room
            .prepare_video(p, VIDEO_PAYLOAD)
            .expect("the publisher sends video");
        let sent = room.server_admit(uplink);
        assert!(
            !sent.iter().any(|&(_, len)| is_video(len)),
            "video waits for its slice"
        );
    }
    assert_eq!(room.server_backlog(), packets);
}

/// A burst of video fanned out to its subscribers goes out in slices; a voice read meanwhile
/// is forwarded at once, ahead of the video read before it, and nothing is lost or reordered.
#[test]
fn a_voice_goes_out_ahead_of_the_video_read_before_it() {
    let mut room = connected_room(3, 2);
    room.clear_received();
    const BURST: usize = 20;
    read_video_burst(&mut room, 0, BURST);
    let first_slice = room.server_forward_backlog(4);
    let copies = first_slice
        .iter()
        .filter(|&&(_, len)| is_video(len))
        .count();
    assert!(
        copies >= 4,
        "one slice: at least two packets to two subscribers"
    );
    let waiting = room.server_backlog();
    assert!(
        (1..BURST).contains(&waiting),
        "the rest of the burst waits: {waiting}"
    );

    // p1 speaks while the rest of p0's burst waits.
    let uplink = room
        .prepare_audio(1, AUDIO_PAYLOAD)
        .expect("p1 sends audio");
    let voice = room.server_admit(uplink);
    let mut heard_by: Vec<usize> = voice
        .iter()
        .filter(|&&(_, len)| !is_video(len))
        .map(|&(to, _)| to)
        .collect();
    heard_by.sort_unstable();
    heard_by.dedup();
    assert_eq!(heard_by, [0, 2], "the voice goes to the others at once");
    assert!(
        !voice.iter().any(|&(_, len)| is_video(len)),
        "no video went with it"
    );
    assert_eq!(room.server_backlog(), waiting, "the burst still waits");

    let rest = room.server_forward_backlog(usize::MAX);
    assert_eq!(room.server_backlog(), 0);
    let copies_of_rest = rest.iter().filter(|&&(_, len)| is_video(len)).count();
    assert_eq!(copies + copies_of_rest, 2 * BURST, "every packet to both");

    room.run_for(Duration::from_millis(200))
        .expect("the simulation runs");
    for subscriber in [1, 2] {
        let video = room
            .received(subscriber, 0, MediaKind::Video)
            .expect("video arrives");
        assert_eq!(video.packets, BURST as u64, "p0 → p{subscriber}");
        assert_eq!(video.discontinuities(), 0, "p0 → p{subscriber} in order");
    }
    for subscriber in [0, 2] {
        let audio = room
            .received(subscriber, 1, MediaKind::Audio)
            .expect("audio arrives");
        assert_eq!(audio.packets, 1, "p1 → p{subscriber}");
    }
}

/// Video waiting for its slice is routed by the subscriptions of the moment it goes out: a
/// subscriber that moved to a caucus meanwhile gets none of it; the one left gets all of it.
#[test]
fn video_waiting_for_its_slice_follows_a_move_made_meanwhile() {
    let mut room = connected_room(3, 1);
    room.clear_received();
    const BURST: usize = 10;
    read_video_burst(&mut room, 0, BURST);
    room.move_to(2, Space(1)).expect("p2 moves to a caucus");

    let sent = room.server_forward_backlog(usize::MAX);
    let to = |client: usize| {
        sent.iter()
            .filter(|&&(to, len)| to == client && is_video(len))
            .count()
    };
    assert_eq!(to(1), BURST, "p1, still in the joint room, gets the burst");
    assert_eq!(to(2), 0, "nothing of the joint room reaches the caucus");

    room.run_for(Duration::from_millis(200))
        .expect("the simulation runs");
    assert_eq!(room.packets_from(2, 0), 0, "p0 leaked to p2");
    let video = room
        .received(1, 0, MediaKind::Video)
        .expect("video arrives");
    assert_eq!(video.packets, BURST as u64);
}

/// However long a burst, the backlog stays bounded, and nothing in it is lost or reordered: at
/// its limit the oldest packet is forwarded to make room.
#[test]
fn a_burst_longer_than_the_backlog_is_forwarded_whole_and_in_order() {
    let mut room = connected_room(2, 1);
    room.clear_received();
    const OVER: usize = 100;
    let mut forwarded_early = 0;
    for _ in 0..VIDEO_BACKLOG_MAX + OVER {
        let uplink = room
            .prepare_video(0, VIDEO_PAYLOAD)
            .expect("p0 sends video");
        let sent = room.server_admit(uplink);
        forwarded_early += sent.iter().filter(|&&(_, len)| is_video(len)).count();
        assert!(room.server_backlog() <= VIDEO_BACKLOG_MAX);
    }
    assert_eq!(forwarded_early, OVER, "the oldest made room, one each");
    room.server_forward_backlog(usize::MAX);
    room.run_for(Duration::from_millis(200))
        .expect("the simulation runs");
    let video = room
        .received(1, 0, MediaKind::Video)
        .expect("video arrives");
    assert_eq!(video.packets, (VIDEO_BACKLOG_MAX + OVER) as u64);
    assert_eq!(video.discontinuities(), 0, "in order");
}

/// The party opens the DTLS handshake and the server, the DTLS server, answers each flight:
/// when the server's first answer is lost, the party connects only if the party repeats its
/// flight and the server answers it again.
#[test]
fn a_lost_handshake_flight_is_sent_again_and_the_party_connects() {
    let mut room = SimRoom::new(2, 2).expect("a simulated room");
    room.lose_server_handshake(0, 1);
    room.connect()
        .expect("the party connects although the server's first flight was lost");
    assert_eq!(room.lose_handshake[0], 0, "a flight was lost");
    assert!(
        room.packets_from(0, 1) > 0,
        "media flows after the handshake"
    );
}

#[test]
fn a_party_whose_handshake_never_completes_is_told_its_media_is_lost() {
    let mut room = SimRoom::new(2, 2).expect("a simulated room");
    room.lose_server_handshake(0, u32::MAX);
    let joined = room.now();
    let err = room
        .connect()
        .expect_err("no handshake, no connection")
        .to_string();
    assert!(err.contains("p0's connection failed"), "{err}");
    assert!(
        !room.media_lost(0),
        "not yet: the server waits for a slow party"
    );
    // Within the time allowed to connect (and the shard's next look over its rooms), not
    // only once the silent path has run out its own, longer, allowance.
    let told_by = joined + crate::shard::CONNECT_TIMEOUT + Duration::from_secs(1);
    room.run_for(told_by.saturating_duration_since(room.now()))
        .expect("the room runs on without the party");
    assert!(
        room.media_lost(0),
        "the server gives the seat up and says so, instead of leaving the party waiting"
    );
    assert!(!room.media_lost(1), "the other party is not affected");
}
