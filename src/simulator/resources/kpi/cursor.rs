//! Cursor-based pagination of KPI discovery lists (v7.4 §11.2).
//!
//! The answer's `cursor` is an array holding one object: `start` and `end`
//! are the first and last ids of the whole list, `before` is the first id of
//! the page when earlier items exist (else `"-1"`), `after` the last id of
//! the page when later items exist (else `"-1"`), as example 1 of §11.2
//! describes. `after=<id>` / `before=<id>` name an item of the list (a name,
//! or an index compared by number for entity indexes and intervals); an
//! unknown name is a bad query parameter (400); `-1` selects nothing (204).
//! The default `limit` is not documented for KPIs: the simulator uses the
//! alarms' 20, and never returns more than 100.

use std::collections::HashMap;

use serde_json::json;

use crate::simulator::http::ApiError;

/// Default page size.
pub const DEFAULT_LIMIT: usize = 20;
/// Largest page returned.
pub const MAX_LIMIT: usize = 100;
const NONE: &str = "-1";

/// How a list's ids compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Names in listing order: a cursor must name an item.
    Names,
    /// Ascending numbers: a cursor is compared by value.
    Numbers,
}

/// `limit`, `after` and `before` of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListParams {
    limit: usize,
    after: Option<String>,
    before: Option<String>,
    /// Without a cursor, take the last `limit` items (intervals) instead of
    /// the first.
    from_end: bool,
}

/// A selected page.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// Positions of the page in the list.
    pub range: std::ops::Range<usize>,
    /// The `cursor` attribute.
    pub cursor: serde_json::Value,
}

/// 400 for a query parameter whose value is not acceptable.
pub(crate) fn bad_parameter(name: &str, value: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "Invalid value `{value}` of query parameter `{name}`"
    ))
}

impl ListParams {
    /// Reads the pagination parameters of `query`.
    pub fn from_query(query: &HashMap<String, String>) -> Result<Self, ApiError> {
        let limit = match query.get("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n > 0 => n.min(MAX_LIMIT),
                _ => return Err(bad_parameter("limit", v)),
            },
        };
        let after = query.get("after").cloned();
        let before = query.get("before").cloned();
        if after.is_some() && before.is_some() {
            return Err(ApiError::BadRequest(
                "Query parameters `after` and `before` cannot be combined".into(),
            ));
        }
        Ok(ListParams {
            limit,
            after,
            before,
            from_end: false,
        })
    }

    /// Without a cursor, select the newest items rather than the oldest.
    pub fn newest_first_page(mut self) -> Self {
        self.from_end = true;
        self
    }

    /// The page of `ids`; `None` when it is empty (204).
    pub fn select(&self, ids: &[String], order: Order) -> Result<Option<Page>, ApiError> {
        let position = |name: &str, value: &str, inclusive: bool| -> Result<usize, ApiError> {
            match order {
                Order::Names => ids
                    .iter()
                    .position(|id| id.eq_ignore_ascii_case(value))
                    .map(|p| if inclusive { p + 1 } else { p })
                    .ok_or_else(|| bad_parameter(name, value)),
                Order::Numbers => {
                    let bound: u64 = value.parse().map_err(|_| bad_parameter(name, value))?;
                    Ok(ids.partition_point(|id| {
                        let id: u64 = id.parse().unwrap_or(u64::MAX);
                        if inclusive { id <= bound } else { id < bound }
                    }))
                }
            }
        };
        let range = match (&self.after, &self.before) {
            (Some(v), _) | (_, Some(v)) if v == NONE => return Ok(None),
            (Some(after), _) => {
                let start = position("after", after, true)?;
                start..ids.len().min(start + self.limit)
            }
            (None, Some(before)) => {
                let end = position("before", before, false)?;
                end.saturating_sub(self.limit)..end
            }
            (None, None) if self.from_end => ids.len().saturating_sub(self.limit)..ids.len(),
            (None, None) => 0..ids.len().min(self.limit),
        };
        if range.is_empty() {
            return Ok(None);
        }
        // From here the range is non-empty and inside `ids`, so every index
        // below is in bounds.
        let before = if range.start > 0 {
            ids[range.start].as_str()
        } else {
            NONE
        };
        let after = if range.end < ids.len() {
            ids[range.end - 1].as_str()
        } else {
            NONE
        };
        let cursor = json!([{
            "start": ids[0],
            "before": before,
            "after": after,
            "end": ids[ids.len() - 1],
        }]);
        Ok(Some(Page { range, cursor }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> ListParams {
        ListParams::from_query(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap()
    }

    fn ids(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_documents_ip_group_example() {
        let list = ids(&["0", "1", "2"]);
        let first = params(&[("limit", "2")])
            .select(&list, Order::Numbers)
            .unwrap()
            .unwrap();
        assert_eq!(first.range, 0..2);
        assert_eq!(
            first.cursor,
            json!([{ "start": "0", "before": "-1", "after": "1", "end": "2" }])
        );
        let next = params(&[("limit", "2"), ("after", "1")])
            .select(&list, Order::Numbers)
            .unwrap()
            .unwrap();
        assert_eq!(next.range, 2..3);
        assert_eq!(
            next.cursor,
            json!([{ "start": "0", "before": "2", "after": "-1", "end": "2" }])
        );
    }

    #[test]
    fn names_must_exist_and_numbers_compare_by_value() {
        let names = ids(&[
            "abnormalTerminatedCallsInTotal",
            "abnormalTerminatedCallsOutTotal",
            "postDialDelay",
        ]);
        let page = params(&[("after", "abnormalterminatedcallsintotal")])
            .select(&names, Order::Names)
            .unwrap()
            .unwrap();
        assert_eq!(page.range, 1..3);
        let err = params(&[("after", "nope")])
            .select(&names, Order::Names)
            .unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
        let numbers = ids(&["0", "3", "10"]);
        let page = params(&[("after", "4")])
            .select(&numbers, Order::Numbers)
            .unwrap()
            .unwrap();
        assert_eq!(page.range, 2..3);
        let page = params(&[("before", "10"), ("limit", "1")])
            .select(&numbers, Order::Numbers)
            .unwrap()
            .unwrap();
        assert_eq!(page.range, 1..2);
        assert!(
            params(&[("after", "x")])
                .select(&numbers, Order::Numbers)
                .is_err()
        );
    }

    #[test]
    fn empty_pages_minus_one_and_newest_first() {
        let list = ids(&["1", "2", "3", "4"]);
        assert_eq!(
            params(&[("after", "4")])
                .select(&list, Order::Numbers)
                .unwrap(),
            None
        );
        assert_eq!(
            params(&[("before", "-1")])
                .select(&list, Order::Numbers)
                .unwrap(),
            None
        );
        assert_eq!(params(&[]).select(&[], Order::Names).unwrap(), None);
        let newest = params(&[("limit", "2")])
            .newest_first_page()
            .select(&list, Order::Numbers)
            .unwrap()
            .unwrap();
        assert_eq!(newest.range, 2..4);
        assert_eq!(newest.cursor[0]["before"], "3");
        assert_eq!(newest.cursor[0]["after"], "-1");
    }

    #[test]
    fn bad_limits_and_combined_cursors_are_refused() {
        for pairs in [
            vec![("limit", "0")],
            vec![("limit", "x")],
            vec![("after", "1"), ("before", "2")],
        ] {
            let query = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert!(ListParams::from_query(&query).is_err(), "{pairs:?}");
        }
        assert_eq!(params(&[("limit", "500")]).limit, MAX_LIMIT);
    }
}
