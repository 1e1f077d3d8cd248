import { afterEach, describe, expect, it, vi } from 'vitest';
import { applyLayerDemand, cameraLayers, detectDeviceClass, isAcceptedH264, orderCodecs, prefersH264, simulcastEncodings } from './publishing';

describe('simulcast', () => {
  it('sends three layers on desktop and the half and full layers on phones', () => {
    expect(simulcastEncodings('desktop').map((e) => e.rid)).toEqual(['q', 'h', 'f']);
    expect(simulcastEncodings('phone').map((e) => e.rid)).toEqual(['h', 'f']);
  });
  it('follows layer_demand by rid and keeps the lowest layer when nobody asks', () => {
    const phone = simulcastEncodings('phone');
    expect(applyLayerDemand(phone, [false, false, true]).map((e) => e.active)).toEqual([false, true]);
    expect(applyLayerDemand(phone, [false, false, false]).map((e) => e.active)).toEqual([true, false]);
  });
  it('sends only the lowest layer in save-data mode whatever is demanded, and every layer again after', () => {
    const active = (encodings: RTCRtpEncodingParameters[]) => encodings.map((e) => e.active);
    const desktop = simulcastEncodings('desktop');
    expect(active(cameraLayers(desktop, [false, true, true], true))).toEqual([true, false, false]);
    expect(active(cameraLayers(simulcastEncodings('phone'), null, true))).toEqual([true, false]);
    expect(active(cameraLayers(desktop, null, false)), 'before any demand').toEqual([true, true, true]);
    expect(active(cameraLayers(desktop, [false, true, true], false))).toEqual([false, true, true]);
  });
});

describe('codec choice', () => {
  const codecs = [
    { mimeType: 'video/VP8', clockRate: 90000 },
    { mimeType: 'video/rtx', clockRate: 90000 },
    { mimeType: 'video/H264', clockRate: 90000, sdpFmtpLine: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' },
    { mimeType: 'video/H264', clockRate: 90000, sdpFmtpLine: 'packetization-mode=1;profile-level-id=640c1f' },
    { mimeType: 'video/VP9', clockRate: 90000 },
  ];
  it('accepts only the constrained baseline H.264 the server forwards', () => {
    expect(codecs.filter(isAcceptedH264)).toHaveLength(1);
  });
  it('puts the hardware codec first and drops what the server does not forward', () => {
    expect(orderCodecs(codecs, true).map((c) => c.mimeType)).toEqual(['video/H264', 'video/VP8']);
    expect(orderCodecs(codecs, false).map((c) => c.mimeType)).toEqual(['video/VP8', 'video/H264']);
  });
  it('treats phones and WeChat as phones', () => {
    expect(detectDeviceClass({ userAgent: 'Mozilla/5.0 (iPhone) MicroMessenger/8.0' }, 390)).toBe('phone');
    expect(detectDeviceClass({ userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/130', maxTouchPoints: 0 }, 1280)).toBe('desktop');
  });
});

describe('hardware codec choice', () => {
  afterEach(() => vi.unstubAllGlobals());

  /** A device whose encoders are power-efficient (hardware) for the codecs in `hardware`. */
  const device = (hardware: string[]) =>
    vi.stubGlobal('navigator', {
      mediaCapabilities: {
        encodingInfo: async (config: { video: { contentType: string } }) => ({
          supported: true,
          smooth: true,
          powerEfficient: hardware.some((codec) => config.video.contentType.startsWith(codec)),
        }),
      },
    });

  it('picks H.264 on a phone that encodes only H.264 in hardware', async () => {
    device(['video/H264']);
    expect(await prefersH264()).toBe(true);
  });

  it('keeps VP8 when VP8 is in hardware too, when nothing is, and when the browser cannot tell', async () => {
    device(['video/H264', 'video/VP8']);
    expect(await prefersH264()).toBe(false);
    device([]);
    expect(await prefersH264()).toBe(false);
    vi.stubGlobal('navigator', {});
    expect(await prefersH264()).toBe(false);
  });
});
