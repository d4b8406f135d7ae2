import type { ClientEvents } from "./types.js";
export type Listener<K extends keyof ClientEvents> = (event: ClientEvents[K]) => void;
/** The client's event listeners. A listener that throws does not stop the others. */
export declare class Emitter {
    private readonly listeners;
    /** Adds `listener`; the returned function removes it. */
    on<K extends keyof ClientEvents>(event: K, listener: Listener<K>): () => void;
    emit<K extends keyof ClientEvents>(event: K, value: ClientEvents[K]): void;
}
//# sourceMappingURL=emitter.d.ts.map