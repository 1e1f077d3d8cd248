// The sign button stays disabled until the reader has seen the end of the text: an end marker
// after the last line, watched by an IntersectionObserver inside the scrolling box. Once seen,
// the gate stays open (scrolling back up to reread does not close it again).

/** What the gate needs of IntersectionObserver (tests pass a fake). */
export type ObserverFactory = (
  callback: (entries: { isIntersecting: boolean; intersectionRatio: number }[]) => void,
  options: IntersectionObserverInit,
) => { observe(target: Element): void; disconnect(): void };

const browserObserver: ObserverFactory = (callback, options) => new IntersectionObserver(callback, options);

export class ReadGate {
  private opened = false;
  private observer: ReturnType<ObserverFactory> | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly factory: ObserverFactory = browserObserver) {}

  get open(): boolean {
    return this.opened;
  }

  /** Watches `marker` inside `scroller`; `onOpen` runs once, when the marker is first seen. */
  watch(scroller: Element, marker: Element): void {
    this.observer?.disconnect();
    if (this.opened) return;
    this.observer = this.factory(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting || entry.intersectionRatio > 0)) this.openNow();
      },
      // The whole marker, not a sliver of it, inside the box: the last line was on screen.
      { root: scroller, threshold: 1 },
    );
    this.observer.observe(marker);
  }

  onOpen(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  dispose(): void {
    this.observer?.disconnect();
    this.observer = null;
    this.listeners.clear();
  }

  private openNow(): void {
    if (this.opened) return;
    this.opened = true;
    this.observer?.disconnect();
    this.observer = null;
    for (const listener of this.listeners) listener();
  }
}
