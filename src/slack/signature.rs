//! Slack request signing: `v0=` HMAC-SHA256 of `v0:{timestamp}:{raw body}` with the app's
//! signing secret, checked on the raw bytes before anything parses them.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a request's timestamp may be from our clock, either way, before it is a replay.
pub const MAX_SKEW_SECS: i64 = 300;

/// One or more signing secrets; a request signed with any of them is accepted, so a secret
/// can be rotated without downtime. `Debug` never shows them.
#[derive(Clone)]
pub struct SigningSecrets(Vec<SecretString>);

impl std::fmt::Debug for SigningSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningSecrets([{} redacted])", self.0.len())
    }
}

/// Why a request was refused. Logged (no secret in it); the caller only sees 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Slack-Request-Timestamp")]
    MissingTimestamp,
    #[error("missing X-Slack-Signature")]
    MissingSignature,
    #[error("X-Slack-Request-Timestamp is not a unix time")]
    BadTimestamp,
    #[error("timestamp is {0} s away from now (more than {MAX_SKEW_SECS} s)")]
    Stale(i64),
    #[error("signature is not v0=<64 lower-case hex digits>")]
    Malformed,
    #[error("signature does not match any signing secret")]
    Mismatch,
}

impl SigningSecrets {
    /// Parses a comma-separated list; blanks are ignored. `None` when there is no secret.
    pub fn parse(list: &str) -> Option<Self> {
        let secrets: Vec<SecretString> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| SecretString::from(s.to_owned()))
            .collect();
        (!secrets.is_empty()).then_some(Self(secrets))
    }

    /// No secret at all: every request is refused. For Socket Mode without SLACK_SIGNING_SECRET,
    /// where nothing legitimate arrives on the HTTP Slack routes.
    pub fn none() -> Self {
        Self(Vec::new())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Verifies a request against `now` (unix seconds; injected so tests can use Slack's
    /// published 2018 example). On success, the signature's bytes (the MAC that matched): the
    /// one key a replay of this request has, whatever else an attacker changes.
    ///
    /// The signature must be `v0=` and 64 lower-case hex digits, as Slack sends it and as
    /// Slack's own SDKs compare it (a string comparison with the lower-case hex digest), so
    /// one MAC has one spelling: the expected digest is written as hex and compared in
    /// constant time, without decoding what the request sent.
    pub fn verify(
        &self,
        timestamp: Option<&[u8]>,
        signature: Option<&[u8]>,
        body: &[u8],
        now: i64,
    ) -> Result<Signature, SignatureError> {
        let timestamp = timestamp.ok_or(SignatureError::MissingTimestamp)?;
        let signature = signature.ok_or(SignatureError::MissingSignature)?;
        let ts: i64 = std::str::from_utf8(timestamp)
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or(SignatureError::BadTimestamp)?;
        let skew = now.saturating_sub(ts);
        if skew.saturating_abs() > MAX_SKEW_SECS {
            return Err(SignatureError::Stale(skew));
        }
        let given = signature
            .strip_prefix(b"v0=")
            .filter(|hex| {
                hex.len() == 64 && hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            })
            .ok_or(SignatureError::Malformed)?;
        self.0
            .iter()
            .find_map(|secret| {
                let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
                    .expect("HMAC accepts keys of any length");
                mac.update(b"v0:");
                mac.update(timestamp);
                mac.update(b":");
                mac.update(body);
                let mac: [u8; 32] = mac.finalize().into_bytes().into();
                let mut hex = [0u8; 64];
                hex::encode_to_slice(mac, &mut hex).ok()?;
                bool::from(hex.ct_eq(given)).then_some(Signature(mac))
            })
            .ok_or(SignatureError::Mismatch)
    }
}

/// A verified request's signature, as bytes: an HMAC-SHA256 output, so uniformly distributed
/// and, without the signing secret, not chosen by whoever sent the request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 32]);

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signature(..)")
    }
}

