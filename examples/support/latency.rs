//! What the latency examples share: percentiles, an SDK configuration for a loopback endpoint,
//! and the application's settings with everything optional off.

use std::time::Duration;

use aws_config::Region;
use aws_sdk_cloudtrail::config::Credentials;
use marketplace_activity::aws::sdk_config_loader;
use marketplace_activity::config::{ServeSettings, StateSettings};
use marketplace_activity::server::HttpSettings;
use marketplace_activity::slack::access::AccessPolicy;
use marketplace_activity::slack::signature::SigningSecrets;

/// The `p`th percentile (nearest rank) of `sorted`.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The SDK's configuration for a fake (or moto) on `endpoint`.
pub async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    sdk_config_loader()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDM", "secret", None, None, "m"))
        .load()
        .await
}

/// Serving on a free loopback port, us-east-1, no signing secret, nothing optional on.
pub fn settings() -> ServeSettings {
    ServeSettings {
        listen_addr: "127.0.0.1:0".parse().unwrap(),
        signing_secrets: SigningSecrets::none(),
        socket: None,
        regions: vec!["us-east-1".into()],
        accounts: Vec::new(),
        organization: None,
        lookup_concurrency: marketplace_activity::aws::cloudtrail::DEFAULT_IN_FLIGHT,
        access: AccessPolicy::default(),
        query_timeout: Duration::from_secs(60),
        drain_timeout: Duration::from_secs(5),
        http: HttpSettings::default(),
        notify: None,
        bot: None,
        digest: None,
        state: StateSettings::Memory,
    }
}
