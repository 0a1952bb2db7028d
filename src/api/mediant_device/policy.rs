//! When the operator may reset a device, and what deleting the resource
//! does. Window arithmetic is pure: the current time is passed in.

use std::fmt;

use k8s_openapi::jiff::Timestamp;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::ValidationError;

use super::durations::parse_duration;

/// Whether steps that reset the device (full INI upload) may run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ResetPolicy {
    /// Never reset the device: reset-causing steps are held back and listed
    /// in status.pendingSteps with how to allow them.
    #[default]
    Never,
    /// Reset the device whenever a step needs it. The device is unreachable
    /// while it restarts; that is expected.
    Allowed,
    /// Reset only inside maintenanceWindow; outside it, reset-causing steps
    /// wait in status.pendingSteps.
    MaintenanceWindow,
}

/// A recurring window, in UTC, inside which the device may be reset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceWindow {
    /// Days on which the window opens (UTC). Empty means every day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 7))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Set)]
    pub days: Vec<Weekday>,
    /// Time of day the window opens, `HH:MM` in UTC.
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub start: String,
    /// How long the window stays open, Go-style (`2h`, `90m`), from 1m to
    /// 168h.
    #[schemars(
        length(max = 32),
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
    )]
    #[x_kube(validation = kube::core::Rule::new(
        "duration(self) >= duration('1m') && duration(self) <= duration('168h')"
    ).message("maintenanceWindow.duration must be from 1m to 168h"))]
    pub duration: String,
}

/// A day of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl Weekday {
    /// Monday = 0 … Sunday = 6.
    fn index(self) -> i64 {
        self as i64
    }
}

/// What deleting the MediantDevice does to the device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    /// Leave the device as it is: its configuration stays, the operator
    /// stops managing it. No finalizer is needed.
    #[default]
    Orphan,
}

/// Whether a reset-causing step may run now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResetDecision {
    /// It may run.
    Allowed,
    /// The policy forbids resets; `how_to_allow` tells the user what to set.
    Refused {
        /// What to change in the spec.
        how_to_allow: String,
    },
    /// Not now: the maintenance window is closed.
    NotNow {
        /// Why, and when the window opens.
        reason: String,
        /// When the window next opens.
        opens_at: Timestamp,
    },
}

/// The message a held-back reset gets under [`ResetPolicy::Never`].
pub const HOW_TO_ALLOW_RESETS: &str = "spec.resetPolicy is Never: set it to Allowed, or to \
     MaintenanceWindow with spec.maintenanceWindow, to let the operator reset the device";

const DAY: i64 = 86_400;

impl MaintenanceWindow {
    /// The window's start (seconds after midnight UTC) and length (seconds).
    pub fn bounds(&self) -> Result<(i64, i64), ValidationError> {
        let bad = |reason: &'static str| ValidationError::MaintenanceWindow { reason };
        let (h, m) = self
            .start
            .split_once(':')
            .ok_or(bad("start must be HH:MM in UTC, e.g. 02:00"))?;
        let digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(h) || !digits(m) {
            return Err(bad("start must be HH:MM in UTC, e.g. 02:00"));
        }
        let (h, m): (i64, i64) = (
            h.parse().map_err(|_| bad("start hour is not a number"))?,
            m.parse().map_err(|_| bad("start minute is not a number"))?,
        );
        if h > 23 || m > 59 {
            return Err(bad("start must be a time of day from 00:00 to 23:59"));
        }
        let length = parse_duration("spec.maintenanceWindow.duration", &self.duration)?;
        if length.as_secs() < 60 || length.as_secs() > 168 * 3600 {
            return Err(bad("duration must be from 1m to 168h"));
        }
        // At most 168h, so the cast cannot overflow.
        Ok((h * 3600 + m * 60, length.as_secs() as i64))
    }

    /// Whether the day `day` (days since 1970-01-01, a Thursday) opens the
    /// window.
    fn opens_on(&self, day: i64) -> bool {
        let weekday = (day + 3).rem_euclid(7);
        self.days.is_empty() || self.days.iter().any(|d| d.index() == weekday)
    }

    /// Whether the window is open at `now`.
    pub fn is_open(&self, now: Timestamp) -> Result<bool, ValidationError> {
        let (start, length) = self.bounds()?;
        let now = now.as_second();
        let today = now.div_euclid(DAY);
        // A window opened up to 7 days ago (168h at most) may still be open.
        Ok((0..=7).any(|back| {
            let day = today - back;
            let opens = day * DAY + start;
            self.opens_on(day) && opens <= now && now < opens + length
        }))
    }

    /// When the window next opens after `now`.
    pub fn next_opening(&self, now: Timestamp) -> Result<Timestamp, ValidationError> {
        let (start, _) = self.bounds()?;
        let seconds = now.as_second();
        let today = seconds.div_euclid(DAY);
        // Every weekday recurs within 8 days, so one of these days opens it.
        let opens = (0..=7)
            .map(|ahead| today + ahead)
            .filter(|&day| self.opens_on(day))
            .map(|day| day * DAY + start)
            .find(|&opens| opens > seconds)
            .ok_or(ValidationError::MaintenanceWindow {
                reason: "the window never opens",
            })?;
        Timestamp::from_second(opens).map_err(|_| ValidationError::MaintenanceWindow {
            reason: "the window opens beyond the supported time range",
        })
    }
}

