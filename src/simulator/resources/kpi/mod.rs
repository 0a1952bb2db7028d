//! Performance monitoring: `/kpi…` (v7.4 chapter 11) and the 2015
//! dialect's `/performanceMonitoring…` (2015 chapter 9). The core's dialect
//! filter answers 404 for the one a device does not speak.
//!
//! # `/kpi` as simulated
//! - `/kpi`: the three sub-trees; `/kpi/interval`: the retained collection
//!   intervals (`id`, `last`, `before`, `after`, `limit` = the newest N);
//! - `/kpi/{current|history}`: applications (with their group ids), then
//!   `/<app>` groups, `/<app>/<group>` entities, `/<app>/<group>/ipGroup`
//!   the IP Groups of the running configuration (`id=<Index>` for one),
//!   `/<app>/<group>/global` and `/<app>/<group>/ipGroup/<n>` KPI lists
//!   (`kpi=<Name>` for one), and `…/<kpi>` a single KPI (`interval=<n>|last|all`);
//! - lists paginate as [`cursor`] describes; `detailed=false` leaves out
//!   names, descriptions and URLs;
//! - values in lists are strings and a single KPI's value is a number, as
//!   the document's examples show; history reads the last interval unless
//!   `interval` names another;
//! - a bad query parameter or a path that does not exist below a discovery
//!   level is 400; an unknown KPI or IP Group under a single-KPI path is 404;
//!   an empty list (or history before any interval completed) is 204.

mod catalog;
mod cursor;
mod intervals;
mod pm2015;
mod routes;
mod store;

pub use catalog::{APPLICATIONS, AppDef, EntityDef, EntityKind, GroupDef, KpiDef};
pub use intervals::{INTERVAL, IntervalClock, RETAINED, SEEDED};
pub use routes::routes;
pub use store::KpiStore;
use store::Slot;
