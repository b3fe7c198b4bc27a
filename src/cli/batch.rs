//! `shaken verify --batch` and `shaken sign --batch`: JSON Lines in, JSON
//! Lines out, one result per input line, in input order, on every core.
//!
//! The pipeline streams with flat memory. Each of the `--jobs` workers takes
//! the input in turn to cut the next chunk of lines, processes the chunk, and
//! hands it to the output, which writes chunks in input order (a chunk that
//! finishes early waits for the ones before it). There are no reader or
//! writer threads: `--jobs 1` is one thread, and a chunk is read, processed
//! and written by the same core, with its bytes still in that core's cache.
//! Chunks (input bytes, line offsets and output bytes) come from a fixed pool
//! and return to it once written, so at most `jobs * CHUNKS_PER_JOB` chunks
//! exist at any time: that pool is both the back-pressure and the reorder
//! window, and its buffers are reused. A worker takes a lock three times per
//! chunk (a free chunk, the input, the output), keeps its own counters, and
//! the counters are merged at the end.

use super::args::{SignArgs, VerifyArgs};
use super::render::{finish_verify, progress, push_csv, rows, Exports};
use super::setup::{build_setup, check_x5u, load_signer, VerifySetup};
use super::{EXIT_FAIL, EXIT_OK};
use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use shaken::batch::{SignRequest, VerifyRequest};
use shaken::crypto::Signer;
use shaken::identity::IdentityHeader;
use shaken::passport::{self, Attestation, Claims, Header};
use shaken::summary::{self, Call, CsvRow, Summary};
use shaken::tn::TnPolicy;
use shaken::verify;
use shaken::Report;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::Mutex;
use std::time::Instant;

/// Most lines in one chunk.
const CHUNK_LINES: usize = 256;
/// A chunk is closed once its input bytes reach this size.
const CHUNK_BYTES: usize = 256 * 1024;
/// Chunks in flight per worker (pool size = jobs * this).
const CHUNKS_PER_JOB: usize = 4;
/// Most worker threads accepted from `--jobs`.
const MAX_JOBS: usize = 256;

/// Where a line sits in its chunk.
enum Slot {
    /// `data[start..end]`, without the line terminator.
    Line { start: usize, end: usize },
    /// A line longer than the limit (its length); its bytes were dropped.
    TooLong(usize),
    /// An empty or all-whitespace line: no output.
    Blank,
}

/// A run of input lines and their output, recycled through the pool.
#[derive(Default)]
struct Chunk {
    seq: u64,
    first_line: u64,
    data: Vec<u8>,
    slots: Vec<Slot>,
    out: Vec<u8>,
    /// `--csv` rows of this chunk.
    csv: Vec<u8>,
    /// `--traceback` rows of this chunk.
    trace: Vec<u8>,
}

/// Where a line's results go: the JSON output and the export rows.
struct Sink<'a> {
    out: &'a mut Vec<u8>,
    csv: &'a mut Vec<u8>,
    trace: &'a mut Vec<u8>,
}

/// One kind of line work (verify or sign).
trait Job: Sync {
    /// Per-worker counters, merged at the end.
    type Acc: Send + Default;
    /// Process line `line_no` (1-based): `Ok(bytes)`, or `Err(len)` for a
    /// line longer than the limit. Append the output line(s) to `sink.out`
    /// (and the export rows to the others).
    fn line(
        &self,
        line_no: u64,
        line: Result<&[u8], usize>,
        sink: &mut Sink<'_>,
        acc: &mut Self::Acc,
    );

    /// Process the lines of one chunk (`slots` over `data`, the first one
    /// numbered `first_line`), in order: by default line by line.
    fn chunk(
        &self,
        first_line: u64,
        slots: &[Slot],
        data: &[u8],
        sink: &mut Sink<'_>,
        acc: &mut Self::Acc,
    ) {
        line_by_line(self, first_line, slots, data, sink, acc);
    }
}

/// [`Job::chunk`] line by line.
fn line_by_line<J: Job + ?Sized>(
    job: &J,
    first_line: u64,
    slots: &[Slot],
    data: &[u8],
    sink: &mut Sink<'_>,
    acc: &mut J::Acc,
) {
    for (i, slot) in slots.iter().enumerate() {
        let no = first_line + i as u64;
        match slot {
            Slot::Blank => {}
            Slot::TooLong(n) => job.line(no, Err(*n), sink, acc),
            Slot::Line { start, end } => {
                let bytes = data.get(*start..*end).unwrap_or_default();
                job.line(no, Ok(bytes), sink, acc);
            }
        }
    }
}

/// The input of a batch: a file or stdin.
enum Source {
    Stdin,
    File(std::fs::File),
}

impl Source {
    fn open(path: &str) -> Result<Source> {
        if path == "-" {
            Ok(Source::Stdin)
        } else {
            Ok(Source::File(
                std::fs::File::open(path).with_context(|| format!("opening --batch {path}"))?,
            ))
        }
    }
}

