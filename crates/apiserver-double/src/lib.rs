//! An in-process Kubernetes API server test double.
//!
//! It listens on `127.0.0.1` and speaks kube-apiserver's JSON-over-HTTP
//! API, so the real `kube` client, `kube::runtime::watcher`, `Controller`,
//! `Recorder` and finalizer helpers run against it unchanged. No existing
//! crate does this for kube 5: `kube-fake-client` 0.3 targets kube 4.2,
//! mocks below HTTP and has no watch; kube's own `tower-test` mocking
//! scripts responses rather than holding state.
//!
//! The rules it implements follow kube-apiserver's generic registry and
//! the CustomResource strategy, not our controller; where it cannot be
//! faithful it refuses rather than guesses. See [`ApiServer`].
//!
//! # Supported
//! - Resources keyed by group/version/plural, namespaced or cluster-scoped,
//!   registered at start (Secret, ConfigMap, `events.k8s.io/v1` Event, core
//!   v1 Event, Lease) or later with [`ApiServer::register`]
//!   ([`ResourceType::custom`] with optional `.with_status_subresource()`).
//! - get, list (`resourceVersion` in list metadata; `labelSelector` with
//!   `=`, `==`, `!=`, `in`, `notin`, exists, `!key`; `fieldSelector` on
//!   `metadata.name` and `metadata.namespace`; `limit`/`continue` paging
//!   over a consistent snapshot; `resourceVersion` with `NotOlderThan` or
//!   `Exact`), cluster-wide list and watch of namespaced resources.
//! - watch: newline-delimited `WatchEvent`s ADDED/MODIFIED/DELETED from a
//!   `resourceVersion` (replayed from history), synthetic ADDED events when
//!   it is unset or `0`, `sendInitialEvents` with the
//!   `k8s.io/initial-events-end` BOOKMARK, `timeoutSeconds`, selectors
//!   (objects entering/leaving a selector arrive as ADDED/DELETED),
//!   `410 Expired` ERROR events after [`ApiServer::compact`].
//! - create (uid, resourceVersion, creationTimestamp, generation=1 where
//!   tracked, `generateName`, name validation, `AlreadyExists`), replace,
//!   delete (finalizers: `deletionTimestamp`, generation bump, object kept
//!   until the last finalizer is removed, then DELETED; no new finalizers
//!   while deleting; uid/resourceVersion preconditions), deletecollection.
//! - patch: JSON merge, strategic merge for built-ins (their registered
//!   kinds have no merge-keyed lists, so it equals a merge), JSON patch
//!   (RFC 6902, as `kube::runtime::finalizer` sends), and server-side apply
//!   as a merge of the applied object (creating it when absent; requires
//!   `fieldManager`; `force` only with apply).
//! - The `/status` subresource: main-resource writes keep `.status`,
//!   status writes change only `.status`, create drops `.status`.
//! - `metadata.generation` bumped only when something outside metadata
//!   (and status, with the subresource) changes; one global
//!   `resourceVersion` bumped on every write; writes that change nothing
//!   are skipped (no new resourceVersion, no event); a stale
//!   `resourceVersion` gets `409 Conflict`; custom resources require one on
//!   PUT (`422`), built-ins do not.
//! - Errors as `Status` objects: 400, 404, 405, 406, 409, 410, 413, 415,
//!   422, 504. `dryRun=All`. `PartialObjectMetadata` responses (kube's
//!   `*_metadata` calls and `metadata_watcher`). `GET /version`.
//! - Secret `stringData` folded into `data`; objects checked against their
//!   Rust type (custom: `422`; built-in: `400`, a decoding failure).
//! - A request log with counts per verb and resource.
//!
//! # Not supported
//! - Discovery (`/api`, `/apis`, aggregated discovery), OpenAPI, `kubectl`.
//! - Field ownership: no `managedFields`, no apply conflicts between
//!   managers, and fields a manager stops applying are not removed (apply
//!   is a merge; JSON-merge `null` removes a field). Strategic merge for
//!   lists with merge keys. Strategic merge on custom resources answers
//!   `415`, as kube-apiserver does.
//! - OpenAPI schema validation, defaulting, pruning, CEL rules; only "does
//!   it deserialize as the Rust type". Immutable Secrets/ConfigMaps.
//! - Namespaces as objects (any namespace exists), garbage collection of
//!   `ownerReferences`, `propagationPolicy`, graceful deletion periods.
//! - Periodic watch BOOKMARKs (only the initial-events-end one), field
//!   selectors beyond name/namespace, `gt`/`lt` label operators. A watch
//!   from a future `resourceVersion` starts there instead of answering
//!   "Too large resource version" (lists do answer `504`).
//! - Authentication, authorization, admission webhooks, HTTP/2, TLS,
//!   protobuf, `Table` output, `/scale` and other subresources.
//! - Shared storage between API versions (core v1 and `events.k8s.io/v1`
//!   Events are separate collections).
//! - A deleted object without finalizers always answers with a `Status`
//!   (kube's `Either::Right`); some real resources answer with the object.

mod handle;
mod object;
mod requests;
mod resource;
mod selector;
mod server;
mod status;
mod store;
mod watch;

pub use handle::ApiServer;
// Each test crate uses part of this surface.
#[allow(unused_imports)]
pub use requests::{RequestRecord, Verb};
#[allow(unused_imports)]
pub use resource::{Origin, ResourceKey, ResourceType, Scope, Validator};
#[allow(unused_imports)]
pub use status::{ApiError, Cause};
