// What we send: the microphone and camera (simulcast, hardware codec first) and a shared
// screen, and which camera layers go out (the server's demand, the person's 省流量).

import type { TrackSource } from '../signal/messages';
import { cameraLayers, type DeviceClass, orderCodecs, prefersH264, simulcastEncodings } from './publishing';

interface Publication {
  stream: MediaStream;
  device: DeviceClass;
}

export class LocalTracks {
  private publication: Publication | null = null;
  /** Kept even while its track is detached (background, simulated outage). */
  private cameraSender: RTCRtpSender | null = null;
  private screenTrack: MediaStreamTrack | null = null;
  private screen: RTCRtpSender | null = null;
  /** The server's latest `layer_demand` for our camera, null until it sends one. */
  private layerDemand: boolean[] | null = null;
  private layerUpdates: Promise<void> = Promise.resolve();

  /** `saveData` says whether the person chose 省流量. */
  constructor(private readonly saveData: () => boolean) {}

  /** The sender of the shared screen, while one is sent. */
  get screenSender(): RTCRtpSender | null {
    return this.screen;
  }

  /** Puts what we publish on a new connection (the camera layers start from no demand). */
  attach(pc: RTCPeerConnection): void {
    this.layerDemand = null;
    if (this.publication) void this.addTo(pc);
    this.screen = null;
    this.addScreenTo(pc);
  }

  /** Keeps `stream` to publish, on `pc` now if there is one. */
  async publish(stream: MediaStream, device: DeviceClass, pc: RTCPeerConnection | null): Promise<void> {
    this.publication = { stream, device };
    if (pc) await this.addTo(pc);
  }

  /** Keeps the shared screen to publish, on `pc` now if there is one. */
  publishScreen(track: MediaStreamTrack, pc: RTCPeerConnection | null): void {
    this.screenTrack = track;
    if (pc) this.addScreenTo(pc);
  }

  /** Stops sending the shared screen; the renegotiation withdraws it from the others. */
  stopScreen(pc: RTCPeerConnection | null): void {
    const sender = this.screen;
    this.screenTrack = null;
    this.screen = null;
    if (sender && pc && pc.signalingState !== 'closed') pc.removeTrack(sender);
  }

  async replaceVideoTrack(track: MediaStreamTrack): Promise<void> {
    await this.cameraSender?.replaceTrack(track);
  }

  async pauseVideo(paused: boolean): Promise<void> {
    const camera = this.publication?.stream.getVideoTracks()[0] ?? null;
    if (!this.cameraSender || !camera) return;
    await this.cameraSender.replaceTrack(paused ? null : camera).catch(() => {});
  }

  /** Turns the published tracks of `source` off or on (they keep their senders). */
  setMuted(source: TrackSource, muted: boolean): void {
    const kind = source === 'microphone' ? 'audio' : 'video';
    for (const track of this.publication?.stream.getTracks() ?? []) {
      if (track.kind === kind) track.enabled = !muted;
    }
  }

  /** The server's `layer_demand` for our camera. */
  setLayerDemand(active: boolean[]): Promise<void> {
    this.layerDemand = active;
    return this.updateCameraLayers();
  }

  /** One at a time: a setParameters begun on parameters read before another's ends is refused. */
  updateCameraLayers(): Promise<void> {
    const update = async () => {
      const sender = this.cameraSender;
      if (!sender) return;
      const parameters = sender.getParameters();
      if (!parameters.encodings || parameters.encodings.length < 2) return;
      parameters.encodings = cameraLayers(parameters.encodings, this.layerDemand, this.saveData());
      await sender.setParameters(parameters);
    };
    this.layerUpdates = this.layerUpdates.then(update).catch((err) => console.warn('[accord] camera layers', err));
    return this.layerUpdates;
  }

  private addScreenTo(pc: RTCPeerConnection): void {
    const track = this.screenTrack;
    if (!track || this.screen || track.readyState === 'ended') return;
    // Text on a shared screen must stay legible: keep resolution, let the frame rate drop.
    track.contentHint = 'detail';
    this.screen = pc.addTransceiver(track, { direction: 'sendonly' }).sender;
  }

  private async addTo(pc: RTCPeerConnection): Promise<void> {
    const publication = this.publication;
    if (!publication) return;
    const h264First = await prefersH264();
    for (const track of publication.stream.getTracks()) {
      if (pc.getSenders().some((s) => s.track === track)) continue;
      if (track.kind === 'audio') {
        pc.addTransceiver(track, { direction: 'sendonly', streams: [publication.stream] });
        continue;
      }
      const transceiver = pc.addTransceiver(track, {
        direction: 'sendonly',
        streams: [publication.stream],
        sendEncodings: cameraLayers(simulcastEncodings(publication.device), null, this.saveData()),
      });
      this.cameraSender = transceiver.sender;
      const capabilities = RTCRtpSender.getCapabilities?.('video');
      if (capabilities && transceiver.setCodecPreferences) {
        const ordered = orderCodecs(capabilities.codecs, h264First);
        if (ordered.length > 0) transceiver.setCodecPreferences(ordered);
      }
    }
  }
}