/// Number of workers: `--jobs`, else every core.
fn job_count(n: Option<usize>) -> Result<usize> {
    match n {
        Some(0) => bail!("--jobs must be at least 1"),
        Some(n) => Ok(n.min(MAX_JOBS)),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// Index of the first `\n` in `buf`. Scans 64-byte blocks with
/// `<[u8]>::contains` (word-at-a-time in std) before looking for the index,
/// which is several times fewer instructions than a byte loop on long lines.
fn find_newline(buf: &[u8]) -> Option<usize> {
    let mut offset = 0usize;
    for block in buf.chunks(64) {
        if block.contains(&b'\n') {
            return block.iter().position(|&b| b == b'\n').map(|i| offset + i);
        }
        offset += block.len();
    }
    None
}

/// Read one line into `data` (at most `max` bytes kept). `None` at EOF.
fn read_line<R: BufRead>(
    r: &mut R,
    data: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<Slot>> {
    let start = data.len();
    let mut len = 0usize;
    let mut too_long = false;
    let mut any = false;
    loop {
        let (used, done) = {
            let buf = match r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match find_newline(buf) {
                Some(i) => (i, true),
                None => (buf.len(), false),
            };
            len = len.saturating_add(take);
            if !too_long {
                if len > max {
                    too_long = true;
                    data.truncate(start);
                } else {
                    data.extend_from_slice(buf.get(..take).unwrap_or_default());
                }
            }
            (if done { take + 1 } else { take }, done)
        };
        r.consume(used);
        if done {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if too_long {
        return Ok(Some(Slot::TooLong(len)));
    }
    if data.last() == Some(&b'\r') {
        data.pop();
    }
    let end = data.len();
    let blank = data
        .get(start..end)
        .is_none_or(|l| l.iter().all(u8::is_ascii_whitespace));
    if blank {
        data.truncate(start);
        return Ok(Some(Slot::Blank));
    }
    Ok(Some(Slot::Line { start, end }))
}

/// The input side of the pipeline, taken by one worker at a time.
struct Input {
    reader: Box<dyn BufRead + Send>,
    max_line: usize,
    /// Lines read so far.
    line_no: u64,
    /// Sequence number of the next chunk.
    seq: u64,
    /// End of input, a read error, or the output stopped: read no more.
    done: bool,
    error: Option<std::io::Error>,
}

impl Input {
    /// Fill `chunk` with the next lines; `false` when there are none.
    fn fill(&mut self, chunk: &mut Chunk) -> bool {
        if self.done {
            return false;
        }
        chunk.seq = self.seq;
        chunk.first_line = self.line_no + 1;
        while chunk.slots.len() < CHUNK_LINES && chunk.data.len() < CHUNK_BYTES {
            match read_line(&mut self.reader, &mut chunk.data, self.max_line) {
                Ok(Some(slot)) => chunk.slots.push(slot),
                Ok(None) => {
                    self.done = true;
                    break;
                }
                Err(e) => {
                    // The lines of a chunk cut short by the error are not
                    // processed: what was written stays in input order.
                    self.done = true;
                    self.error = Some(e);
                    chunk.data.clear();
                    chunk.slots.clear();
                    return false;
                }
            }
        }
        if chunk.slots.is_empty() {
            return false;
        }
        self.line_no += chunk.slots.len() as u64;
        self.seq += 1;
        true
    }
}

/// The output side: chunks waiting for their turn, and the chunk pool.
struct Output<'e> {
    out: std::io::BufWriter<std::io::Stdout>,
    exports: &'e mut Exports,
    /// Processed chunks that wait for an earlier one, by sequence number.
    pending: BTreeMap<u64, Chunk>,
    /// Sequence number of the next chunk to write.
    next: u64,
    /// Written chunks, cleared, for reuse.
    free: Vec<Chunk>,
    /// Chunks made so far (at most the pool size).
    made: usize,
    pool: usize,
    lines: u64,
    /// The first write error; every worker stops on it.
    error: Option<anyhow::Error>,
}

impl Output<'_> {
    /// Take `chunk` and write every chunk whose turn has come.
    fn deliver(&mut self, chunk: Chunk, bar: &indicatif::ProgressBar) {
        self.pending.insert(chunk.seq, chunk);
        while let Some(mut c) = self.pending.remove(&self.next) {
            if self.error.is_none() {
                let written = self
                    .out
                    .write_all(&c.out)
                    .context("writing results to standard output")
                    .and_then(|()| self.exports.write_rows(&c.csv, &c.trace));
                match written {
                    Ok(()) => {
                        self.lines += c.slots.len() as u64;
                        bar.inc(c.slots.len() as u64);
                    }
                    Err(e) => self.error = Some(e),
                }
            }
            c.data.clear();
            c.slots.clear();
            c.out.clear();
            c.csv.clear();
            c.trace.clear();
            self.next += 1;
            self.free.push(c);
        }
    }
}

/// What the workers share: the input, the output and a signal for "a chunk
/// was freed or the run stopped".
struct Shared<'e> {
    input: Mutex<Input>,
    output: Mutex<Output<'e>>,
    freed: std::sync::Condvar,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Stops the run when its worker unwinds, so that the others do not wait
/// for a chunk that will never be written.
struct StopOnPanic<'a, 'e>(&'a Shared<'e>);

impl Drop for StopOnPanic<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            lock(&self.0.input).done = true;
            let mut o = lock(&self.0.output);
            if o.error.is_none() {
                o.error = Some(anyhow!("internal error: a worker thread panicked"));
            }
            drop(o);
            self.0.freed.notify_all();
        }
    }
}

