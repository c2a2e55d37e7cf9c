//! A fake CloudTrail on loopback that speaks JSON 1.1 like the real one: `LookupEvents` with
//! pagination (`NextToken` tied to the request's parameters), time filtering, newest first,
//! ThrottlingException when called more than twice in any second for one region, and
//! AccessDenied on demand. The region of each call is read from its SigV4 credential scope.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

#[derive(Clone, Debug)]
pub struct Call {
    pub region: String,
    pub at: Instant,
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub next_token: Option<String>,
    pub attribute: Option<(String, String)>,
    pub max_results: Option<u64>,
    pub outcome: &'static str,
}

#[derive(Default)]
struct RegionData {
    /// (epoch seconds, LookupEvents event object), kept newest first.
    events: Vec<(i64, Value)>,
    access_denied: bool,
    throttle_next: u32,
    accepted: VecDeque<Instant>,
    /// Extra delay before answering, to simulate a slow CloudTrail.
    delay: Duration,
}

#[derive(Default)]
struct Inner {
    regions: HashMap<String, RegionData>,
    calls: Vec<Call>,
}

#[derive(Clone)]
pub struct FakeCloudTrail {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

const PAGE: usize = 50;

impl FakeCloudTrail {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/", post(handle))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, inner }
    }

    fn with_region<T>(&self, region: &str, f: impl FnOnce(&mut RegionData) -> T) -> T {
        let mut inner = self.inner.lock().unwrap();
        f(inner.regions.entry(region.to_owned()).or_default())
    }

    /// Adds CloudTrail records (the JSON CloudTrail writes); each becomes one event.
    pub fn add_records(&self, region: &str, records: impl IntoIterator<Item = Value>) {
        for record in records {
            let time = chrono::DateTime::parse_from_rfc3339(record["eventTime"].as_str().unwrap())
                .unwrap()
                .timestamp();
            let name = record["eventName"].as_str().unwrap_or("").to_owned();
            let id = record["eventID"].as_str().unwrap_or("").to_owned();
            self.add_raw(region, time, &id, &name, &record.to_string());
        }
    }

    /// Adds an event whose `CloudTrailEvent` string is exactly `cloudtrail_event`.
    pub fn add_raw(&self, region: &str, time: i64, id: &str, name: &str, cloudtrail_event: &str) {
        let event = json!({
            "EventId": id,
            "EventName": name,
            "ReadOnly": "false",
            "EventTime": time,
            "EventSource": "agreement-marketplace.amazonaws.com",
            "Resources": [],
            "CloudTrailEvent": cloudtrail_event,
        });
        self.with_region(region, |r| {
            r.events.push((time, event));
            r.events.sort_by_key(|e| std::cmp::Reverse(e.0));
        });
    }

    pub fn deny_access(&self, region: &str) {
        self.with_region(region, |r| r.access_denied = true);
    }

    pub fn throttle_next(&self, region: &str, n: u32) {
        self.with_region(region, |r| r.throttle_next = n);
    }

    pub fn delay(&self, region: &str, d: Duration) {
        self.with_region(region, |r| r.delay = d);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    pub fn throttled(&self) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.outcome == "throttled")
            .count()
    }
}

fn error(code: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amzn-errortype", code),
        ],
        json!({"__type": code, "message": message}).to_string(),
    )
        .into_response()
}

/// The region in `Credential=AKID/20261130/us-east-1/cloudtrail/aws4_request`.
fn region_of(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|cred| cred.split('/').nth(2))
        .unwrap_or("unsigned")
        .to_owned()
}

fn token_for(params: &str, offset: usize) -> String {
    format!("{offset}:{params}")
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !target.ends_with(".LookupEvents") {
        return error("UnknownOperationException", "only LookupEvents is faked");
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error("SerializationException", "bad JSON");
    };
    let region = region_of(&headers);
    let start = req["StartTime"].as_f64();
    let end = req["EndTime"].as_f64();
    let next_token = req["NextToken"].as_str().map(str::to_owned);
    let attribute = req["LookupAttributes"][0].as_object().map(|a| {
        (
            a["AttributeKey"].as_str().unwrap_or("").to_owned(),
            a["AttributeValue"].as_str().unwrap_or("").to_owned(),
        )
    });
    let max_results = req["MaxResults"].as_u64();
    let params = format!("{start:?}|{end:?}|{attribute:?}");
    let delay;
    let (outcome, response) = {
        let mut guard = inner.lock().unwrap();
        let data = guard.regions.entry(region.clone()).or_default();
        delay = data.delay;
        let now = Instant::now();
        while data
            .accepted
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            data.accepted.pop_front();
        }
        let result = if data.access_denied {
            ("denied", error("AccessDeniedException", &format!("User: arn:aws:iam::111122223333:user/app is not authorized to perform: cloudtrail:LookupEvents in {region}")))
        } else if data.throttle_next > 0 || data.accepted.len() >= 2 {
            data.throttle_next = data.throttle_next.saturating_sub(1);
            ("throttled", error("ThrottlingException", "Rate exceeded"))
        } else {
            data.accepted.push_back(now);
            let offset = match &next_token {
                None => Some(0),
                Some(t) => t
                    .split_once(':')
                    .filter(|(_, p)| *p == params)
                    .and_then(|(o, _)| o.parse().ok()),
            };
            match offset {
                None => (
                    "bad-token",
                    error("InvalidNextTokenException", "Invalid NextToken"),
                ),
                Some(offset) => {
                    let page = max_results.map_or(PAGE, |m| (m as usize).clamp(1, PAGE));
                    let matching: Vec<&Value> = data
                        .events
                        .iter()
                        .filter(|(t, _)| {
                            start.is_none_or(|s| *t as f64 >= s.floor())
                                && end.is_none_or(|e| *t as f64 <= e.ceil())
                        })
                        .map(|(_, e)| e)
                        .collect();
                    let events: Vec<&Value> =
                        matching.iter().skip(offset).take(page).copied().collect();
                    let mut body = json!({ "Events": events });
                    if offset + page < matching.len() {
                        body["NextToken"] = json!(token_for(&params, offset + page));
                    }
                    (
                        "ok",
                        (
                            [("content-type", "application/x-amz-json-1.1")],
                            body.to_string(),
                        )
                            .into_response(),
                    )
                }
            }
        };
        guard.calls.push(Call {
            region,
            at: now,
            start,
            end,
            next_token,
            attribute,
            max_results,
            outcome: result.0,
        });
        result
    };
    let _ = outcome;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    response
}
