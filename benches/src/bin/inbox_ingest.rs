//! Load benchmark of the TLS-RPT inbox (issue 12, Performance):
//!
//! 1. **Ingest**: `--reports N` distinct DKIM-signed report e-mails
//!    (multipart/report with a base64 `application/tlsrpt+gzip`
//!    attachment, as the large senders send them; 1 to 3 policies and 0
//!    to 4 failure details each; RSA-2048 `rsa-sha256` signatures of four
//!    reporting organizations, made with tlsrpt-core's `dkim` signer) are
//!    written as a Maildir (`DIR/new/`), then ingested through
//!    [`maildir::ingest_maildir_with`], the code path of
//!    `mtasts report ingest --maildir DIR` (each message read, parsed,
//!    DKIM-verified, stored in its own transaction in the SQLite store
//!    `DIR/state`, moved to `cur/`). The DKIM keys are served by an
//!    in-process DNS server on loopback (`test_support::DnsServer`) and
//!    the verifier's cache is warmed with one message per signing domain
//!    first (not counted). Reports per second of wall time and of process
//!    CPU time (all threads, `/proc/self/stat`).
//! 2. **Batch import** (`--batch B`, default 256; 0 skips it): another N
//!    such messages through [`Inbox::ingest_files`], B reports per
//!    transaction.
//! 3. **Summary** (run last): reports without DKIM are added through
//!    `InboxStore::put_reports` until the store holds `--failure-rows`
//!    (default 1,000,000) failure detail rows over the last 30 days, all
//!    of them for `--summary-domains` policy domains (default 1: the one
//!    domain summarized holds them all); then [`summary::summarize`] of
//!    `d0.bench.example` over those 30 days, the median of `--runs` runs.
//! 4. **Parsing only** (always): tlsrpt-core's `read_report` over the
//!    same `.eml` files (now in `DIR/cur/`), no DKIM, no store.
//! 5. **Peer** (`--peer`): `benches/scripts/parsedmarc_tlsrpt.py` (run
//!    with `--python`, default `python3`) parses the same `.eml` files
//!    with parsedmarc's `parse_report_file` (which neither verifies DKIM
//!    nor stores); its reports per second and the ratios (our Maildir
//!    ingest, and our parsing only, to parsedmarc) are printed.
//!
//! `--check` (CI smoke): exit 1 unless every message (warm-up, Maildir
//! and batch) was stored with DKIM `pass` by its signing domain and the
//! summary selected reports; `--no-key` publishes no key record, so the
//! check must fail (a test of the check itself).
//!
//! ```text
//! cargo build --release -p mta-sts-benches --bin inbox_ingest
//! taskset -c 1 target/release/inbox_ingest --dir /tmp/inbox-bench --reports 5000 \
//!     --peer --python /tmp/parsedmarc-venv/bin/python
//! # smoke (CI): 50 messages, exit 1 unless every one is stored with DKIM pass
//! target/debug/inbox_ingest --dir /tmp/inbox-smoke --reports 50 --batch 0 \
//!     --failure-rows 2000 --check
//! ```
//!
//! `DIR/new`, `DIR/cur`, `DIR/tmp`, `DIR/.rejected`, `DIR/batch` and
//! `DIR/state` are removed first (nothing else in `DIR` is touched).
//! Nothing leaves 127.0.0.0/8.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mtasts_site::inbox::maildir::{self, MaildirOptions};
use mtasts_site::inbox::store::{DkimStatus, DkimVerdict, NewReport};
use mtasts_site::inbox::summary::{self, SummaryOptions};
use mtasts_site::inbox::{Inbox, InboxOptions, IngestOutcome, Source};
use mtasts_site::sqlite::SqliteStore;
use mtasts_site::store::SiteStore;
use test_support::{DnsServer, Zones};
use tlsrpt_core::dkim::{KeyService, Signer, SigningKey};
use tlsrpt_core::summary::Filter;
use tlsrpt_core::time::Timestamp;