/// One worker: take a free chunk, fill it from the input, process it, hand
/// it to the output (which writes it when its turn comes). Every worker
/// reads and writes for itself, so `--jobs 1` is one thread on one core and
/// no chunk crosses between cores to be read, processed and written.
fn work<J: Job>(job: &J, shared: &Shared<'_>, bar: &indicatif::ProgressBar) -> J::Acc {
    let _guard = StopOnPanic(shared);
    let mut acc = J::Acc::default();
    loop {
        let mut chunk = {
            let mut o = lock(&shared.output);
            loop {
                if o.error.is_some() {
                    return acc;
                }
                if let Some(c) = o.free.pop() {
                    break c;
                }
                if o.made < o.pool {
                    o.made += 1;
                    break Chunk::default();
                }
                // Every chunk is in flight: this is the back-pressure.
                o = shared
                    .freed
                    .wait(o)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        };
        if !lock(&shared.input).fill(&mut chunk) {
            // Give the chunk back so that a waiting worker sees the end.
            lock(&shared.output).free.push(chunk);
            shared.freed.notify_all();
            return acc;
        }
        let Chunk {
            first_line,
            data,
            slots,
            out,
            csv,
            trace,
            ..
        } = &mut chunk;
        let mut sink = Sink { out, csv, trace };
        job.chunk(*first_line, slots, data, &mut sink, &mut acc);
        let mut o = lock(&shared.output);
        o.deliver(chunk, bar);
        let stop = o.error.is_some();
        drop(o);
        if stop {
            lock(&shared.input).done = true;
        }
        shared.freed.notify_all();
    }
}

/// Run `job` over every line of `input` with `jobs` workers; results go to
/// stdout in input order. Returns the workers' counters and the line count.
fn run_pipeline<J: Job>(
    input: &str,
    jobs: usize,
    max_line: usize,
    job: &J,
    exports: &mut Exports,
) -> Result<(Vec<J::Acc>, u64)> {
    let reader: Box<dyn BufRead + Send> = match Source::open(input)? {
        Source::Stdin => Box::new(std::io::BufReader::with_capacity(
            64 * 1024,
            std::io::stdin(),
        )),
        Source::File(f) => Box::new(std::io::BufReader::with_capacity(64 * 1024, f)),
    };
    let shared = Shared {
        input: Mutex::new(Input {
            reader,
            max_line,
            line_no: 0,
            seq: 0,
            done: false,
            error: None,
        }),
        output: Mutex::new(Output {
            out: std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout()),
            exports,
            pending: BTreeMap::new(),
            next: 0,
            free: Vec::new(),
            made: 0,
            pool: jobs.saturating_mul(CHUNKS_PER_JOB).max(2),
            lines: 0,
            error: None,
        }),
        freed: std::sync::Condvar::new(),
    };
    let bar = progress("lines");
    let accs = std::thread::scope(|s| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| s.spawn(|| work(job, &shared, &bar)))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .map_err(|_| anyhow!("internal error: a worker thread panicked"))
            })
            .collect::<Result<Vec<_>>>()
    });
    bar.finish_and_clear();
    let accs = accs?;
    let Shared {
        input: i,
        output: o,
        ..
    } = shared;
    let mut o = o
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let i = i
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(e) = o.error.take() {
        return Err(e);
    }
    o.out
        .flush()
        .context("writing results to standard output")?;
    if !o.pending.is_empty() {
        bail!("internal error: batch chunks were lost before they could be written");
    }
    if let Some(e) = i.error {
        return Err(anyhow::Error::new(e).context(format!("reading --batch {input}")));
    }
    Ok((accs, o.lines))
}

/// The error object of a line that could not be processed.
#[derive(Serialize)]
struct LineError<'a> {
    line: u64,
    message: &'a str,
}

/// One output line of `verify --batch`.
#[derive(Serialize)]
struct VerifyLine<'a> {
    line: u64,
    #[serde(flatten)]
    report: &'a Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<LineError<'a>>,
    /// The div chain, for a request with the `identities` extension.
    #[serde(skip_serializing_if = "Option::is_none")]
    diversion: Option<&'a shaken::div::Diversion>,
}

fn push_json<T: Serialize>(out: &mut Vec<u8>, value: &T) {
    let mark = out.len();
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(mark);
        out.extend_from_slice(br#"{"error":"internal error: result could not be serialised"}"#);
    }
    out.push(b'\n');
}

/// The report of a request line that could not be read.
fn malformed_report() -> Report {
    Report::unverified()
}

fn too_long_message(len: usize, max: usize) -> String {
    format!("the line is {len} bytes, longer than the {max}-byte limit (Limits.max_batch_line)")
}

struct VerifyJob<'a> {
    setup: &'a VerifySetup,
    max_line: usize,
    /// `--csv` is on.
    csv: bool,
    /// `--traceback` is on.
    trace: bool,
}

/// What a verified line says about its call, besides the report.
struct Checked<'a> {
    report: Report,
    calling: String,
    called: Option<String>,
    time: i64,
    peer: Option<std::borrow::Cow<'a, str>>,
    /// The div chain, for a request with the `identities` extension.
    diversion: Option<shaken::div::Diversion>,
}

