import { HubError } from "./errors.js";
/** A frame as it travels: its `type` and its fields. */
export type Frame = Record<string, unknown> & {
    type: string;
};
/** A `hub:error` frame as a `HubError` (its code, message, hint, `temporary` and `reason`). */
export declare function toError(frame: Frame): HubError;
//# sourceMappingURL=frame.d.ts.map