impl ResetPolicy {
    /// Whether a reset may run at `now` under this policy and `window`.
    pub fn decide(
        self,
        window: Option<&MaintenanceWindow>,
        now: Timestamp,
    ) -> Result<ResetDecision, ValidationError> {
        match self {
            ResetPolicy::Never => Ok(ResetDecision::Refused {
                how_to_allow: HOW_TO_ALLOW_RESETS.to_owned(),
            }),
            ResetPolicy::Allowed => Ok(ResetDecision::Allowed),
            ResetPolicy::MaintenanceWindow => {
                let window = window.ok_or(ValidationError::MaintenanceWindowMissing)?;
                if window.is_open(now)? {
                    return Ok(ResetDecision::Allowed);
                }
                let opens_at = window.next_opening(now)?;
                Ok(ResetDecision::NotNow {
                    reason: format!(
                        "outside the maintenance window: a reset waits until it opens at {opens_at}"
                    ),
                    opens_at,
                })
            }
        }
    }
}

impl fmt::Display for ResetPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResetPolicy::Never => "Never",
            ResetPolicy::Allowed => "Allowed",
            ResetPolicy::MaintenanceWindow => "MaintenanceWindow",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-01-01 was a Monday.
    fn monday(hh: i64, mm: i64) -> Timestamp {
        Timestamp::from_second(1_704_067_200 + hh * 3600 + mm * 60).unwrap()
    }

    fn window(days: &[Weekday], start: &str, duration: &str) -> MaintenanceWindow {
        MaintenanceWindow {
            days: days.to_vec(),
            start: start.into(),
            duration: duration.into(),
        }
    }

    #[test]
    fn the_reference_instant_is_a_monday() {
        let day = monday(0, 0).as_second().div_euclid(DAY);
        assert_eq!((day + 3).rem_euclid(7), Weekday::Monday.index());
    }

    #[test]
    fn open_inside_and_closed_outside_a_daily_window() {
        let w = window(&[], "02:00", "2h");
        assert!(!w.is_open(monday(1, 59)).unwrap());
        assert!(w.is_open(monday(2, 0)).unwrap());
        assert!(w.is_open(monday(3, 59)).unwrap());
        assert!(!w.is_open(monday(4, 0)).unwrap());
    }

    #[test]
    fn a_window_spanning_midnight_stays_open_the_next_day() {
        let w = window(&[Weekday::Sunday], "23:00", "3h");
        // Monday 01:00 is inside Sunday's 23:00 + 3h.
        assert!(w.is_open(monday(1, 0)).unwrap());
        assert!(!w.is_open(monday(2, 0)).unwrap());
        assert!(
            !w.is_open(monday(23, 30)).unwrap(),
            "Monday does not open it"
        );
    }

    #[test]
    fn next_opening_skips_days_not_listed() {
        let w = window(&[Weekday::Wednesday], "02:30", "1h");
        let next = w.next_opening(monday(12, 0)).unwrap();
        assert_eq!(next, monday(2 * 24 + 2, 30));
        // From inside today's window the next opening is a week later.
        let daily = window(&[Weekday::Monday], "02:00", "2h");
        assert_eq!(
            daily.next_opening(monday(3, 0)).unwrap(),
            monday(7 * 24 + 2, 0)
        );
    }

    #[test]
    fn decisions_follow_the_policy() {
        let w = window(&[], "02:00", "1h");
        assert_eq!(
            ResetPolicy::Allowed.decide(None, monday(12, 0)).unwrap(),
            ResetDecision::Allowed
        );
        match ResetPolicy::Never.decide(Some(&w), monday(2, 30)).unwrap() {
            ResetDecision::Refused { how_to_allow } => {
                assert!(how_to_allow.contains("spec.resetPolicy"));
                assert!(how_to_allow.contains("Allowed"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            ResetPolicy::MaintenanceWindow
                .decide(Some(&w), monday(2, 30))
                .unwrap(),
            ResetDecision::Allowed
        );
        match ResetPolicy::MaintenanceWindow
            .decide(Some(&w), monday(12, 0))
            .unwrap()
        {
            ResetDecision::NotNow { opens_at, reason } => {
                assert_eq!(opens_at, monday(26, 0));
                assert!(reason.contains("2024-01-02T02:00:00Z"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            ResetPolicy::MaintenanceWindow.decide(None, monday(0, 0)),
            Err(ValidationError::MaintenanceWindowMissing)
        ));
    }

    #[test]
    fn malformed_windows_are_errors_not_panics() {
        for (start, duration) in [
            ("2:00", "1h"),
            ("24:00", "1h"),
            ("02:60", "1h"),
            ("0200", "1h"),
            ("+1:00", "1h"),
            ("02:00", "30s"),
            ("02:00", "169h"),
            ("02:00", "soon"),
        ] {
            let w = window(&[], start, duration);
            assert!(w.is_open(monday(0, 0)).is_err(), "{start} {duration}");
        }
    }
}
