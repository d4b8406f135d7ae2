import type { ClientEvents } from "./types.js";

export type Listener<K extends keyof ClientEvents> = (event: ClientEvents[K]) => void;

/** The client's event listeners. A listener that throws does not stop the others. */
export class Emitter {
  private readonly listeners = new Map<keyof ClientEvents, Set<(value: never) => void>>();

  /** Adds `listener`; the returned function removes it. */
  on<K extends keyof ClientEvents>(event: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    const entry = listener as (value: never) => void;
    set.add(entry);
    return () => set.delete(entry);
  }

  emit<K extends keyof ClientEvents>(event: K, value: ClientEvents[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as Listener<K>)(value);
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}
