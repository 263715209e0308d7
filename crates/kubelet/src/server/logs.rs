//! `GET /containerLogs/{ns}/{pod}/{container}`: read the CRI log files the
//! runtime writes and print them as `kubectl logs` expects.
//!
//! ```text
//! file: "<RFC3339Nano> <stdout|stderr> <P|F> <text>\n" ...
//!   ─▶ sinceTime filter ─▶ last tailLines lines (P parts joined up to their F)
//!   ─▶ [timestamp + " "] text ["\n" on F] ─▶ limitBytes ─▶ body
//! follow: poll the file for growth; a new inode at the path (rotation) is
//! opened once the old one is drained; stop when the container is not running.
//! ```

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

/// How often a following reader looks at the file when it has nothing new.
const POLL: Duration = Duration::from_millis(100);
/// How often a following reader asks the runtime whether the container still runs.
const ALIVE_CHECK: Duration = Duration::from_secs(1);

/// The query parameters of a log request (PodLogOptions as the kubelet gets them).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogOptions {
    pub follow: bool,
    pub previous: bool,
    pub tail_lines: Option<usize>,
    pub since: Option<DateTime<Utc>>,
    pub timestamps: bool,
    pub limit_bytes: Option<usize>,
}

fn flag(v: &str) -> bool {
    matches!(v, "true" | "1" | "True" | "TRUE")
}

impl LogOptions {
    /// Parse the query pairs; `now` anchors `sinceSeconds`.
    pub fn from_query(pairs: &[(String, String)], now: DateTime<Utc>) -> Result<Self, String> {
        let mut o = LogOptions::default();
        let mut since_seconds: Option<i64> = None;
        let mut since_time: Option<DateTime<Utc>> = None;
        let int = |k: &str, v: &str| -> Result<i64, String> {
            v.parse::<i64>()
                .map_err(|_| format!("invalid {k}: {v:?} is not an integer"))
        };
        for (k, v) in pairs {
            match k.as_str() {
                "follow" => o.follow = flag(v),
                "previous" => o.previous = flag(v),
                "timestamps" => o.timestamps = flag(v),
                "tailLines" if !v.is_empty() => {
                    let n = int(k, v)?;
                    if n < 0 {
                        return Err("tailLines: must be greater than or equal to 0".into());
                    }
                    o.tail_lines = Some(n as usize);
                }
                "limitBytes" if !v.is_empty() => {
                    let n = int(k, v)?;
                    if n < 1 {
                        return Err("limitBytes: must be greater than 0".into());
                    }
                    o.limit_bytes = Some(n as usize);
                }
                "sinceSeconds" if !v.is_empty() => {
                    let n = int(k, v)?;
                    if n < 1 {
                        return Err("sinceSeconds: must be greater than 0".into());
                    }
                    since_seconds = Some(n);
                }
                "sinceTime" if !v.is_empty() => {
                    let t = DateTime::parse_from_rfc3339(v)
                        .map_err(|e| format!("invalid sinceTime {v:?}: {e}"))?;
                    since_time = Some(t.with_timezone(&Utc));
                }
                _ => {}
            }
        }
        o.since = match (since_seconds, since_time) {
            (Some(_), Some(_)) => {
                return Err("at most one of sinceTime or sinceSeconds may be specified".into())
            }
            (Some(s), None) => Some(now - chrono::Duration::seconds(s)),
            (None, t) => t,
        };
        Ok(o)
    }
}

/// One line of a CRI log file.
#[derive(Debug, PartialEq, Eq)]
pub struct CriLine<'a> {
    pub timestamp: &'a str,
    pub stream: &'a str,
    /// `P`: the runtime split a long line; the rest follows in the next entries.
    pub partial: bool,
    pub content: &'a [u8],
}

