"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Emitter = void 0;
/** The client's event listeners. A listener that throws does not stop the others. */
class Emitter {
    constructor() {
        this.listeners = new Map();
    }
    /** Adds `listener`; the returned function removes it. */
    on(event, listener) {
        let set = this.listeners.get(event);
        if (!set)
            this.listeners.set(event, (set = new Set()));
        const entry = listener;
        set.add(entry);
        return () => set.delete(entry);
    }
    emit(event, value) {
        const set = this.listeners.get(event);
        if (!set)
            return;
        for (const listener of set) {
            try {
                listener(value);
            }
            catch {
                // A listener's failure is its own.
            }
        }
    }
}
exports.Emitter = Emitter;
//# sourceMappingURL=emitter.js.map