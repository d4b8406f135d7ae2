/**
 * A refusal or failure with a stable code: the hub's error codes
 * (docs/PROTOCOL.md, "Error codes") and the client's own:
 * `offline_queue_full`, `connection_lost` (the call was sent and the
 * connection dropped before its answer: its outcome is unknown; retry it
 * with a `msgId` to be safe), `timeout`, `closed`.
 */
export declare class HubError extends Error {
    readonly code: string;
    readonly hint: string | undefined;
    /** Whether the same call may succeed later unchanged. */
    readonly temporary: boolean;
    /** With `refused`: the application's own code, as its backend gave it. */
    readonly reason: string | undefined;
    constructor(code: string, message: string, hint?: string, temporary?: boolean, reason?: string);
}
//# sourceMappingURL=errors.d.ts.map