/// The RSA-2048 test key of tlsrpt-core's DKIM tests (what Google and
/// Microsoft sign report mail with: `rsa-sha256`, 2048 bits).
const RSA_KEY: &str = include_str!("../../../tlsrpt-core/tests/data/dkim/rsa2048.pkcs8.pem");
/// The Ed25519 test key (`--ed25519`).
const ED25519_KEY: &str = include_str!("../../../tlsrpt-core/tests/data/dkim/ed25519.pkcs8v1.pem");

/// The reporting organizations (each its own signing domain and key record).
const ORGS: [&str; 4] = [
    "gmail.example",
    "outlook.example",
    "yahoo.example",
    "mailru.example",
];

/// The selector of every signature.
const SELECTOR: &str = "tlsrpt";

/// The policy domains of the ingested mail.
const MAIL_DOMAINS: usize = 100;

/// Days of stored reports summarized.
const DAYS: i64 = 30;

struct Options {
    dir: PathBuf,
    reports: usize,
    batch: usize,
    cpu: Option<usize>,
    check: bool,
    peer: bool,
    python: String,
    failure_rows: u64,
    summary_domains: usize,
    runs: usize,
    ed25519: bool,
    no_key: bool,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: inbox_ingest --dir DIR [--reports N] [--batch B] [--cpu N] [--check] \
         [--peer] [--python PATH] [--failure-rows N] [--summary-domains K] [--runs R]\n\
         [--ed25519] [--no-key]\n\
         --reports: messages ingested from the Maildir (default 5000);\n\
         --batch: reports per transaction of the batch import (default 256; 0 skips it);\n\
         --cpu: pin this process (and the peer) to CPU N;\n\
         --check: exit 1 unless every message was stored with DKIM pass;\n\
         --peer: time parsedmarc on the same files (benches/scripts/parsedmarc_tlsrpt.py);\n\
         --failure-rows: failure detail rows in the store for the summary (default 1000000);\n\
         --summary-domains: policy domains holding them (default 1; d0 is summarized);\n\
         --runs: summary runs, the median reported (default 5);\n\
         --ed25519: sign with Ed25519 instead of RSA-2048;\n\
         --no-key: publish no key record (every DKIM result is fail: exercises --check)"
    );
    ExitCode::from(2)
}

fn parse_args() -> Option<Options> {
    let mut o = Options {
        dir: PathBuf::new(),
        reports: 5000,
        batch: 256,
        cpu: None,
        check: false,
        peer: false,
        python: "python3".to_owned(),
        failure_rows: 1_000_000,
        summary_domains: 1,
        runs: 5,
        ed25519: false,
        no_key: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dir" => o.dir = args.next()?.into(),
            "--reports" => o.reports = args.next()?.parse().ok()?,
            "--batch" => o.batch = args.next()?.parse().ok()?,
            "--cpu" => o.cpu = Some(args.next()?.parse().ok()?),
            "--check" => o.check = true,
            "--peer" => o.peer = true,
            "--python" => o.python = args.next()?,
            "--failure-rows" => o.failure_rows = args.next()?.parse().ok()?,
            "--summary-domains" => o.summary_domains = args.next()?.parse().ok()?,
            "--runs" => o.runs = args.next()?.parse().ok()?,
            "--ed25519" => o.ed25519 = true,
            "--no-key" => o.no_key = true,
            _ => return None,
        }
    }
    (!o.dir.as_os_str().is_empty() && o.reports > 0 && o.summary_domains > 0 && o.runs > 0)
        .then_some(o)
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// (year, month, day) of a day number (days since 1970-01-01).
fn civil(day: i64) -> (i64, i64, i64) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn rfc3339(day: i64, end: bool) -> String {
    let (y, m, d) = civil(day);
    if end {
        format!("{y:04}-{m:02}-{d:02}T23:59:59Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T00:00:00Z")
    }
}

fn rfc5322_date(day: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let (y, m, d) = civil(day + 1);
    let wd = WEEKDAYS[usize::try_from((day + 1).rem_euclid(7)).unwrap_or(0)];
    let mon = MONTHS[usize::try_from(m - 1).unwrap_or(0)];
    format!("{wd}, {d:02} {mon} {y} 03:10:06 +0000")
}

