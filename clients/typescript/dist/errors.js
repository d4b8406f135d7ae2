/**
 * A refusal or failure with a stable code: the hub's error codes
 * (docs/PROTOCOL.md, "Error codes") and the client's own:
 * `offline_queue_full`, `connection_lost` (the call was sent and the
 * connection dropped before its answer: its outcome is unknown; retry it
 * with a `msgId` to be safe), `timeout`, `closed`.
 */
export class HubError extends Error {
    constructor(code, message, hint, temporary = false, reason) {
        super(`${code}: ${message}`);
        this.name = "HubError";
        this.code = code;
        this.hint = hint;
        this.temporary = temporary;
        this.reason = reason;
    }
}
//# sourceMappingURL=errors.js.map