//! An SNS HTTPS message as POSTed to `/events/sns`, through `SnsVerifier::verify`. Its
//! certificate rule only allows a closed loopback port, so a message that passes every offline
//! check ends in a refused fetch (never a verified message, never the internet).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use marketplace_activity::notify::sns::{CertUrlRule, SnsError, SnsVerifier};

const TOPIC: &str = "arn:aws:sns:us-east-1:111122223333:marketplace-activity";

struct World {
    runtime: tokio::runtime::Runtime,
    verifier: SnsVerifier,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(1))
            .build()
            .unwrap();
        let verifier = SnsVerifier::new(
            http,
            vec![TOPIC.into()],
            CertUrlRule::Prefix("http://127.0.0.1:9/".into()),
        );
        World { runtime, verifier }
    })
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let result = world.runtime.block_on(world.verifier.verify(data));
    match result {
        Err(e) => {
            let status = e.status().as_u16();
            assert!(matches!(status, 400 | 403 | 503), "{e}: {status}");
            if let SnsError::CertFetch(_) = e {
                assert_eq!(status, 503);
            }
        }
        Ok(message) => panic!("verified without a certificate: {message:?}"),
    }
});
