/**
 * Acknowledgements of stored direct messages: each once the application's
 * handler has run (or the promise it returned settled), in order, as one
 * cumulative `hub:ack` per turn; a message handed over again after a
 * reconnect (its ack lost on the way) is acknowledged again, not handed to
 * the application twice.
 */
export class Acks {
    constructor(sendFrame) {
        /** The highest `seq` handed to the application. */
        this.lastSeq = 0;
        this.chain = Promise.resolve();
        this.sendFrame = sendFrame;
    }
    /** Whether `seq` was handed to the application already: if so, it is acknowledged again. */
    repeated(seq) {
        if (seq <= this.lastSeq) {
            this.acknowledge(seq, undefined);
            return true;
        }
        this.lastSeq = seq;
        return false;
    }
    /** Acknowledges `seq` (cumulative) after `after`, in order, one `hub:ack` per turn. */
    acknowledge(seq, after) {
        this.chain = this.chain
            .then(() => after)
            .catch(() => { })
            .then(() => {
            if (this.due === undefined) {
                queueMicrotask(() => {
                    const due = this.due;
                    this.due = undefined;
                    if (due !== undefined)
                        this.sendFrame({ type: "hub:ack", seq: due });
                });
            }
            this.due = Math.max(this.due ?? 0, seq);
        });
    }
}
//# sourceMappingURL=acks.js.map