/// Signs a body as Slack does. For the demo and tests, which play Slack's part.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slack's published example (api.slack.com/authentication/verifying-requests-from-slack).
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    const NOW: i64 = 1531420618;

    fn secrets(list: &str) -> SigningSecrets {
        SigningSecrets::parse(list).unwrap()
    }

    fn check(
        s: &SigningSecrets,
        ts: Option<&str>,
        sig: Option<&str>,
        body: &str,
        now: i64,
    ) -> Result<(), SignatureError> {
        s.verify(
            ts.map(str::as_bytes),
            sig.map(str::as_bytes),
            body.as_bytes(),
            now,
        )
        .map(drop)
    }

    #[test]
    fn slacks_published_example_passes() {
        assert_eq!(
            check(&secrets(SECRET), Some(TS), Some(SIG), BODY, NOW),
            Ok(())
        );
        assert_eq!(sign(SECRET, NOW, BODY.as_bytes()), SIG);
        // The signature's bytes come back: the replay key.
        let bytes = secrets(SECRET)
            .verify(
                Some(TS.as_bytes()),
                Some(SIG.as_bytes()),
                BODY.as_bytes(),
                NOW,
            )
            .unwrap();
        assert_eq!(hex::encode(bytes.0), SIG["v0=".len()..]);
    }

    #[test]
    fn any_of_several_secrets_passes_for_rotation() {
        let s = secrets(&format!("new-secret , {SECRET},"));
        assert_eq!(check(&s, Some(TS), Some(SIG), BODY, NOW), Ok(()));
    }

    #[test]
    fn failures_table() {
        let s = secrets(SECRET);
        let tampered = BODY.replace("text=", "text=90d");
        let upper = SIG.to_uppercase().replace("V0=", "v0=");
        let v1 = SIG.replace("v0=", "v1=");
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            &'a str,
            i64,
            SignatureError,
        );
        let cases: Vec<Case> = vec![
            (
                "tampered body",
                Some(TS),
                Some(SIG),
                &tampered,
                NOW,
                SignatureError::Mismatch,
            ),
            (
                "stale",
                Some(TS),
                Some(SIG),
                BODY,
                NOW + 301,
                SignatureError::Stale(301),
            ),
            (
                "future",
                Some(TS),
                Some(SIG),
                BODY,
                NOW - 301,
                SignatureError::Stale(-301),
            ),
            (
                "no timestamp",
                None,
                Some(SIG),
                BODY,
                NOW,
                SignatureError::MissingTimestamp,
            ),
            (
                "no signature",
                Some(TS),
                None,
                BODY,
                NOW,
                SignatureError::MissingSignature,
            ),
            (
                "timestamp not a number",
                Some("15314x0618"),
                Some(SIG),
                BODY,
                NOW,
                SignatureError::BadTimestamp,
            ),
            (
                "negative timestamp",
                Some("-1"),
                Some(SIG),
                BODY,
                NOW,
                SignatureError::BadTimestamp,
            ),
            (
                "empty timestamp",
                Some(""),
                Some(SIG),
                BODY,
                NOW,
                SignatureError::BadTimestamp,
            ),
            (
                "v1 version",
                Some(TS),
                Some(&v1),
                BODY,
                NOW,
                SignatureError::Malformed,
            ),
            (
                "not hex",
                Some(TS),
                Some("v0=zz14d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"),
                BODY,
                NOW,
                SignatureError::Malformed,
            ),
            (
                "short",
                Some(TS),
                Some("v0=a2114d"),
                BODY,
                NOW,
                SignatureError::Malformed,
            ),
            (
                "wrong timestamp signed",
                Some("1531420619"),
                Some(SIG),
                BODY,
                NOW,
                SignatureError::Mismatch,
            ),
        ];
        for (name, ts, sig, body, now, want) in cases {
            assert_eq!(check(&s, ts, sig, body, now), Err(want), "case {name}");
        }
        // Upper-case hex would be a second spelling of the same MAC (a replay under another
        // name); Slack sends lower case and its SDKs accept only that.
        assert_eq!(
            check(&s, Some(TS), Some(&upper), BODY, NOW),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            check(&secrets("wrong-secret"), Some(TS), Some(SIG), BODY, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let shown = format!("{:?}", secrets(SECRET));
        assert!(!shown.contains(SECRET), "{shown}");
    }

    #[test]
    fn blank_lists_have_no_secret() {
        assert!(SigningSecrets::parse("").is_none());
        assert!(SigningSecrets::parse(" , ,").is_none());
    }

    proptest::proptest! {
        #[test]
        fn no_headers_or_body_make_the_verifier_panic(
            ts in proptest::collection::vec(proptest::num::u8::ANY, 0..24),
            sig in proptest::collection::vec(proptest::num::u8::ANY, 0..80),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            now in proptest::num::i64::ANY,
        ) {
            let s = secrets(SECRET);
            proptest::prop_assert!(s.verify(Some(&ts), Some(&sig), &body, now).is_err());
        }
    }
}
