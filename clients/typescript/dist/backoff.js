/**
 * Reconnect delays, as the Rust SDK computes them: exponential backoff with
 * full jitter, capped. Pure functions of the attempt and a random number in
 * [0, 1], so they are tested without a clock.
 */
/** Uniformly random in [0, min(max, initial · 2^attempt)] ("full jitter"). */
export function backoffDelay(attempt, initialMs, maxMs, random) {
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 31));
    return ceiling * clamp(random);
}
/** At least `baseMs`, plus up to half of it again: a fleet told the same
 * `retry_after_ms` does not come back in one wave. */
export function jittered(baseMs, random) {
    return baseMs + (baseMs * clamp(random)) / 2;
}
function clamp(x) {
    return Math.min(1, Math.max(0, x));
}
//# sourceMappingURL=backoff.js.map