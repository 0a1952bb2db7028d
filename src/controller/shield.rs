//! Device writes that are not cancelled: the section of a reconcile from
//! its first device write to its save runs as a task of its own, so
//! dropping the reconcile (a lost Lease drops the whole controller, see
//! [`super::run`]) does not cut it between an upload and its save.
//!
//! The process waits for shielded sections before it exits
//! ([`drain`], bounded by the part of the Lease a follower cannot take over
//! yet), and the pending save recorded in status before the first write
//! covers what no wait can: a killed process — the next leader saves first.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static DONE: Notify = Notify::const_new();

/// Counts one section in flight until dropped (also when its task panics).
struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        DONE.notify_waiters();
    }
}

/// Runs `section` to completion even if the caller is dropped, and returns
/// its output (`None` only if the section panicked).
pub async fn shielded<F>(section: F) -> Option<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    let guard = Guard;
    let task = tokio::spawn(async move {
        let _guard = guard;
        section.await
    });
    task.await.ok()
}

/// How many shielded sections are running.
pub fn in_flight() -> usize {
    IN_FLIGHT.load(Ordering::SeqCst)
}

/// Waits until no shielded section runs, at most `limit`; returns how many
/// still run.
pub async fn drain(limit: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let notified = DONE.notified();
        let left = in_flight();
        if left == 0 {
            return 0;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return in_flight();
        }
    }
}
