//! Reading the SDP that arrives over HTTP (WHIP and WHEP) before it reaches a shard: whether
//! an offer has anything to publish or watch, and what a trickle fragment carries. The
//! shard's own reading of offers lives with negotiation; this shares its section parser.

use crate::events::IceCandidate;
use crate::shard::negotiation::offered_sections;

/// Whether `offer` has an audio or video section that was not rejected (port 0): one with
/// only a data channel, or with every media section rejected, has nothing to publish or
/// watch.
pub fn offers_media(offer: &str) -> bool {
    offered_sections(offer)
        .iter()
        .any(|section| section.kind.is_some())
}

/// What a trickle PATCH carries (RFC 8840 fragment).
#[derive(Clone, Debug, Default)]
pub struct SdpFragment {
    /// The client's ICE username fragment.
    pub ufrag: Option<String>,
    /// Its candidates, each with the `mid` and ufrag it came under.
    pub candidates: Vec<IceCandidate>,
}

/// Reads an `application/trickle-ice-sdpfrag` body (RFC 8840); lines it does not know are
/// skipped, so a malformed fragment yields fewer candidates rather than an error.
pub fn parse_sdpfrag(text: &str) -> SdpFragment {
    let mut mid = None;
    let mut ufrag = None;
    let mut candidates = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("a=mid:") {
            mid = Some(v.to_owned());
        } else if let Some(v) = line.strip_prefix("a=ice-ufrag:") {
            ufrag = Some(v.to_owned());
        } else if let Some(v) = line.strip_prefix("a=candidate:") {
            candidates.push(IceCandidate {
                candidate: format!("candidate:{v}"),
                sdp_mid: mid.clone(),
                sdp_mline_index: None,
                username_fragment: ufrag.clone(),
            });
        }
    }
    SdpFragment { ufrag, candidates }
}
