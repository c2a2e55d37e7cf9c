//! Spacing calls to a rate-limited API: CloudTrail (2 per second per account and region) and
//! Slack (about 1 message per second per channel).

use std::sync::Mutex;
use std::time::Duration;

use crate::sync::lock;
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
        let slot = self.reserve(None).expect("no limit on the wait");
        tokio::time::sleep_until(slot).await;
    }

    /// Waits for a slot that comes within `max_wait`; otherwise reserves nothing and returns
    /// how long until a slot would be free, so the caller can ask its sender to come back.
    pub async fn wait_at_most(&self, max_wait: Duration) -> Result<(), Duration> {
        let slot = self.reserve(Some(max_wait))?;
        tokio::time::sleep_until(slot).await;
        Ok(())
    }

    fn reserve(&self, max_wait: Option<Duration>) -> Result<Instant, Duration> {
        // A poisoned lock only means another task panicked between two plain assignments;
        // the Instant inside is still valid.
        let mut next = lock(&self.next);
        let now = Instant::now();
        let slot = next.map_or(now, |n| n.max(now));
        if let Some(max) = max_wait {
            if slot - now > max {
                return Err(slot - now);
            }
        }
        *next = Some(slot + self.interval);
        Ok(slot)
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

    #[tokio::test(start_paused = true)]
    async fn a_slot_too_far_away_is_not_taken() {
        let pacer = Pacer::new(Duration::from_secs(1));
        for _ in 0..3 {
            pacer.wait_at_most(Duration::from_secs(2)).await.unwrap();
        }
        // Three slots were taken back to back (at 0, 1 s and 2 s); now is 2 s, the next is at 3 s.
        assert_eq!(
            pacer.wait_at_most(Duration::ZERO).await,
            Err(Duration::from_secs(1))
        );
        // Refusing reserved nothing: the next slot is still 3 s.
        pacer.wait_at_most(Duration::from_secs(1)).await.unwrap();
    }
}
