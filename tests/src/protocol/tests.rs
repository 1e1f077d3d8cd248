//! The example frames of `docs/protocol/examples/` against this client's own copy of the
//! protocol, and how leniently it decodes the server.

use serde_json::Value;

use super::*;

#[test]
fn lenient_server_frames() -> anyhow::Result<()> {
    assert!(matches!(
        parse_server_frame(r#"{"type":"pong","request_id":"x"}"#)?,
        ServerFrame::Pong { .. }
    ));
    assert!(matches!(
        parse_server_frame(r#"{"type":"something_new","x":1}"#)?,
        ServerFrame::Unknown
    ));
    let offer = parse_server_frame(r#"{"type":"offer","sdp":"v=0","tracks":{"0":"TR_a"}}"#)?;
    let ServerFrame::Offer { tracks, .. } = offer else {
        anyhow::bail!("not an offer");
    };
    assert_eq!(tracks.get("0").map(String::as_str), Some("TR_a"));
    let err = parse_server_frame(
        r#"{"type":"error","code":"glare","message":"m","fatal":false,"request_id":"o1"}"#,
    )?;
    assert!(matches!(err, ServerFrame::Error(ErrorFrame { ref code, .. }) if code == "glare"));
    Ok(())
}

/// Lists every variant with its wire tag; the match is exhaustive, so a variant added
/// here does not compile until it is named, and then it needs an example file.
macro_rules! tags {
    ($list:ident, $tag:ident, $enum:ident { $($variant:ident = $text:literal,)+ } $(, $other:pat)?) => {
        const $list: &[&str] = &[$($text,)+];

        fn $tag(frame: &$enum) -> Option<&'static str> {
            match frame {
                $($enum::$variant { .. } => Some($text),)+
                $($other => None,)?
            }
        }
    };
}

tags!(CLIENT_TYPES, client_tag, ClientFrame {
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

tags!(SERVER_TYPES, server_tag, ServerFrame {
    Joined = "joined",
    Offer = "offer",
    Answer = "answer",
    ParticipantJoined = "participant_joined",
    ParticipantLeft = "participant_left",
    ParticipantPaused = "participant_paused",
    TrackPublished = "track_published",
    TrackUnpublished = "track_unpublished",
    TrackMuted = "track_muted",
    ActiveSpeakers = "active_speakers",
    Left = "left",
    Waiting = "waiting",
    WaitingRoom = "waiting_room",
    ParticipantUpdated = "participant_updated",
    Moved = "moved",
    Chat = "chat",
    Locked = "locked",
    Recording = "recording",
    UnmuteRequested = "unmute_requested",
    MutedByModerator = "muted_by_moderator",
    EvidenceShared = "evidence_shared",
    LayerDemand = "layer_demand",
    IceRestart = "ice_restart",
    ConnectionHealth = "connection_health",
    AudioOnly = "audio_only",
    DraftState = "draft_state",
    DraftAck = "draft_ack",
    DraftChanged = "draft_changed",
    DraftTyping = "draft_typing",
    DraftComment = "draft_comment",
    AgreementChanged = "agreement_changed",
    Pong = "pong",
    Error = "error",
}, ServerFrame::Unknown);

fn examples_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol/examples")
}

/// Every example of one direction as (file, `type`, text); the file name starts with the type.
fn examples(direction: &str) -> anyhow::Result<Vec<(String, String, String)>> {
    let dir = examples_dir().join(direction);
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let text = std::fs::read_to_string(&path)?;
        let file = path.display().to_string();
        let value: Value =
            serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{file} is not JSON: {e}"))?;
        let tag = value["type"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("{file} has no string `type`"))?
            .to_owned();
        let stem = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        anyhow::ensure!(
            stem.split('.').next() == Some(tag.as_str()),
            "{file}: the file name should start with its type"
        );
        found.push((file, tag, text));
    }
    anyhow::ensure!(!found.is_empty(), "no examples in {}", dir.display());
    Ok(found)
}

fn without_example(listed: &[&str], direction: &str) -> anyhow::Result<Vec<String>> {
    let have: std::collections::BTreeSet<String> = examples(direction)?
        .into_iter()
        .map(|(_, tag, _)| tag)
        .collect();
    Ok(listed
        .iter()
        .filter(|t| !have.contains(**t))
        .map(|t| t.to_string())
        .collect())
}

#[test]
fn every_server_example_decodes_as_a_known_frame() -> anyhow::Result<()> {
    for (file, tag, text) in examples("server")? {
        let frame = parse_server_frame(&text)?;
        anyhow::ensure!(
            server_tag(&frame) == Some(tag.as_str()),
            "{file} decodes as {frame:?}, not as `{tag}`"
        );
        if let ServerFrame::Error(e) = &frame {
            anyhow::ensure!(e.error_code().is_some(), "{file}: unknown code {}", e.code);
        }
    }
    Ok(())
}

#[test]
fn every_client_example_is_a_frame_this_client_can_send() -> anyhow::Result<()> {
    for (file, tag, text) in examples("client")? {
        let frame: ClientFrame = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{file} is not a client frame: {e}"))?;
        anyhow::ensure!(client_tag(&frame) == Some(tag.as_str()), "{file}");
    }
    Ok(())
}

#[test]
fn every_frame_type_has_an_example() -> anyhow::Result<()> {
    assert_eq!(
        without_example(CLIENT_TYPES, "client")?,
        Vec::<String>::new()
    );
    assert_eq!(
        without_example(SERVER_TYPES, "server")?,
        Vec::<String>::new()
    );
    Ok(())
}

#[test]
fn error_codes_match_the_shared_list() -> anyhow::Result<()> {
    let text = std::fs::read_to_string(examples_dir().join("error_codes.json"))?;
    let listed: Vec<String> = serde_json::from_str(&text)?;
    let ours: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(ours, listed);
    Ok(())
}

#[test]
fn client_frames_carry_request_ids() -> anyhow::Result<()> {
    let text = ClientFrame::Leave.to_json(Some("r1"))?;
    assert_eq!(text, r#"{"request_id":"r1","type":"leave"}"#);
    Ok(())
}

#[test]
fn recording_reaches_late_joiners_and_everyone_else() -> anyhow::Result<()> {
    let dir = examples_dir().join("server");
    let joined = parse_server_frame(&std::fs::read_to_string(dir.join("joined.recording.json"))?)?;
    let ServerFrame::Joined(joined) = joined else {
        anyhow::bail!("not joined");
    };
    let recording = joined
        .recording
        .ok_or_else(|| anyhow::anyhow!("a late joiner is told about the recording"))?;
    assert_eq!(
        (recording.state.as_str(), recording.recorded_here),
        ("paused", true)
    );
    let plain = parse_server_frame(&std::fs::read_to_string(dir.join("joined.json"))?)?;
    assert!(matches!(
        plain,
        ServerFrame::Joined(Joined {
            recording: None,
            ..
        })
    ));
    let frame = parse_server_frame(
        r#"{"type":"recording","state":"starting","since":1,"starts_at":10001,"private_rooms_recorded":false,"recorded_here":true}"#,
    )?;
    let ServerFrame::Recording(status) = frame else {
        anyhow::bail!("not a recording frame");
    };
    assert_eq!(status.starts_at, Some(10_001));
    let record = ClientFrame::Record {
        action: "stop".into(),
    }
    .to_json(None)?;
    assert_eq!(record, r#"{"action":"stop","type":"record"}"#);
    Ok(())
}
