//! Names for the things the SFU routes between, so a room id is never mistaken for a track id.

use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an identifier chosen elsewhere (by signaling, or by `random`).
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A media room: everyone in it can be forwarded to everyone else in it.
    RoomId
);
string_id!(
    /// One person's (or one tool's) seat in a room.
    ParticipantId
);
string_id!(
    /// A published audio or video track. Unique for the life of the process.
    TrackId
);

impl TrackId {
    /// A fresh track id: `TR_` and 12 random alphanumerics.
    pub fn random() -> Self {
        Self(format!("TR_{}", crate::random_token(12)))
    }
}

/// A part of a room whose members see and hear only each other: the joint room is
/// [`Space::MAIN`]; private (caucus) rooms are other numbers. A participant is in exactly one
/// space, and nothing published in one space is ever forwarded, listed or announced in another.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Space(pub u32);

impl Space {
    /// Where everyone starts.
    pub const MAIN: Space = Space(0);
}

/// Which simulcast layer of a video track: 0 is the lowest resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Layer(pub u8);

impl Layer {
    /// The layer a simulcast `rid` names. Browsers and our clients use `q`, `h`, `f`
    /// (quarter, half, full); numeric and `low`/`mid`/`high` names are accepted too.
    pub fn from_rid(rid: &str) -> Option<Layer> {
        match rid {
            "q" | "0" | "l" | "low" => Some(Layer(0)),
            "h" | "1" | "m" | "mid" => Some(Layer(1)),
            "f" | "2" | "high" => Some(Layer(2)),
            _ => None,
        }
    }
}

/// What a track carries, as the client declared it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackSource {
    /// A microphone.
    Microphone,
    /// A camera.
    Camera,
    /// A shared screen or window.
    Screen,
    /// Anything else (e.g. a WHIP publisher that said nothing).
    Unknown,
}

/// Audio or video.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// Audio.
    Audio,
    /// Video.
    Video,
}
