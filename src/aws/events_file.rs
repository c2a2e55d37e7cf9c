//! CloudTrail records saved to files: trail logs as CloudTrail writes them to S3
//! (`{"Records":[…]}`, plain or gzip, one file per account, region and 5 minutes), saved
//! LookupEvents output (`{"Events":[…]}`, each with a `CloudTrailEvent` string), a JSON array
//! of records, or JSON Lines (one record, event or document per line).
//!
//! Any number of files and directories: directories are read recursively (`.json`,
//! `.json.gz`, `.jsonl`, `.ndjson`, plain or gzipped), so a trail's S3 prefix synced with
//! `aws s3 sync` is read as it is. A record in several files (same `eventID`) counts once.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::record::{parse_record, parse_record_value, RecordError, AGREEMENT_EVENT_SOURCE};
use super::Fetched;
use crate::domain::{
    names_account, Activity, ActivityKind, Examined, Filter, OutsideWindow, TimeWindow,
};
use crate::report::format::thousands;

/// Names of files read inside a directory (explicitly named files are read whatever their name).
const EXTENSIONS: [&str; 6] = [
    ".json",
    ".json.gz",
    ".jsonl",
    ".jsonl.gz",
    ".ndjson",
    ".ndjson.gz",
];
/// Files named in notes about files that could not be used; the rest are counted.
const PROBLEMS_KEPT: usize = 5;

/// Records loaded once, filtered by window on each lookup.
#[derive(Debug)]
pub struct Loaded {
    /// Where they came from, for messages: "trail.json", "1,234 files under ./trail".
    pub origin: String,
    /// Agreement activities, newest first, each `eventID` once.
    activities: Vec<Activity>,
    skipped: usize,
    read: ReadStats,
}

/// What reading found, besides the activities.
#[derive(Debug, Clone, Default)]
struct ReadStats {
    files: usize,
    records: usize,
    duplicates: usize,
    files_without_records: usize,
    /// "path: why", for the first few files that could not be used.
    problems: Vec<String>,
    problem_count: usize,
}

/// Why a file could not be used at all (single bad records are skipped instead). Messages are
/// whole sentences on one line; they carry no source, so an error chain doesn't repeat them.
#[derive(Debug, thiserror::Error)]
pub enum EventsFileError {
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{path} is not JSON or JSON Lines ({reason})")]
    Json { path: String, reason: String },
    #[error(
        "{path} holds no CloudTrail records: expected a trail log ({{\"Records\": [...]}}), saved \
         lookup-events output ({{\"Events\": [...]}}), a JSON array or JSON Lines of records"
    )]
    Shape { path: String },
    #[error("{path} holds no .json, .json.gz or JSON Lines files")]
    EmptyDirectory { path: String },
}

/// How far reading has got, for a progress display.
pub trait Progress: Sync {
    /// Called once the files to read are known.
    fn start(&self, files: usize);
    /// Called after each file, with the records it held.
    fn file_done(&self, records: usize);
}

/// No progress display.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: usize) {}
    fn file_done(&self, _: usize) {}
}

/// One file's contents, before de-duplication.
#[derive(Default)]
struct FileRead {
    records: usize,
    skipped: usize,
    activities: Vec<Activity>,
}

impl Loaded {
    /// Reads one file; `.gz` files (and any file starting with the gzip magic) are
    /// decompressed.
    pub fn from_path(path: &Path) -> Result<Self, EventsFileError> {
        Self::from_paths(&[path.to_owned()], &Quiet)
    }

