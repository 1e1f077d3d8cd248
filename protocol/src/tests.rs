//! The example frames of `docs/protocol/examples/` against the server's own types: the web
//! client and the test client parse the same files, so a message or error code added to one
//! copy of the protocol and not the others fails somewhere.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{ClientMessage, ErrorCode, ServerMessage};

/// Lists every variant with its wire tag. The match is exhaustive, so a new variant does not
/// compile until it is named here, and then `every_*_type_has_an_example` wants its file.
macro_rules! tags {
    ($list:ident, $tag:ident, $enum:ident { $($variant:ident = $text:literal,)+ }) => {
        const $list: &[&str] = &[$($text,)+];

        fn $tag(message: &$enum) -> &'static str {
            match message {
                $($enum::$variant { .. } => $text,)+
            }
        }
    };
}

tags!(CLIENT_TYPES, client_tag, ClientMessage {
    Join = "join",
    Offer = "offer",
    Answer = "answer",
    Candidate = "candidate",
    TrackSettings = "track_settings",
    Mute = "mute",
    Pause = "pause",
    SaveData = "save_data",
    Leave = "leave",
    Ping = "ping",
    Admit = "admit",
    Deny = "deny",
    Lock = "lock",
    Move = "move",
    Gather = "gather",
    AskUnmute = "ask_unmute",
    MuteParticipant = "mute_participant",
    Remove = "remove",
    EndSession = "end_session",
    Record = "record",
    RaiseHand = "raise_hand",
    Chat = "chat",
    DraftOpen = "draft_open",
    DraftUpdate = "draft_update",
    DraftTyping = "draft_typing",
    DraftComment = "draft_comment",
});

tags!(SERVER_TYPES, server_tag, ServerMessage {
    Joined = "joined",
    Waiting = "waiting",
    WaitingRoom = "waiting_room",
    ParticipantUpdated = "participant_updated",
    Moved = "moved",
    Locked = "locked",
    Recording = "recording",
    UnmuteRequested = "unmute_requested",
    MutedByModerator = "muted_by_moderator",
    Chat = "chat",
    EvidenceShared = "evidence_shared",
    DraftState = "draft_state",
    DraftAck = "draft_ack",
    DraftChanged = "draft_changed",
    DraftTyping = "draft_typing",
    DraftComment = "draft_comment",
    AgreementChanged = "agreement_changed",
    Offer = "offer",
    Answer = "answer",
    ParticipantJoined = "participant_joined",
    ParticipantLeft = "participant_left",
    ParticipantPaused = "participant_paused",
    TrackPublished = "track_published",
    TrackUnpublished = "track_unpublished",
    TrackMuted = "track_muted",
    ActiveSpeakers = "active_speakers",
    LayerDemand = "layer_demand",
    IceRestart = "ice_restart",
    ConnectionHealth = "connection_health",
    AudioOnly = "audio_only",
    Left = "left",
    Pong = "pong",
    Error = "error",
});

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol/examples")
}

/// Every example of one direction: file name and text.
fn examples(direction: &str) -> Vec<(String, String)> {
    let dir = examples_dir().join(direction);
    let mut found: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a readable directory entry").path();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.display().to_string(), text)
        })
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no examples in {}", dir.display());
    found
}

/// The `type` of an example, which its file name also starts with.
fn type_of(file: &str, text: &str) -> String {
    let value: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
    let tag = value["type"]
        .as_str()
        .unwrap_or_else(|| panic!("{file} has no string `type`"))
        .to_owned();
    let stem = Path::new(file)
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split('.').next())
        .unwrap_or_default();
    assert_eq!(
        stem, tag,
        "{file}: the file name should start with its type"
    );
    tag
}

fn missing(listed: &[&str], direction: &str) -> Vec<String> {
    let have: BTreeSet<String> = examples(direction)
        .iter()
        .map(|(file, text)| type_of(file, text))
        .collect();
    listed
        .iter()
        .filter(|t| !have.contains(**t))
        .map(|t| t.to_string())
        .collect()
}

#[test]
fn every_client_example_parses_as_a_client_message() {
    for (file, text) in examples("client") {
        let tag = type_of(&file, &text);
        let message: ClientMessage = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{file} is not a client message: {e}"));
        assert_eq!(client_tag(&message), tag, "{file}");
    }
}

#[test]
fn every_server_example_is_what_the_server_would_send() {
    for (file, text) in examples("server") {
        let tag = type_of(&file, &text);
        let message: ServerMessage = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{file} is not a server message: {e}"));
        assert_eq!(server_tag(&message), tag, "{file}");
        // Sent back out it must be the same frame: no field the server would not send,
        // none it always sends left out.
        let again = serde_json::to_value(&message).expect("a server message serializes");
        let original: Value = serde_json::from_str(&text).expect("checked above");
        assert_eq!(again, original, "{file} is not what the server sends");
    }
}

#[test]
fn every_client_message_type_has_an_example() {
    assert_eq!(missing(CLIENT_TYPES, "client"), Vec::<String>::new());
}

#[test]
fn every_server_message_type_has_an_example() {
    assert_eq!(missing(SERVER_TYPES, "server"), Vec::<String>::new());
}

#[test]
fn error_codes_match_the_shared_list() {
    let path = examples_dir().join("error_codes.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let listed: Vec<ErrorCode> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let ours: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    let theirs: Vec<&str> = listed.iter().map(|c| c.as_str()).collect();
    assert_eq!(ours, theirs, "{path:?} lists other codes than ErrorCode");
    for code in ErrorCode::ALL {
        assert_eq!(
            serde_json::to_value(code).ok(),
            Some(Value::String(code.as_str().to_owned()))
        );
    }
}

#[test]
fn a_record_frame_names_a_known_action_and_nothing_else() {
    let start: ClientMessage = serde_json::from_str(r#"{"type":"record","action":"pause"}"#)
        .expect("a pause is a record frame");
    assert!(matches!(
        start,
        ClientMessage::Record {
            action: crate::RecordAction::Pause,
            request_id: None
        }
    ));
    for refused in [
        r#"{"type":"record","action":"rewind"}"#,
        r#"{"type":"record"}"#,
        r#"{"type":"record","action":"stop","reason":"x"}"#,
    ] {
        assert!(
            serde_json::from_str::<ClientMessage>(refused).is_err(),
            "{refused} should be refused"
        );
    }
}

#[test]
fn a_recording_frame_is_flat_and_leaves_out_what_is_absent() {
    let status = crate::RecordingStatus {
        state: crate::RecordingState::On,
        since: 1,
        starts_at: None,
        private_rooms_recorded: false,
        recorded_here: false,
        reason: None,
    };
    let frame = serde_json::to_value(ServerMessage::Recording { status })
        .expect("a recording frame serializes");
    assert_eq!(
        frame,
        serde_json::json!({"type": "recording", "state": "on", "since": 1,
            "private_rooms_recorded": false, "recorded_here": false})
    );
}
