"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.toError = toError;
const errors_js_1 = require("./errors.js");
/** A `hub:error` frame as a `HubError` (its code, message, hint, `temporary` and `reason`). */
function toError(frame) {
    const reason = typeof frame.reason === "string" ? frame.reason : undefined;
    return new errors_js_1.HubError(String(frame.code ?? "internal"), String(frame.message ?? ""), frame.hint, frame.temporary === true, reason);
}
//# sourceMappingURL=frame.js.map