/// Parse `<timestamp> <stream> <tags> <content>` (without the trailing newline).
pub fn parse_line(line: &[u8]) -> Option<CriLine<'_>> {
    let mut rest = line;
    let mut field = || -> Option<&[u8]> {
        let i = rest.iter().position(|b| *b == b' ')?;
        let (f, r) = rest.split_at(i);
        rest = &r[1..];
        Some(f)
    };
    let timestamp = std::str::from_utf8(field()?).ok()?;
    let stream = std::str::from_utf8(field()?).ok()?;
    // The tags field may be the last one when the content is empty.
    let (tags, content) = match rest.iter().position(|b| *b == b' ') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &rest[rest.len()..]),
    };
    let tags = std::str::from_utf8(tags).ok()?;
    let partial = tags.split(':').next() == Some("P");
    Some(CriLine {
        timestamp,
        stream,
        partial,
        content,
    })
}

/// Turns raw CRI lines into what the client sees, honouring sinceTime,
/// timestamps and limitBytes.
pub struct Formatter {
    since: Option<DateTime<Utc>>,
    timestamps: bool,
    remaining: Option<usize>,
    /// The last line written ended with a newline (or nothing was written).
    at_line_start: bool,
}

impl Formatter {
    pub fn new(opts: &LogOptions) -> Self {
        Self {
            since: opts.since,
            timestamps: opts.timestamps,
            remaining: opts.limit_bytes,
            at_line_start: true,
        }
    }

    /// limitBytes reached: nothing more will be written.
    pub fn done(&self) -> bool {
        self.remaining == Some(0)
    }

    /// Append one raw line (without its newline) to `out`.
    pub fn push(&mut self, raw: &[u8], out: &mut Vec<u8>) {
        let Some(line) = parse_line(raw) else {
            return; // not CRI format (a torn write): skip, as the kubelet does
        };
        if let Some(since) = self.since {
            let t = DateTime::parse_from_rfc3339(line.timestamp).map(|t| t.with_timezone(&Utc));
            if t.is_ok_and(|t| t < since) {
                return;
            }
        }
        let mut piece = Vec::with_capacity(line.content.len() + 40);
        if self.timestamps && self.at_line_start {
            piece.extend_from_slice(line.timestamp.as_bytes());
            piece.push(b' ');
        }
        piece.extend_from_slice(line.content);
        if !line.partial {
            piece.push(b'\n');
        }
        self.at_line_start = !line.partial;
        if let Some(left) = self.remaining.as_mut() {
            piece.truncate(*left);
            *left -= piece.len();
        }
        out.extend_from_slice(&piece);
    }
}

/// Split `buf` into complete lines; what follows the last newline stays in `buf`.
pub fn take_lines(buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let Some(last) = buf.iter().rposition(|b| *b == b'\n') else {
        return Vec::new();
    };
    let rest = buf.split_off(last + 1);
    let complete = std::mem::replace(buf, rest);
    complete
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// The raw lines that make up the last `n` logical lines (a logical line is
/// any number of `P` entries closed by an `F` entry).
pub fn tail(lines: &[Vec<u8>], n: usize) -> &[Vec<u8>] {
    if n == 0 {
        return &lines[lines.len()..];
    }
    let mut complete = 0;
    // Walk back over line ends; a trailing run of P entries counts as a line too.
    for i in (0..lines.len()).rev() {
        let partial = parse_line(&lines[i]).is_some_and(|l| l.partial);
        let ends_line = !partial || i == lines.len() - 1;
        if ends_line {
            if complete == n {
                return &lines[i + 1..];
            }
            complete += 1;
        }
    }
    lines
}

/// Asks the runtime whether the container still runs (follow stops when not).
pub type Alive = Arc<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>;

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.ino()
}