    /// Reads files and directories (recursively). A file named here must hold records; a
    /// file found in a directory that holds none (a CloudTrail digest file) or can't be read
    /// is counted and named in the report, not fatal.
    pub fn from_paths(paths: &[PathBuf], progress: &dyn Progress) -> Result<Self, EventsFileError> {
        let mut files: Vec<(PathBuf, bool)> = Vec::new();
        let mut read = ReadStats::default();
        for path in paths {
            let meta = std::fs::metadata(path).map_err(|e| EventsFileError::Io {
                path: path.display().to_string(),
                reason: plain_io(&e),
            })?;
            if meta.is_dir() {
                let before = files.len();
                walk(path, &mut files, &mut read);
                if files.len() == before {
                    return Err(EventsFileError::EmptyDirectory {
                        path: path.display().to_string(),
                    });
                }
            } else {
                files.push((path.clone(), true));
            }
        }
        progress.start(files.len());
        let results = read_all(&files, progress);
        let mut loaded = Self {
            origin: describe(paths, files.len()),
            activities: Vec::new(),
            skipped: 0,
            read,
        };
        let mut seen = HashSet::new();
        for ((path, named), result) in files.iter().zip(results) {
            let name = path.display().to_string();
            let file = match result {
                Ok(file) => file,
                Err(e) if *named => return Err(e),
                Err(EventsFileError::Shape { .. }) => {
                    loaded.read.files_without_records += 1;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(file = %name, error = %e, "skipping a file that cannot be read");
                    loaded.read.problem(e.to_string());
                    continue;
                }
            };
            loaded.read.files += 1;
            loaded.read.records += file.records;
            loaded.skipped += file.skipped;
            for activity in file.activities {
                if !activity.event_id.is_empty() && !seen.insert(activity.event_id.clone()) {
                    loaded.read.duplicates += 1;
                    continue;
                }
                loaded.activities.push(activity);
            }
        }
        loaded.sort();
        Ok(loaded)
    }

    /// Reads one document or JSON Lines held in memory (the demo's samples, the fuzzer).
    pub fn from_json(bytes: &[u8], origin: String) -> Result<Self, EventsFileError> {
        let file = parse_file(bytes, &origin)?;
        let mut loaded = Self {
            origin,
            skipped: file.skipped,
            read: ReadStats {
                files: 1,
                records: file.records,
                ..ReadStats::default()
            },
            activities: file.activities,
        };
        loaded.sort();
        Ok(loaded)
    }

    fn sort(&mut self) {
        self.activities.sort_by(|a, b| {
            b.time
                .cmp(&a.time)
                .then_with(|| a.event_id.cmp(&b.event_id))
        });
    }

    pub fn len(&self) -> usize {
        self.activities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.activities.is_empty()
    }

    /// The activities inside the window, newest first.
    pub fn within(&self, window: &TimeWindow) -> Fetched {
        self.lookup(window, None, &Filter::All)
    }

    /// The activities inside the window (of the account `account` names, when given), newest
    /// first, and what was read: how many records, and when those that `filter` wants but fall
    /// outside the window happened (read-only calls aside: they are never listed).
    pub fn lookup(&self, window: &TimeWindow, account: Option<&str>, filter: &Filter) -> Fetched {
        let mut activities = Vec::new();
        let mut outside: Option<OutsideWindow> = None;
        let mut agreement_records = 0;
        for a in &self.activities {
            if account.is_some_and(|w| {
                !names_account(a.account_alias.as_deref(), a.account_id.as_deref(), w)
            }) {
                continue;
            }
            agreement_records += 1;
            if window.contains(a.time) {
                activities.push(a.clone());
            } else if filter.matches(a) && !matches!(a.kind, ActivityKind::Read(_)) {
                let o = outside.get_or_insert(OutsideWindow {
                    count: 0,
                    first: a.time,
                    last: a.time,
                });
                o.count += 1;
                o.first = o.first.min(a.time);
                o.last = o.last.max(a.time);
            }
        }
        let r = &self.read;
        Fetched {
            activities,
            skipped: self.skipped,
            calls: 0,
            sources: 1,
            accounts: 0,
            failures: Vec::new(),
            examined: Examined {
                source: self.origin.clone(),
                files: r.files,
                records: r.records,
                agreement_records,
                duplicates: r.duplicates,
                files_without_records: r.files_without_records,
                unreadable_files: r.problems.clone(),
                unreadable_file_count: r.problem_count,
                outside_window: outside,
            },
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

impl ReadStats {
    fn problem(&mut self, what: String) {
        self.problem_count += 1;
        if self.problems.len() < PROBLEMS_KEPT {
            self.problems.push(what);
        }
    }
}

/// "trail.json", "3 files: a.json, b.json, c.json", "20,000 files under ./trail".
fn describe(paths: &[PathBuf], files: usize) -> String {
    match paths {
        [one] if files == 1 => one.display().to_string(),
        [one] => format!("{} files under {}", thousands(files), one.display()),
        many => format!(
            "{} files from {}",
            thousands(files),
            many.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Collects the files under `dir` whose names say JSON, in path order (so the first of two
/// copies of a record is always the same one).
fn walk(dir: &Path, files: &mut Vec<(PathBuf, bool)>, read: &mut ReadStats) {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                read.problem(format!("cannot read {}: {}", dir.display(), plain_io(&e)));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // Follows symbolic links, as `ls -L` would; a broken one is skipped.
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => pending.push(path),
                Ok(m) if m.is_file() && has_json_name(&path) => found.push(path),
                _ => {}
            }
        }
    }
    found.sort();
    files.extend(found.into_iter().map(|p| (p, false)));
}

fn has_json_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    !name.starts_with('.') && EXTENSIONS.iter().any(|ext| name.ends_with(ext))
}

/// Reads and parses every file, on as many threads as there are cores (parsing is the cost,
/// not the disk). Results come back in the files' order.
fn read_all(
    files: &[(PathBuf, bool)],
    progress: &dyn Progress,
) -> Vec<Result<FileRead, EventsFileError>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<FileRead, EventsFileError>>>> =
        files.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((path, _)) = files.get(i) else {
                    break;
                };
                let result = read_file(path);
                progress.file_done(result.as_ref().map_or(0, |f| f.records));
                *crate::sync::lock(&slots[i]) = Some(result);
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .expect("every file is read before the threads end")
        })
        .collect()
}

