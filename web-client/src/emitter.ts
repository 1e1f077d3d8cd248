// The one event mechanism of the app: a typed emitter. `Events` maps event names to payloads.

export class Emitter<Events extends { [K in keyof Events]: unknown }> {
  private readonly handlers = new Map<keyof Events, Set<(payload: never) => void>>();

  on<K extends keyof Events>(event: K, handler: (payload: Events[K]) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) {
      set = new Set();
      this.handlers.set(event, set);
    }
    set.add(handler as (payload: never) => void);
    return () => set.delete(handler as (payload: never) => void);
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    for (const handler of this.handlers.get(event) ?? []) {
      try {
        (handler as (payload: Events[K]) => void)(payload);
      } catch (err) {
        // One broken listener must not stop the others (or the protocol handling behind it).
        console.error(`[accord] listener for ${String(event)} failed`, err);
      }
    }
  }
}
