//! # accord-recordings: the recorder
//!
//! Turns the SFU's recorder tap ([`accord_sfu`]'s `RecorderTap`) into files a court can trust:
//! - per track, an append-only RTP log ([`log`]), the master copy: a crash can cut its last
//!   record but never corrupt what came before;
//! - per track, a playable WebM (Opus, VP8) or Matroska (H.264) file ([`mkv`]) written
//!   cluster by cluster while the session runs, finalised (duration, cues) on a clean stop
//!   and rebuilt from the log after a crash ([`track`]);
//! - the mixed audio of the whole session ([`mix`]), each Opus track placed on the session
//!   clock ([`clock`]) from the publishers' sender reports;
//! - a manifest per recording ([`manifest`]), signed with the platform's Ed25519 key
//!   ([`signing`]), with the hashes of finished log segments chained while recording runs
//!   ([`chain`]), checked offline by [`verify`] (a folder or its exported ZIP, [`archive`]).
//!
//! It never touches the database: the server stores what [`recorder`] reports.

pub mod archive;
pub mod chain;
pub mod clock;
pub mod depacketize;
mod error;
pub mod log;
pub mod manifest;
pub mod mix;
pub mod mkv;
pub mod recorder;
pub mod reorder;
pub mod rtp;
pub mod signing;
pub mod track;
pub mod verify;

pub use error::{Error, Result};