/// Write the log at `path` to `tx` as `opts` asks; with follow, keep going
/// while `alive` says the container runs and the receiver listens.
pub async fn stream(
    path: PathBuf,
    opts: LogOptions,
    alive: Option<Alive>,
    tx: mpsc::Sender<Bytes>,
) {
    let mut fmt = Formatter::new(&opts);
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => {
            tracing::debug!(path = %path.display(), "log file: {e}");
            return;
        }
    };
    let mut ino = match file.metadata().await {
        Ok(m) => inode(&m),
        Err(_) => 0,
    };
    let mut buf = Vec::new();
    if file.read_to_end(&mut buf).await.is_err() {
        return;
    }
    let lines = take_lines(&mut buf);
    let first: &[Vec<u8>] = match opts.tail_lines {
        Some(n) => tail(&lines, n),
        None => &lines,
    };
    let mut out = Vec::new();
    for l in first {
        fmt.push(l, &mut out);
    }
    if !out.is_empty() && tx.send(Bytes::from(out)).await.is_err() {
        return;
    }
    let Some(alive) = alive.filter(|_| opts.follow) else {
        return;
    };
    let mut last_check = tokio::time::Instant::now();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        if fmt.done() || tx.is_closed() {
            return;
        }
        let n = match file.read(&mut chunk).await {
            Ok(n) => n,
            Err(_) => return,
        };
        if n > 0 {
            buf.extend_from_slice(&chunk[..n]);
            let mut out = Vec::new();
            for l in take_lines(&mut buf) {
                fmt.push(&l, &mut out);
            }
            if !out.is_empty() && tx.send(Bytes::from(out)).await.is_err() {
                return;
            }
            continue;
        }
        // At the end: was the file rotated (a new file at the path)?
        if let Ok(meta) = tokio::fs::metadata(&path).await {
            if inode(&meta) != ino {
                if let Ok(f) = tokio::fs::File::open(&path).await {
                    file = f;
                    ino = inode(&meta);
                    buf.clear();
                    continue;
                }
            }
        }
        if last_check.elapsed() >= ALIVE_CHECK {
            last_check = tokio::time::Instant::now();
            if !alive().await {
                // One last read for what the container wrote before it stopped.
                let mut rest = Vec::new();
                let _ = file.read_to_end(&mut rest).await;
                buf.extend_from_slice(&rest);
                let mut out = Vec::new();
                for l in take_lines(&mut buf) {
                    fmt.push(&l, &mut out);
                }
                if !out.is_empty() {
                    let _ = tx.send(Bytes::from(out)).await;
                }
                return;
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn render(raw: &str, opts: &LogOptions) -> String {
        let mut buf = raw.as_bytes().to_vec();
        let lines = take_lines(&mut buf);
        let picked = match opts.tail_lines {
            Some(n) => tail(&lines, n),
            None => &lines,
        };
        let mut f = Formatter::new(opts);
        let mut out = Vec::new();
        for l in picked {
            f.push(l, &mut out);
        }
        String::from_utf8(out).expect("utf8")
    }

    const LOG: &str = "2026-11-23T11:30:14.816512546Z stdout F one\n\
2026-11-23T11:30:15.000000000Z stderr P tw\n\
2026-11-23T11:30:15.100000000Z stderr F o\n\
2026-11-23T11:30:16.000000000Z stdout F \n\
2026-11-23T11:30:17.000000000Z stdout F three\n";

    #[test]
    fn parses_cri_lines_and_partial_tags() {
        let l = parse_line(b"2026-11-23T11:30:14.816512546Z stdout F text here").expect("line");
        assert_eq!(l.timestamp, "2026-11-23T11:30:14.816512546Z");
        assert_eq!(l.stream, "stdout");
        assert!(!l.partial);
        assert_eq!(l.content, b"text here");
        assert!(
            parse_line(b"2026-11-23T11:30:14Z stderr P x")
                .expect("p")
                .partial
        );
        assert_eq!(
            parse_line(b"2026-11-23T11:30:14Z stdout F")
                .expect("empty")
                .content,
            b""
        );
        assert!(parse_line(b"garbage").is_none());
    }

    #[test]
    fn joins_partial_lines_and_keeps_empty_ones() {
        assert_eq!(render(LOG, &LogOptions::default()), "one\ntwo\n\nthree\n");
    }

    #[test]
    fn tail_counts_logical_lines() {
        let o = |n| LogOptions {
            tail_lines: Some(n),
            ..Default::default()
        };
        assert_eq!(render(LOG, &o(1)), "three\n");
        assert_eq!(render(LOG, &o(3)), "two\n\nthree\n");
        assert_eq!(render(LOG, &o(0)), "");
        assert_eq!(render(LOG, &o(99)), "one\ntwo\n\nthree\n");
    }

    #[test]
    fn timestamps_prefix_each_line_once() {
        let o = LogOptions {
            timestamps: true,
            ..Default::default()
        };
        let out = render(LOG, &o);
        assert!(
            out.starts_with("2026-11-23T11:30:14.816512546Z one\n"),
            "{out}"
        );
        assert!(
            out.contains("2026-11-23T11:30:15.000000000Z two\n"),
            "{out}"
        );
    }

    #[test]
    fn since_and_limit_bytes() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T11:30:17.5Z")
            .expect("t")
            .with_timezone(&Utc);
        let o = LogOptions::from_query(&q(&[("sinceSeconds", "2")]), now).expect("opts");
        assert_eq!(render(LOG, &o), "\nthree\n");
        let o = LogOptions::from_query(&q(&[("limitBytes", "6")]), now).expect("opts");
        assert_eq!(render(LOG, &o), "one\ntw");
        let o = LogOptions::from_query(&q(&[("sinceTime", "2026-11-23T11:30:16Z")]), now)
            .expect("opts");
        assert_eq!(render(LOG, &o), "\nthree\n");
    }

    #[test]
    fn rejects_bad_options() {
        let now = Utc::now();
        assert!(LogOptions::from_query(&q(&[("tailLines", "x")]), now).is_err());
        assert!(LogOptions::from_query(&q(&[("tailLines", "-1")]), now).is_err());
        assert!(LogOptions::from_query(&q(&[("limitBytes", "0")]), now).is_err());
        assert!(LogOptions::from_query(
            &q(&[("sinceSeconds", "5"), ("sinceTime", "2026-11-23T11:30:16Z")]),
            now
        )
        .is_err());
        let o = LogOptions::from_query(
            &q(&[
                ("follow", "true"),
                ("previous", "true"),
                ("tailLines", "10"),
            ]),
            now,
        )
        .expect("opts");
        assert!(o.follow && o.previous);
        assert_eq!(o.tail_lines, Some(10));
    }

    #[test]
    fn take_lines_keeps_an_unfinished_line() {
        let mut buf = b"a\nb\nc".to_vec();
        assert_eq!(take_lines(&mut buf), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(buf, b"c");
    }

    #[tokio::test]
    async fn follow_sees_appends_and_rotation_then_stops_when_not_running() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("0.log");
        std::fs::write(&path, "2026-11-23T11:30:14Z stdout F first\n").expect("write");
        let running = Arc::new(AtomicBool::new(true));
        let r = running.clone();
        let alive: Alive = Arc::new(move || {
            let r = r.clone();
            Box::pin(async move { r.load(Ordering::SeqCst) })
        });
        let (tx, mut rx) = mpsc::channel(16);
        let opts = LogOptions {
            follow: true,
            ..Default::default()
        };
        let task = tokio::spawn(stream(path.clone(), opts, Some(alive), tx));
        assert_eq!(rx.recv().await.expect("first"), Bytes::from("first\n"));
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .expect("append");
            f.write_all(b"2026-11-23T11:30:15Z stdout F second\n")
                .expect("write");
        }
        assert_eq!(rx.recv().await.expect("second"), Bytes::from("second\n"));
        // Rotate: rename away, write a new file at the same path.
        std::fs::rename(&path, dir.path().join("0.log.1")).expect("rename");
        std::fs::write(&path, "2026-11-23T11:30:16Z stdout F third\n").expect("write");
        assert_eq!(rx.recv().await.expect("third"), Bytes::from("third\n"));
        running.store(false, Ordering::SeqCst);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("follow ends when the container stops")
            .expect("task");
    }
}