impl VerifyJob<'_> {
    /// Parse and verify one request; `Err((message, calling))` for a line
    /// that is not a usable request.
    fn check<'b>(&self, bytes: &'b [u8]) -> Result<Checked<'b>, (String, Option<String>)> {
        let req = VerifyRequest::parse(bytes, &self.setup.tn_policy)
            .map_err(|r| (r.error.to_string(), r.calling))?;
        // A diverted call (RFC 8946): the request carries its div PASSporTs
        // in `identities` (docs/server.md).
        match shaken::div::VerifyExtension::parse(bytes, &self.setup.limits) {
            Ok(None) => {}
            Ok(Some(ext)) => {
                let r =
                    self.setup
                        .vs()
                        .verify_request_diverted_blocking(&req, &ext, self.setup.now);
                return Ok(Checked {
                    report: r.overall,
                    calling: req.orig.to_string(),
                    called: req.dest.first().map(ToString::to_string),
                    time: req.time,
                    peer: req.peer,
                    diversion: r.diversion,
                });
            }
            Err(e) => return Err((e.to_string(), Some(req.orig.to_string()))),
        }
        let ctx = req.context(self.setup.now);
        let result = self.setup.verify_value(&req.identity, &ctx);
        Ok(Checked {
            report: verify::into_report(result),
            calling: req.orig.into(),
            called: req.dest.into_iter().next().map(String::from),
            time: req.time,
            peer: req.peer,
            diversion: None,
        })
    }
}

/// A line of a chunk between the stages of [`VerifyJob::chunk`]. (Large
/// variants: a chunk's lines are staged into one vector, where boxes would
/// cost an allocation a line.)
#[allow(clippy::large_enum_variant)]
enum Staged<'b> {
    Blank,
    /// Finished: the line's outcome.
    Done(Result<Checked<'b>, (String, Option<String>)>),
    /// At its signature (the call's fields, its verification time).
    Signature(Checked<'b>, shaken::sti::CachedSignature, i64),
    /// Verified whole in the last stage, in its turn (a diverted call, or a
    /// certificate or CRL that is not cached yet).
    Later(&'b [u8]),
}

impl VerifyJob<'_> {
    /// Stage one of a line: everything up to its signature, without
    /// waiting for the network.
    fn stage<'b>(&self, vs: &shaken::sti::StiVs, bytes: &'b [u8]) -> Staged<'b> {
        use shaken::sti::CachedStep;
        let req = match VerifyRequest::parse(bytes, &self.setup.tn_policy) {
            Ok(r) => r,
            Err(r) => return Staged::Done(Err((r.error.to_string(), r.calling))),
        };
        match shaken::div::VerifyExtension::parse(bytes, &self.setup.limits) {
            Ok(None) => {}
            Ok(Some(_)) => return Staged::Later(bytes),
            Err(e) => return Staged::Done(Err((e.to_string(), Some(req.orig.to_string())))),
        }
        let ctx = req.context(self.setup.now);
        let step = match vs.parse_identity(&req.identity) {
            Ok(identity) => match vs.verify_cached_until_signature(&identity, &ctx) {
                Some(step) => step,
                None => return Staged::Later(bytes),
            },
            Err(f) => CachedStep::Done(Err(f)),
        };
        let checked = |report| Checked {
            report,
            calling: req.orig.into(),
            called: req.dest.into_iter().next().map(String::from),
            time: req.time,
            peer: req.peer,
            diversion: None,
        };
        match step {
            // The report is filled in the last stage.
            CachedStep::Signature(sig) => {
                Staged::Signature(checked(Report::unverified()), sig, ctx.now)
            }
            CachedStep::Done(result) => {
                let result = vs.complete_rcd_blocking(result);
                Staged::Done(Ok(checked(verify::into_report(result))))
            }
            // A step this version does not know: verify it whole.
            _ => Staged::Later(bytes),
        }
    }

    /// One line's output, export rows and counters.
    fn emit(
        &self,
        line_no: u64,
        outcome: Result<Checked<'_>, (String, Option<String>)>,
        sink: &mut Sink<'_>,
        acc: &mut Summary,
    ) {
        let out = &mut *sink.out;
        match outcome {
            Ok(c) => {
                let report = &c.report;
                let mut call = Call::new(report);
                call.line = line_no;
                call.time = Some(c.time);
                call.peer = c.peer.as_deref();
                call.orig = Some(&c.calling);
                call.dest = c.called.as_deref();
                acc.record_call(&call);
                rows(self.csv, self.trace, &call, sink.csv, sink.trace);
                push_json(
                    out,
                    &VerifyLine {
                        line: line_no,
                        report,
                        error: None,
                        diversion: c.diversion.as_ref(),
                    },
                );
            }
            Err((message, calling)) => {
                acc.record_malformed_call(line_no, None, None, calling.as_deref());
                if self.csv {
                    let report = malformed_report();
                    let mut call = Call::new(&report);
                    call.line = line_no;
                    call.orig = calling.as_deref();
                    push_csv(sink.csv, &CsvRow::malformed(&call));
                }
                push_json(
                    out,
                    &VerifyLine {
                        line: line_no,
                        report: &malformed_report(),
                        error: Some(LineError {
                            line: line_no,
                            message: &message,
                        }),
                        diversion: None,
                    },
                );
            }
        }
    }
}

