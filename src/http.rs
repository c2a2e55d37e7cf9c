//! Outbound HTTPS: one TLS and crypto stack for every call the app makes.
//!
//! The AWS SDK's `default-https-client` runs rustls on aws-lc-rs, so everything else does too:
//! Slack's Web API, `response_url` and SNS certificates (reqwest), and Socket Mode's `wss://`
//! (tokio-tungstenite). reqwest is built without a provider of its own (its `rustls-tls`
//! feature would link ring as a second one) and takes the process default, which
//! [`crypto_provider`] installs: aws-lc-rs. See rustls' notes on choosing a provider,
//! <https://docs.rs/rustls/latest/rustls/crypto/struct.CryptoProvider.html#using-the-per-process-default-cryptoprovider>.
//!
//! One trust store too: every call trusts the platform's roots (the image's CA bundle, or
//! whatever `SSL_CERT_FILE` names, such as a bundle with a company's TLS-inspecting proxy CA),
//! as the AWS SDK does; none carries a compiled-in copy.

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

/// The platform's trust roots, read once: the file in `SSL_CERT_FILE` (or the certificates in
/// `SSL_CERT_DIR`), else the system's bundle; the same roots the AWS SDK and reqwest read. See
/// <https://docs.rs/rustls-native-certs/latest/rustls_native_certs/fn.load_native_certs.html>.
pub fn trust_roots() -> Result<Arc<rustls::RootCertStore>, NoTrustRoots> {
    static ROOTS: std::sync::OnceLock<Result<Arc<rustls::RootCertStore>, NoTrustRoots>> =
        std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = rustls::RootCertStore::empty();
            let (_, unusable) = roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                Err(NoTrustRoots {
                    unusable,
                    unreadable: found.errors.len(),
                })
            } else {
                Ok(Arc::new(roots))
            }
        })
        .clone()
}

/// No certificate authority to trust was found, so no TLS connection could be checked.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "no trusted CA certificates found ({unreadable} places unreadable, {unusable} certificates \
     unusable): install the ca-certificates package or point SSL_CERT_FILE at a PEM bundle"
)]
pub struct NoTrustRoots {
    unusable: usize,
    unreadable: usize,
}

/// TLS for `wss://` and anything else built on rustls directly: the provider above and the
/// platform's roots ([`trust_roots`]).
pub fn tls_config() -> Result<Arc<rustls::ClientConfig>, TlsSetupError> {
    let roots = trust_roots()?;
    let builder = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()?;
    Ok(Arc::new(
        builder.with_root_certificates(roots).with_no_client_auth(),
    ))
}

/// Why [`tls_config`] could not build a configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error(transparent)]
    NoTrustRoots(#[from] NoTrustRoots),
    /// The provider supports no safe protocol version (never for aws-lc-rs).
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A reqwest builder on the provider above. Use it instead of `reqwest::Client::builder()`
/// (or `Client::new()`), which panics when no provider is installed.
pub fn client_builder() -> reqwest::ClientBuilder {
    crypto_provider();
    reqwest::Client::builder()
}

/// A client for plain HTTP to this machine (the container's healthcheck, the demo's own
/// calls): it reads no trust roots, which [`client`] would parse from the platform's bundle
/// every time one is built (the healthcheck runs every 30 seconds).
pub fn loopback_client() -> Result<reqwest::Client, reqwest::Error> {
    client_builder()
        .tls_built_in_root_certs(false)
        .connect_timeout(Duration::from_secs(5))
        .build()
}

/// A plain client (loopback calls, probes); the app's own long-lived client, with its
/// timeouts and user agent, is built in `startup`.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    client_builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
}
