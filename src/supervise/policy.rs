//! When to restart a client that died while its loop was active, and after how long: a
//! pure function of the restarts so far, the limits and what the client last said, tested
//! without processes.

use std::time::Duration;

use crate::engine::supervision::Timings;

/// What to do about a client that died with the loop still active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Resume the session after this long.
    Restart {
        /// The wait before the next attempt.
        after: Duration,
    },
    /// `--max-restarts` are spent: the loop ends `restarts_exhausted`.
    GiveUp,
}

/// Decides after `restarts` restarts so far, with at most `max_restarts`, the client's
/// last words `last_words` (a usage limit that says when it resets is waited out),
/// `time_left` of the loop's `--max-duration` (no wait outlasts it) and a `jitter` in
/// `[0, 1)`.
pub(crate) fn next(
    restarts: u32,
    max_restarts: u32,
    timings: &Timings,
    last_words: Option<&str>,
    time_left: Option<Duration>,
    jitter: f64,
) -> Next {
    if restarts >= max_restarts {
        return Next::GiveUp;
    }
    let after = match last_words.and_then(reset_after) {
        Some(reset) => reset + Duration::from_secs(1),
        None => backoff(restarts, timings, jitter),
    };
    let after = match time_left {
        Some(left) => after.min(left),
        None => after,
    };
    Next::Restart { after }
}

/// Exponential backoff: the base doubled per restart so far, capped, then scaled by
/// 0.8–1.2 so that many loops that failed together do not retry together.
pub(crate) fn backoff(restarts: u32, timings: &Timings, jitter: f64) -> Duration {
    let doubled = timings
        .backoff
        .saturating_mul(2u32.saturating_pow(restarts.min(20)));
    let capped = doubled.min(timings.max_backoff);
    capped.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
}

/// When a usage or rate limit resets, as clients say it: "try again in 30 seconds",
/// "resets in 2h", "retry after 45s", "Please try again in 1m30s". `None` when the words
/// say no time.
pub(crate) fn reset_after(words: &str) -> Option<Duration> {
    let lower = words.to_ascii_lowercase();
    for marker in [
        "try again in",
        "resets in",
        "retry after",
        "retry in",
        "reset in",
    ] {
        let Some(at) = lower.find(marker) else {
            continue;
        };
        let rest = lower[at + marker.len()..].trim_start();
        let phrase: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == ' ' || *c == '.')
            .collect();
        if let Some(duration) = leading_duration(&phrase) {
            return Some(duration);
        }
    }
    None
}

/// The longest prefix of `phrase` that reads as a duration (`30 seconds`, `2h`,
/// `1m30s`); bare numbers are seconds.
fn leading_duration(phrase: &str) -> Option<Duration> {
    let words: Vec<&str> = phrase.split_whitespace().collect();
    for n in (1..=words.len().min(4)).rev() {
        let joined = words[..n].join(" ");
        let text = joined.trim_end_matches('.');
        if let Ok(duration) = humantime::parse_duration(text) {
            return Some(duration);
        }
        if n == 1
            && let Ok(secs) = text.parse::<u64>()
        {
            return Some(Duration::from_secs(secs));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timings() -> Timings {
        Timings {
            backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(60),
            ..Timings::default()
        }
    }

    #[test]
    fn the_backoff_doubles_per_restart_up_to_the_cap_with_jitter_around_it() {
        let t = timings();
        assert_eq!(backoff(0, &t, 0.5), Duration::from_secs(5));
        assert_eq!(backoff(1, &t, 0.5), Duration::from_secs(10));
        assert_eq!(backoff(3, &t, 0.5), Duration::from_secs(40));
        assert_eq!(backoff(4, &t, 0.5), Duration::from_secs(60));
        assert_eq!(backoff(40, &t, 0.5), Duration::from_secs(60));
        assert_eq!(backoff(0, &t, 0.0), Duration::from_secs(4));
        assert!(backoff(0, &t, 0.999) < Duration::from_secs(6));
    }

    #[test]
    fn max_restarts_bounds_the_restarts_and_zero_never_restarts() {
        let t = timings();
        assert_eq!(next(0, 0, &t, None, None, 0.5), Next::GiveUp);
        assert_eq!(
            next(0, 1, &t, None, None, 0.5),
            Next::Restart {
                after: Duration::from_secs(5)
            }
        );
        assert_eq!(next(1, 1, &t, None, None, 0.5), Next::GiveUp);
    }

    #[test]
    fn a_usage_limit_that_says_when_it_resets_is_waited_out_within_the_time_budget() {
        let t = timings();
        let words = "You've hit your usage limit. Please try again in 2 minutes.";
        assert_eq!(
            next(0, 3, &t, Some(words), None, 0.5),
            Next::Restart {
                after: Duration::from_secs(121)
            }
        );
        assert_eq!(
            next(0, 3, &t, Some(words), Some(Duration::from_secs(30)), 0.5),
            Next::Restart {
                after: Duration::from_secs(30)
            }
        );
    }

    #[test]
    fn reset_times_are_read_as_clients_write_them() {
        for (words, secs) in [
            ("rate limited; retry after 45s", 45),
            ("Limit resets in 1h 30m", 5400),
            ("try again in 30 seconds", 30),
            ("Try again in 1m30s.", 90),
            ("retry after 12", 12),
        ] {
            assert_eq!(
                reset_after(words),
                Some(Duration::from_secs(secs)),
                "{words}"
            );
        }
        assert_eq!(reset_after("API Error: 400 bad request"), None);
        assert_eq!(reset_after("try again later"), None);
    }
}
