//! The condition type every kind of ours reports, following kstatus and
//! `metav1.Condition`, and the pure helpers that set them.
//!
//! # Guarantees
//! - [`set_condition`] changes `lastTransitionTime` only when a condition's
//!   status flips (or the condition is new): re-reporting the same status
//!   with a new message keeps the time, so status does not churn.
//! - Time is passed in, never read from the clock, so the helpers are pure
//!   and tested with fixed instants.
//! - [`set_condition`] and [`remove_condition`] say whether anything changed,
//!   so a controller writes status only when it did.

use std::borrow::Cow;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One aspect of an object's state, as `metav1.Condition` defines it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Type of condition in CamelCase: Ready, Reconciling, Stalled, Reachable
    /// or Synced.
    #[serde(rename = "type")]
    #[schemars(length(min = 1, max = 316))]
    pub type_: String,
    /// Status of the condition: True, False or Unknown.
    pub status: ConditionStatus,
    /// The `.metadata.generation` the condition was set from. When it is less
    /// than the object's current generation, the condition is out of date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
    /// When the condition last changed from one status to another.
    #[schemars(schema_with = "date_time_schema")]
    pub last_transition_time: Time,
    /// Machine-readable reason for the last transition, in CamelCase (e.g.
    /// `Applied`, `DeviceUnreachable`, `ResetNotAllowed`).
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    )]
    pub reason: String,
    /// Human-readable detail of the transition. Never holds a secret value.
    #[serde(default)]
    #[schemars(length(max = 32768))]
    pub message: String,
}

/// The status of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Whether the condition holds is not known (e.g. before the first check).
    Unknown,
}

impl ConditionStatus {
    /// `True` when `holds`, else `False`.
    pub fn from_bool(holds: bool) -> Self {
        if holds {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        }
    }
}

impl fmt::Display for ConditionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        })
    }
}

/// The condition types our kinds report.
///
/// `Ready`, `Reconciling` and `Stalled` are the kstatus conditions that
/// generic tools (Argo CD, Flux, `kubectl wait`) read: `Reconciling` and
/// `Stalled` are "abnormal-true" (present and True only while they apply;
/// remove them otherwise). `Reachable` and `Synced` are ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConditionType {
    /// The object's desired state is applied and the device matches it.
    Ready,
    /// The controller is working towards the desired state.
    Reconciling,
    /// Progress is impossible without a change from the user (bad input,
    /// missing Secret, too low a privilege, a reset the policy forbids).
    Stalled,
    /// The device answered its REST API with the given credentials.
    Reachable,
    /// The device's configuration matches the declared configuration.
    Synced,
}

impl ConditionType {
    /// Every condition type, in the order status lists them.
    pub const ALL: [ConditionType; 5] = [
        ConditionType::Ready,
        ConditionType::Reconciling,
        ConditionType::Stalled,
        ConditionType::Reachable,
        ConditionType::Synced,
    ];

    /// The name written to `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionType::Ready => "Ready",
            ConditionType::Reconciling => "Reconciling",
            ConditionType::Stalled => "Stalled",
            ConditionType::Reachable => "Reachable",
            ConditionType::Synced => "Synced",
        }
    }
}

impl fmt::Display for ConditionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Condition {
    /// A condition of `type_` with `status`, transitioning at `now`, set from
    /// `observed_generation`. Give it a reason and message with
    /// [`Condition::reason`] and [`Condition::message`].
    pub fn new(
        type_: ConditionType,
        status: ConditionStatus,
        observed_generation: Option<i64>,
        now: Time,
    ) -> Self {
        Condition {
            type_: type_.as_str().to_owned(),
            status,
            observed_generation,
            last_transition_time: now,
            reason: default_reason(status).to_owned(),
            message: String::new(),
        }
    }

    /// The same condition with this CamelCase reason. A reason that does not
    /// match the schema's pattern (`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`)
    /// is replaced by the status's default reason, so a controller bug cannot
    /// make the status write fail validation.
    pub fn reason(mut self, reason: impl Into<Cow<'static, str>>) -> Self {
        let reason = reason.into();
        if is_valid_reason(&reason) {
            self.reason = reason.into_owned();
        }
        self
    }

