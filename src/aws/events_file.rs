//! CloudTrail records saved to a file: a trail log as CloudTrail writes it to S3
//! (`{"Records":[…]}`, plain or gzip), saved LookupEvents output (`{"Events":[…]}`, each with
//! a `CloudTrailEvent` string), or a JSON array of records.

use std::io::Read;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::record::{parse_record, parse_record_value};
use super::Fetched;
use crate::domain::{Activity, TimeWindow};

/// Records loaded once, filtered by window on each lookup.
#[derive(Debug)]
pub struct Loaded {
    /// Where they came from, for messages.
    pub origin: String,
    activities: Vec<Activity>,
    skipped: usize,
}

/// Why a file could not be used at all (single bad records are skipped instead).
#[derive(Debug, thiserror::Error)]
pub enum EventsFileError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not JSON: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error(
        "{path} holds no CloudTrail records: expected {{\"Records\": [...]}}, {{\"Events\": [...]}} or a JSON array"
    )]
    Shape { path: String },
}

impl Loaded {
    /// Reads a file; `.gz` files (and any file starting with the gzip magic) are decompressed.
    pub fn from_path(path: &Path) -> Result<Self, EventsFileError> {
        let name = path.display().to_string();
        let raw = std::fs::read(path).map_err(|source| EventsFileError::Io {
            path: name.clone(),
            source,
        })?;
        let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .map_err(|source| EventsFileError::Io {
                    path: name.clone(),
                    source,
                })?;
            out
        } else {
            raw
        };
        Self::from_json(&bytes, name)
    }

    pub fn from_json(bytes: &[u8], origin: String) -> Result<Self, EventsFileError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|source| EventsFileError::Json {
                path: origin.clone(),
                source,
            })?;
        let mut loaded = Self {
            origin,
            activities: Vec::new(),
            skipped: 0,
        };
        match value {
            Value::Array(records) => loaded.add_records(records),
            Value::Object(mut map) => match (map.remove("Records"), map.remove("Events")) {
                (Some(Value::Array(records)), _) => loaded.add_records(records),
                (_, Some(Value::Array(events))) => loaded.add_lookup_events(events),
                _ => {
                    return Err(EventsFileError::Shape {
                        path: loaded.origin,
                    })
                }
            },
            _ => {
                return Err(EventsFileError::Shape {
                    path: loaded.origin,
                })
            }
        }
        loaded.activities.sort_by(|a, b| {
            b.time
                .cmp(&a.time)
                .then_with(|| a.event_id.cmp(&b.event_id))
        });
        Ok(loaded)
    }

    fn add_records(&mut self, records: Vec<Value>) {
        for record in records {
            self.keep(parse_record_value(record));
        }
    }

    fn add_lookup_events(&mut self, events: Vec<Value>) {
        for event in events {
            match event.get("CloudTrailEvent").and_then(Value::as_str) {
                Some(json) => self.keep(parse_record(json)),
                None => self.skipped += 1,
            }
        }
    }

    fn keep(&mut self, parsed: Result<Option<Activity>, super::record::RecordError>) {
        match parsed {
            Ok(Some(activity)) => self.activities.push(activity),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(origin = %self.origin, error = %e, "skipping unreadable record");
                self.skipped += 1;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.activities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.activities.is_empty()
    }

    /// The activities inside the window, newest first.
    pub fn within(&self, window: &TimeWindow) -> Fetched {
        Fetched {
            activities: self
                .activities
                .iter()
                .filter(|a| window.contains(a.time))
                .cloned()
                .collect(),
            skipped: self.skipped,
            calls: 0,
            sources: 1,
            failures: Vec::new(),
        }
    }

    /// Moves every activity by the same amount so the newest one happened `ago` before `now`.
    /// The demo uses this so its bundled samples always fall inside the default window.
    pub fn rebase(&mut self, now: DateTime<Utc>, ago: Duration) {
        if let Some(newest) = self.activities.first().map(|a| a.time) {
            let shift = (now - ago) - newest;
            for a in &mut self.activities {
                a.time += shift;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::WindowSpec;

    fn everything() -> TimeWindow {
        WindowSpec::Since("2000-01-01".parse().unwrap())
            .resolve_unbounded(Utc::now())
            .unwrap()
    }

    #[test]
    fn reads_lookup_events_output() {
        let bytes = include_bytes!("../../tests/fixtures/lookup-events-response-page.json");
        let loaded = Loaded::from_json(bytes, "page".into()).unwrap();
        let names: Vec<_> = loaded
            .within(&everything())
            .activities
            .iter()
            .map(|a| a.event_name.clone())
            .collect();
        assert_eq!(
            names,
            [
                "AcceptAgreementRequest",
                "CancelAgreement",
                "AcceptAgreementRequest"
            ]
        );
    }

    #[test]
    fn reads_a_gzipped_trail_log_and_skips_other_services_and_junk() {
        let accept: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/cloudtrail-accept-agreement-request.json"
        ))
        .unwrap();
        let log = serde_json::json!({"Records": [
            accept,
            {"eventName": "PutObject", "eventSource": "s3.amazonaws.com", "eventTime": "2026-11-02T15:40:00Z"},
            {"eventName": 7}
        ]});
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trail.json.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, log.to_string().as_bytes()).unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let loaded = Loaded::from_path(&path).unwrap();
        let fetched = loaded.within(&everything());
        assert_eq!(fetched.activities.len(), 1);
        assert_eq!(fetched.skipped, 1);
    }

    #[test]
    fn wrong_shapes_say_what_was_expected() {
        let err = Loaded::from_json(br#"{"foo": 1}"#, "x.json".into()).unwrap_err();
        assert!(err.to_string().contains("expected {\"Records\""), "{err}");
        assert!(Loaded::from_json(b"nope", "x.json".into()).is_err());
    }
}
