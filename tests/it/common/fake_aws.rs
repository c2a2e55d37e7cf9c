//! A fake AWS on loopback: CloudTrail, STS (AssumeRole), Organizations (ListAccounts) and the
//! Marketplace Agreement API behind one endpoint, each in its real protocol. CloudTrail speaks JSON 1.1 like the real one: `LookupEvents` with
//! pagination (`NextToken` tied to the request's parameters), time filtering, newest first,
//! ThrottlingException when called more than twice in any second for one region, and
//! AccessDenied on demand. The region of each call is read from its SigV4 credential scope.

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
    /// DescribeAgreement answers by agreement id (the CBOR map's fields, as JSON).
    agreements: HashMap<String, Value>,
    /// The Agreement API answers AccessDenied.
    agreements_denied: bool,
    /// GetAgreementTerms answers by agreement id (`acceptedTerms`, as JSON).
    terms: HashMap<String, Value>,
    terms_denied: bool,
    /// The Agreement API answers this late.
    agreements_delay: Duration,
    agreement_calls: usize,
    /// Role ARNs AssumeRole refuses.
    roles_denied: Vec<String>,
    assume_role_calls: Vec<String>,
    /// AssumeRole answers this late.
    sts_delay: Duration,
    /// AssumeRole calls being answered now, and the most there were at once.
    sts_in_flight: (usize, usize),
    /// LookupEvents calls being answered now, and the most there were at once.
    lookups_in_flight: (usize, usize),
    /// Every LookupEvents answers this late (unless its region has its own delay).
    cloudtrail_delay: Duration,
    /// The organization's accounts, as ListAccounts lists them.
    organization: Vec<Value>,
    list_accounts_calls: usize,
    /// ListAccounts answers AccessDenied (not the management account, or no permission).
    list_accounts_denied: bool,
    regions: HashMap<String, RegionData>,
    calls: Vec<Call>,
    /// Set by [`FakeAws::set_fault`]: every call fails this way until cleared.
    fault: Option<Fault>,
    faulted: usize,
}

#[derive(Clone)]
pub struct FakeAws {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

const PAGE: usize = 50;

impl FakeAws {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/", post(handle))
            .route("/service/{*operation}", post(agreement_api))
            .with_state(inner.clone());
        let listener = FaultyListener {
            listener,
            inner: inner.clone(),
        };
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
    if let Some(fault) = take_fault(&inner) {
        return fault.answer().await;
    }
    if body.starts_with(b"Action=") {
        let delay = {
            let mut guard = inner.lock().unwrap();
            guard.sts_in_flight.0 += 1;
            guard.sts_in_flight.1 = guard.sts_in_flight.1.max(guard.sts_in_flight.0);
            guard.sts_delay
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        inner.lock().unwrap().sts_in_flight.0 -= 1;
        return sts(&inner, &body);
    }
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if target == "AWSOrganizationsV20161128.ListAccounts" {
        return list_accounts(&inner, &body);
    }
    if !target.ends_with(".LookupEvents") {
        return error("UnknownOperationException", "only LookupEvents is faked");
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error("SerializationException", "bad JSON");
    };
    // Calls made with an assumed role's credentials (ASIA + account id, see `sts`) keep their
    // data apart per account: "111122223333/us-east-1".
    let region = match account_of(&headers) {
        Some(account) => format!("{account}/{}", region_of(&headers)),
        None => region_of(&headers),
    };
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
        let default_delay = guard.cloudtrail_delay;
        let data = guard.regions.entry(region.clone()).or_default();
        delay = if data.delay.is_zero() {
            default_delay
        } else {
            data.delay
        };
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
    {
        let mut guard = inner.lock().unwrap();
        guard.lookups_in_flight.0 += 1;
        guard.lookups_in_flight.1 = guard.lookups_in_flight.1.max(guard.lookups_in_flight.0);
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    inner.lock().unwrap().lookups_in_flight.0 -= 1;
    response
}

/// How the fake fails when told to ([`FakeAws::set_fault`]): what a broken network, a
/// proxy in the way or a sick endpoint does, rather than an AWS error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Reads the request and never answers.
    Hang,
    /// Resets the connection (TCP RST) as soon as the request arrives, without answering.
    Reset,
    /// Answers 200 with a body that is not JSON.
    Garbage,
    /// Answers 502 with an HTML error page, as a load balancer or proxy does.
    HtmlErrorPage,
}

impl FakeAws {
    /// Every call (and, for [`Fault::Reset`], every new connection) fails this way until
    /// `set_fault(None)`. Failed calls are counted by [`FakeAws::faulted`], not in
    /// [`FakeAws::calls`].
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.inner.lock().unwrap().fault = fault;
    }