    /// The same condition with this human-readable message (cut to the
    /// schema's 32768-byte limit at a character boundary).
    pub fn message(mut self, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if message.len() > MAX_MESSAGE {
            let mut end = MAX_MESSAGE;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        self.message = message;
        self
    }

    /// Whether this condition is of `type_`.
    pub fn is(&self, type_: ConditionType) -> bool {
        self.type_ == type_.as_str()
    }
}

/// The schema's limit on `message`.
const MAX_MESSAGE: usize = 32768;

/// The reason a condition gets when none is given.
fn default_reason(status: ConditionStatus) -> &'static str {
    match status {
        ConditionStatus::True => "AsExpected",
        ConditionStatus::False => "NotAsExpected",
        ConditionStatus::Unknown => "Unknown",
    }
}

/// Whether `reason` matches `metav1.Condition`'s reason pattern and length.
fn is_valid_reason(reason: &str) -> bool {
    let bytes = reason.as_bytes();
    let inner = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b',' | b':');
    let last = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    match bytes {
        [] => false,
        [first] => first.is_ascii_alphabetic(),
        [first, middle @ .., end] => {
            bytes.len() <= 1024
                && first.is_ascii_alphabetic()
                && middle.iter().all(inner)
                && last(end)
        }
    }
}

/// Sets `update` in `conditions`, replacing the condition of the same type.
/// When that condition already had the same status, its
/// `lastTransitionTime` is kept and only reason, message and
/// `observedGeneration` are updated. Returns whether anything changed.
pub fn set_condition(conditions: &mut Vec<Condition>, update: Condition) -> bool {
    match conditions.iter_mut().find(|c| c.type_ == update.type_) {
        Some(existing) => {
            let time = if existing.status == update.status {
                existing.last_transition_time.clone()
            } else {
                update.last_transition_time.clone()
            };
            let next = Condition {
                last_transition_time: time,
                ..update
            };
            let changed = *existing != next;
            *existing = next;
            changed
        }
        None => {
            conditions.push(update);
            true
        }
    }
}

/// Removes the condition of `type_` (for the abnormal-true kstatus
/// conditions `Reconciling` and `Stalled` once they no longer apply).
/// Returns whether one was removed.
pub fn remove_condition(conditions: &mut Vec<Condition>, type_: ConditionType) -> bool {
    let before = conditions.len();
    conditions.retain(|c| !c.is(type_));
    conditions.len() != before
}

/// The condition of `type_`, if present.
pub fn find_condition(conditions: &[Condition], type_: ConditionType) -> Option<&Condition> {
    conditions.iter().find(|c| c.is(type_))
}

/// Whether the condition of `type_` is present and True.
pub fn is_condition_true(conditions: &[Condition], type_: ConditionType) -> bool {
    find_condition(conditions, type_).is_some_and(|c| c.status == ConditionStatus::True)
}

/// `metav1.Time` is an RFC 3339 string in the schema.
pub(crate) fn date_time_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "format": "date-time",
    })
}

