// SDP edits the browser APIs do not offer. Pure string functions, unit-tested.

/**
 * Turns on Opus DTX (no packets during silence: saves most of a weak 4G uplink while a party
 * listens) and in-band FEC (recovers lost packets without retransmission) in every Opus fmtp.
 * The parameters are the receiver's wishes, so both our offer and the server's answer get them.
 */
export function enableOpusDtxAndFec(sdp: string): string {
  const lines = sdp.split('\r\n');
  const opusPayloadTypes = new Set<string>();
  for (const line of lines) {
    const match = /^a=rtpmap:(\d+) opus\/48000/i.exec(line);
    if (match) opusPayloadTypes.add(match[1]);
  }
  if (opusPayloadTypes.size === 0) return sdp;
  const seenFmtp = new Set<string>();
  const out = lines.map((line) => {
    const match = /^a=fmtp:(\d+) (.*)$/.exec(line);
    if (!match || !opusPayloadTypes.has(match[1])) return line;
    seenFmtp.add(match[1]);
    return `a=fmtp:${match[1]} ${withParams(match[2], { usedtx: '1', useinbandfec: '1' })}`;
  });
  // An Opus payload type without any fmtp line gets one right after its rtpmap.
  const result: string[] = [];
  for (const line of out) {
    result.push(line);
    const match = /^a=rtpmap:(\d+) opus\/48000/i.exec(line);
    if (match && !seenFmtp.has(match[1])) result.push(`a=fmtp:${match[1]} usedtx=1;useinbandfec=1`);
  }
  return result.join('\r\n');
}

function withParams(params: string, wanted: Record<string, string>): string {
  const entries = params
    .split(';')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const eq = p.indexOf('=');
      return eq < 0 ? [p, ''] : [p.slice(0, eq), p.slice(eq + 1)];
    });
  for (const [key, value] of Object.entries(wanted)) {
    const existing = entries.find(([k]) => k.toLowerCase() === key);
    if (existing) existing[1] = value;
    else entries.push([key, value]);
  }
  return entries.map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join(';');
}
