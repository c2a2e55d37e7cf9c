//! Spacing calls to an API with a per-account, per-region rate limit.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Hands out call slots at least `interval` apart, shared by every task that calls the same
/// account and region (two people asking at once share one budget). The lock is held only to
/// reserve a slot, never across the wait.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            next: Mutex::new(None),
        }
    }

    /// Waits for this caller's slot.
    pub async fn wait(&self) {
        let slot = {
            // A poisoned lock only means another task panicked between two plain assignments;
            // the Instant inside is still valid.
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slots_are_spaced_across_tasks() {
        let pacer = std::sync::Arc::new(Pacer::new(Duration::from_millis(500)));
        let start = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..4 {
            let p = pacer.clone();
            handles.push(tokio::spawn(async move {
                p.wait().await;
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for h in handles {
            times.push(h.await.unwrap() - start);
        }
        times.sort();
        assert_eq!(
            times,
            [0, 500, 1000, 1500].map(Duration::from_millis).to_vec()
        );
    }
}
