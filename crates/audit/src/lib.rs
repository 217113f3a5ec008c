//! podpass's audit trail: one CloudTrail-like JSON line per decision, appended off the request path by
//! a writer thread, rotated by size, and read back with filters for `podpass audit`.
//!
//! An anonymous client can make tens of thousands of refusals a minute; written one line each,
//! they would rotate everything else away, the record of the attack included. So:
//!
//! - decisions about an established identity go to `audit.jsonl`, anonymous and
//!   unauthenticated ones (principal `anonymous` or `unauthenticated`) to `anonymous.jsonl`,
//!   each rotated on its own: a flood of the second never rotates the first;
//! - anonymous decisions are aggregated per source address and window
//!   ([`Rotation::anonymous_window`]): the first of each (address, service, operation, action,
//!   resource, decision, reason code) is written at once, its repeats in the window become one event with a
//!   `count` and a `lastEventTime`; an address gets at most [`Rotation::anonymous_per_source`]
//!   such groups per window, and what it does beyond that is one more event per window with
//!   the count. Every decision is counted, none is lost without a count;
//! - a rotated file of `audit.jsonl` younger than [`Rotation::keep_recent`] is never deleted,
//!   even beyond [`Rotation::keep`] files.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

/// Name of the live audit file inside the audit directory: decisions about established
/// identities.
pub const AUDIT_FILE: &str = "audit.jsonl";

/// Name of the live file of anonymous and unauthenticated decisions, aggregated.
pub const ANONYMOUS_FILE: &str = "anonymous.jsonl";

/// Most source addresses tracked per window; decisions of further addresses are aggregated
/// into one event per window under the address `*`.
const MAX_SOURCES: usize = 10_000;

/// Events waiting for the writer before new ones are dropped (and counted).
const QUEUE_CAPACITY: usize = 65_536;

/// How long the writer waits after writing a batch: the most an event waits under load.
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(5);

/// One audited decision: a credential issuance or an S3 authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When the decision was made (RFC 3339, UTC).
    #[serde(rename = "eventTime")]
    pub time: String,
    /// The service that decided, e.g. `s3.amazonaws.com` or `sts.amazonaws.com`.
    #[serde(rename = "eventSource")]
    pub source: String,
    /// The API operation, e.g. `GetObject` or `AssumeRoleWithWebIdentity`.
    #[serde(rename = "eventName")]
    pub operation: String,
    /// The caller's ARN, `anonymous`, or `unauthenticated` when the caller was not established.
    #[serde(rename = "principalArn")]
    pub principal: String,
    /// The access key id the request was signed with, if any.
    #[serde(
        rename = "accessKeyId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub access_key_id: Option<String>,
    /// The client address.
    #[serde(rename = "sourceIPAddress")]
    pub source_ip: String,
    /// The IAM action evaluated (`s3:GetObject`), empty when authentication failed first.
    pub action: String,
    /// The resource ARN evaluated.
    pub resource: String,
    /// The outcome.
    pub decision: AuditDecision,
    /// Why: the engine's explanation or the authentication error.
    pub reason: String,
    /// The request id returned to the caller.
    #[serde(rename = "requestID")]
    pub request_id: String,
}

/// The outcome of an audited decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditDecision {
    /// Allowed (or credentials issued).
    Allow,
    /// Refused.
    Deny,
}

impl AuditEvent {
    /// Whether the event is a refusal.
    pub fn is_denied(&self) -> bool {
        self.decision == AuditDecision::Deny
    }
}

/// Size, retention and flood limits of the audit files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate once a live file would exceed this many bytes.
    pub max_bytes: u64,
    /// Rotated files kept of each trail (`audit.jsonl.1` newest ... `audit.jsonl.N` oldest).
    pub keep: usize,
    /// A rotated file of authenticated decisions younger than this is never deleted, even
    /// beyond `keep` files; zero keeps only `keep`.
    pub keep_recent: Duration,
    /// Window over which anonymous decisions are aggregated.
    pub anonymous_window: Duration,
    /// Distinct anonymous events one source address may write per window; beyond, its
    /// decisions are only counted, in one event per window.
    pub anonymous_per_source: usize,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_bytes: 10 * 1024 * 1024,
            keep: 5,
            keep_recent: Duration::from_secs(15 * 60),
            anonymous_window: Duration::from_secs(60),
            anonymous_per_source: 100,
        }
    }
}