const RESULT_TYPES: [&str; 6] = [
    "certificate-expired",
    "validation-failure",
    "starttls-not-supported",
    "certificate-host-mismatch",
    "sts-policy-invalid",
    "certificate-not-trusted",
];

/// One failure detail.
fn failure_detail(rng: &mut Rng, domain: &str) -> serde_json::Value {
    let mx = rng.below(3) + 1;
    let ip = rng.below(65_000);
    serde_json::json!({
        "result-type": RESULT_TYPES[usize::try_from(rng.below(6)).unwrap_or(0)],
        "sending-mta-ip": format!("2001:db8:{:x}::{:x}", ip >> 8, ip & 0xff),
        "receiving-mx-hostname": format!("mx{mx}.{domain}"),
        "receiving-ip": format!("192.0.2.{mx}"),
        "failed-session-count": rng.below(200) + 1,
        "failure-reason-code": "X509_V_ERR_CERT_HAS_EXPIRED",
    })
}

/// A report JSON of `org` for `domain` on `day`: `policies` policies
/// (sts, then tlsa, then no-policy-found), `details` failure details
/// each (the first policy at least one when `details` is 0 and `rng`
/// says so).
fn report_json(
    rng: &mut Rng,
    org: &str,
    id: &str,
    domain: &str,
    day: i64,
    policies: usize,
    details: usize,
) -> String {
    let mut ps = Vec::with_capacity(policies);
    for p in 0..policies {
        let fails: Vec<serde_json::Value> =
            (0..details).map(|_| failure_detail(rng, domain)).collect();
        let failed: u64 = fails
            .iter()
            .filter_map(|f| f["failed-session-count"].as_u64())
            .sum();
        let policy = match p {
            0 => serde_json::json!({
                "policy-type": "sts",
                "policy-string": ["version: STSv1", "mode: enforce",
                    format!("mx: mx1.{domain}"), format!("mx: mx2.{domain}"),
                    format!("mx: *.backup.{domain}"), "max_age: 604800"],
                "policy-domain": domain,
                "mx-host": [format!("mx1.{domain}"), format!("mx2.{domain}"), format!("*.backup.{domain}")],
            }),
            1 => serde_json::json!({
                "policy-type": "tlsa",
                "policy-string": ["3 1 1 0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6"],
                "policy-domain": domain,
                "mx-host": [format!("mx1.{domain}")],
            }),
            _ => serde_json::json!({
                "policy-type": "no-policy-found",
                "policy-domain": domain,
            }),
        };
        let mut v = serde_json::json!({
            "policy": policy,
            "summary": {
                "total-successful-session-count": rng.below(20_000),
                "total-failure-session-count": failed,
            },
        });
        if !fails.is_empty() {
            v["failure-details"] = serde_json::Value::Array(fails);
        }
        ps.push(v);
    }
    serde_json::json!({
        "organization-name": org,
        "date-range": {"start-datetime": rfc3339(day, false), "end-datetime": rfc3339(day, true)},
        "contact-info": format!("smtp-tls-reporting@{org}"),
        "report-id": id,
        "policies": ps,
    })
    .to_string()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to memory does not fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

fn base64_lines(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + bytes.len() / 38 + 8);
    let mut col = 0;
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
        col += 4;
        if col == 76 {
            out.push_str("\r\n");
            col = 0;
        }
    }
    if col > 0 {
        out.push_str("\r\n");
    }
    out
}

/// A report e-mail as the large senders write it (RFC 8460 5.3).
fn report_mail(org: &str, domain: &str, day: i64, id: &str, json: &str) -> Vec<u8> {
    let gz = gzip(json.as_bytes());
    let filename = format!(
        "{org}!{domain}!{}!{}!001.json.gz",
        day * 86_400,
        day * 86_400 + 86_399
    );
    let boundary = format!("b{:016x}", id.len() as u64 * 7919 + day.unsigned_abs());
    format!(
        "From: noreply-smtp-tls-reporting@{org}\r\n\
         To: tlsrpt@{domain}\r\n\
         Date: {date}\r\n\
         Subject: Report Domain: {domain} Submitter: {org} Report-ID: <{id}>\r\n\
         Message-ID: <{id}.msg@{org}>\r\n\
         MIME-Version: 1.0\r\n\
         TLS-Report-Domain: {domain}\r\n\
         TLS-Report-Submitter: {org}\r\n\
         Content-Type: multipart/report; boundary=\"{boundary}\"; report-type=tlsrpt\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: text/plain; charset=\"UTF-8\"\r\n\
         \r\n\
         This is an aggregate TLS report from {org}\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: application/tlsrpt+gzip; name=\"{filename}\"\r\n\
         Content-Disposition: attachment; filename=\"{filename}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         {b64}\
         --{boundary}--\r\n",
        date = rfc5322_date(day),
        b64 = base64_lines(&gz),
    )
    .into_bytes()
}

