//! Active alarms and alarm history (`/alarms…`, v7.4 chapter 9, 2015
//! chapter 7) with the documented cursor pagination.
//!
//! # Pagination (both lists)
//! Items are ordered by id. `limit` (default 20, at most [`MAX_LIMIT`]: the
//! device "may return fewer"), `after=<id>` (items with a larger id),
//! `before=<id>` (the `limit` items just below that id, still in ascending
//! order). The answer's `cursor.before` is the first id of the page when
//! older items exist, else `"-1"`; `cursor.after` is the last id of the page
//! when newer items exist, else `"-1"` — exactly the document's three
//! examples. A page with nothing in it is `204 No Content`, including
//! `after=-1` / `before=-1` (asking beyond the end). Malformed values and
//! `after` together with `before` are 400.
//!
//! # Model
//! Active alarm ids and history ids are sequence numbers since boot. Raising
//! an alarm adds it to the active table and records it in the history;
//! clearing removes it from the active table and records a history entry of
//! severity "Cleared". A reboot (noticed through [`Device::reset_count`])
//! empties the history ("since the last reboot") and raises the still-standing
//! conditions again. The history listing links to `/alarms/history/<id>`
//! (the document's history example shows `/alarms/active/<id>` links, a copy
//! slip: the specific history alarm answers with its history URL).

mod routes;
mod store;

pub use routes::routes;
pub use store::*;