/// One line of the trail: an event and how many decisions it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The decision (for an aggregate: the first one it counts).
    #[serde(flatten)]
    pub event: AuditEvent,
    /// How many decisions the line stands for; lines written before aggregation existed, and
    /// single decisions, stand for one.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u64,
    /// Time of the last decision counted, for an aggregate.
    #[serde(
        rename = "lastEventTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_time: Option<String>,
}

fn one() -> u64 {
    1
}

fn is_one(count: &u64) -> bool {
    *count == 1
}

impl AuditEvent {
    /// Whether the caller's identity was not established (anonymous or bad signature).
    pub fn is_anonymous(&self) -> bool {
        self.principal == "anonymous" || self.principal == "unauthenticated"
    }
}

/// Why the audit log could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A file or directory operation failed.
    #[error("audit log {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The writer thread could not be started.
    #[error("cannot start the audit writer: {0}")]
    Spawn(io::Error),
    /// A `since` filter is not an RFC 3339 time.
    #[error("invalid time {0:?}: expected RFC 3339, e.g. 2026-11-28T23:00:00Z")]
    Time(String),
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.to_owned(),
        source,
    }
}

enum Message {
    Event(Box<AuditEvent>),
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Handle on the audit writer; cheap to clone, all clones append to the same files.
#[derive(Clone, Debug)]
pub struct AuditLog {
    sender: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
}

impl AuditLog {
    /// Opens (creating) `dir` and starts the writer thread appending to `dir/audit.jsonl`.
    pub fn open(dir: &Path, rotation: Rotation) -> Result<AuditLog, AuditError> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let writer = Writer::open(dir, rotation)?;
        let (sender, receiver) = sync_channel(QUEUE_CAPACITY);
        std::thread::Builder::new()
            .name("podpass-audit".to_owned())
            .spawn(move || writer.run(receiver))
            .map_err(AuditError::Spawn)?;
        Ok(AuditLog {
            sender,
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Queues `event` for writing; never blocks the request path. A full queue drops the event
    /// (counted in [`AuditLog::dropped`]) rather than stall requests.
    pub fn record(&self, event: AuditEvent) {
        match self.sender.try_send(Message::Event(Box::new(event))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("audit queue full: event dropped");
            }
            Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::error!("audit writer stopped: event dropped");
            }
        }
    }

    /// Waits until every event recorded before this call is written to the file.
    pub async fn flush(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        let sender = self.sender.clone();
        // `send` may block while the queue is full, so keep it off the async workers.
        let queued = tokio::task::spawn_blocking(move || sender.send(Message::Flush(done))).await;
        if matches!(queued, Ok(Ok(()))) {
            let _ = wait.await;
        }
    }

    /// Events dropped because the writer could not keep up or had stopped.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The writer thread's state: the two trails and the anonymous aggregation.
struct Writer {
    trail: RotatingWriter,
    anonymous: RotatingWriter,
    flood: Flood,
}

impl Writer {
    fn open(dir: &Path, rotation: Rotation) -> Result<Self, AuditError> {
        Ok(Writer {
            trail: RotatingWriter::open(dir, AUDIT_FILE, rotation, rotation.keep_recent)?,
            // Aggregated and bounded per source: plain size rotation.
            anonymous: RotatingWriter::open(dir, ANONYMOUS_FILE, rotation, Duration::ZERO)?,
            flood: Flood::new(rotation),
        })
    }

