//! Reading the one thing the demultiplexer needs from a STUN message: the USERNAME attribute
//! of a binding request, `<our ufrag>:<their ufrag>`, which names the participant before we
//! know their address (RFC 8445 §7.2.2; RFC 5389 §15.3).

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
const HEADER_LEN: usize = 20;
const ATTR_USERNAME: u16 = 0x0006;

/// Whether a datagram is STUN (RFC 7983 demultiplexing: first byte 0..=3, magic cookie).
pub(crate) fn is_stun(datagram: &[u8]) -> bool {
    datagram.len() >= HEADER_LEN && datagram[0] < 4 && datagram[4..8] == MAGIC_COOKIE
}

/// The local (our) ufrag named by a STUN message's USERNAME attribute.
pub(crate) fn local_ufrag(datagram: &[u8]) -> Option<&str> {
    if !is_stun(datagram) {
        return None;
    }
    let body_len = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
    let body = datagram.get(HEADER_LEN..HEADER_LEN + body_len)?;
    let mut at = 0;
    while at + 4 <= body.len() {
        let kind = u16::from_be_bytes([body[at], body[at + 1]]);
        let len = usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
        let value = body.get(at + 4..at + 4 + len)?;
        if kind == ATTR_USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            return username.split(':').next();
        }
        // Attributes are padded to four bytes.
        at += 4 + len.div_ceil(4) * 4;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding_request(username: &[u8]) -> Vec<u8> {
        let padded = username.len().div_ceil(4) * 4;
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&((8 + 4 + padded) as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(&[7; 12]);
        // An attribute we skip first (PRIORITY), then USERNAME.
        m.extend_from_slice(&[0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4]);
        m.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        m.extend_from_slice(&(username.len() as u16).to_be_bytes());
        m.extend_from_slice(username);
        m.resize(m.len() + padded - username.len(), 0);
        m
    }

    #[test]
    fn finds_our_ufrag_in_a_binding_request() {
        let m = binding_request(b"serverufrag:clientu");
        assert_eq!(local_ufrag(&m), Some("serverufrag"));
    }

    #[test]
    fn rtp_and_truncated_messages_name_nobody() {
        assert_eq!(local_ufrag(&[0x80; 40]), None);
        let m = binding_request(b"abc:def");
        assert_eq!(local_ufrag(&m[..m.len() - 3]), None);
        assert_eq!(local_ufrag(&m[..HEADER_LEN]), None);
    }
}
