// What and how the camera publishes: simulcast layers for the device class, and the codec the
// device encodes in hardware. The server forwards VP8 and H.264 (42e01f/42001f), no RTX.

/** Layers are named as the SFU numbers them: q = quarter, h = half, f = full resolution. */
export const LAYER_RIDS = ['q', 'h', 'f'] as const;
export type LayerRid = (typeof LAYER_RIDS)[number];

export type DeviceClass = 'phone' | 'desktop';

/**
 * Three layers on desktop. Two on phones (half and full), because a third encoder costs a
 * phone's battery and CPU more than the quarter-size layer saves anybody.
 */
export function simulcastEncodings(device: DeviceClass): RTCRtpEncodingParameters[] {
  const all: (RTCRtpEncodingParameters & { rid: LayerRid })[] = [
    { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
    { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
    { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
  ];
  return device === 'phone' ? all.slice(1) : all;
}

/** The index of a rid in the server's `layer_demand.active` array (lowest first). */
export function layerIndex(rid: string | undefined): number {
  return LAYER_RIDS.indexOf((rid ?? 'q') as LayerRid);
}

/** `active` flags for our encodings from a `layer_demand`; at least one layer keeps running. */
export function applyLayerDemand(
  encodings: RTCRtpEncodingParameters[],
  demand: boolean[],
): RTCRtpEncodingParameters[] {
  const wanted = encodings.map((e) => demand[layerIndex(e.rid)] === true);
  // Keep the lowest layer alive when nobody asks: a new subscriber then starts at once.
  if (!wanted.some(Boolean) && wanted.length > 0) wanted[0] = true;
  return encodings.map((e, i) => ({ ...e, active: wanted[i] }));
}

/**
 * The camera's `active` flags from everything that decides them: the server's latest
 * `layer_demand` (every layer until it first says), and the person's save-data choice, which
 * keeps only the lowest layer whatever is demanded (their uplink costs them money too).
 */
export function cameraLayers(
  encodings: RTCRtpEncodingParameters[],
  demand: boolean[] | null,
  saveData: boolean,
): RTCRtpEncodingParameters[] {
  if (saveData) {
    const lowest = Math.min(...encodings.map((e) => layerIndex(e.rid)));
    return encodings.map((e) => ({ ...e, active: layerIndex(e.rid) === lowest }));
  }
  if (!demand) return encodings.map((e) => ({ ...e, active: true }));
  return applyLayerDemand(encodings, demand);
}

export function detectDeviceClass(nav: { userAgent: string; maxTouchPoints?: number }, screenWidth: number): DeviceClass {
  const mobileUa = /Android|iPhone|iPad|iPod|Mobile|MicroMessenger/i.test(nav.userAgent);
  const touchSmall = (nav.maxTouchPoints ?? 0) > 0 && screenWidth <= 900;
  return mobileUa || touchSmall ? 'phone' : 'desktop';
}

/** The H.264 profiles the server accepts: constrained baseline, level 3.1, packetization 1. */
export function isAcceptedH264(codec: { mimeType: string; sdpFmtpLine?: string }): boolean {
  if (codec.mimeType.toLowerCase() !== 'video/h264') return false;
  const fmtp = (codec.sdpFmtpLine ?? '').toLowerCase();
  return /profile-level-id=42(e0|00)1f/.test(fmtp) && fmtp.includes('packetization-mode=1');
}

/**
 * Codec preference order: the hardware-encoded codec first (battery and heat on phones), the
 * other accepted codec next; RTX, RED, FEC and everything else the server drops are left out.
 */
export function orderCodecs(
  codecs: RTCRtpCodec[],
  preferH264: boolean,
): RTCRtpCodec[] {
  const vp8 = codecs.filter((c) => c.mimeType.toLowerCase() === 'video/vp8');
  const h264 = codecs.filter(isAcceptedH264);
  return preferH264 ? [...h264, ...vp8] : [...vp8, ...h264];
}

/**
 * Whether the device encodes H.264 in hardware but not VP8: Media Capabilities' `powerEfficient`
 * is how a browser says "hardware". Most iPhones and many Android phones answer yes for H.264
 * only; desktops usually encode VP8 efficiently in software, so VP8 stays the default.
 */
export async function prefersH264(): Promise<boolean> {
  const caps = (navigator as Navigator & { mediaCapabilities?: MediaCapabilities }).mediaCapabilities;
  if (!caps?.encodingInfo) return false;
  const probe = (contentType: string) =>
    caps
      .encodingInfo({
        type: 'webrtc',
        video: { contentType, width: 640, height: 480, bitrate: 800_000, framerate: 30 },
      } as MediaEncodingConfiguration)
      .then((info) => info.supported && info.powerEfficient)
      .catch(() => false);
  const [h264, vp8] = await Promise.all([
    probe('video/H264; profile-level-id=42e01f; packetization-mode=1'),
    probe('video/VP8'),
  ]);
  return h264 && !vp8;
}
