/**
 * Reconnect delays, as the Rust SDK computes them: exponential backoff with
 * full jitter, capped. Pure functions of the attempt and a random number in
 * [0, 1], so they are tested without a clock.
 */
/** Uniformly random in [0, min(max, initial · 2^attempt)] ("full jitter"). */
export declare function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: number): number;
/** At least `baseMs`, plus up to half of it again: a fleet told the same
 * `retry_after_ms` does not come back in one wave. */
export declare function jittered(baseMs: number, random: number): number;
//# sourceMappingURL=backoff.d.ts.map