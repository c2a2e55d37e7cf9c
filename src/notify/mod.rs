//! Channel notifications: EventBridge events delivered to Slack.
//!
//! - [`routes`]: `POST /events` (EventBridge API destination) and `POST /events/sns`.
//! - [`event`]: an EventBridge event (either family) read into an activity.
//! - [`deliver`]: one message per change, threads per agreement, nothing twice, nothing lost.
//! - [`sns`]: verifying SNS HTTPS messages.

pub mod deliver;
pub mod event;
pub mod routes;
pub mod sns;
