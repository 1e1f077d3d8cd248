// What keeps a session usable on a phone: the screen stays on, and a page sent to the
// background (home button, incoming call) stops its camera politely and comes back by itself.

import type { Engine } from '../engine';

interface WakeLockSentinelLike {
  readonly released: boolean;
  release(): Promise<void>;
}

/** Whether the screen is kept on: `refused` when the browser declined (battery saver, …). */
export type WakeLockState = 'held' | 'released' | 'refused' | 'unsupported';

export interface SessionCare {
  stop(): void;
  wakeLock(): WakeLockState;
}

export function careForSession(engine: Engine, phone: boolean, stream: MediaStream | null): SessionCare {
  let lock: WakeLockSentinelLike | null = null;
  let refused = false;
  const wakeLock = (navigator as Navigator & { wakeLock?: { request(type: 'screen'): Promise<WakeLockSentinelLike> } }).wakeLock;

  const keepScreenOn = async () => {
    // The lock is released whenever the page is hidden: take it again on every return.
    if (!wakeLock || document.visibilityState !== 'visible') return;
    lock = await wakeLock.request('screen').catch(() => null);
    refused = lock === null;
  };

  const onVisibility = () => {
    const hidden = document.visibilityState === 'hidden';
    // On phones the OS takes the camera away in the background (and during a call); stop
    // sending so the others see "paused" instead of a frozen frame, keep sending audio.
    if (phone) {
      void engine.pauseVideo(hidden);
      engine.setAway(away());
    }
    if (!hidden) void keepScreenOn();
  };

  // A phone call takes the microphone away: the browser marks our own track muted (iOS Safari,
  // Android Chrome) until the call ends. The others then see us away rather than silent.
  const microphone = stream?.getAudioTracks()[0] ?? null;
  const away = () => (phone && document.visibilityState === 'hidden') || microphone?.muted === true;
  const onMicrophoneChange = () => engine.setAway(away());
  microphone?.addEventListener('mute', onMicrophoneChange);
  microphone?.addEventListener('unmute', onMicrophoneChange);

  void keepScreenOn();
  document.addEventListener('visibilitychange', onVisibility);
  return {
    stop() {
      document.removeEventListener('visibilitychange', onVisibility);
      microphone?.removeEventListener('mute', onMicrophoneChange);
      microphone?.removeEventListener('unmute', onMicrophoneChange);
      void lock?.release().catch(() => {});
    },
    wakeLock() {
      if (!wakeLock) return 'unsupported';
      if (lock && !lock.released) return 'held';
      return refused ? 'refused' : 'released';
    },
  };
}
