//! Synchronisation helpers shared by every layer.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, recovering the guard when a panicking holder poisoned it: every value
/// guarded in this crate stays consistent between statements, so a poisoned lock only
/// means a panic elsewhere, which must not take the lock's other users down with it.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