/// `Option<Time>` that a status write clears with `null`: server-side
/// apply removes a field its manager stops applying, but a merging writer
/// (and the API server double) needs the explicit null, which a
/// non-nullable schema refuses (422).
pub(crate) fn nullable_date_time_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "format": "date-time",
        "nullable": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).unwrap())
    }

    fn ready(status: ConditionStatus, seconds: i64) -> Condition {
        Condition::new(ConditionType::Ready, status, Some(1), at(seconds))
    }

    #[test]
    fn a_new_condition_is_added_with_the_given_time() {
        let mut conditions = Vec::new();
        assert!(set_condition(
            &mut conditions,
            ready(ConditionStatus::True, 100)
        ));
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].type_, "Ready");
        assert_eq!(conditions[0].last_transition_time, at(100));
    }

    #[test]
    fn same_status_keeps_the_transition_time_but_takes_the_new_message() {
        let mut conditions = vec![ready(ConditionStatus::True, 100).message("first")];
        let changed = set_condition(
            &mut conditions,
            ready(ConditionStatus::True, 200)
                .reason("Applied")
                .message("second"),
        );
        assert!(changed);
        assert_eq!(conditions[0].last_transition_time, at(100));
        assert_eq!(conditions[0].message, "second");
        assert_eq!(conditions[0].reason, "Applied");
    }

    #[test]
    fn identical_update_reports_no_change() {
        let mut conditions = vec![ready(ConditionStatus::True, 100).reason("Applied")];
        let changed = set_condition(
            &mut conditions,
            ready(ConditionStatus::True, 500).reason("Applied"),
        );
        assert!(!changed, "only the time differs: nothing to write");
        assert_eq!(conditions[0].last_transition_time, at(100));
    }

    #[test]
    fn a_status_flip_moves_the_transition_time() {
        let mut conditions = vec![ready(ConditionStatus::True, 100)];
        assert!(set_condition(
            &mut conditions,
            ready(ConditionStatus::False, 300)
        ));
        assert_eq!(conditions[0].status, ConditionStatus::False);
        assert_eq!(conditions[0].last_transition_time, at(300));
        assert_eq!(conditions.len(), 1);
    }

    #[test]
    fn other_types_are_left_alone() {
        let reachable = Condition::new(
            ConditionType::Reachable,
            ConditionStatus::True,
            Some(1),
            at(10),
        );
        let mut conditions = vec![reachable.clone(), ready(ConditionStatus::False, 10)];
        set_condition(&mut conditions, ready(ConditionStatus::True, 20));
        assert_eq!(conditions[0], reachable);
        assert!(is_condition_true(&conditions, ConditionType::Ready));
    }

    #[test]
    fn a_changed_generation_alone_is_a_change() {
        let mut conditions = vec![ready(ConditionStatus::True, 100)];
        let update = Condition::new(
            ConditionType::Ready,
            ConditionStatus::True,
            Some(2),
            at(200),
        );
        assert!(set_condition(&mut conditions, update));
        assert_eq!(conditions[0].observed_generation, Some(2));
        assert_eq!(conditions[0].last_transition_time, at(100));
    }

    #[test]
    fn remove_reports_whether_anything_went() {
        let stalled = Condition::new(ConditionType::Stalled, ConditionStatus::True, None, at(1));
        let mut conditions = vec![stalled, ready(ConditionStatus::False, 1)];
        assert!(remove_condition(&mut conditions, ConditionType::Stalled));
        assert!(!remove_condition(&mut conditions, ConditionType::Stalled));
        assert_eq!(conditions.len(), 1);
        assert!(find_condition(&conditions, ConditionType::Stalled).is_none());
    }

    #[test]
    fn reasons_outside_the_schema_pattern_fall_back_to_the_default() {
        let c = ready(ConditionStatus::False, 1);
        assert_eq!(c.clone().reason("Busy:HASync").reason, "Busy:HASync");
        assert_eq!(c.clone().reason("has space").reason, "NotAsExpected");
        assert_eq!(c.clone().reason("1Leading").reason, "NotAsExpected");
        assert_eq!(c.clone().reason("Trailing,").reason, "NotAsExpected");
        assert_eq!(c.clone().reason("").reason, "NotAsExpected");
        assert_eq!(c.reason("X").reason, "X");
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let c = ready(ConditionStatus::False, 1).message("é".repeat(MAX_MESSAGE));
        assert!(c.message.len() <= MAX_MESSAGE);
        assert!(c.message.chars().all(|ch| ch == 'é'));
    }

    #[test]
    fn serialises_like_metav1_condition() {
        let c = ready(ConditionStatus::True, 0)
            .reason("Applied")
            .message("ok");
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "Ready",
                "status": "True",
                "observedGeneration": 1,
                "lastTransitionTime": "1970-01-01T00:00:00Z",
                "reason": "Applied",
                "message": "ok",
            })
        );
        let back: Condition = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
    }
}