impl Job for VerifyJob<'_> {
    type Acc = Summary;
    fn line(
        &self,
        line_no: u64,
        line: Result<&[u8], usize>,
        sink: &mut Sink<'_>,
        acc: &mut Summary,
    ) {
        let outcome = match line {
            Ok(bytes) => self.check(bytes),
            Err(len) => Err((too_long_message(len, self.max_line), None)),
        };
        self.emit(line_no, outcome, sink, acc);
    }

    /// In three stages: every line up to its signature, then the
    /// signatures back to back, then each line's end (claim constraints,
    /// replay, report) in input order. The ES256 work is most of a line's
    /// time, and run together it keeps the core's caches and branch
    /// predictors to itself; the verdicts are those of line by line
    /// (replay is settled in input order, and a line whose certificate is
    /// not cached is verified whole in its turn). With a replay guard that
    /// answers over the network (`--redis`), line by line: there the guard
    /// is asked while the signature is checked.
    fn chunk(
        &self,
        first_line: u64,
        slots: &[Slot],
        data: &[u8],
        sink: &mut Sink<'_>,
        acc: &mut Summary,
    ) {
        let vs = self.setup.vs();
        if vs.verifier().replay_guard().is_some_and(|g| g.is_async()) {
            return line_by_line(self, first_line, slots, data, sink, acc);
        }
        let mut staged: Vec<Staged<'_>> = slots
            .iter()
            .map(|slot| match slot {
                Slot::Blank => Staged::Blank,
                Slot::TooLong(n) => Staged::Done(Err((too_long_message(*n, self.max_line), None))),
                Slot::Line { start, end } => {
                    self.stage(&vs, data.get(*start..*end).unwrap_or_default())
                }
            })
            .collect();
        for s in &mut staged {
            if let Staged::Signature(_, sig, _) = s {
                sig.check_signature();
            }
        }
        for (i, s) in staged.into_iter().enumerate() {
            let no = first_line + i as u64;
            let outcome = match s {
                Staged::Blank => continue,
                Staged::Done(outcome) => outcome,
                Staged::Signature(mut checked, sig, now) => {
                    let result = vs.complete_signature_blocking(sig, now);
                    checked.report = verify::into_report(result);
                    Ok(checked)
                }
                Staged::Later(bytes) => self.check(bytes),
            };
            self.emit(no, outcome, sink, acc);
        }
    }
}

/// `shaken verify --batch FILE|-`.
pub fn verify(input: String, a: VerifyArgs) -> Result<i32> {
    let jobs = job_count(a.jobs)?;
    let setup = build_setup(&a, true)?;
    let max_line = setup.limits.max_batch_line;
    let mut exports = Exports::open(&a)?;
    let job = VerifyJob {
        setup: &setup,
        max_line,
        csv: exports.csv(),
        trace: exports.traceback(),
    };
    let started = Instant::now();
    let (accs, _lines) = run_pipeline(&input, jobs, max_line, &job, &mut exports)?;
    let elapsed = started.elapsed();
    let mut total = Summary::new();
    for acc in &accs {
        total.merge(acc);
    }
    eprint!("{}", total.text("lines", elapsed));
    finish_verify(
        &a,
        &mut exports,
        &total,
        "shaken verify --batch",
        &input,
        elapsed,
        "lines",
    )
}

/// One signed line: the Identity value and the request fields back, so
/// that `sign --batch | verify --batch -` works as it is (the verifier reads
/// `orig`/`dest`/`iat` for `from`/`to`/`time`).
#[derive(Serialize)]
struct SignedLine<'a> {
    identity: &'a str,
    line: u64,
    attest: &'a str,
    orig: TnOne<'a>,
    dest: TnMany<'a>,
    iat: i64,
    origid: Option<&'a str>,
}

#[derive(Serialize)]
struct TnOne<'a> {
    tn: &'a str,
}

#[derive(Serialize)]
struct TnMany<'a> {
    tn: &'a [String],
}

#[derive(Serialize)]
struct SignErrorLine<'a> {
    line: u64,
    error: &'a str,
}

/// Counters of `sign --batch`.
#[derive(Default)]
struct SignStats {
    total: u64,
    signed: u64,
    by_attest: [u64; 3],
}

struct SignJob<'a> {
    signer: &'a dyn Signer,
    header: passport::EncodedHeader,
    x5u: &'a str,
    /// The Identity header after the token (`;info=<x5u>;alg=ES256;ppt=shaken`),
    /// already escaped for a JSON string: the same for every line.
    suffix_json: String,
    policy: TnPolicy,
    max_line: usize,
    /// Rich Call Data for the lines that bring none (`--rcd-nam`...).
    rcd: Option<shaken::rcd::RcdSigning>,
}

/// A signed line: the token, its attestation, the claims signed and, for a
/// separate Rich Call Data PASSporT, its Identity header value.
type Signed = (String, Attestation, Claims, Option<String>);

/// A line up to its signature: what [`Signed`] has, with the signing input
/// in place of the token.
type Prepared = (passport::Unsigned, Attestation, Claims, Option<String>);

fn sign_token(unsigned: passport::Unsigned, signer: &dyn Signer) -> Result<String, String> {
    unsigned.sign(signer).map_err(|e| format!("signing: {e}"))
}

/// Add `"rcd_identity"` to the line just written (it ends in `}\n`).
fn push_rcd_identity(out: &mut Vec<u8>, identity: &str) {
    if out.ends_with(b"}\n") {
        out.truncate(out.len() - 2);
        out.extend_from_slice(b",\"rcd_identity\":");
        out.extend_from_slice(
            serde_json::to_string(identity)
                .unwrap_or_else(|_| "null".into())
                .as_bytes(),
        );
        out.extend_from_slice(b"}\n");
    }
}