fn read_file(path: &Path) -> Result<FileRead, EventsFileError> {
    let name = path.display().to_string();
    let io = |e: std::io::Error| EventsFileError::Io {
        path: name.clone(),
        reason: plain_io(&e),
    };
    let raw = std::fs::read(path).map_err(io)?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| EventsFileError::Io {
                path: name.clone(),
                reason: format!("not a readable gzip file ({})", plain_io(&e)),
            })?;
        out
    } else {
        raw
    };
    parse_file(&bytes, &name)
}

/// One file's bytes: a single JSON document, or several (JSON Lines, or documents one after
/// another). A JSON Lines file with a broken line keeps its other lines (the broken one is
/// counted as skipped).
fn parse_file(bytes: &[u8], name: &str) -> Result<FileRead, EventsFileError> {
    let mut values = Vec::new();
    let mut broken = 0;
    let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<Value>();
    let failed = loop {
        match stream.next() {
            Some(Ok(v)) => values.push(v),
            Some(Err(e)) => break Some(e),
            None => break None,
        }
    };
    if let Some(error) = failed {
        match by_lines(bytes) {
            Some((lines, bad)) => {
                values = lines;
                broken = bad;
            }
            None => {
                return Err(EventsFileError::Json {
                    path: name.to_owned(),
                    reason: error.to_string(),
                })
            }
        }
    }
    let mut file = FileRead {
        skipped: broken,
        ..FileRead::default()
    };
    let mut recognised = false;
    for value in values {
        recognised |= add_value(value, &mut file);
    }
    if !recognised {
        return Err(EventsFileError::Shape {
            path: name.to_owned(),
        });
    }
    Ok(file)
}

/// The file as JSON Lines, when at least one line is a JSON object by itself: the values of
/// the lines that parse, and how many did not. `None` for a document that is just broken.
fn by_lines(bytes: &[u8]) -> Option<(Vec<Value>, usize)> {
    let mut values = Vec::new();
    let mut bad = 0;
    for line in bytes.split(|b| *b == b'\n') {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(v @ Value::Object(_)) => values.push(v),
            _ => bad += 1,
        }
    }
    (!values.is_empty()).then_some((values, bad))
}

