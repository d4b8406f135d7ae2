import { HubError } from "./errors.js";
import type { Frame } from "./frame.js";
/**
 * The calls the hub answers: numbered and sent while connected, queued
 * (at most `limit`) while not, settled by the answer with their id. When
 * the connection drops, those in flight with a `msg_id` go again first
 * after the reconnect; the others are refused (their outcome is unknown).
 */
export declare class Calls {
    private readonly inFlight;
    private readonly offline;
    private nextId;
    private readonly limit;
    private readonly sendFrame;
    constructor(limit: number, sendFrame: (frame: Frame) => void);
    /** Calls waiting for a connection. */
    get queued(): number;
    /** A fresh frame id. */
    id(): string;
    /** Sends `frame` now when `connected`, else queues it; settles with its answer. */
    call(frame: Frame, connected: boolean): Promise<Frame>;
    /** The frame of the call in flight as `id` (to send again after `hub:rate_limited`). */
    frame(id: string): Frame | undefined;
    /** Settles the call `id` with `answer`, or `error`; false if no call waits for it. */
    settle(id: string, answer: Frame, error?: HubError): boolean;
    /** Connected: what waited goes out, in order (calls in flight when it dropped first). */
    connected(): void;
    /** The connection dropped: calls in flight with a `msg_id` wait to go again, the others are refused. */
    lost(): void;
    /** Closed: every call is refused with `error`. */
    close(error: HubError): void;
    private transmit;
}
//# sourceMappingURL=calls.d.ts.map