    fn run(mut self, receiver: Receiver<Message>) {
        loop {
            let first = match self.flood.deadline() {
                None => match receiver.recv() {
                    Ok(message) => message,
                    Err(_) => break,
                },
                Some(deadline) => {
                    match receiver.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    {
                        Ok(message) => message,
                        Err(RecvTimeoutError::Timeout) => {
                            self.close_window();
                            self.flush();
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            };
            let mut next = Some(first);
            // Drain what is queued, then flush once: one write syscall per burst.
            while let Some(message) = next {
                match message {
                    Message::Event(event) => self.append(*event),
                    Message::Flush(done) => {
                        self.close_window();
                        self.flush();
                        let _ = done.send(());
                    }
                }
                next = receiver.try_recv().ok();
            }
            if self.flood.expired() {
                self.close_window();
            }
            self.flush();
            // Let the next events gather before looking again: under load the writer then is
            // never parked in `recv`, so recording an event costs no thread wake-up (a syscall
            // and a context switch, measured at ~20 µs of request latency on two cores). When
            // idle it parks, and a lone event is written at once.
            std::thread::sleep(BATCH_WINDOW);
        }
        self.close_window();
        self.flush();
    }

    fn append(&mut self, event: AuditEvent) {
        if !event.is_anonymous() {
            self.trail.append(&event);
            return;
        }
        if self.flood.expired() {
            self.close_window();
        }
        if let Some(event) = self.flood.admit(event) {
            self.anonymous.append(&event);
        }
    }

    /// Writes the aggregates of the current window and starts a new one.
    fn close_window(&mut self) {
        for record in self.flood.drain() {
            self.anonymous.append(&record);
        }
    }

    fn flush(&mut self) {
        self.trail.flush();
        self.anonymous.flush();
    }
}

/// What anonymous sources did in the current window.
struct Flood {
    window: Duration,
    per_source: usize,
    started: Option<Instant>,
    sources: HashMap<String, SourceWindow>,
    /// Decisions of addresses beyond `MAX_SOURCES`, by decision (deny, allow).
    others: [Option<Pending>; 2],
}

#[derive(Default)]
struct SourceWindow {
    /// Groups written this window, with their repeats since.
    groups: HashMap<GroupKey, Option<Pending>>,
    /// Decisions beyond `per_source` groups, by decision (deny, allow).
    beyond: [Option<Pending>; 2],
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct GroupKey {
    service: String,
    operation: String,
    action: String,
    resource: String,
    denied: bool,
    /// The reason's leading code (`SignatureDoesNotMatch`, `ExpiredToken`, `implicitDeny`...):
    /// a forged signature and a replayed expired token are different attacks, kept apart.
    code: String,
}

impl GroupKey {
    fn of(event: &AuditEvent) -> Self {
        GroupKey {
            service: event.source.clone(),
            operation: event.operation.clone(),
            action: event.action.clone(),
            resource: event.resource.clone(),
            denied: event.is_denied(),
            code: event
                .reason
                .split([':', ' '])
                .next()
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

/// Decisions counted but not written yet: the first of them, how many, the last one's time.
struct Pending {
    first: AuditEvent,
    count: u64,
    last_time: String,
}

fn count(slot: &mut Option<Pending>, event: AuditEvent) {
    match slot {
        Some(pending) => {
            pending.count += 1;
            pending.last_time = event.time;
        }
        None => {
            *slot = Some(Pending {
                last_time: event.time.clone(),
                first: event,
                count: 1,
            });
        }
    }
}

impl Pending {
    fn record(self) -> AuditRecord {
        AuditRecord {
            event: self.first,
            count: self.count,
            last_time: Some(self.last_time),
        }
    }

    /// An aggregate of decisions about various operations and resources.
    fn summary(self, why: String) -> AuditRecord {
        let first = &self.first;
        let reason = format!(
            "{} {}: {why}; the first: {} {} on {}: {}",
            self.count,
            if self.count == 1 {
                "decision"
            } else {
                "decisions"
            },
            first.operation,
            first.action,
            first.resource,
            first.reason
        );
        let mut record = self.record();
        record.event.operation = "*".to_owned();
        record.event.action = "*".to_owned();
        record.event.resource = "*".to_owned();
        record.event.reason = reason;
        record
    }
}

impl Flood {
    fn new(rotation: Rotation) -> Self {
        Flood {
            window: rotation.anonymous_window,
            per_source: rotation.anonymous_per_source,
            started: None,
            sources: HashMap::new(),
            others: [None, None],
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.started.map(|started| started + self.window)
    }

    fn expired(&self) -> bool {
        self.deadline()
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// Counts `event`; returns it if it is to be written now (the first of its group).
    fn admit(&mut self, event: AuditEvent) -> Option<AuditEvent> {
        if self.started.is_none() {
            self.started = Some(Instant::now());
        }
        let decision = usize::from(!event.is_denied());
        if !self.sources.contains_key(&event.source_ip) && self.sources.len() >= MAX_SOURCES {
            count(&mut self.others[decision], event);
            return None;
        }
        let source = self.sources.entry(event.source_ip.clone()).or_default();
        let key = GroupKey::of(&event);
        if let Some(repeats) = source.groups.get_mut(&key) {
            count(repeats, event);
            return None;
        }
        if source.groups.len() >= self.per_source {
            count(&mut source.beyond[decision], event);
            return None;
        }
        source.groups.insert(key, None);
        Some(event)
    }

    /// The aggregates of the window, oldest first; starts a new window.
    fn drain(&mut self) -> Vec<AuditRecord> {
        self.started = None;
        let window = self.window.as_secs();
        let mut records = Vec::new();
        for (address, source) in self.sources.drain() {
            records.extend(source.groups.into_values().flatten().map(Pending::record));
            for pending in source.beyond.into_iter().flatten() {
                records.push(pending.summary(format!(
                    "anonymous requests from {address} beyond {} distinct events in {window} s, counted only",
                    self.per_source
                )));
            }
        }
        for pending in std::mem::take(&mut self.others).into_iter().flatten() {
            let mut record = pending.summary(format!(
                "anonymous requests from addresses beyond the {MAX_SOURCES} tracked in {window} s, counted only"
            ));
            record.event.source_ip = "*".to_owned();
            records.push(record);
        }
        records.sort_by_cached_key(|record| record.event.time.parse::<jiff::Timestamp>().ok());
        records
    }
}

/// Appends lines to one live file and rotates it by size.
struct RotatingWriter {
    dir: PathBuf,
    name: &'static str,
    rotation: Rotation,
    keep_recent: Duration,
    file: BufWriter<File>,
    size: u64,
}

impl RotatingWriter {
    fn open(
        dir: &Path,
        name: &'static str,
        rotation: Rotation,
        keep_recent: Duration,
    ) -> Result<Self, AuditError> {
        let path = dir.join(name);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_error(&path))?;
        let size = file.metadata().map_err(io_error(&path))?.len();
        Ok(RotatingWriter {
            dir: dir.to_owned(),
            name,
            rotation,
            keep_recent,
            file: BufWriter::new(file),
            size,
        })
    }

    fn append<T: Serialize>(&mut self, event: &T) {
        let Ok(mut line) = serde_json::to_vec(event) else {
            return;
        };
        line.push(b'\n');
        let len = line.len() as u64;
        if self.size > 0
            && self.size + len > self.rotation.max_bytes
            && let Err(error) = self.rotate()
        {
            tracing::error!(%error, "audit log rotation failed");
        }
        match self.file.write_all(&line) {
            Ok(()) => self.size += len,
            Err(error) => tracing::error!(%error, "audit log write failed"),
        }
    }

    fn flush(&mut self) {
        if let Err(error) = self.file.flush() {
            tracing::error!(%error, "audit log flush failed");
        }
    }

    /// Whether the rotated file at `path` was last written longer than `keep_recent` ago.
    fn is_old(&self, path: &Path) -> bool {
        if self.keep_recent.is_zero() {
            return true;
        }
        fs::metadata(path)
            .and_then(|metadata| metadata.modified())
            .map(|modified| {
                SystemTime::now()
                    .duration_since(modified)
                    .is_ok_and(|age| age >= self.keep_recent)
            })
            .unwrap_or(true)
    }

    fn rotate(&mut self) -> Result<(), AuditError> {
        self.flush();
        let live = self.dir.join(self.name);
        if self.rotation.keep == 0 && self.keep_recent.is_zero() {
            fs::remove_file(&live).map_err(io_error(&live))?;
        } else {
            let mut last = rotated_indices(&self.dir, self.name)
                .last()
                .copied()
                .unwrap_or(0);
            // The oldest files go while more than `keep` would remain, unless they are recent.
            while last > 0 && last >= self.rotation.keep {
                let oldest = rotated_path(&self.dir, self.name, last);
                if !self.is_old(&oldest) {
                    break;
                }
                fs::remove_file(&oldest).map_err(io_error(&oldest))?;
                last -= 1;
            }
            for index in (1..=last).rev() {
                let from = rotated_path(&self.dir, self.name, index);
                if from.exists() {
                    let to = rotated_path(&self.dir, self.name, index + 1);
                    fs::rename(&from, &to).map_err(io_error(&from))?;
                }
            }
            fs::rename(&live, rotated_path(&self.dir, self.name, 1)).map_err(io_error(&live))?;
        }
        *self = RotatingWriter::open(&self.dir, self.name, self.rotation, self.keep_recent)?;
        Ok(())
    }
}

fn rotated_path(dir: &Path, name: &str, index: usize) -> PathBuf {
    dir.join(format!("{name}.{index}"))
}

/// The indices of `name`'s rotated files in `dir`, ascending (newest first).
fn rotated_indices(dir: &Path, name: &str) -> Vec<usize> {
    let prefix = format!("{name}.");
    let mut indices: Vec<usize> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            entry
                .file_name()
                .to_str()?
                .strip_prefix(prefix.as_str())?
                .parse()
                .ok()
        })
        .filter(|index| *index > 0)
        .collect();
    indices.sort_unstable();
    indices
}

/// Which events [`read`] returns.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only refusals.
    pub denied: bool,
    /// Only events whose principal ARN contains this text.
    pub principal: Option<String>,
    /// Only events at or after this time.
    pub since: Option<jiff::Timestamp>,
}

impl AuditFilter {
    /// Parses an RFC 3339 time for [`AuditFilter::since`].
    pub fn parse_since(text: &str) -> Result<jiff::Timestamp, AuditError> {
        text.parse().map_err(|_| AuditError::Time(text.to_owned()))
    }

    fn accepts(&self, event: &AuditEvent) -> bool {
        if self.denied && !event.is_denied() {
            return false;
        }
        if let Some(principal) = &self.principal
            && !event.principal.contains(principal.as_str())
        {
            return false;
        }
        match self.since {
            Some(since) => event
                .time
                .parse::<jiff::Timestamp>()
                .is_ok_and(|time| time >= since),
            None => true,
        }
    }
}

/// The events in `dir` that pass `filter`, oldest first: both trails (rotated files oldest
/// first, then the live file), merged by time. An aggregate counts as one event: see
/// [`read_records`] for the counts. Lines that do not parse (a torn last line after a crash)
/// are skipped.
pub fn read(dir: &Path, filter: &AuditFilter) -> Result<Vec<AuditEvent>, AuditError> {
    Ok(read_records(dir, filter)?
        .into_iter()
        .map(|record| record.event)
        .collect())
}

/// The records in `dir` that pass `filter`, with how many decisions each stands for, oldest
/// first (by `eventTime`; an aggregate sits at its first decision's time).
pub fn read_records(dir: &Path, filter: &AuditFilter) -> Result<Vec<AuditRecord>, AuditError> {
    let mut records = Vec::new();
    for name in [AUDIT_FILE, ANONYMOUS_FILE] {
        let mut files: Vec<PathBuf> = rotated_indices(dir, name)
            .into_iter()
            .rev()
            .map(|index| rotated_path(dir, name, index))
            .collect();
        files.push(dir.join(name));
        for path in files {
            let file = match File::open(&path) {
                Ok(file) => file,
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(io_error(&path)(error)),
            };
            for line in BufReader::new(file).lines() {
                let line = line.map_err(io_error(&path))?;
                if let Ok(record) = serde_json::from_str::<AuditRecord>(&line)
                    && filter.accepts(&record.event)
                {
                    records.push(record);
                }
            }
        }
    }
    // Stable: within one trail, file order stands for equal (or unreadable) times.
    records.sort_by_cached_key(|record| record.event.time.parse::<jiff::Timestamp>().ok());
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: usize, decision: AuditDecision) -> AuditEvent {
        AuditEvent {
            time: format!("2026-11-28T23:00:{:02}Z", n % 60),
            source: "s3.amazonaws.com".to_owned(),
            operation: "GetObject".to_owned(),
            principal: format!("arn:aws:sts::000000000000:assumed-role/r{n}/s"),
            access_key_id: None,
            source_ip: "127.0.0.1".to_owned(),
            action: "s3:GetObject".to_owned(),
            resource: "arn:aws:s3:::b/k".to_owned(),
            decision,
            reason: "test".to_owned(),
            request_id: format!("REQ{n}"),
        }
    }

    #[tokio::test]
    async fn rotates_and_reads_back_in_order_with_filters() {
        let dir = tempfile::tempdir().unwrap();
        let rotation = Rotation {
            max_bytes: 1024,
            keep: 2,
            keep_recent: Duration::ZERO,
            ..Rotation::default()
        };
        let log = AuditLog::open(dir.path(), rotation).unwrap();
        for n in 0..40 {
            let decision = if n % 2 == 0 {
                AuditDecision::Allow
            } else {
                AuditDecision::Deny
            };
            log.record(event(n, decision));
        }
        log.flush().await;
        assert!(dir.path().join("audit.jsonl.1").exists());
        assert!(dir.path().join("audit.jsonl.2").exists());
        assert!(!dir.path().join("audit.jsonl.3").exists());
        for name in ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"] {
            let size = fs::metadata(dir.path().join(name)).unwrap().len();
            assert!(size <= 1024, "{name} is {size} bytes");
        }
        let all = read(dir.path(), &AuditFilter::default()).unwrap();
        assert!(all.len() < 40, "old events were rotated away");
        let ids: Vec<usize> = all
            .iter()
            .map(|e| e.request_id[3..].parse().unwrap())
            .collect();
        assert_eq!(ids.last(), Some(&39));
        assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");

        let denied = read(
            dir.path(),
            &AuditFilter {
                denied: true,
                ..AuditFilter::default()
            },
        )
        .unwrap();
        assert!(denied.iter().all(AuditEvent::is_denied));
        assert_eq!(denied.len(), all.iter().filter(|e| e.is_denied()).count());

        let one = read(
            dir.path(),
            &AuditFilter {
                principal: Some("role/r39/".to_owned()),
                ..AuditFilter::default()
            },
        )
        .unwrap();
        assert_eq!(one, vec![event(39, AuditDecision::Deny)]);

        let since = AuditFilter::parse_since("2026-11-28T23:00:38Z").unwrap();
        let late = read(
            dir.path(),
            &AuditFilter {
                since: Some(since),
                ..AuditFilter::default()
            },
        )
        .unwrap();
        let late_ids: Vec<&str> = late.iter().map(|e| e.request_id.as_str()).collect();
        assert_eq!(late_ids, ["REQ38", "REQ39"]);
    }

    fn anonymous(address: &str, key: usize, n: usize) -> AuditEvent {
        AuditEvent {
            time: jiff::Timestamp::now().to_string(),
            principal: "anonymous".to_owned(),
            source_ip: address.to_owned(),
            action: String::new(),
            resource: format!("arn:aws:s3:::b/k{key}"),
            decision: AuditDecision::Deny,
            reason: "no policy allows it".to_owned(),
            request_id: format!("ANON{n}"),
            ..event(n, AuditDecision::Deny)
        }
    }

    fn lines(path: &Path) -> usize {
        fs::read_to_string(path).map_or(0, |text| text.lines().count())
    }

    #[tokio::test]
    async fn a_flood_of_anonymous_refusals_keeps_few_lines_and_every_count() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path(), Rotation::default()).unwrap();
        // One address repeating one refusal, another trying 5,000 different keys.
        for n in 0..10_000 {
            log.record(anonymous("10.0.0.1", 0, n));
        }
        for n in 0..5_000 {
            log.record(anonymous("10.0.0.2", n, n));
        }
        log.flush().await;
        assert_eq!(log.dropped(), 0);
        let per_source = Rotation::default().anonymous_per_source;
        // 10.0.0.1: its first refusal and one aggregate; 10.0.0.2: `per_source` firsts and one
        // summary of the rest.
        assert_eq!(lines(&dir.path().join(ANONYMOUS_FILE)), 2 + per_source + 1);
        assert_eq!(lines(&dir.path().join(AUDIT_FILE)), 0);
        let records = read_records(dir.path(), &AuditFilter::default()).unwrap();
        let total = |address: &str| -> u64 {
            records
                .iter()
                .filter(|r| r.event.source_ip == address)
                .map(|r| r.count)
                .sum()
        };
        assert_eq!(total("10.0.0.1"), 10_000);
        assert_eq!(total("10.0.0.2"), 5_000);
        let aggregate = records
            .iter()
            .find(|r| r.event.source_ip == "10.0.0.1" && r.count > 1)
            .unwrap();
        assert_eq!(aggregate.count, 9_999);
        assert_eq!(aggregate.event.resource, "arn:aws:s3:::b/k0");
        assert!(aggregate.last_time.is_some());
        let summary = records
            .iter()
            .find(|r| r.event.source_ip == "10.0.0.2" && r.count > 1)
            .unwrap();
        assert_eq!(summary.count, 5_000 - per_source as u64);
        assert_eq!(summary.event.resource, "*");
        assert!(summary.event.is_denied());
    }

    #[tokio::test]
    async fn a_flood_does_not_remove_an_authenticated_decision_recorded_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let rotation = Rotation {
            max_bytes: 4096,
            keep: 1,
            keep_recent: Duration::ZERO,
            anonymous_per_source: 1_000_000,
            ..Rotation::default()
        };
        let log = AuditLog::open(dir.path(), rotation).unwrap();
        log.record(event(7, AuditDecision::Allow));
        // Every refusal distinct, and nothing per-source limits: the anonymous trail rotates
        // many times over.
        for n in 0..20_000 {
            log.record(anonymous("10.0.0.3", n, n));
        }
        log.flush().await;
        assert!(dir.path().join(format!("{ANONYMOUS_FILE}.1")).exists());
        let kept = read(
            dir.path(),
            &AuditFilter {
                principal: Some("role/r7/".to_owned()),
                ..AuditFilter::default()
            },
        )
        .unwrap();
        assert_eq!(kept, vec![event(7, AuditDecision::Allow)]);
    }