    /// Calls (or connections) that met a fault.
    pub fn faulted(&self) -> usize {
        self.inner.lock().unwrap().faulted
    }
}

fn take_fault(inner: &Mutex<Inner>) -> Option<Fault> {
    let mut inner = inner.lock().unwrap();
    let fault = inner.fault?;
    inner.faulted += 1;
    Some(fault)
}

impl Fault {
    async fn answer(self) -> Response {
        match self {
            // Reset is done by the listener; a connection that got here was opened before.
            Self::Hang | Self::Reset => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                StatusCode::GATEWAY_TIMEOUT.into_response()
            }
            Self::Garbage => (
                [("content-type", "application/x-amz-json-1.1")],
                "\u{0}\u{1f}garbage\u{8b}{{{{\"Events\": [",
            )
                .into_response(),
            Self::HtmlErrorPage => (
                StatusCode::BAD_GATEWAY,
                [("content-type", "text/html")],
                "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>",
            )
                .into_response(),
        }
    }
}

/// The fake's listener: hands connections to axum, except while [`Fault::Reset`] is set, when
/// it reads the request and resets the connection instead.
struct FaultyListener {
    listener: tokio::net::TcpListener,
    inner: Arc<Mutex<Inner>>,
}

impl axum::serve::Listener for FaultyListener {
    type Io = tokio::net::TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let reset = {
                let mut inner = self.inner.lock().unwrap();
                let reset = inner.fault == Some(Fault::Reset);
                inner.faulted += usize::from(reset);
                reset
            };
            if !reset {
                return (stream, addr);
            }
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                let _ =
                    tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await;
                // Closing with a zero linger sends RST instead of FIN.
                let _ = stream.set_zero_linger();
                drop(stream);
            });
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

// --- STS AssumeRole (query protocol) and the Marketplace Agreement API (RPC v2 CBOR) -------

impl FakeAws {
    /// Data for `account_id` in `region`, as seen through a role assumed in that account.
    pub fn add_account_records(
        &self,
        account_id: &str,
        region: &str,
        records: impl IntoIterator<Item = Value>,
    ) {
        self.add_records(&format!("{account_id}/{region}"), records);
    }

    pub fn deny_role(&self, role_arn: &str) {
        self.inner
            .lock()
            .unwrap()
            .roles_denied
            .push(role_arn.to_owned());
    }

    pub fn assume_role_calls(&self) -> Vec<String> {
        self.inner.lock().unwrap().assume_role_calls.clone()
    }

    /// The most AssumeRole and LookupEvents calls answered at once.
    pub fn most_in_flight(&self) -> (usize, usize) {
        let inner = self.inner.lock().unwrap();
        (inner.sts_in_flight.1, inner.lookups_in_flight.1)
    }

    pub fn delay_sts(&self, d: Duration) {
        self.inner.lock().unwrap().sts_delay = d;
    }

    /// Every LookupEvents (in a region without its own delay) answers `d` late.
    pub fn delay_cloudtrail(&self, d: Duration) {
        self.inner.lock().unwrap().cloudtrail_delay = d;
    }

    /// Adds an account to the organization, in `state` (ACTIVE, SUSPENDED, PENDING_CLOSURE…).
    pub fn add_org_account(&self, id: &str, name: &str, state: &str) {
        self.inner.lock().unwrap().organization.push(json!({
            "Id": id,
            "Arn": format!("arn:aws:organizations::999999999999:account/o-example/{id}"),
            "Email": format!("aws+{id}@example.com"),
            "Name": name,
            "State": state,
            "JoinedMethod": "CREATED",
            "JoinedTimestamp": 1_700_000_000,
        }));
    }

    pub fn deny_list_accounts(&self) {
        self.inner.lock().unwrap().list_accounts_denied = true;
    }

