//! The daemon's Prometheus metrics: a latency histogram on atomics, the
//! text exposition format (version 0.0.4), and the admin HTTP listener
//! that serves `GET /metrics` (see [Metrics](crate::daemon#metrics)).
//!
//! The listener is a deliberately small HTTP/1.1 responder: one request per
//! connection (`Connection: close`), no request body, at most
//! [`MAX_ADMIN_CONNECTIONS`] connections at once (others wait in the
//! backlog), a request head of at most [`MAX_ADMIN_REQUEST`] bytes that
//! must arrive within [`ADMIN_REQUEST_TIMEOUT`], and an answer that must
//! be taken within [`ADMIN_WRITE_TIMEOUT`].

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, warn};

use policy_fetch::error::Chain;

/// Connections the admin listener serves at once; further ones wait in
/// the listen backlog.
pub const MAX_ADMIN_CONNECTIONS: usize = 8;

/// The largest request head (request line and headers) the admin listener
/// reads; a longer one is answered `431`.
pub const MAX_ADMIN_REQUEST: usize = 8192;

/// How long a client of the admin listener has, from its connection, to
/// send a complete request head; then it is answered `408` and closed.
pub const ADMIN_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the admin listener waits for a client to take its answer.
pub const ADMIN_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The upper bounds of the lookup latency histogram, in microseconds
/// (`le` labels in [`LATENCY_BUCKET_LABELS`]); a last `+Inf` bucket
/// follows.
pub const LATENCY_BUCKETS_US: [u64; 16] = [
    100, 500, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

/// The `le` labels of [`LATENCY_BUCKETS_US`], in seconds.
pub const LATENCY_BUCKET_LABELS: [&str; 16] = [
    "0.0001", "0.0005", "0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
    "2.5", "5", "10", "30", "60",
];

/// A histogram of durations with the fixed buckets
/// [`LATENCY_BUCKETS_US`], lock-free (one atomic per bucket).
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    /// Observations per bucket (not cumulative); the last is `+Inf`.
    counts: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    /// The sum of the observations, in microseconds.
    sum_us: AtomicU64,
}

/// A consistent reading of a [`Histogram`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HistogramSnapshot {
    /// Cumulative counts: `cumulative[i]` observations were at most
    /// `LATENCY_BUCKETS_US[i]`; the last one is the count (`+Inf`).
    pub(crate) cumulative: Vec<u64>,
    /// The sum of the observations, in microseconds.
    pub(crate) sum_us: u64,
}

impl HistogramSnapshot {
    /// The number of observations.
    pub(crate) fn count(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }
}

