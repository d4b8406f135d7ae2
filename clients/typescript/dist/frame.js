import { HubError } from "./errors.js";
/** A `hub:error` frame as a `HubError` (its code, message, hint, `temporary` and `reason`). */
export function toError(frame) {
    const reason = typeof frame.reason === "string" ? frame.reason : undefined;
    return new HubError(String(frame.code ?? "internal"), String(frame.message ?? ""), frame.hint, frame.temporary === true, reason);
}
//# sourceMappingURL=frame.js.map