    #[tokio::test]
    async fn rotation_keeps_recent_authenticated_records_beyond_keep() {
        let dir = tempfile::tempdir().unwrap();
        let rotation = Rotation {
            max_bytes: 1024,
            keep: 1,
            keep_recent: Duration::from_secs(3600),
            ..Rotation::default()
        };
        let log = AuditLog::open(dir.path(), rotation).unwrap();
        // Distinct times (`event` wraps at 60).
        for n in 0..50 {
            log.record(event(n, AuditDecision::Allow));
        }
        log.flush().await;
        assert!(dir.path().join(format!("{AUDIT_FILE}.3")).exists());
        let all = read(dir.path(), &AuditFilter::default()).unwrap();
        let ids: Vec<&str> = all.iter().map(|e| e.request_id.as_str()).collect();
        let expected: Vec<String> = (0..50).map(|n| format!("REQ{n}")).collect();
        assert_eq!(ids, expected);
    }

    #[tokio::test]
    async fn aggregates_are_written_when_their_window_closes() {
        let dir = tempfile::tempdir().unwrap();
        let rotation = Rotation {
            anonymous_window: Duration::from_millis(300),
            ..Rotation::default()
        };
        let log = AuditLog::open(dir.path(), rotation).unwrap();
        for n in 0..3 {
            log.record(anonymous("10.0.0.4", 0, n));
        }
        // No flush: the writer closes the window on its own.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let records = read_records(dir.path(), &AuditFilter::default()).unwrap();
            if records.iter().map(|r| r.count).sum::<u64>() == 3 {
                assert_eq!(records.len(), 2);
                break;
            }
            assert!(Instant::now() < deadline, "{records:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[test]
    fn lines_written_before_aggregation_read_as_one_decision() {
        let dir = tempfile::tempdir().unwrap();
        let old = serde_json::to_string(&event(1, AuditDecision::Deny)).unwrap();
        assert!(!old.contains("count"));
        fs::write(dir.path().join(AUDIT_FILE), format!("{old}\n")).unwrap();
        let records = read_records(dir.path(), &AuditFilter::default()).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].count, 1);
        assert_eq!(records[0].last_time, None);
        assert_eq!(records[0].event, event(1, AuditDecision::Deny));
    }

    #[test]
    fn rejects_a_bad_since() {
        assert!(matches!(
            AuditFilter::parse_since("yesterday"),
            Err(AuditError::Time(_))
        ));
    }

    #[test]
    fn reading_an_empty_directory_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path(), &AuditFilter::default()).unwrap(), vec![]);
    }
}
