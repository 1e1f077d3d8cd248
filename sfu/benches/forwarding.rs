//! One publisher packet through the SFU core (SRTP decrypt, route, rewrite, SRTP encrypt for
//! every subscriber) with no sockets: the simulated room of `accord_sfu::sim` builds and
//! encrypts the publisher's packet outside the timed part, and only the server's handling
//! of it is timed. Items are forwarded packets, so divan's rate is packets per second.
//!
//! `cargo bench -p accord-sfu --features sim --bench forwarding`

use std::cell::RefCell;

use accord_sfu::sim::{AUDIO_PAYLOAD, SimRoom, Uplink, VIDEO_PAYLOAD};
use divan::Bencher;
use divan::counter::ItemsCount;

fn main() {
    divan::main();
}

const SUBSCRIBERS: &[usize] = &[1, 3, 10, 50];
const PUBLISHER: usize = 0;

#[derive(Clone, Copy)]
enum Payload {
    Opus,
    Video,
}

/// A connected room of one publisher and `subscribers` subscribers, media already flowing.
fn room(subscribers: usize) -> SimRoom {
    let mut room = SimRoom::new(subscribers + 1, 1).expect("a simulated room");
    room.connect().expect("the simulated room connects");
    // A long run would otherwise keep every sequence number it forwards.
    room.keep_history(false);
    room
}

fn prepare(room: &mut SimRoom, payload: Payload) -> Uplink {
    match payload {
        Payload::Opus => room.prepare_audio(PUBLISHER, AUDIO_PAYLOAD),
        Payload::Video => room.prepare_video(PUBLISHER, VIDEO_PAYLOAD),
    }
    .expect("the publisher writes a packet")
}

fn forward(bencher: Bencher<'_, '_>, subscribers: usize, payload: Payload) {
    let mut built = room(subscribers);
    let first = prepare(&mut built, payload);
    assert_eq!(
        built.server_receive(first),
        subscribers,
        "one packet in, one out per subscriber"
    );
    let room = RefCell::new(built);
    bencher
        .counter(ItemsCount::new(subscribers))
        .with_inputs(|| prepare(&mut room.borrow_mut(), payload))
        .bench_local_values(|uplink| room.borrow_mut().server_receive(uplink));
}

/// An Opus-sized packet (100 bytes of payload).
#[divan::bench(args = SUBSCRIBERS, sample_count = 1000)]
fn opus(bencher: Bencher<'_, '_>, subscribers: usize) {
    forward(bencher, subscribers, Payload::Opus);
}

/// A video-sized packet (1,100 bytes of VP8 payload).
#[divan::bench(args = SUBSCRIBERS, sample_count = 1000)]
fn video(bencher: Bencher<'_, '_>, subscribers: usize) {
    forward(bencher, subscribers, Payload::Video);
}