/// `;info=<x5u>;alg=ES256;ppt=shaken` as it goes inside a JSON string (escaped,
/// without the quotes): what follows the token in every output line.
fn identity_suffix_json(x5u: &str) -> Result<String> {
    let suffix = IdentityHeader::shaken(String::new(), x5u).to_string();
    let quoted = serde_json::to_string(&suffix).context("escaping the Identity parameters")?;
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("internal error: a JSON string without quotes"))
}

/// Whether `s` can sit in a JSON string as it is (no quote, backslash,
/// control or non-ASCII byte). Branch-free so that it vectorises.
fn json_plain(s: &str) -> bool {
    s.bytes().fold(true, |ok, b| {
        ok & (0x20..0x7f).contains(&b) & (b != b'"') & (b != b'\\')
    })
}

/// One output line of `sign --batch` for a div signing request: the div
/// Identity value, the line, and the claims signed (orig, dest, iat, div).
#[derive(Serialize)]
struct DivSignedLine<'a> {
    identity: &'a str,
    line: u64,
    #[serde(flatten)]
    claims: serde_json::Value,
}

impl SignJob<'_> {
    /// Sign a div PASSporT for a `div` signing request.
    fn sign_div(
        &self,
        req: &shaken::div::DivSignRequest,
    ) -> Result<shaken::div::SignedDiv, shaken::div::DivSignError> {
        let (previous, _) =
            shaken::div::incoming_claims(&req.incoming, &shaken::Limits::default())?;
        shaken::div::sign_div(
            &previous,
            &req.dest,
            req.hi.as_deref(),
            self.signer,
            self.x5u,
            &self.policy,
        )
    }
    /// A request up to its signature: the signing input (not yet the
    /// Identity header), its attestation, the claims signed and a separate
    /// Rich Call Data PASSporT's Identity value.
    fn prepare(&self, bytes: &[u8]) -> Result<Prepared, String> {
        let SignRequest {
            attest,
            mut claims,
            rcd,
            ..
        } = SignRequest::parse(bytes, &self.policy).map_err(|e| e.to_string())?;
        // Rich Call Data (the line's `rcd`/`crn`/`rcdi`, else the flags):
        // claims in the shaken PASSporT, or a second ppt=rcd one.
        let mut rcd_identity = None;
        match rcd.as_ref().or(self.rcd.as_ref()) {
            Some(r) if r.separate => {
                let c = shaken::rcd::separate_claims(&claims, &r.claims);
                let t = passport::sign(&shaken::rcd::rcd_header(self.x5u), &c, self.signer)
                    .map_err(|e| format!("signing: {e}"))?;
                let mut id = IdentityHeader::shaken(t, self.x5u);
                id.ppt = Some(shaken::rcd::PPT_RCD.into());
                rcd_identity = Some(id.to_string());
            }
            Some(r) => r.claims.insert_into(&mut claims.extra),
            None => {}
        }
        let unsigned = passport::Unsigned::new(&self.header, &claims);
        Ok((unsigned, attest, claims, rcd_identity))
    }

    /// Sign one request ([`prepare`](Self::prepare), then the signature).
    fn sign(&self, bytes: &[u8]) -> Result<Signed, String> {
        let (unsigned, attest, claims, rcd) = self.prepare(bytes)?;
        Ok((sign_token(unsigned, self.signer)?, attest, claims, rcd))
    }

    /// Append the line `{"identity":"TOKEN;info=<x5u>;alg=ES256;ppt=shaken",
    /// "line":N,"attest":..,"orig":{"tn":..},"dest":{"tn":[..]},"iat":..,
    /// "origid":..}`: the same bytes as serialising `SignedLine`, with the
    /// constant part escaped once per run instead of once per line.
    fn push_identity(&self, out: &mut Vec<u8>, token: String, line: u64, claims: &Claims) {
        let orig = claims.orig.as_str();
        let origid = claims.origid.as_deref();
        let plain = json_plain(&token)
            && json_plain(orig)
            && origid.is_none_or(json_plain)
            && claims.dest.tn.iter().all(|d| json_plain(d));
        let attest = claims.attest.map_or("", |a| a.as_str());
        if plain {
            // Byte pushes and itoa, not `write!`: the formatting machinery
            // was 1,300 instructions a signed line (issue 21).
            let mut num = itoa::Buffer::new();
            out.extend_from_slice(b"{\"identity\":\"");
            out.extend_from_slice(token.as_bytes());
            out.extend_from_slice(self.suffix_json.as_bytes());
            out.extend_from_slice(b"\",\"line\":");
            out.extend_from_slice(num.format(line).as_bytes());
            out.extend_from_slice(b",\"attest\":\"");
            out.extend_from_slice(attest.as_bytes());
            out.extend_from_slice(b"\",\"orig\":{\"tn\":\"");
            out.extend_from_slice(orig.as_bytes());
            out.extend_from_slice(b"\"},\"dest\":{\"tn\":[");
            for (i, d) in claims.dest.tn.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'"');
                out.extend_from_slice(d.as_bytes());
                out.push(b'"');
            }
            out.extend_from_slice(b"]},\"iat\":");
            out.extend_from_slice(num.format(claims.iat).as_bytes());
            match origid {
                Some(o) => {
                    out.extend_from_slice(b",\"origid\":\"");
                    out.extend_from_slice(o.as_bytes());
                    out.extend_from_slice(b"\"}");
                }
                None => out.extend_from_slice(b",\"origid\":null}"),
            }
            out.push(b'\n');
        } else {
            push_json(
                out,
                &SignedLine {
                    identity: &IdentityHeader::shaken(token, self.x5u).to_string(),
                    line,
                    attest,
                    orig: TnOne { tn: orig },
                    dest: TnMany {
                        tn: &claims.dest.tn,
                    },
                    iat: claims.iat,
                    origid,
                },
            );
        }
    }
}

