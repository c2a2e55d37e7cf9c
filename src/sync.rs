//! One helper for the std `Mutex`es that guard small in-memory maps (caches, pacers, locks per
//! agreement).

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, taking the data even if a thread panicked while holding it. Every map guarded
/// this way is only ever changed by single, complete statements (an insert, a remove, a
/// retain), so a panic elsewhere cannot leave it half-changed; refusing it would turn one
/// failed request into a service that fails every request after it.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