    pub fn list_accounts_calls(&self) -> usize {
        self.inner.lock().unwrap().list_accounts_calls
    }

    /// What DescribeAgreement (and SearchAgreements) answer for `agreement_id`.
    pub fn add_agreement(&self, agreement_id: &str, description: Value) {
        self.inner
            .lock()
            .unwrap()
            .agreements
            .insert(agreement_id.to_owned(), description);
    }

    /// What GetAgreementTerms answers for `agreement_id`: its `acceptedTerms` list.
    pub fn add_terms(&self, agreement_id: &str, accepted_terms: Value) {
        self.inner
            .lock()
            .unwrap()
            .terms
            .insert(agreement_id.to_owned(), accepted_terms);
    }

    /// GetAgreementTerms answers AccessDenied (DescribeAgreement still works).
    pub fn deny_terms(&self) {
        self.inner.lock().unwrap().terms_denied = true;
    }

    pub fn deny_agreements(&self) {
        self.inner.lock().unwrap().agreements_denied = true;
    }

    pub fn delay_agreements(&self, d: Duration) {
        self.inner.lock().unwrap().agreements_delay = d;
    }

    pub fn agreement_calls(&self) -> usize {
        self.inner.lock().unwrap().agreement_calls
    }
}

/// The account of an assumed role's access key (`ASIA` + 12 digits, as `sts` hands out).
fn account_of(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let key = auth.split("Credential=").nth(1)?.split('/').next()?;
    let account = key.strip_prefix("ASIA")?;
    (account.len() == 12).then(|| account.to_owned())
}

