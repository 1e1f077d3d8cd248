//! What a WHIP or WHEP trickle PATCH carries (RFC 8840): the client's candidates, each with
//! the media section it came under. The parser is the SFU's (`accord_sfu::sdp`); the WHIP
//! endpoints hand it the PATCH body.

use accord_sfu::sdp::parse_sdpfrag;

#[test]
fn a_trickle_fragment_yields_its_candidates_with_their_mid() {
    let frag = "a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\na=end-of-candidates\r\n";
    let parsed = parse_sdpfrag(frag);
    assert_eq!(parsed.candidates.len(), 1);
    assert_eq!(parsed.candidates[0].sdp_mid.as_deref(), Some("0"));
    assert!(
        parsed.candidates[0]
            .candidate
            .starts_with("candidate:1387637174")
    );
    assert_eq!(
        parsed.candidates[0].username_fragment.as_deref(),
        Some("EsAw")
    );
}