/// Adds one JSON value: a trail log, saved LookupEvents output, an array of records, one
/// record, one LookupEvents event or one EventBridge event wrapping a record. Returns whether
/// it was any of those.
fn add_value(value: Value, file: &mut FileRead) -> bool {
    match value {
        Value::Array(records) => {
            for record in records {
                add_record(record, file);
            }
            true
        }
        Value::Object(mut map) => {
            match (map.remove("Records"), map.remove("Events")) {
                (Some(Value::Array(records)), _) => {
                    for record in records {
                        add_record(record, file);
                    }
                    return true;
                }
                (_, Some(Value::Array(events))) => {
                    for event in events {
                        add_lookup_event(&event, file);
                    }
                    return true;
                }
                _ => {}
            }
            if map.contains_key("CloudTrailEvent") {
                add_lookup_event(&Value::Object(map), file);
                true
            } else if map.contains_key("eventName") || map.contains_key("eventSource") {
                add_record(Value::Object(map), file);
                true
            } else if let Some(detail @ Value::Object(_)) = map.remove("detail") {
                // An archived EventBridge event: its detail is the record.
                add_record(detail, file);
                true
            } else {
                file.skipped += 1;
                false
            }
        }
        _ => {
            file.skipped += 1;
            false
        }
    }
}

fn add_record(record: Value, file: &mut FileRead) {
    file.records += 1;
    // Trail logs hold every service's records: skip the others before parsing them.
    if record
        .get("eventSource")
        .and_then(Value::as_str)
        .is_some_and(|s| s != AGREEMENT_EVENT_SOURCE)
    {
        return;
    }
    keep(parse_record_value(record), file);
}

fn add_lookup_event(event: &Value, file: &mut FileRead) {
    file.records += 1;
    match event.get("CloudTrailEvent").and_then(Value::as_str) {
        Some(json) => keep(parse_record(json), file),
        None => file.skipped += 1,
    }
}

fn keep(parsed: Result<Option<Activity>, RecordError>, file: &mut FileRead) {
    match parsed {
        Ok(Some(activity)) => file.activities.push(activity),
        Ok(None) => {}
        Err(e) => {
            tracing::debug!(error = %e, "skipping unreadable record");
            file.skipped += 1;
        }
    }
}