/// Organizations' ListAccounts (JSON 1.1), 20 accounts a page as the real one at most.
fn list_accounts(inner: &Mutex<Inner>, body: &[u8]) -> Response {
    const ORG_PAGE: usize = 20;
    let req: Value = serde_json::from_slice(body).unwrap_or_default();
    let mut inner = inner.lock().unwrap();
    inner.list_accounts_calls += 1;
    if inner.list_accounts_denied {
        return error(
            "AccessDeniedException",
            "You don't have permissions to access this resource.",
        );
    }
    let offset = match req["NextToken"].as_str() {
        None => 0,
        Some(t) => match t.strip_prefix("org:").and_then(|o| o.parse().ok()) {
            Some(o) => o,
            None => return error("InvalidInputException", "bad NextToken"),
        },
    };
    let page: Vec<&Value> = inner
        .organization
        .iter()
        .skip(offset)
        .take(ORG_PAGE)
        .collect();
    let mut body = json!({ "Accounts": page });
    if offset + ORG_PAGE < inner.organization.len() {
        body["NextToken"] = json!(format!("org:{}", offset + ORG_PAGE));
    }
    (
        [("content-type", "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}

/// The account of the tests' own credentials (`AKIDTEST`), as GetCallerIdentity says.
pub const OWN_ACCOUNT: &str = "999999999999";

fn sts(inner: &Mutex<Inner>, body: &[u8]) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    if form.get("Action").map(String::as_str) == Some("GetCallerIdentity") {
        let xml = format!(
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>\
<Arn>arn:aws:iam::{OWN_ACCOUNT}:user/app</Arn><UserId>AIDAFAKE</UserId><Account>{OWN_ACCOUNT}</Account>\
</GetCallerIdentityResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        );
        return ([("content-type", "text/xml")], xml).into_response();
    }
    let role = form.get("RoleArn").cloned().unwrap_or_default();
    let mut inner = inner.lock().unwrap();
    inner.assume_role_calls.push(role.clone());
    if form.get("Action").map(String::as_str) != Some("AssumeRole") {
        return (StatusCode::BAD_REQUEST, "only AssumeRole is faked").into_response();
    }
    if inner.roles_denied.contains(&role) {
        let xml = format!("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::999999999999:user/app is not authorized to perform: sts:AssumeRole on resource: {role}</Message></Error><RequestId>fake</RequestId></ErrorResponse>");
        return (StatusCode::FORBIDDEN, [("content-type", "text/xml")], xml).into_response();
    }
    let account = role.split(':').nth(4).unwrap_or("000000000000");
    let xml = format!(
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult><Credentials>\
<AccessKeyId>ASIA{account}</AccessKeyId><SecretAccessKey>fake-secret</SecretAccessKey><SessionToken>fake-token</SessionToken>\
<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROAFAKE:marketplace-activity</AssumedRoleId>\
<Arn>arn:aws:sts::{account}:assumed-role/Read/marketplace-activity</Arn></AssumedRoleUser></AssumeRoleResult>\
<ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></AssumeRoleResponse>"
    );
    ([("content-type", "text/xml")], xml).into_response()
}

/// JSON to CBOR, with the fields named `*Time` (epoch seconds) as CBOR timestamps (tag 1).
fn to_cbor(v: &Value, key: &str) -> ciborium::Value {
    use ciborium::Value as C;
    match v {
        Value::Null => C::Null,
        Value::Bool(b) => C::Bool(*b),
        Value::Number(n) if key.ends_with("Time") || key.ends_with("Date") => {
            C::Tag(1, Box::new(C::Float(n.as_f64().unwrap())))
        }
        Value::Number(n) => n
            .as_i64()
            .map_or_else(|| C::Float(n.as_f64().unwrap()), |i| C::Integer(i.into())),
        Value::String(s) => C::Text(s.clone()),
        Value::Array(items) => C::Array(items.iter().map(|i| to_cbor(i, "")).collect()),
        Value::Object(map) => C::Map(
            map.iter()
                .map(|(k, v)| (C::Text(k.clone()), to_cbor(v, k)))
                .collect(),
        ),
    }
}

fn cbor_reply(status: StatusCode, v: &Value) -> Response {
    let mut body = Vec::new();
    ciborium::into_writer(&to_cbor(v, ""), &mut body).unwrap();
    (
        status,
        [
            ("content-type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
        ],
        body,
    )
        .into_response()
}

async fn agreement_api(
    State(inner): State<Arc<Mutex<Inner>>>,
    axum::extract::Path(operation): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Through an assumed role, SearchAgreements sees that account's agreements only.
    let caller = account_of(&headers);
    let request: ciborium::Value =
        ciborium::from_reader(&body[..]).unwrap_or(ciborium::Value::Null);
    let field = |name: &str| -> Option<String> {
        request
            .as_map()?
            .iter()
            .find(|(k, _)| k.as_text() == Some(name))
            .and_then(|(_, v)| v.as_text().map(str::to_owned))
    };
    let (delay, answer) = {
        let mut inner = inner.lock().unwrap();
        inner.agreement_calls += 1;
        let answer = if inner.agreements_denied {
            cbor_reply(
                StatusCode::BAD_REQUEST,
                &json!({"__type": "AccessDeniedException", "message": "User is not authorized to perform: aws-marketplace:DescribeAgreement"}),
            )
        } else if operation.ends_with("/DescribeAgreement") {
            match field("agreementId").and_then(|id| inner.agreements.get(&id).cloned()) {
                Some(description) => cbor_reply(StatusCode::OK, &description),
                None => cbor_reply(
                    StatusCode::BAD_REQUEST,
                    &json!({"__type": "ResourceNotFoundException", "message": "Agreement not found"}),
                ),
            }
        } else if operation.ends_with("/GetAgreementTerms") {
            if inner.terms_denied {
                cbor_reply(
                    StatusCode::BAD_REQUEST,
                    &json!({"__type": "AccessDeniedException", "message": "User is not authorized to perform: aws-marketplace:GetAgreementTerms"}),
                )
            } else {
                let terms = field("agreementId")
                    .and_then(|id| inner.terms.get(&id).cloned())
                    .unwrap_or_else(|| json!([]));
                cbor_reply(StatusCode::OK, &json!({"acceptedTerms": terms}))
            }
        } else if operation.ends_with("/SearchAgreements") {
            let summaries: Vec<Value> = inner
                .agreements
                .values()
                .filter(|a| {
                    caller
                        .as_deref()
                        .is_none_or(|c| a["acceptor"]["accountId"] == c)
                })
                .cloned()
                .collect();
            cbor_reply(
                StatusCode::OK,
                &json!({"agreementViewSummaries": summaries}),
            )
        } else {
            cbor_reply(
                StatusCode::BAD_REQUEST,
                &json!({"__type": "UnknownOperationException", "message": operation}),
            )
        };
        (inner.agreements_delay, answer)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    answer
}