impl Histogram {
    /// Record one duration.
    pub(crate) fn observe(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = LATENCY_BUCKETS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let _ = self
            .sum_us
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                Some(s.saturating_add(us))
            });
    }

    /// The cumulative counts and the sum. The count is the sum of the
    /// buckets read, so `+Inf` always equals it.
    pub(crate) fn snapshot(&self) -> HistogramSnapshot {
        let mut total = 0u64;
        let cumulative = self
            .counts
            .iter()
            .map(|c| {
                total = total.saturating_add(c.load(Ordering::Relaxed));
                total
            })
            .collect();
        HistogramSnapshot {
            cumulative,
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

/// Builds a text exposition (format 0.0.4): `# HELP` and `# TYPE` once per
/// metric name, then its samples.
#[derive(Debug, Default)]
pub(crate) struct Exposition {
    out: String,
}

/// The type of a metric family.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Buckets, sum and count.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

impl Exposition {
    /// Start the family `name`.
    pub(crate) fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
        self
    }

    /// One sample without labels.
    pub(crate) fn sample(&mut self, name: &str, value: u64) -> &mut Self {
        let _ = writeln!(self.out, "{name} {value}");
        self
    }

    /// One sample with one label (the value must need no escaping: the
    /// daemon only uses fixed label values).
    pub(crate) fn labelled(&mut self, name: &str, label: &str, lv: &str, value: u64) -> &mut Self {
        let _ = writeln!(self.out, "{name}{{{label}=\"{lv}\"}} {value}");
        self
    }

    /// A single-sample family.
    pub(crate) fn single(&mut self, name: &str, kind: Kind, help: &str, value: u64) -> &mut Self {
        self.family(name, kind, help).sample(name, value)
    }

    /// A histogram family of durations in seconds.
    pub(crate) fn histogram(&mut self, name: &str, help: &str, h: &HistogramSnapshot) -> &mut Self {
        self.family(name, Kind::Histogram, help);
        for (le, n) in LATENCY_BUCKET_LABELS.iter().zip(&h.cumulative) {
            let _ = writeln!(self.out, "{name}_bucket{{le=\"{le}\"}} {n}");
        }
        let _ = writeln!(self.out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count());
        let secs = h.sum_us as f64 / 1e6;
        let _ = writeln!(self.out, "{name}_sum {secs}");
        let _ = writeln!(self.out, "{name}_count {}", h.count());
        self
    }

    /// The text.
    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// `None` while running; the deadline once stopping (as in the daemon).
pub(crate) type Stop = watch::Receiver<Option<Instant>>;

/// What renders the exposition for one scrape.
pub(crate) type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Serve `GET /metrics` on `listener` with `render` until `stop` says so;
/// connections still open then are cut.
pub(crate) async fn serve_admin(listener: TcpListener, render: Render, stop: Stop) {
    serve_admin_with(listener, render, stop, ADMIN_WRITE_TIMEOUT).await;
}

/// [`serve_admin`] with `write_timeout` for taking an answer instead of
/// [`ADMIN_WRITE_TIMEOUT`] (a parameter for the tests).
async fn serve_admin_with(
    listener: TcpListener,
    render: Render,
    mut stop: Stop,
    write_timeout: Duration,
) {
    let name = listener
        .local_addr()
        .map_or_else(|_| "metrics".to_owned(), |a| a.to_string());
    let slots = Arc::new(Semaphore::new(MAX_ADMIN_CONNECTIONS));
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let slot = tokio::select! {
            biased;
            _ = stop.wait_for(Option::is_some) => break,
            s = Arc::clone(&slots).acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(Option::is_some) => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, _)) => {
                let render = Arc::clone(&render);
                conns.spawn(async move {
                    answer(stream, &render, write_timeout).await;
                    drop(slot);
                });
            }
            Err(e) => {
                drop(slot);
                warn!(listener = name, error = %Chain(&e), "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    conns.shutdown().await;
}

/// What a request head asked for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Asked {
    /// `GET` or `HEAD` (`head`) of `target` (the query removed).
    Read {
        /// The path.
        path: String,
        /// `HEAD`: headers only.
        head: bool,
    },
    /// Another method on `path`.
    OtherMethod {
        /// The path.
        path: String,
    },
    /// Not an HTTP/1.x request head.
    Garbage,
}

/// Read a request head (up to the empty line) from `buf`, if complete:
/// the number of bytes it takes.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Parse a complete request head.
pub(crate) fn parse_head(head: &[u8]) -> Asked {
    let Ok(text) = std::str::from_utf8(head) else {
        return Asked::Garbage;
    };
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let Some(request_line) = lines.next() else {
        return Asked::Garbage;
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Asked::Garbage;
    };
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    if !token(method)
        || !target.starts_with('/')
        || target.bytes().any(|b| b.is_ascii_control())
        || !matches!(version, "HTTP/1.0" | "HTTP/1.1")
    {
        return Asked::Garbage;
    }
    // Every header line is `name: value`.
    for l in lines.take_while(|l| !l.is_empty()) {
        match l.split_once(':') {
            Some((n, _)) if token(n) => {}
            _ => return Asked::Garbage,
        }
    }
    let path = target.split_once('?').map_or(target, |(p, _)| p).to_owned();
    match method {
        "GET" => Asked::Read { path, head: false },
        "HEAD" => Asked::Read { path, head: true },
        _ => Asked::OtherMethod { path },
    }
}

/// How reading a request head ended.
enum Read {
    Head(Asked),
    /// The client closed before sending anything.
    Nothing,
    TooLarge,
    Timeout,
}

async fn read_head(stream: &mut TcpStream) -> Read {
    let mut buf = Vec::with_capacity(1024);
    let until = Instant::now() + ADMIN_REQUEST_TIMEOUT;
    loop {
        if let Some(end) = head_end(&buf) {
            return Read::Head(parse_head(&buf[..end]));
        }
        if buf.len() >= MAX_ADMIN_REQUEST {
            return Read::TooLarge;
        }
        let mut chunk = [0u8; 2048];
        let room = (MAX_ADMIN_REQUEST + 4 - buf.len()).min(chunk.len());
        match tokio::time::timeout_at(until, stream.read(&mut chunk[..room])).await {
            Err(_) => return Read::Timeout,
            Ok(Ok(0)) | Ok(Err(_)) if buf.is_empty() => return Read::Nothing,
            Ok(Ok(0)) | Ok(Err(_)) => return Read::Head(Asked::Garbage),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Answer one admin connection; the answer must be taken within
/// `write_timeout`.
async fn answer(mut stream: TcpStream, render: &Render, write_timeout: Duration) {
    let (status, extra, body, head_only) = match read_head(&mut stream).await {
        Read::Nothing => return,
        Read::Timeout => (
            "408 Request Timeout",
            "",
            "request not complete in time\n".to_owned(),
            false,
        ),
        Read::TooLarge => (
            "431 Request Header Fields Too Large",
            "",
            "request head too large\n".to_owned(),
            false,
        ),
        Read::Head(Asked::Garbage) => ("400 Bad Request", "", "bad request\n".to_owned(), false),
        Read::Head(Asked::Read { path, head }) if path == "/metrics" => {
            ("200 OK", "", render(), head)
        }
        Read::Head(Asked::OtherMethod { path }) if path == "/metrics" => (
            "405 Method Not Allowed",
            "Allow: GET, HEAD\r\n",
            "method not allowed\n".to_owned(),
            false,
        ),
        Read::Head(Asked::Read { head, .. }) => {
            ("404 Not Found", "", "not found\n".to_owned(), head)
        }
        Read::Head(Asked::OtherMethod { .. }) => {
            ("404 Not Found", "", "not found\n".to_owned(), false)
        }
    };
    debug!(status, "metrics request");
    let content_type = if status.starts_with("200") {
        "text/plain; version=0.0.4; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    if !head_only {
        out.push_str(&body);
    }
    let _ = tokio::time::timeout(write_timeout, async {
        if stream.write_all(out.as_bytes()).await.is_ok() {
            let _ = stream.shutdown().await;
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::default();
        for us in [0, 100, 101, 999, 1_000, 70_000_000, 2_000_000] {
            h.observe(Duration::from_micros(us));
        }
        let s = h.snapshot();
        assert_eq!(s.cumulative.len(), 17);
        assert_eq!(s.cumulative[0], 2); // <= 0.0001 s
        assert_eq!(s.cumulative[1], 3); // <= 0.0005 s
        assert_eq!(s.cumulative[2], 5); // <= 0.001 s
        assert_eq!(s.cumulative[11], 6); // <= 2.5 s
        assert_eq!(s.cumulative[15], 6); // <= 60 s
        assert_eq!(s.count(), 7);
        assert_eq!(s.sum_us, 100 + 101 + 999 + 1_000 + 70_000_000 + 2_000_000);
        let mut e = Exposition::default();
        e.histogram("x_seconds", "X.", &s);
        let text = e.finish();
        assert!(text.starts_with("# HELP x_seconds X.\n# TYPE x_seconds histogram\n"));
        assert!(
            text.contains("\nx_seconds_bucket{le=\"0.0001\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("\nx_seconds_bucket{le=\"+Inf\"} 7\n"),
            "{text}"
        );
        assert!(text.contains("\nx_seconds_sum 72.0022\n"), "{text}");
        assert!(text.ends_with("\nx_seconds_count 7\n"), "{text}");
    }

    #[test]
    fn bucket_labels_match_the_bounds() {
        for (us, label) in LATENCY_BUCKETS_US.iter().zip(LATENCY_BUCKET_LABELS) {
            let secs: f64 = label.parse().unwrap();
            assert_eq!((secs * 1e6).round() as u64, *us, "{label}");
        }
    }

    #[test]
    fn request_heads() {
        assert_eq!(
            parse_head(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Asked::Read {
                path: "/metrics".into(),
                head: false
            }
        );
        assert_eq!(
            parse_head(b"HEAD /metrics?a=b HTTP/1.0\n\n"),
            Asked::Read {
                path: "/metrics".into(),
                head: true
            }
        );
        assert_eq!(
            parse_head(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Asked::OtherMethod {
                path: "/metrics".into()
            }
        );
        for bad in [
            &b"hello\r\n\r\n"[..],
            b"GET /metrics\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/2\r\n\r\n",
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
            b"G\xffT /metrics HTTP/1.1\r\n\r\n",
            b"\r\n\r\n",
        ] {
            assert_eq!(parse_head(bad), Asked::Garbage, "{bad:?}");
        }
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nrest"), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\n\n"), Some(16));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
    }

    /// Send a scrape on a connection with a small receive buffer (no
    /// autotuning: the kernel cannot take the whole answer for the
    /// client); after `pause`, read the answer to its end.
    async fn scrape(addr: std::net::SocketAddr, pause: Duration) -> Vec<u8> {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(64 * 1024).unwrap();
        let mut s = socket.connect(addr).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").await.unwrap();
        tokio::time::sleep(pause).await;
        let mut raw = Vec::new();
        // A cut answer may end in a reset instead of a FIN.
        let _ = s.read_to_end(&mut raw).await;
        raw
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_answer_not_taken_in_time_is_cut() {
        assert_eq!(ADMIN_WRITE_TIMEOUT, Duration::from_secs(10));
        // ADMIN_WRITE_TIMEOUT is 10 s: the same code with 1 s.
        let timeout = Duration::from_secs(1);
        let body = "x".repeat(16 * 1024 * 1024);
        let render: Render = {
            let body = body.clone();
            Arc::new(move || body.clone())
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = watch::channel(None);
        let server = tokio::spawn(serve_admin_with(listener, render, stop_rx, timeout));
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        // Taken at once: the whole answer.
        let raw = scrape(addr, Duration::ZERO).await;
        assert_eq!(raw.len(), head.len() + body.len());
        assert!(raw.starts_with(head.as_bytes()));
        // Taken only after twice the timeout: the connection was closed
        // at the timeout, with what the kernel had buffered.
        let raw = scrape(addr, timeout * 2).await;
        assert!(raw.starts_with(head.as_bytes()));
        assert!(
            raw.len() < head.len() + body.len() / 2,
            "{} bytes of {} arrived",
            raw.len(),
            head.len() + body.len()
        );
        // The slot is free again.
        let raw = scrape(addr, Duration::ZERO).await;
        assert_eq!(raw.len(), head.len() + body.len());
        stop_tx.send(Some(Instant::now())).unwrap();
        server.await.unwrap();
    }
}
