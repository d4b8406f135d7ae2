//! Reconnect delays: exponential backoff with full jitter, capped. A pure
//! function of the attempt number and a random source, so it is unit-tested
//! without a clock.

use std::time::Duration;

/// The delay before reconnect attempt `attempt` (0 for the first retry):
/// uniformly random in `[0, min(max, initial · 2^attempt)]` ("full jitter").
pub(crate) fn backoff_delay(
    attempt: u32,
    initial: Duration,
    max: Duration,
    unit_random: f64,
) -> Duration {
    let ceiling = initial
        .checked_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
        .unwrap_or(max)
        .min(max);
    ceiling.mul_f64(unit_random.clamp(0.0, 1.0))
}

/// A delay of at least `base`, plus up to half of it again at random, so a
/// fleet told the same `retry_after_ms` does not come back in one wave.
pub(crate) fn jittered(base: Duration, unit_random: f64) -> Duration {
    base + base.mul_f64(unit_random.clamp(0.0, 1.0) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn grows_exponentially_up_to_the_cap() {
        let initial = 100 * MS;
        let max = 5_000 * MS;
        assert_eq!(backoff_delay(0, initial, max, 1.0), 100 * MS);
        assert_eq!(backoff_delay(1, initial, max, 1.0), 200 * MS);
        assert_eq!(backoff_delay(4, initial, max, 1.0), 1_600 * MS);
        assert_eq!(backoff_delay(6, initial, max, 1.0), max);
        assert_eq!(backoff_delay(200, initial, max, 1.0), max);
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        let initial = 100 * MS;
        let max = 5_000 * MS;
        assert_eq!(backoff_delay(3, initial, max, 0.0), Duration::ZERO);
        assert_eq!(backoff_delay(3, initial, max, 0.5), 400 * MS);
        assert_eq!(
            backoff_delay(3, initial, max, 7.0),
            800 * MS,
            "random is clamped"
        );
    }

    #[test]
    fn jittered_adds_at_most_half() {
        assert_eq!(jittered(1_000 * MS, 0.0), 1_000 * MS);
        assert_eq!(jittered(1_000 * MS, 1.0), 1_500 * MS);
    }
}
