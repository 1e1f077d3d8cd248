//! EBML elements (RFC 8794): IDs, variable-length sizes and the value types Matroska uses.

/// Element IDs of the Matroska elements the writer uses (RFC 9559).
pub mod id {
    pub const EBML: u32 = 0x1A45_DFA3;
    pub const EBML_VERSION: u32 = 0x4286;
    pub const EBML_READ_VERSION: u32 = 0x42F7;
    pub const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
    pub const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
    pub const DOC_TYPE: u32 = 0x4282;
    pub const DOC_TYPE_VERSION: u32 = 0x4287;
    pub const DOC_TYPE_READ_VERSION: u32 = 0x4285;
    pub const SEGMENT: u32 = 0x1853_8067;
    pub const SEEK_HEAD: u32 = 0x114D_9B74;
    pub const SEEK: u32 = 0x4DBB;
    pub const SEEK_ID: u32 = 0x53AB;
    pub const SEEK_POSITION: u32 = 0x53AC;
    pub const VOID: u32 = 0xEC;
    pub const INFO: u32 = 0x1549_A966;
    pub const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
    pub const MUXING_APP: u32 = 0x4D80;
    pub const WRITING_APP: u32 = 0x5741;
    pub const DURATION: u32 = 0x4489;
    pub const TRACKS: u32 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u32 = 0xAE;
    pub const TRACK_NUMBER: u32 = 0xD7;
    pub const TRACK_UID: u32 = 0x73C5;
    pub const TRACK_TYPE: u32 = 0x83;
    pub const FLAG_LACING: u32 = 0x9C;
    pub const CODEC_ID: u32 = 0x86;
    pub const CODEC_PRIVATE: u32 = 0x63A2;
    pub const CODEC_DELAY: u32 = 0x56AA;
    pub const SEEK_PRE_ROLL: u32 = 0x56BB;
    pub const AUDIO: u32 = 0xE1;
    pub const SAMPLING_FREQUENCY: u32 = 0xB5;
    pub const CHANNELS: u32 = 0x9F;
    pub const VIDEO: u32 = 0xE0;
    pub const PIXEL_WIDTH: u32 = 0xB0;
    pub const PIXEL_HEIGHT: u32 = 0xBA;
    pub const CLUSTER: u32 = 0x1F43_B675;
    pub const TIMESTAMP: u32 = 0xE7;
    pub const SIMPLE_BLOCK: u32 = 0xA3;
    pub const CUES: u32 = 0x1C53_BB6B;
    pub const CUE_POINT: u32 = 0xBB;
    pub const CUE_TIME: u32 = 0xB3;
    pub const CUE_TRACK_POSITIONS: u32 = 0xB7;
    pub const CUE_TRACK: u32 = 0xF7;
    pub const CUE_CLUSTER_POSITION: u32 = 0xF1;
}

/// The 8-byte size that means "unknown": a Segment still being written.
pub const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

/// Appends an element ID (its bytes already carry their length marker).
pub fn put_id(out: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(3);
    out.extend_from_slice(&bytes[skip..]);
}

/// Appends a size in the shortest variable-length form.
pub fn put_size(out: &mut Vec<u8>, size: u64) {
    // Sizes of all ones are reserved for "unknown", hence the - 1.
    let length = (1..=8u32)
        .find(|&n| size < (1u64 << (7 * n)) - 1)
        .unwrap_or(8);
    put_size_fixed(out, size, length);
}

/// Appends a size in exactly `length` bytes (for sizes patched in later).
pub fn put_size_fixed(out: &mut Vec<u8>, size: u64, length: u32) {
    let marked = size | (1u64 << (7 * length));
    out.extend_from_slice(&marked.to_be_bytes()[(8 - length as usize)..]);
}

/// Appends an element holding raw bytes (binary, string, or already encoded children).
pub fn put_bytes(out: &mut Vec<u8>, id: u32, data: &[u8]) {
    put_id(out, id);
    put_size(out, data.len() as u64);
    out.extend_from_slice(data);
}

/// Appends an unsigned integer element in as few bytes as its value needs.
pub fn put_uint(out: &mut Vec<u8>, id: u32, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(7);
    put_bytes(out, id, &bytes[skip..]);
}

/// Appends an 8-byte float element.
pub fn put_float(out: &mut Vec<u8>, id: u32, value: f64) {
    put_bytes(out, id, &value.to_be_bytes());
}

/// Appends a master element around children built by `build`.
pub fn put_master(out: &mut Vec<u8>, id: u32, build: impl FnOnce(&mut Vec<u8>)) {
    let mut children = Vec::new();
    build(&mut children);
    put_bytes(out, id, &children);
}

/// Appends a Void element that takes exactly `total` bytes, header included (at least 2).
pub fn put_void(out: &mut Vec<u8>, total: usize) {
    let total = total.max(2);
    // One size byte holds up to 126; beyond that an 8-byte size keeps the sum exact.
    if total - 2 < 127 {
        put_id(out, id::VOID);
        put_size_fixed(out, (total - 2) as u64, 1);
        out.resize(out.len() + total - 2, 0);
    } else {
        put_id(out, id::VOID);
        put_size_fixed(out, (total - 9) as u64, 8);
        out.resize(out.len() + total - 9, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ids_encode_as_ebml_says() {
        let mut out = Vec::new();
        put_size(&mut out, 5);
        put_size(&mut out, 127);
        put_id(&mut out, id::TIMESTAMP);
        put_id(&mut out, id::SEGMENT);
        assert_eq!(out, [0x85, 0x40, 0x7f, 0xe7, 0x18, 0x53, 0x80, 0x67]);
        let mut out = Vec::new();
        put_uint(&mut out, id::TRACK_NUMBER, 1);
        put_uint(&mut out, id::TIMESTAMP_SCALE, 1_000_000);
        assert_eq!(
            out,
            [0xd7, 0x81, 1, 0x2a, 0xd7, 0xb1, 0x83, 0x0f, 0x42, 0x40]
        );
        for total in [2, 11, 128, 129, 300] {
            let mut out = Vec::new();
            put_void(&mut out, total);
            assert_eq!(out.len(), total);
        }
    }
}
