//! Time: the one place that reads the clock, so tests can pin it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Environment variable that pins "now" (RFC 3339 or Unix seconds), for tests of budgets.
pub const NOW_ENV: &str = "RALPH_HOOK_NOW";

/// The current time, or the pinned time when `RALPH_HOOK_NOW` is set and parses.
pub fn now() -> SystemTime {
    std::env::var(NOW_ENV)
        .ok()
        .and_then(|text| parse_pinned(&text))
        .unwrap_or_else(SystemTime::now)
}

fn parse_pinned(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    match text.parse::<u64>() {
        Ok(secs) => Some(UNIX_EPOCH + Duration::from_secs(secs)),
        Err(_) => parse(text),
    }
}

/// RFC 3339 in UTC to the second, the format the bash skill wrote.
pub fn format(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// Parses a stored RFC 3339 time.
pub fn parse(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(text.trim_end_matches('Z'))
        .ok()
        .or_else(|| humantime::parse_rfc3339(text).ok())
}

/// A duration the way people write it: `1h30m`, `45s`, `2d3h`.
pub fn human(duration: Duration) -> String {
    let total = duration.as_secs();
    let (days, hours, minutes, seconds) = (
        total / 86_400,
        total / 3_600 % 24,
        total / 60 % 60,
        total % 60,
    );
    let mut out = String::new();
    for (value, unit) in [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")] {
        if value > 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    if out.is_empty() { "0s".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_times_round_trip_at_second_precision() {
        let time = UNIX_EPOCH + Duration::from_secs(1_774_087_200);
        let text = format(time);
        assert_eq!(text, "2026-03-21T10:00:00Z");
        assert_eq!(parse(&text), Some(time));
    }

    #[test]
    fn durations_read_the_way_people_write_them() {
        assert_eq!(human(Duration::from_secs(5400)), "1h30m");
        assert_eq!(human(Duration::from_secs(0)), "0s");
        assert_eq!(human(Duration::from_secs(90_061)), "1d1h1m1s");
    }
}
