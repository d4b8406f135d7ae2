import { HubError } from "./errors.js";

/** A frame as it travels: its `type` and its fields. */
export type Frame = Record<string, unknown> & { type: string };

/** A `hub:error` frame as a `HubError` (its code, message, hint, `temporary` and `reason`). */
export function toError(frame: Frame): HubError {
  const reason = typeof frame.reason === "string" ? frame.reason : undefined;
  return new HubError(String(frame.code ?? "internal"), String(frame.message ?? ""), frame.hint as string | undefined, frame.temporary === true, reason);
}
