//! `?watch=true`: newline-delimited JSON `WatchEvent`s replayed from the
//! change history and then streamed as writes happen.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::{Duration, Instant};

use super::object;
use super::resource::{ResourceKey, ResourceType};
use super::selector::{FieldSelector, LabelSelector};
use super::server::Shared;
use super::status::{ApiError, Cause};
use super::store::{Change, ChangeKind, parse_rv};

/// The query parameters of a watch.
#[derive(Debug, Clone, Default)]
pub struct WatchQuery {
    /// `labelSelector`.
    pub labels: LabelSelector,
    /// `fieldSelector`.
    pub fields: FieldSelector,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub version_match: Option<String>,
    /// `allowWatchBookmarks`.
    pub allow_bookmarks: bool,
    /// `sendInitialEvents`.
    pub send_initial_events: bool,
    /// `timeoutSeconds` (0 or absent: until the server stops).
    pub timeout_seconds: Option<u64>,
}

/// Which events one watch receives and how objects are rendered.
struct Filter {
    resource: ResourceKey,
    kind: String,
    api_version: String,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    metadata_only: bool,
}

impl Filter {
    fn selects(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }

    /// The event a change produces for this watch. As in kube-apiserver, an
    /// object that starts or stops matching the selectors is reported as
    /// ADDED or DELETED.
    fn event(&self, change: &Change) -> Option<Bytes> {
        if change.key.resource != self.resource
            || self
                .namespace
                .as_ref()
                .is_some_and(|ns| *ns != change.key.namespace)
        {
            return None;
        }
        let now = self.selects(&change.object);
        let was = change.previous.as_ref().map(|p| self.selects(p));
        let kind = match (change.kind, was, now) {
            (ChangeKind::Added, _, true) => "ADDED",
            (ChangeKind::Deleted, Some(true), _) | (ChangeKind::Deleted, None, true) => "DELETED",
            (ChangeKind::Modified, Some(true), true) => "MODIFIED",
            (ChangeKind::Modified, Some(false) | None, true) => "ADDED",
            (ChangeKind::Modified, Some(true), false) => "DELETED",
            _ => return None,
        };
        Some(self.line(kind, &change.object))
    }

    fn line(&self, kind: &str, obj: &Value) -> Bytes {
        let object = if self.metadata_only {
            object::partial_metadata(obj)
        } else {
            obj.clone()
        };
        encode(&json!({ "type": kind, "object": object }))
    }

    fn initial_events_end(&self, rv: u64) -> Bytes {
        let (kind, api_version) = if self.metadata_only {
            ("PartialObjectMetadata", "meta.k8s.io/v1")
        } else {
            (self.kind.as_str(), self.api_version.as_str())
        };
        encode(&json!({
            "type": "BOOKMARK",
            "object": {
                "kind": kind,
                "apiVersion": api_version,
                "metadata": {
                    "resourceVersion": rv.to_string(),
                    "annotations": { "k8s.io/initial-events-end": "true" }
                }
            }
        }))
    }
}

fn encode(event: &Value) -> Bytes {
    let mut line = event.to_string().into_bytes();
    line.push(b'\n');
    Bytes::from(line)
}

fn error_event(error: &ApiError) -> Bytes {
    encode(&json!({ "type": "ERROR", "object": error.to_status() }))
}

fn list_options_invalid(cause: Cause) -> ApiError {
    ApiError::invalid("ListOptions", "meta.k8s.io", "", vec![cause])
}

/// One open watch.
struct Watching {
    shared: Arc<Shared>,
    filter: Filter,
    cursor: u64,
    pending: VecDeque<Bytes>,
    done: bool,
    deadline: Option<Instant>,
    changes: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
}

async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending::<()>().await,
    }
}

impl Watching {
    /// Queues the changes after the cursor; a compacted cursor ends the
    /// watch with a `410 Expired` ERROR event, as kube-apiserver does.
    fn pull(&mut self) {
        let store = self.shared.lock();
        match store.changes_after(self.cursor) {
            Err(expired) => {
                self.pending.push_back(error_event(&expired));
                self.done = true;
            }
            Ok(changes) => {
                for change in changes {
                    if let Some(line) = self.filter.event(change) {
                        self.pending.push_back(line);
                    }
                }
                if let Some(last) = changes.last() {
                    self.cursor = last.rv;
                }
            }
        }
    }

    async fn next(mut self) -> Option<(Result<Bytes, Infallible>, Self)> {
        loop {
            if let Some(line) = self.pending.pop_front() {
                let delay = self
                    .shared
                    .watch_delay_ms
                    .load(std::sync::atomic::Ordering::Relaxed);
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                return Some((Ok(line), self));
            }
            if self.done {
                return None;
            }
            // Mark the current version seen before reading the history, so a
            // write landing after the read wakes the wait below.
            self.changes.borrow_and_update();
            self.pull();
            if !self.pending.is_empty() || self.done {
                continue;
            }
            tokio::select! {
                changed = self.changes.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                _ = self.shutdown.wait_for(|stopping| *stopping) => return None,
                () = until(self.deadline) => return None,
            }
        }
    }
}

/// Opens a watch: validates the query, queues the initial events and
/// returns the streaming body.
pub fn open(
    shared: &Arc<Shared>,
    rt: &ResourceType,
    namespace: Option<&str>,
    query: WatchQuery,
    metadata_only: bool,
) -> Result<Body, ApiError> {
    if query.send_initial_events {
        if !query.allow_bookmarks {
            return Err(list_options_invalid(Cause::required(
                "allowWatchBookmarks",
                "sendInitialEvents requires setting allowWatchBookmarks to true",
            )));
        }
        if query.version_match.as_deref() != Some("NotOlderThan") {
            return Err(list_options_invalid(Cause::forbidden(
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            )));
        }
    } else if query
        .version_match
        .as_deref()
        .is_some_and(|m| !m.is_empty())
    {
        return Err(list_options_invalid(Cause::forbidden(
            "resourceVersionMatch",
            "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        )));
    }
    let filter = Filter {
        resource: rt.key(),
        kind: rt.kind.clone(),
        api_version: rt.api_version(),
        namespace: namespace.map(str::to_owned),
        labels: query.labels,
        fields: query.fields,
        metadata_only,
    };
    let mut pending = VecDeque::new();
    let store = shared.lock();
    let current = store.resource_version();
    let asked = match query.resource_version.as_deref() {
        None | Some("") | Some("0") => None,
        Some(rv) => Some(parse_rv(rv)?),
    };
    let cursor = if query.send_initial_events || asked.is_none() {
        // "Get state and start at most recent": synthetic ADDED events for
        // what exists now, then changes after it.
        if let Some(asked) = asked.filter(|a| *a > current) {
            return Err(ApiError::too_large_resource_version(asked, current));
        }
        for obj in store.all(rt, namespace) {
            if filter.selects(&obj) {
                pending.push_back(filter.line("ADDED", &obj));
            }
        }
        if query.send_initial_events {
            pending.push_back(filter.initial_events_end(current));
        }
        current
    } else {
        asked.unwrap_or(current)
    };
    drop(store);
    let watching = Watching {
        shared: Arc::clone(shared),
        filter,
        cursor,
        pending,
        done: false,
        deadline: query
            .timeout_seconds
            .filter(|s| *s > 0)
            .map(|s| Instant::now() + Duration::from_secs(s)),
        changes: shared.changes.clone(),
        shutdown: shared.shutdown.clone(),
    };
    let stream = futures::stream::unfold(watching, Watching::next);
    Ok(Body::from_stream(stream))
}
