//! Parsers for time arguments: durations (`10s`, `500ms`, `1.5m`) and instants (RFC 3339 or
//! epoch milliseconds).
//!
//! Invariant: a duration needs a unit, so `--delay 30` (seconds? ms?) is an error, not a guess.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses `<number><unit>` with unit `us`, `ms`, `s`, `m`, `h` or `d`; the number may have a
/// fraction (`1.5s`).
///
/// # Errors
/// A message naming the accepted form.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{text}` has no unit; write e.g. 10s, 500ms, 2m, 1h"))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write e.g. 10s, 500ms, 2m, 1h"))?;
    let seconds_per_unit = match unit {
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}`; use us, ms, s, m, h or d"
            ));
        }
    };
    Duration::try_from_secs_f64(value * seconds_per_unit)
        .map_err(|_| format!("`{text}` is out of range"))
}

/// Parses an instant: RFC 3339 (`2030-01-02T03:04:05Z`, `2030-01-02T03:04:05.250+08:00`) or
/// epoch milliseconds (`1893553445000`).
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_time(text: &str) -> Result<SystemTime, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let ms: u64 = text
            .parse()
            .map_err(|_| format!("`{text}` is out of range"))?;
        return UNIX_EPOCH
            .checked_add(Duration::from_millis(ms))
            .ok_or_else(|| format!("`{text}` is out of range"));
    }
    let parsed = chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
        format!("`{text}` is neither RFC 3339 (2030-01-02T03:04:05Z) nor epoch ms: {e}")
    })?;
    let ms =
        u64::try_from(parsed.timestamp_millis()).map_err(|_| format!("`{text}` is before 1970"))?;
    Ok(UNIX_EPOCH + Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_known_unit() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("3x").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn times_are_rfc3339_or_epoch_millis() {
        let t = parse_time("2030-01-02T03:04:05.250Z").unwrap();
        assert_eq!(t, UNIX_EPOCH + Duration::from_millis(1_893_553_445_250));
        assert_eq!(parse_time("1893553445250"), Ok(t));
        assert_eq!(
            parse_time("2030-01-02T11:04:05.250+08:00"),
            Ok(t),
            "offsets are honoured"
        );
        assert!(parse_time("tomorrow").is_err());
        assert!(parse_time("1969-12-31T23:59:59Z").is_err());
    }
}
