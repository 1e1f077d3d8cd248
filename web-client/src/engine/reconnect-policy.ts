// When to try again after the socket drops. Pluggable: the engine asks the policy for the
// delay before each attempt, and gives up when it answers null.

export interface ReconnectPolicy {
  /** Delay in ms before attempt `attempt` (0 = first retry), or null to give up. */
  nextDelay(attempt: number, elapsedMs: number): number | null;
}

/**
 * Retry at once (most drops are a moment of lost signal), then back off to every 5 s, with
 * jitter so that a room whose server restarted does not reconnect in lockstep. Give up after
 * the server's seat grace period (15 s) has long passed and the person must rejoin as new:
 * we still try for two minutes, because a phone coming out of a lift still wants back in.
 */
export class BackoffPolicy implements ReconnectPolicy {
  constructor(
    private readonly delaysMs: readonly number[] = [0, 300, 1_000, 2_000, 3_000, 5_000],
    private readonly giveUpAfterMs = 120_000,
    private readonly random: () => number = Math.random,
  ) {}

  nextDelay(attempt: number, elapsedMs: number): number | null {
    if (elapsedMs >= this.giveUpAfterMs) return null;
    const base = this.delaysMs[Math.min(attempt, this.delaysMs.length - 1)];
    return Math.round(base * (0.8 + 0.4 * this.random()));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits `ms`, or less if the browser says the network came back meanwhile. */
export function sleepUntilOnline(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener('online', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    window.addEventListener('online', done);
  });
}