impl Job for SignJob<'_> {
    type Acc = SignStats;
    fn line(
        &self,
        line_no: u64,
        line: Result<&[u8], usize>,
        sink: &mut Sink<'_>,
        acc: &mut SignStats,
    ) {
        let out = &mut *sink.out;
        acc.total += 1;
        // A div signing request (RFC 8946; docs/server.md): its own line.
        if let Ok(bytes) = line {
            match shaken::div::DivSignRequest::parse(bytes, &shaken::Limits::default()) {
                Ok(None) => {}
                Ok(Some(req)) => {
                    match self.sign_div(&req) {
                        Ok(signed) => {
                            acc.signed += 1;
                            push_json(
                                out,
                                &DivSignedLine {
                                    identity: &signed.identity,
                                    line: line_no,
                                    claims: signed.claims.to_json(),
                                },
                            );
                        }
                        Err(e) => push_json(
                            out,
                            &SignErrorLine {
                                line: line_no,
                                error: &e.to_string(),
                            },
                        ),
                    }
                    return;
                }
                Err(e) => {
                    push_json(
                        out,
                        &SignErrorLine {
                            line: line_no,
                            error: &e.to_string(),
                        },
                    );
                    return;
                }
            }
        }
        let outcome = match line {
            Ok(bytes) => self.sign(bytes),
            Err(len) => Err(too_long_message(len, self.max_line)),
        };
        self.emit(line_no, outcome, out, acc);
    }

    /// In three stages, as the verify job: every line up to its signature,
    /// the chunk's signatures back to back, then the output lines in input
    /// order. A div signing request is signed whole in its turn.
    fn chunk(
        &self,
        first_line: u64,
        slots: &[Slot],
        data: &[u8],
        sink: &mut Sink<'_>,
        acc: &mut SignStats,
    ) {
        /// A line up to its signature, then signed.
        enum Staged<'b, T> {
            Blank,
            Line(Result<T, String>),
            /// Signed whole in its turn: a div request, a line too long.
            Whole(Result<&'b [u8], usize>),
        }
        let prepared: Vec<Staged<'_, Prepared>> = slots
            .iter()
            .map(|slot| match slot {
                Slot::Blank => Staged::Blank,
                Slot::TooLong(n) => Staged::Whole(Err(*n)),
                Slot::Line { start, end } => {
                    let bytes = data.get(*start..*end).unwrap_or_default();
                    if shaken::div::DivSignRequest::parse(bytes, &shaken::Limits::default())
                        .is_ok_and(|r| r.is_none())
                    {
                        Staged::Line(self.prepare(bytes))
                    } else {
                        Staged::Whole(Ok(bytes))
                    }
                }
            })
            .collect();
        let signed: Vec<Staged<'_, Signed>> = prepared
            .into_iter()
            .map(|s| match s {
                Staged::Line(p) => Staged::Line(p.and_then(|(unsigned, a, c, r)| {
                    Ok((sign_token(unsigned, self.signer)?, a, c, r))
                })),
                Staged::Blank => Staged::Blank,
                Staged::Whole(w) => Staged::Whole(w),
            })
            .collect();
        for (i, s) in signed.into_iter().enumerate() {
            let no = first_line + i as u64;
            match s {
                Staged::Blank => {}
                Staged::Whole(line) => self.line(no, line, sink, acc),
                Staged::Line(outcome) => {
                    acc.total += 1;
                    self.emit(no, outcome, sink.out, acc);
                }
            }
        }
    }
}

impl SignJob<'_> {
    /// One signed line's output (or its error line) and counters.
    fn emit(
        &self,
        line_no: u64,
        outcome: Result<Signed, String>,
        out: &mut Vec<u8>,
        acc: &mut SignStats,
    ) {
        match outcome {
            Ok((token, attest, claims, rcd_identity)) => {
                acc.signed += 1;
                let i = match attest {
                    Attestation::A => 0,
                    Attestation::B => 1,
                    Attestation::C => 2,
                };
                if let Some(c) = acc.by_attest.get_mut(i) {
                    *c += 1;
                }
                self.push_identity(out, token, line_no, &claims);
                if let Some(id) = rcd_identity {
                    push_rcd_identity(out, &id);
                }
            }
            Err(message) => push_json(
                out,
                &SignErrorLine {
                    line: line_no,
                    error: &message,
                },
            ),
        }
    }
}