/// A signed message: (organization, report id, bytes).
type Mail = (String, String, Vec<u8>);

/// `n` distinct signed report mails, numbered from `first`.
fn make_mails(
    signers: &[Signer],
    rng: &mut Rng,
    today: i64,
    first: usize,
    n: usize,
    tag: &str,
) -> Result<Vec<Mail>, String> {
    let ts = Timestamp::from_unix(today * 86_400);
    let mut out = Vec::with_capacity(n);
    for i in first..first + n {
        let signer = &signers[i % signers.len()];
        let org = signer.domain().to_owned();
        let domain = format!("m{}.bench.example", i % MAIL_DOMAINS);
        let day = today - 1 - i64::try_from(i).unwrap_or(0) % DAYS;
        let id = format!("{}_{tag}{i}@{org}", rfc3339(day, false));
        let policies = 1 + usize::try_from(rng.below(3)).unwrap_or(0);
        let details = usize::try_from(rng.below(5)).unwrap_or(0);
        let json = report_json(rng, &org, &id, &domain, day, policies, details);
        let mail = report_mail(&org, &domain, day, &id, &json);
        let signed = signer
            .sign(&mail, ts)
            .map_err(|e| format!("signing report {id}: {e}"))?;
        out.push((org, id, signed));
    }
    Ok(out)
}

/// Write `mails` into the Maildir `md` (`new/`), MTA-style names.
fn write_maildir(md: &Path, mails: &[Mail]) -> std::io::Result<Vec<PathBuf>> {
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(md.join(sub))?;
    }
    let mut paths = Vec::with_capacity(mails.len());
    for (i, (_, _, bytes)) in mails.iter().enumerate() {
        let name = format!("1764892800.M{i:07}P1.bench");
        let tmp = md.join("tmp").join(&name);
        std::fs::write(&tmp, bytes)?;
        let new = md.join("new").join(&name);
        std::fs::rename(&tmp, &new)?;
        paths.push(new);
    }
    Ok(paths)
}

/// Process CPU time (user + system, all threads) from `/proc/self/stat`
/// (clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the `(comm)`: state is field 3; utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

struct Timed {
    wall: Duration,
    cpu: Duration,
}

impl Timed {
    fn per_sec(&self, n: usize) -> (f64, f64) {
        let n = n as f64;
        (
            n / self.wall.as_secs_f64().max(1e-9),
            n / self.cpu.as_secs_f64().max(1e-9),
        )
    }
}

/// Pin this process (threads made from now on) to `cpu`.
fn pin(cpu: usize) -> Result<(), String> {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set).map_err(|e| format!("--cpu {cpu}: {e}"))
}

/// Every mail stored with DKIM pass by its signing domain.
fn check_dkim(store: &dyn SiteStore, mails: &[Mail]) -> Result<(), String> {
    let mut bad = Vec::new();
    for (org, id, _) in mails {
        match store.inbox().stored_report(org, id) {
            Ok(Some(r))
                if r.dkim.status == DkimStatus::Pass && r.dkim.domain.as_deref() == Some(org) => {}
            Ok(Some(r)) => bad.push(format!(
                "{id}: DKIM {} ({:?})",
                r.dkim.status, r.dkim.domain
            )),
            Ok(None) => bad.push(format!("{id}: not stored")),
            Err(e) => bad.push(format!("{id}: {e}")),
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} messages not stored with DKIM pass, first: {}",
            bad.len(),
            mails.len(),
            bad[0]
        ))
    }
}

