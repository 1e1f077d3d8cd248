import { describe, expect, it } from 'vitest';
import { enableOpusDtxAndFec } from './sdp';

const OFFER = ['v=0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111 63', 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=0', 'a=rtpmap:63 red/48000/2', ''].join('\r\n');

describe('enableOpusDtxAndFec', () => {
  it('turns on DTX and in-band FEC in the Opus fmtp, overriding a 0', () => {
    expect(enableOpusDtxAndFec(OFFER)).toContain('a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1');
  });
  it('adds an fmtp line when Opus has none', () => {
    const sdp = 'm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n';
    expect(enableOpusDtxAndFec(sdp)).toContain('a=rtpmap:111 opus/48000/2\r\na=fmtp:111 usedtx=1;useinbandfec=1');
  });
  it('leaves SDP without Opus alone', () => {
    const sdp = 'm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n';
    expect(enableOpusDtxAndFec(sdp)).toBe(sdp);
  });
});
