// Camera and microphone: opening them, switching front/back, and explaining failures in the
// words of the browser the person actually uses.

export type BrowserFamily = 'wechat' | 'safari' | 'chrome' | 'other';
export type DeviceProblem = 'denied' | 'missing' | 'busy' | 'insecure' | 'unsupported';
export type Facing = 'user' | 'environment';

export function browserFamily(userAgent: string): BrowserFamily {
  // WeChat's WebView says "Safari" on iOS and "Chrome" on Android too: test it first.
  if (/MicroMessenger/i.test(userAgent)) return 'wechat';
  if (/CriOS|Chrome|Chromium|Android/i.test(userAgent)) return 'chrome';
  if (/Safari|iPhone|iPad/i.test(userAgent)) return 'safari';
  return 'other';
}

/** Maps a getUserMedia failure to what we can tell the person. */
export function classifyMediaError(error: unknown): DeviceProblem {
  const name = error instanceof Error || (error && typeof error === 'object' && 'name' in error) ? String((error as { name: string }).name) : '';
  switch (name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
    case 'SecurityError':
      return 'denied';
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return 'missing';
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return 'busy';
    default:
      return 'unsupported';
  }
}

export class DeviceError extends Error {
  constructor(readonly problem: DeviceProblem) {
    super(problem);
  }
}

/** Sizes sent to the SFU: phones 640×480 (two layers), desktops 1280×720 (three). */
function videoConstraints(facing: Facing, phone: boolean): MediaTrackConstraints {
  return phone
    ? { facingMode: facing, width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24, max: 30 } }
    : { facingMode: facing, width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
}

const AUDIO: MediaTrackConstraints = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/**
 * Camera and microphone together; if there is no camera, the microphone alone (a party on an
 * old phone can still be heard). Throws DeviceError.
 */
export async function openDevices(facing: Facing, phone: boolean): Promise<MediaStream> {
  if (!window.isSecureContext) throw new DeviceError('insecure');
  if (!navigator.mediaDevices?.getUserMedia) throw new DeviceError('unsupported');
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: AUDIO, video: videoConstraints(facing, phone) });
  } catch (error) {
    const problem = classifyMediaError(error);
    if (problem !== 'missing') throw new DeviceError(problem);
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: AUDIO });
    } catch (second) {
      throw new DeviceError(classifyMediaError(second));
    }
  }
}

/** A new camera track facing the other way (the old one must be stopped first on phones). */
export async function openCamera(facing: Facing, phone: boolean): Promise<MediaStreamTrack> {
  const stream = await navigator.mediaDevices.getUserMedia({ video: videoConstraints(facing, phone) });
  return stream.getVideoTracks()[0];
}

export async function cameraCount(): Promise<number> {
  try {
    const devices = await navigator.mediaDevices.enumerateDevices();
    return devices.filter((d) => d.kind === 'videoinput').length;
  } catch {
    return 0;
  }
}

/** Microphone level 0..1 for the meter, sampled on each animation frame until stopped. */
export function watchMicLevel(stream: MediaStream, onLevel: (level: number) => void): () => void {
  const [track] = stream.getAudioTracks();
  if (!track || typeof AudioContext === 'undefined') return () => {};
  const context = new AudioContext();
  const source = context.createMediaStreamSource(new MediaStream([track]));
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const samples = new Uint8Array(analyser.fftSize);
  let frame = 0;
  const tick = () => {
    analyser.getByteTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += ((s - 128) / 128) ** 2;
    // RMS of speech sits around 0.05-0.3: scale so normal talking fills most of the bar.
    onLevel(Math.min(1, Math.sqrt(sum / samples.length) * 4));
    frame = requestAnimationFrame(tick);
  };
  // Safari starts AudioContexts suspended until a gesture; the meter then wakes on first tap.
  void context.resume().catch(() => {});
  tick();
  return () => {
    cancelAnimationFrame(frame);
    source.disconnect();
    void context.close().catch(() => {});
  };
}
