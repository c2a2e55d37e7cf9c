//! Channel notifications: EventBridge events delivered to Slack.
//!
//! - [`routes`]: `POST /events` (EventBridge API destination) and `POST /events/sns`.
//! - [`event`]: an EventBridge event (either family) read into an activity.
//! - [`deliver`]: one message per change, threads per agreement, nothing twice, nothing lost.
//! - [`sns`]: verifying SNS HTTPS messages.
//! - [`queue`]: EventBridge events read from an SQS queue (no inbound endpoint).

pub mod deliver;
pub mod event;
pub mod queue;
pub mod routes;
pub mod sns;
