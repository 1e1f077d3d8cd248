// What keeps a session usable on a phone: the screen stays on, and a page sent to the
// background (home button, incoming call) stops its camera politely and comes back by itself.

import type { Engine } from '../engine';

interface WakeLockSentinelLike {
  release(): Promise<void>;
}

export function careForSession(engine: Engine, phone: boolean): () => void {
  let lock: WakeLockSentinelLike | null = null;
  const wakeLock = (navigator as Navigator & { wakeLock?: { request(type: 'screen'): Promise<WakeLockSentinelLike> } }).wakeLock;

  const keepScreenOn = async () => {
    // The lock is released whenever the page is hidden: take it again on every return.
    if (!wakeLock || document.visibilityState !== 'visible') return;
    lock = await wakeLock.request('screen').catch(() => null);
  };

  const onVisibility = () => {
    const hidden = document.visibilityState === 'hidden';
    // On phones the OS takes the camera away in the background (and during a call); stop
    // sending so the others see "paused" instead of a frozen frame, keep sending audio.
    if (phone) void engine.pauseVideo(hidden);
    if (!hidden) void keepScreenOn();
  };

  void keepScreenOn();
  document.addEventListener('visibilitychange', onVisibility);
  return () => {
    document.removeEventListener('visibilitychange', onVisibility);
    void lock?.release().catch(() => {});
  };
}
