//! Go-style duration strings (`5m`, `1h30m`, `2.5s`) as the schema accepts
//! them, parsed the same way outside a cluster.

use std::str::FromStr;
use std::time::Duration;

use crate::api::ValidationError;

/// Parses `text` of `field`: one or more `<number><unit>` groups with units
/// `ns`, `us`, `ms`, `s`, `m`, `h`, like the schema's pattern (no sign).
pub(crate) fn parse_duration(field: &'static str, text: &str) -> Result<Duration, ValidationError> {
    let bad = || ValidationError::Duration {
        field,
        value: text.chars().take(32).collect(),
    };
    if !matches_pattern(text) {
        return Err(bad());
    }
    kube::core::Duration::from_str(text)
        .map(Duration::from)
        .map_err(|_| bad())
}

/// `^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`, without a regex engine.
fn matches_pattern(text: &str) -> bool {
    let mut rest = text.as_bytes();
    if rest.is_empty() || rest.len() > 32 {
        return false;
    }
    while !rest.is_empty() {
        let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
        let whole = digits(rest);
        if whole == 0 {
            return false;
        }
        rest = &rest[whole..];
        if let Some(after_dot) = rest.strip_prefix(b".") {
            let fraction = digits(after_dot);
            if fraction == 0 {
                return false;
            }
            rest = &after_dot[fraction..];
        }
        let unit = ["ns", "us", "ms", "s", "m", "h"]
            .iter()
            .find(|u| rest.starts_with(u.as_bytes()) && !(**u == "m" && rest.starts_with(b"ms")));
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_go_durations() {
        for (text, seconds) in [
            ("5m", 300.0),
            ("1h30m", 5400.0),
            ("2.5s", 2.5),
            ("100ms", 0.1),
        ] {
            let d = parse_duration("f", text).unwrap();
            assert!((d.as_secs_f64() - seconds).abs() < 1e-9, "{text}");
        }
    }

    #[test]
    fn rejects_what_the_schema_rejects() {
        for text in [
            "", "5", "-5m", "+5m", "5 m", "m", "1.s", ".5s", "5d", "1h 2m", "0",
        ] {
            assert!(parse_duration("spec.interval", text).is_err(), "{text:?}");
        }
        let err = parse_duration("spec.interval", "5d")
            .unwrap_err()
            .to_string();
        assert!(err.contains("spec.interval"), "{err}");
    }
}
