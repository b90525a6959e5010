//! Durations as people type them, the one parser for every duration flag and YAML field.
//!
//! A bare number means seconds, as in Jepsen's `--time-limit`: `20`, `0.5`, `"90"`. A number with
//! a unit is a humantime duration: `250ms`, `20s`, `5m`, `1h 30m`. [`parse`] is the parser;
//! [`Human`] and [`option`] read YAML fields with it, [`parse_flag`] is clap's `value_parser`.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// What a duration may look like, for error messages and `--help`.
pub const EXPECTED: &str = "seconds (20, 0.5) or a number with a unit (250ms, 20s, 5m)";

/// A string that is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {value:?}: expected {EXPECTED}")]
pub struct DurationError {
    /// The text as given.
    pub value: String,
}

/// Parses `s`: a bare non-negative decimal number is seconds, anything else must be humantime.
pub fn parse(s: &str) -> Result<Duration, DurationError> {
    let t = s.trim();
    let err = || DurationError { value: s.to_string() };
    if t.starts_with(|c: char| c.is_ascii_digit() || c == '.') && t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return seconds(t).ok_or_else(err);
    }
    humantime::parse_duration(t).map_err(|_| err())
}

/// `secs[.frac]` with at most nanosecond precision, exactly (no float rounding).
fn seconds(t: &str) -> Option<Duration> {
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if (whole.is_empty() && frac.is_empty()) || frac.len() > 9 || frac.contains('.') {
        return None;
    }
    let secs: u64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let nanos: u32 = if frac.is_empty() { 0 } else { format!("{frac:0<9}").parse().ok()? };
    Some(Duration::new(secs, nanos))
}

/// clap `value_parser` for every duration flag.
pub fn parse_flag(s: &str) -> Result<Duration, DurationError> {
    parse(s)
}

/// A [`Duration`] read from a YAML string or number; use inside `Spanned`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Human(pub Duration);

impl<'de> Deserialize<'de> for Human {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Human;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Human, E> {
                parse(v).map(Human).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Human, E> {
                Ok(Human(Duration::from_secs(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Human, E> {
                u64::try_from(v)
                    .map(|s| Human(Duration::from_secs(s)))
                    .map_err(|_| E::custom(DurationError { value: v.to_string() }))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Human, E> {
                // `Display` of an f64 is its shortest exact decimal: 0.1 stays 0.1, read exactly.
                self.visit_str(&v.to_string())
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `deserialize_with` for an optional duration field (use with `#[serde(default)]`).
pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    Ok(Option::<Human>::deserialize(d)?.map(|h| h.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_numbers_are_seconds_and_units_stay_accepted() {
        let cases = [
            ("20", Duration::from_secs(20)),
            (" 20 ", Duration::from_secs(20)),
            ("0.5", Duration::from_millis(500)),
            (".25", Duration::from_millis(250)),
            ("1.000000001", Duration::new(1, 1)),
            ("0", Duration::ZERO),
            ("20s", Duration::from_secs(20)),
            ("5m", Duration::from_secs(300)),
            ("250ms", Duration::from_millis(250)),
            ("1h 30m", Duration::from_secs(5400)),
        ];
        for (s, want) in cases {
            assert_eq!(parse(s), Ok(want), "{s:?}");
        }
    }

    #[test]
    fn bad_durations_are_errors_that_quote_the_value() {
        for s in ["", ".", "1.2.3", "-5", "0.0000000001", "99999999999999999999", "5 parsecs", "soon"] {
            let e = parse(s).expect_err(s);
            assert_eq!(e.to_string(), format!("invalid duration {s:?}: expected {EXPECTED}"));
        }
    }

    #[derive(Debug, Deserialize)]
    struct F {
        #[serde(default, deserialize_with = "option")]
        d: Option<Duration>,
    }

    #[test]
    fn yaml_numbers_strings_and_units() {
        let cases = [
            ("d: 20", Some(Duration::from_secs(20))),
            ("d: 0.1", Some(Duration::from_millis(100))),
            ("d: '20'", Some(Duration::from_secs(20))),
            ("d: 20s", Some(Duration::from_secs(20))),
            ("{}", None),
        ];
        for (yaml, want) in cases {
            let f: F = serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
            assert_eq!(f.d, want, "{yaml}");
        }
    }

    #[test]
    fn yaml_non_durations_are_errors() {
        for yaml in ["d: -3", "d: -0.5", "d: forever", "d: [1]"] {
            let e = serde_saphyr::from_str::<F>(yaml).expect_err(yaml).to_string();
            assert!(e.contains("invalid duration") || e.contains("expected seconds"), "{yaml}: {e}");
        }
    }
}
