import type { Frame } from "./frame.js";
/**
 * Acknowledgements of stored direct messages: each once the application's
 * handler has run (or the promise it returned settled), in order, as one
 * cumulative `hub:ack` per turn; a message handed over again after a
 * reconnect (its ack lost on the way) is acknowledged again, not handed to
 * the application twice.
 */
export declare class Acks {
    /** The highest `seq` handed to the application. */
    private lastSeq;
    private chain;
    private due;
    private readonly sendFrame;
    constructor(sendFrame: (frame: Frame) => void);
    /** Whether `seq` was handed to the application already: if so, it is acknowledged again. */
    repeated(seq: number): boolean;
    /** Acknowledges `seq` (cumulative) after `after`, in order, one `hub:ack` per turn. */
    acknowledge(seq: number, after: Promise<unknown> | undefined): void;
}
//# sourceMappingURL=acks.d.ts.map