/// An I/O error in plain words: "no such file or directory", "permission denied".
fn plain_io(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound => "no such file or directory".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::IsADirectory => "it is a directory".into(),
        ErrorKind::InvalidData | ErrorKind::UnexpectedEof => "the data is damaged".into(),
        _ => {
            // The OS's own words without "(os error N)".
            let text = e.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_ascii_lowercase(),
                None => text,
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

    fn accept() -> Value {
        serde_json::from_str(include_str!(
            "../../tests/fixtures/cloudtrail-accept-agreement-request.json"
        ))
        .unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, bytes).unwrap();
        gz.finish().unwrap()
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
        let log = serde_json::json!({"Records": [
            accept(),
            {"eventName": "PutObject", "eventSource": "s3.amazonaws.com", "eventTime": "2026-11-02T15:40:00Z"},
            {"eventName": 7}
        ]});
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trail.json.gz");
        std::fs::write(&path, gzip(log.to_string().as_bytes())).unwrap();
        let loaded = Loaded::from_path(&path).unwrap();
        let fetched = loaded.within(&everything());
        assert_eq!(fetched.activities.len(), 1);
        assert_eq!(fetched.skipped, 1);
        assert_eq!(fetched.examined.records, 3);
        assert_eq!(fetched.examined.agreement_records, 1);
    }

    #[test]
    fn wrong_shapes_say_what_was_expected() {
        let err = Loaded::from_json(br#"{"foo": 1}"#, "x.json".into()).unwrap_err();
        assert!(err.to_string().contains("expected a trail log"), "{err}");
        let err = Loaded::from_json(b"nope", "x.json".into()).unwrap_err();
        assert!(err.to_string().starts_with("x.json is not JSON"), "{err}");
        let err = Loaded::from_json(b"{\n  \"Records\": [\n", "x.json".into()).unwrap_err();
        assert!(err.to_string().starts_with("x.json is not JSON"), "{err}");
    }

    #[test]
    fn a_missing_file_is_said_once_in_plain_words() {
        let err = Loaded::from_path(Path::new("/nonexistent/trail.json")).unwrap_err();
        assert_eq!(
            format!("{:#}", anyhow::Error::from(err)),
            "cannot read /nonexistent/trail.json: no such file or directory"
        );
    }

    #[test]
    fn json_lines_of_records_with_a_broken_line() {
        let mut other = accept();
        other["eventID"] = "second".into();
        other["eventTime"] = "2026-11-03T10:00:00Z".into();
        let text = format!("{}\n\n{{broken\n{}\n", accept(), other);
        let loaded = Loaded::from_json(text.as_bytes(), "x.jsonl".into()).unwrap();
        let fetched = loaded.within(&everything());
        assert_eq!(fetched.activities.len(), 2);
        assert_eq!(fetched.skipped, 1, "the broken line");
    }

    #[test]
    fn directories_are_read_recursively_and_records_count_once() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir
            .path()
            .join("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/02");
        std::fs::create_dir_all(&deep).unwrap();
        let digest = dir
            .path()
            .join("AWSLogs/111122223333/CloudTrail-Digest/us-east-1");
        std::fs::create_dir_all(&digest).unwrap();
        let mut cancel = accept();
        cancel["eventID"] = "cancel-1".into();
        cancel["eventName"] = "CancelAgreement".into();
        let log = serde_json::json!({"Records": [accept()]}).to_string();
        std::fs::write(deep.join("a.json.gz"), gzip(log.as_bytes())).unwrap();
        // The same record again in another file, and JSON Lines with a new one.
        std::fs::write(deep.join("b.json"), &log).unwrap();
        std::fs::write(deep.join("c.jsonl"), format!("{}\n{}\n", accept(), cancel)).unwrap();
        std::fs::write(deep.join("notes.txt"), "not read").unwrap();
        std::fs::write(
            digest.join("d.json.gz"),
            gzip(br#"{"awsAccountId":"111122223333","digestPublicKeyFingerprint":"x"}"#),
        )
        .unwrap();
        std::fs::write(deep.join("broken.json"), "{").unwrap();
        let loaded = Loaded::from_paths(&[dir.path().to_owned()], &Quiet).unwrap();
        let fetched = loaded.within(&everything());
        let ids: Vec<_> = fetched
            .activities
            .iter()
            .map(|a| a.event_id.as_str())
            .collect();
        assert_eq!(ids.len(), 2, "{ids:?}");
        let e = &fetched.examined;
        assert_eq!((e.files, e.records, e.duplicates), (3, 4, 2));
        assert_eq!(e.files_without_records, 1, "the digest file");
        assert_eq!(e.unreadable_file_count, 1);
        assert!(e.unreadable_files[0].contains("broken.json"), "{e:?}");
        assert!(
            loaded.origin.starts_with("5 files under "),
            "{}",
            loaded.origin
        );
    }

    #[test]
    fn several_paths_and_an_empty_directory() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        std::fs::write(&a, serde_json::json!([accept()]).to_string()).unwrap();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let err = Loaded::from_paths(&[a.clone(), empty.clone()], &Quiet).unwrap_err();
        assert!(err
            .to_string()
            .ends_with("holds no .json, .json.gz or JSON Lines files"));
        let loaded = Loaded::from_paths(&[a.clone(), a], &Quiet).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded.within(&everything()).examined.duplicates, 1);
    }

    #[test]
    fn records_outside_the_window_are_counted_with_their_span() {
        let mut late = accept();
        late["eventID"] = "late".into();
        late["eventTime"] = "2023-09-07T08:00:00Z".into();
        let mut early = accept();
        early["eventTime"] = "2023-09-06T15:46:57Z".into();
        let loaded = Loaded::from_json(
            serde_json::json!([early, late]).to_string().as_bytes(),
            "s".into(),
        )
        .unwrap();
        let window = WindowSpec::LastDays(90)
            .resolve_unbounded(Utc::now())
            .unwrap();
        let fetched = loaded.within(&window);
        assert!(fetched.activities.is_empty());
        let outside = fetched.examined.outside_window.unwrap();
        assert_eq!(outside.count, 2);
        assert_eq!(outside.first.to_rfc3339(), "2023-09-06T15:46:57+00:00");
        assert_eq!(outside.window_word(), "2023-09-06..2023-09-07");
        // Only what the filter wants is offered: other agreements' records are not.
        let other = Filter::Agreement(crate::domain::AgreementId::parse("agmt-other").unwrap());
        let fetched = loaded.lookup(&window, None, &other);
        assert_eq!(fetched.examined.outside_window, None);
        assert_eq!(fetched.examined.agreement_records, 2);
    }
}