/// Add reports (no DKIM, policy domains `d0`...) until the store holds
/// `rows` failure detail rows; returns (reports added, rows added).
fn fill_store(
    store: &dyn SiteStore,
    o: &Options,
    rng: &mut Rng,
    today: i64,
    have: u64,
) -> Result<(u64, u64), String> {
    const PER_POLICY: usize = 20;
    const POLICIES: usize = 2;
    let per_report = (PER_POLICY * POLICIES) as u64;
    let mut added_reports = 0u64;
    let mut added_rows = 0u64;
    let mut i = 0usize;
    let mut chunk = Vec::with_capacity(500);
    let now = today * 86_400;
    while have + added_rows < o.failure_rows {
        let org = ORGS[i % ORGS.len()];
        let domain = format!("d{}.bench.example", (i / ORGS.len()) % o.summary_domains);
        let day =
            today - 1 - i64::try_from(i / (ORGS.len() * o.summary_domains)).unwrap_or(0) % DAYS;
        let id = format!("{}_bulk{i}@{org}", rfc3339(day, false));
        let json = report_json(rng, org, &id, &domain, day, POLICIES, PER_POLICY);
        let parsed = tlsrpt_core::Report::parse_lenient(json.as_bytes())
            .map_err(|e| format!("generated report {id}: {e}"))?;
        let row = NewReport::new(
            &parsed.value,
            json.as_bytes(),
            DkimVerdict::none(),
            "bench:bulk".to_owned(),
            now,
        )
        .map_err(|e| format!("report {id}: {e}"))?;
        chunk.push(row);
        added_reports += 1;
        added_rows += per_report;
        i += 1;
        if chunk.len() == 500 {
            store
                .inbox()
                .put_reports(&chunk)
                .map_err(|e| format!("storing bulk reports: {e}"))?;
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        store
            .inbox()
            .put_reports(&chunk)
            .map_err(|e| format!("storing bulk reports: {e}"))?;
    }
    Ok((added_reports, added_rows))
}

/// Reports per second (wall, CPU) of tlsrpt-core's reader over every
/// file of `dir` (each read into memory first, as the peer does; the
/// reading is timed too).
fn parse_only(dir: &Path) -> Result<(f64, f64), String> {
    use tlsrpt_core::input::{ReadOptions, read_report};
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let options = ReadOptions::default();
    let (w0, c0) = (Instant::now(), cpu_time());
    let mut n = 0usize;
    for f in &files {
        let bytes = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let read = read_report(&bytes, &options).map_err(|e| format!("{}: {e}", f.display()))?;
        std::hint::black_box(&read.value.report);
        n += 1;
    }
    let t = Timed {
        wall: w0.elapsed(),
        cpu: cpu_time().saturating_sub(c0),
    };
    Ok(t.per_sec(n))
}

fn remove_old(dir: &Path) -> std::io::Result<()> {
    for sub in ["new", "cur", "tmp", ".rejected", "batch", "state"] {
        let p = dir.join(sub);
        if p.exists() {
            std::fs::remove_dir_all(&p)?;
        }
    }
    std::fs::create_dir_all(dir)
}

fn run(o: &Options) -> Result<bool, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    remove_old(&o.dir).map_err(|e| format!("{}: {e}", o.dir.display()))?;
    let pem = if o.ed25519 { ED25519_KEY } else { RSA_KEY };
    let signers = ORGS
        .iter()
        .map(|org| {
            SigningKey::from_pem(pem)
                .and_then(|k| Signer::new(k, org, SELECTOR))
                .map_err(|e| format!("signer of {org}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut zones = Zones::new();
    if !o.no_key {
        for s in &signers {
            zones = zones.txt(
                &s.record_name(),
                &s.key().txt_record_strings(KeyService::Tlsrpt),
            );
        }
    }
    let dns = rt
        .block_on(DnsServer::start(zones))
        .map_err(|e| format!("loopback DNS server: {e}"))?;
    let today = Timestamp::from_system_time(std::time::SystemTime::now()).day();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

    let t = Instant::now();
    let mails = make_mails(&signers, &mut rng, today, 0, o.reports, "m")?;
    let warm = make_mails(&signers, &mut rng, today, 0, signers.len(), "warm")?;
    write_maildir(&o.dir, &mails).map_err(|e| format!("writing the Maildir: {e}"))?;
    let bytes: usize = mails.iter().map(|m| m.2.len()).sum();
    println!(
        "generated {} signed report mails ({} bytes on average, {}) in {:.1} s",
        mails.len(),
        bytes / mails.len().max(1),
        if o.ed25519 {
            "ed25519-sha256"
        } else {
            "rsa-sha256, 2048 bits"
        },
        t.elapsed().as_secs_f64()
    );

    let store: Arc<dyn SiteStore> = Arc::new(
        SqliteStore::open(&o.dir.join("state")).map_err(|e| format!("SQLite store: {e}"))?,
    );
    let inbox = Inbox::new(
        Arc::clone(&store),
        InboxOptions {
            dkim_resolver: Some(dns.addr()),
            retain_days: None,
            ..InboxOptions::default()
        },
    );
    // Warm the DKIM key cache: one message per signing domain.
    for (_, id, m) in &warm {
        match rt.block_on(inbox.ingest(m, &Source::Stdin)) {
            Ok(IngestOutcome::Stored { .. }) => {}
            other => return Err(format!("warm-up message {id}: {other:?}")),
        }
    }
    let mut ok = true;
    if let Err(e) = check_dkim(store.as_ref(), &warm) {
        eprintln!("warm-up: {e}");
        ok = false;
    }

    // 1. The Maildir path of `mtasts report ingest --maildir`.
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let (w0, c0) = (Instant::now(), cpu_time());
    let counts = rt
        .block_on(maildir::ingest_maildir_with(
            &inbox,
            &o.dir,
            &MaildirOptions::default(),
            false,
            rx,
        ))
        .map_err(|e| format!("ingest_maildir: {e}"))?;
    let md = Timed {
        wall: w0.elapsed(),
        cpu: cpu_time().saturating_sub(c0),
    };
    if counts.stored != o.reports as u64 {
        eprintln!("maildir: {counts:?}, expected {} stored", o.reports);
        ok = false;
    }
    let (md_wall, md_cpu) = md.per_sec(o.reports);
    println!(
        "maildir ingest (a transaction per batch of the Maildir listing, DKIM verified, warm key cache): \
         {} reports in {:.3} s wall, {:.3} s CPU: {md_wall:.0} reports/s wall, {md_cpu:.0} reports/s CPU",
        o.reports,
        md.wall.as_secs_f64(),
        md.cpu.as_secs_f64()
    );
    if let Err(e) = check_dkim(store.as_ref(), &mails) {
        eprintln!("{e}");
        ok = false;
    } else {
        println!("every message stored with DKIM pass");
    }

    // 2. Batch import.
    if o.batch > 0 {
        let more = make_mails(&signers, &mut rng, today, o.reports, o.reports, "b")?;
        let files = write_maildir(&o.dir.join("batch"), &more)
            .map_err(|e| format!("writing the batch Maildir: {e}"))?;
        let (w0, c0) = (Instant::now(), cpu_time());
        let out = rt.block_on(inbox.ingest_files(&files, o.batch));
        let t = Timed {
            wall: w0.elapsed(),
            cpu: cpu_time().saturating_sub(c0),
        };
        let stored = out
            .iter()
            .filter(|r| matches!(r, Ok(IngestOutcome::Stored { .. })))
            .count();
        if stored != more.len() {
            eprintln!("batch import: {stored} of {} stored", more.len());
            ok = false;
        }
        if let Err(e) = check_dkim(store.as_ref(), &more) {
            eprintln!("batch import: {e}");
            ok = false;
        }
        let (w, c) = t.per_sec(more.len());
        println!(
            "batch import (Inbox::ingest_files, {} per transaction): {} reports in {:.3} s wall, \
             {:.3} s CPU: {w:.0} reports/s wall, {c:.0} reports/s CPU",
            o.batch,
            more.len(),
            t.wall.as_secs_f64(),
            t.cpu.as_secs_f64()
        );
    }

    // 3. Parsing only (tlsrpt-core's reader, what the peer does) and the
    // peer, on the same files (now in cur/).
    let cur = o.dir.join("cur");
    let (parse_wall, parse_cpu) = parse_only(&cur)?;
    println!(
        "parse only (tlsrpt_core::input::read_report, same files, no DKIM, no store): \
         {parse_wall:.0} reports/s wall, {parse_cpu:.0} reports/s CPU"
    );
    if o.peer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/parsedmarc_tlsrpt.py");
        let out = Command::new(&o.python)
            .arg(&script)
            .arg(&cur)
            .output()
            .map_err(|e| format!("{} {}: {e}", o.python, script.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        print!("{text}");
        if !out.status.success() {
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
            return Err(format!("the parsedmarc script failed: {}", out.status));
        }
        let rate = text
            .lines()
            .find_map(|l| l.strip_prefix("reports_per_second_wall "))
            .and_then(|v| v.trim().parse::<f64>().ok());
        let cpu_rate = text
            .lines()
            .find_map(|l| l.strip_prefix("reports_per_second_cpu "))
            .and_then(|v| v.trim().parse::<f64>().ok());
        match (rate, cpu_rate) {
            (Some(r), Some(c)) if r > 0.0 && c > 0.0 => {
                println!(
                    "ratio (inbox Maildir ingest with DKIM and store / parsedmarc parse only): \
                     {:.1}x wall, {:.1}x CPU",
                    md_wall / r,
                    md_cpu / c
                );
                println!(
                    "ratio (tlsrpt-core parse only / parsedmarc parse only): \
                     {:.1}x wall, {:.1}x CPU",
                    parse_wall / r,
                    parse_cpu / c
                );
            }
            _ => return Err("the parsedmarc script printed no rate".to_owned()),
        }
    }

    // 4. The summary over a store of `--failure-rows` failure details.
    let have = store
        .inbox()
        .inbox_stats()
        .map_err(|e| format!("store stats: {e}"))?
        .failure_rows;
    let t = Instant::now();
    let (r, n) = fill_store(store.as_ref(), o, &mut rng, today, have)?;
    let stats = store
        .inbox()
        .inbox_stats()
        .map_err(|e| format!("store stats: {e}"))?;
    println!(
        "added {r} reports with {n} failure details (over {} policy domains d0..) in {:.1} s; \
         the store holds {} reports, {} policy rows, {} failure detail rows",
        o.summary_domains,
        t.elapsed().as_secs_f64(),
        stats.reports,
        stats.policy_rows,
        stats.failure_rows
    );
    let options = SummaryOptions {
        filter: Filter::new()
            .since(today - DAYS)
            .until(today - 1)
            .policy_domain("d0.bench.example"),
        ..SummaryOptions::default()
    };
    let mut times = Vec::with_capacity(o.runs);
    let mut last = None;
    for _ in 0..o.runs {
        let t = Instant::now();
        let s =
            summary::summarize(store.inbox(), &options).map_err(|e| format!("summarize: {e}"))?;
        times.push(t.elapsed());
        last = Some(s);
    }
    times.sort();
    let median = times[times.len() / 2];
    if let Some(s) = last {
        let details: u64 = s.by_mx_host.values().map(|m| m.failed_sessions).sum();
        println!(
            "summary of d0.bench.example over {DAYS} days: {} reports, {} failed sessions \
             ({details} by MX host); median of {} runs {:.1} ms (min {:.1}, max {:.1})",
            s.reports,
            s.failed_sessions,
            o.runs,
            median.as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3
        );
        if s.reports == 0 {
            eprintln!("the summary selected no report");
            ok = false;
        }
    }
    drop(dns);
    Ok(ok)
}

fn main() -> ExitCode {
    let Some(o) = parse_args() else {
        return usage();
    };
    if let Some(cpu) = o.cpu
        && let Err(e) = pin(cpu)
    {
        eprintln!("inbox_ingest: {e}");
        return ExitCode::from(2);
    }
    match run(&o) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            if o.check {
                eprintln!("inbox_ingest: check failed");
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("inbox_ingest: {e}");
            ExitCode::from(1)
        }
    }
}