/// `shaken sign --batch FILE|-`.
pub fn sign(input: String, a: SignArgs) -> Result<i32> {
    let jobs = job_count(a.jobs)?;
    check_x5u(&a.x5u)?;
    let signer = load_signer(&a.key, a.deterministic)?;
    let max_line = shaken::Limits::default().max_batch_line;
    let job = SignJob {
        signer: signer.as_ref(),
        header: passport::EncodedHeader::new(&Header::shaken(&a.x5u))?,
        x5u: &a.x5u,
        suffix_json: identity_suffix_json(&a.x5u)?,
        policy: TnPolicy {
            national: a.tn.tn_national,
        },
        max_line,
        rcd: super::setup::rcd_signing(
            &a.rcd,
            &TnPolicy {
                national: a.tn.tn_national,
            },
        )?,
    };
    let started = Instant::now();
    let (accs, _lines) = run_pipeline(&input, jobs, max_line, &job, &mut Exports::default())?;
    let elapsed = started.elapsed();
    let mut t = SignStats::default();
    for s in &accs {
        t.total += s.total;
        t.signed += s.signed;
        for (a, b) in t.by_attest.iter_mut().zip(s.by_attest.iter()) {
            *a += b;
        }
    }
    let [aa, bb, cc] = t.by_attest;
    eprintln!(
        "summary: {} lines, {} signed (A {aa}, B {bb}, C {cc}), {} failed in {:.2} s ({:.0} lines/s)",
        t.total,
        t.signed,
        t.total - t.signed,
        elapsed.as_secs_f64(),
        summary::rate(t.total, elapsed)
    );
    Ok(if t.signed == t.total {
        EXIT_OK
    } else {
        EXIT_FAIL
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<String> {
        let mut r = std::io::BufReader::with_capacity(4, input);
        let mut data = Vec::new();
        let mut v = Vec::new();
        while let Some(slot) = read_line(&mut r, &mut data, max).unwrap() {
            v.push(match slot {
                Slot::Line { start, end } => String::from_utf8(data[start..end].to_vec()).unwrap(),
                Slot::TooLong(n) => format!("<too long {n}>"),
                Slot::Blank => "<blank>".into(),
            });
        }
        v
    }

    #[test]
    fn reads_lines_crlf_blank_and_too_long() {
        assert_eq!(
            lines(b"ab\r\n\n  \ncdefghij\nxyz", 5),
            vec!["ab", "<blank>", "<blank>", "<too long 8>", "xyz"]
        );
        assert_eq!(lines(b"", 5), Vec::<String>::new());
        assert_eq!(lines(b"a\n", 5), vec!["a"]);
    }

    #[test]
    fn finds_newlines_across_blocks() {
        assert_eq!(find_newline(b""), None);
        assert_eq!(find_newline(b"abc"), None);
        assert_eq!(find_newline(b"\n"), Some(0));
        for at in [0usize, 1, 63, 64, 65, 127, 128, 200] {
            let mut buf = vec![b'x'; 300];
            buf[at] = b'\n';
            buf[at + 50] = b'\n';
            assert_eq!(find_newline(&buf), Some(at), "newline at {at}");
        }
        assert_eq!(find_newline(&[b'y'; 300]), None);
    }

    fn sign_job<'a>(signer: &'a dyn Signer, x5u: &'a str) -> SignJob<'a> {
        SignJob {
            signer,
            header: passport::EncodedHeader::new(&Header::shaken(x5u)).unwrap(),
            x5u,
            suffix_json: identity_suffix_json(x5u).unwrap(),
            policy: TnPolicy::default(),
            max_line: 100,
            rcd: None,
        }
    }

    #[test]
    fn identity_line_is_the_serde_serialisation() {
        let signer = shaken::crypto::KeySigner::from_pem(
            &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/certs/sp.key.pem"))
                .unwrap(),
        )
        .unwrap();
        // An x5u that needs escaping, and tokens that do and do not.
        for x5u in [
            "https://cr.example.net/sp.pem",
            "https://x/\"q\"\\\u{7}\u{e9}",
        ] {
            let job = sign_job(&signer, x5u);
            let claims = [
                Claims::shaken(
                    Attestation::B,
                    "12155550121",
                    vec!["12125550143".into(), "12125550144".into()],
                    1_800_000_000,
                    "de305d54-75b4-431b-adb2-eb6b9e546014",
                ),
                // Values that need escaping take the serde path.
                Claims::shaken(Attestation::A, "1\"2", vec!["x\\y".into()], 7, "o\u{e9}"),
            ];
            for c in &claims {
                for token in ["eyJ.eyJ.sig-_0", "odd\"token\\\n\u{e9}", ""] {
                    let mut want = Vec::new();
                    push_json(
                        &mut want,
                        &SignedLine {
                            identity: &IdentityHeader::shaken(token, x5u).to_string(),
                            line: 42,
                            attest: c.attest.map_or("", |a| a.as_str()),
                            orig: TnOne {
                                tn: c.orig.as_str(),
                            },
                            dest: TnMany { tn: &c.dest.tn },
                            iat: c.iat,
                            origid: c.origid.as_deref(),
                        },
                    );
                    let mut got = Vec::new();
                    job.push_identity(&mut got, token.to_owned(), 42, c);
                    assert_eq!(
                        String::from_utf8(got).unwrap(),
                        String::from_utf8(want).unwrap()
                    );
                }
            }
        }
        assert!(json_plain("abc-_.XYZ019"));
        assert!(!json_plain("a\"b"));
        assert!(!json_plain("a\\b"));
        assert!(!json_plain("a\u{1f}b"));
        assert!(!json_plain("a\u{7f}b"));
        assert!(!json_plain("\u{e9}"));
    }

    #[test]
    fn job_count_rules() {
        assert!(job_count(Some(0)).is_err());
        assert_eq!(job_count(Some(3)).unwrap(), 3);
        assert_eq!(job_count(Some(100_000)).unwrap(), MAX_JOBS);
        assert!(job_count(None).unwrap() >= 1);
    }
}
