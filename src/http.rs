//! Outbound HTTPS: one TLS and crypto stack for every call the app makes.
//!
//! The AWS SDK's `default-https-client` runs rustls on aws-lc-rs, so everything else does too:
//! Slack's Web API, `response_url` and SNS certificates (reqwest), and Socket Mode's `wss://`
//! (tokio-tungstenite). reqwest is built without a provider of its own (its `rustls-tls`
//! feature would link ring as a second one) and takes the process default, which
//! [`crypto_provider`] installs: aws-lc-rs. See rustls' notes on choosing a provider,
//! <https://docs.rs/rustls/latest/rustls/crypto/struct.CryptoProvider.html#using-the-per-process-default-cryptoprovider>.

use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;

/// The process's rustls provider: aws-lc-rs, installed the first time it is asked for (or
/// whatever was installed before, the same one).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    if let Some(provider) = CryptoProvider::get_default() {
        return provider.clone();
    }
    // Two threads may race here; the loser's install fails and both read the winner's.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

/// TLS for `wss://` and anything else built on rustls directly: the provider above and
/// Mozilla's roots (webpki-roots, as reqwest uses). `None` only if the provider supports no
/// safe protocol version, which aws-lc-rs always does.
pub fn tls_config() -> Option<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .ok()
        .map(|builder| Arc::new(builder.with_root_certificates(roots).with_no_client_auth()))
}

/// A reqwest builder on the provider above. Use it instead of `reqwest::Client::builder()`
/// (or `Client::new()`), which panics when no provider is installed.
pub fn client_builder() -> reqwest::ClientBuilder {
    crypto_provider();
    reqwest::Client::builder()
}

/// A plain client (loopback calls, probes); the app's own long-lived client, with its
/// timeouts and user agent, is built in `startup`.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    client_builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
}
