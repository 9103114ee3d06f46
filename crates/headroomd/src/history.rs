//! Metrics history: one [`Sample`] per second of the processed bus, kept in a fixed-size
//! in-memory ring and spilled, when evicted, to size-capped rotated JSONL segments on disk.
//!
//! * Memory: the ring is allocated once in [`History::new`] with room for
//!   `min(retention / interval, memory_budget / size_of::<Sample>())` samples and never grows;
//!   [`History::memory_bytes`] is the bound.
//! * Disk: evicted samples are appended as JSON lines to `history-0.jsonl` in the history
//!   directory (by default `$XDG_STATE_HOME/headroom/history/`). When a line would take the
//!   active segment past `segment_bytes`, segments are rotated: `history-(i)` becomes
//!   `history-(i+1)`, the oldest (`history-(segments-1)`) is deleted, and a new
//!   `history-0.jsonl` is started. Disk use is therefore at most
//!   `segments × segment_bytes` (plus one line).
//! * [`History::query`] returns disk and memory samples merged, oldest first;
//!   [`History::query_page`] a bounded page of them.
//! * Segments are opened only as regular files and never through a symlink (`O_NOFOLLOW`,
//!   [`crate::files::open_own`]): a `history-N.jsonl` that is a link, FIFO or device is
//!   refused (the write counts as a spill error; a query skips it with a warning), so the
//!   spill never appends to a file it does not own. Lines longer than
//!   [`crate::files::MAX_HISTORY_LINE_BYTES`] are skipped when reading, and a segment is read
//!   at most up to twice its nominal size.
//! * Marks (restarts, bypass, profile changes, alerts: [`History::mark`]) are rare: the last
//!   [`MAX_MARKS`] are kept in memory and appended to `marks.jsonl` in the same directory as
//!   they happen (read back at start, so they survive restarts); the file is rewritten from
//!   memory (temporary file + rename) when it holds twice that many lines, so it stays under
//!   ≈ 1 MB. It is opened like the segments: never through a symlink, lines capped.
//!
//! This is control-thread code (it allocates and does file I/O); it is never called from the
//! audio callback. The engine feeds it once per second from meter and timing snapshots.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use headroom_ipc::HistoryMark;
use serde::{Deserialize, Serialize};

use crate::files::{for_each_capped_line, open_own, MAX_HISTORY_LINE_BYTES};

/// How far after now a mark read from `marks.jsonl` may be dated (a clock set back a little
/// since it was written), ms; later ones are skipped.
const FUTURE_MARK_SLACK_MS: u64 = 24 * 3600 * 1000;

/// Marks kept in memory (and, at most twice as many, in `marks.jsonl`).
pub const MAX_MARKS: usize = 2048;

/// File name of the marks, in the history directory.
pub const MARKS_FILE: &str = "marks.jsonl";

/// One per-second sample of the processed bus.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Sample {
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// Input momentary loudness, LUFS (≤ −70: no measurement).
    pub in_momentary_lufs: f32,
    /// Input short-term loudness, LUFS.
    pub in_short_term_lufs: f32,
    /// Output momentary loudness, LUFS.
    pub out_momentary_lufs: f32,
    /// Output short-term loudness, LUFS.
    pub out_short_term_lufs: f32,
    /// AGC gain, dB.
    pub agc_gain_db: f32,
    /// Compressor gain reduction, dB.
    pub compressor_gr_db: f32,
    /// Limiter gain reduction, dB.
    pub limiter_gr_db: f32,
    /// Mean audio callback duration over the interval, µs.
    pub dsp_mean_us: f32,
    /// Longest audio callback since the daemon started, µs (IPC.md, `history`).
    pub dsp_max_us: f32,
    /// Callbacks over the spike threshold since the daemon started.
    pub spikes: u64,
    /// Xruns since the daemon started.
    pub xruns: u64,
}

impl Sample {
    /// The sample with every value finite, as stored: loudness below −70 LUFS or not finite
    /// becomes −70 ("no measurement"), other non-finite values 0. JSON has no NaN/∞, so
    /// without this a sample could not be read back from disk.
    pub fn sanitized(mut self) -> Sample {
        for v in [
            &mut self.in_momentary_lufs,
            &mut self.in_short_term_lufs,
            &mut self.out_momentary_lufs,
            &mut self.out_short_term_lufs,
        ] {
            if !v.is_finite() || *v < LUFS_FLOOR {
                *v = LUFS_FLOOR;
            }
        }
        for v in [
            &mut self.agc_gain_db,
            &mut self.compressor_gr_db,
            &mut self.limiter_gr_db,
            &mut self.dsp_mean_us,
            &mut self.dsp_max_us,
        ] {
            if !v.is_finite() {
                *v = 0.0;
            }
        }
        self
    }
}

/// Loudness meaning "no measurement", LUFS ([`headroom_core::LUFS_FLOOR`]).
const LUFS_FLOOR: f32 = headroom_core::LUFS_FLOOR as f32;

/// How much history to keep and where.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryConfig {
    /// How long samples stay in memory.
    pub retention: Duration,
    /// Nominal interval between samples (1 s).
    pub interval: Duration,
    /// Upper bound for the in-memory ring, bytes.
    pub memory_budget_bytes: usize,
    /// Directory of the spill segments; `None` keeps memory only.
    pub dir: Option<PathBuf>,
    /// Size cap of one segment file, bytes.
    pub segment_bytes: u64,
    /// Number of segment files kept (≥ 1).
    pub segments: usize,
}

impl Default for HistoryConfig {
    /// One hour in memory (≈ 230 KB), 8 segments of 1 MiB on disk (≈ 1 day at 1 Hz).
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(3600),
            interval: Duration::from_secs(1),
            memory_budget_bytes: 1 << 20,
            dir: default_dir(),
            segment_bytes: 1 << 20,
            segments: 8,
        }
    }
}

/// `$XDG_STATE_HOME/headroom/history` (or `~/.local/state/headroom/history`).
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("state"))
        })?;
    Some(base.join("headroom").join("history"))
}

/// Milliseconds since the Unix epoch, now.
pub fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Errors of the spill files. Recording never loses the in-memory samples because of them.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The history directory could not be created or a segment written, rotated or read.
    #[error("history {path}: {source}")]
    Io {
        /// File or directory concerned.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> HistoryError + '_ {
    move |source| HistoryError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Name of segment `i` (0 is the one being written, higher is older).
pub fn segment_name(i: usize) -> String {
    format!("history-{i}.jsonl")
}

fn ends_with_newline(path: &Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = open_own(path, OpenOptions::new().read(true))?;
    f.seek(SeekFrom::End(-1))?;
    let mut b = [0u8; 1];
    f.read_exact(&mut b)?;
    Ok(b[0] == b'\n')
}

struct Spill {
    dir: PathBuf,
    segment_bytes: u64,
    segments: usize,
    file: Option<File>,
    size: u64,
}

impl Spill {
    fn open(dir: PathBuf, segment_bytes: u64, segments: usize) -> Result<Self, HistoryError> {
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let path = dir.join(segment_name(0));
        let size = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io_err(&path)(e)),
        };
        let mut size = size;
        if size > 0 && !ends_with_newline(&path).map_err(io_err(&path))? {
            // A line cut short by a crash: terminate it so the next append starts clean
            // (the fragment is skipped when reading).
            let mut f = open_own(&path, OpenOptions::new().append(true)).map_err(io_err(&path))?;
            f.write_all(b"\n").map_err(io_err(&path))?;
            size += 1;
        }
        Ok(Self {
            dir,
            segment_bytes: segment_bytes.max(1),
            segments: segments.max(1),
            file: None,
            size,
        })
    }

    fn rotate(&mut self) -> Result<(), HistoryError> {
        self.file = None;
        let oldest = self.dir.join(segment_name(self.segments - 1));
        match std::fs::remove_file(&oldest) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&oldest)(e)),
        }
        for i in (0..self.segments - 1).rev() {
            let from = self.dir.join(segment_name(i));
            let to = self.dir.join(segment_name(i + 1));
            match std::fs::rename(&from, &to) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&from)(e)),
            }
        }
        self.size = 0;
        Ok(())
    }

    fn append(&mut self, s: &Sample) -> Result<(), HistoryError> {
        let mut line = serde_json::to_string(s).unwrap_or_default();
        line.push('\n');
        let len = line.len() as u64;
        if self.size > 0 && self.size + len > self.segment_bytes {
            self.rotate()?;
        }
        let path = self.dir.join(segment_name(0));
        if self.file.is_none() {
            // Never through a symlink: whatever `history-0.jsonl` points at is not ours.
            let f = open_own(
                &path,
                OpenOptions::new().create(true).append(true).mode(0o600),
            )
            .map_err(io_err(&path))?;
            self.file = Some(f);
        }
        if let Some(f) = self.file.as_mut() {
            if let Err(e) = f.write_all(line.as_bytes()) {
                // Drop the handle so the next append reopens (the directory may be back).
                self.file = None;
                return Err(io_err(&path)(e));
            }
        }
        self.size += len;
        Ok(())
    }

    /// Reads every segment, oldest first, keeping samples at or after `since_ms`.
    /// Lines that do not parse (a line cut short by a crash) are skipped.
    fn read(&self, since_ms: u64, out: &mut Vec<Sample>) -> Result<(), HistoryError> {
        for i in (0..self.segments).rev() {
            let path = self.dir.join(segment_name(i));
            let f = match open_own(&path, OpenOptions::new().read(true)) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                    // Not a file of ours (a link, FIFO or device): the other segments still
                    // answer.
                    tracing::warn!("history: skipping {}: {e}", path.display());
                    continue;
                }
                Err(e) => return Err(io_err(&path)(e)),
            };
            // Lines are capped (a sample is ~250 bytes) and so is what one segment may hold
            // beyond its nominal size: a hostile or damaged file costs bounded memory and time.
            let max_total = self.segment_bytes.saturating_mul(2).max(1 << 20);
            for_each_capped_line(f, MAX_HISTORY_LINE_BYTES, max_total, |line| {
                if let Ok(s) = serde_json::from_slice::<Sample>(line) {
                    if s.unix_ms >= since_ms {
                        out.push(s);
                    }
                }
                true
            })
            .map_err(io_err(&path))?;
        }
        Ok(())
    }
}

/// The metrics history. See the module documentation.
pub struct History {
    ring: VecDeque<Sample>,
    capacity: usize,
    retention_ms: u64,
    interval_ms: u64,
    spill: Option<Spill>,
    spill_errors: u64,
    marks: VecDeque<HistoryMark>,
    /// `marks.jsonl` and how many lines it holds.
    marks_file: Option<(PathBuf, usize)>,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("len", &self.ring.len())
            .field("capacity", &self.capacity)
            .field("retention_ms", &self.retention_ms)
            .field("dir", &self.spill.as_ref().map(|s| &s.dir))
            .finish()
    }
}

impl History {
    /// Creates the history. Allocates the whole ring now. Fails only when the spill directory
    /// cannot be created.
    pub fn new(config: &HistoryConfig) -> Result<Self, HistoryError> {
        let interval_ms = (config.interval.as_millis() as u64).max(1);
        let retention_ms = config.retention.as_millis() as u64;
        let by_time = (retention_ms / interval_ms).max(1) as usize;
        let by_budget = (config.memory_budget_bytes / std::mem::size_of::<Sample>()).max(1);
        let capacity = by_time.min(by_budget);
        let spill = match &config.dir {
            Some(dir) => Some(Spill::open(
                dir.clone(),
                config.segment_bytes,
                config.segments,
            )?),
            None => None,
        };
        let mut marks = VecDeque::new();
        let latest = now_unix_ms().saturating_add(FUTURE_MARK_SLACK_MS);
        let marks_file = config.dir.as_ref().map(|dir| {
            let path = dir.join(MARKS_FILE);
            let mut lines = 0;
            match open_own(&path, OpenOptions::new().read(true)) {
                Ok(f) => {
                    // At most the lines the file may hold, each capped.
                    let max_total = (2 * MAX_MARKS * MAX_HISTORY_LINE_BYTES) as u64;
                    let (mut unreadable, mut ahead) = (0usize, 0usize);
                    let read = for_each_capped_line(f, MAX_HISTORY_LINE_BYTES, max_total, |line| {
                        lines += 1;
                        // A line cut short by a crash does not parse and is skipped; so is a
                        // mark dated after now (a clock set far ahead once, an edited file),
                        // which every window would have held.
                        match serde_json::from_slice::<HistoryMark>(line) {
                            Ok(m) if m.unix_ms > latest => ahead += 1,
                            Ok(m) => {
                                if marks.len() >= MAX_MARKS {
                                    marks.pop_front();
                                }
                                marks.push_back(m);
                            }
                            Err(_) => unreadable += 1,
                        }
                        true
                    });
                    if let Err(e) = read {
                        tracing::warn!("history: reading {}: {e}", path.display());
                    }
                    if unreadable + ahead > 0 {
                        tracing::warn!(
                            "history: {}: skipped {unreadable} line(s) that are no mark and \
                             {ahead} mark(s) dated after now",
                            path.display()
                        );
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!("history: not reading {}: {e}", path.display()),
            }
            (path, lines)
        });
        Ok(Self {
            ring: VecDeque::with_capacity(capacity),
            capacity,
            retention_ms,
            interval_ms,
            spill,
            spill_errors: 0,
            marks,
            marks_file,
        })
    }

    /// Records a marked moment: kept in memory and appended to `marks.jsonl`. The mark is
    /// always kept in memory; an error reports a failed write.
    pub fn mark(&mut self, mark: HistoryMark) -> Result<(), HistoryError> {
        if self.marks.len() >= MAX_MARKS {
            self.marks.pop_front();
        }
        self.marks.push_back(mark.clone());
        let Some((path, lines)) = self.marks_file.as_mut() else {
            return Ok(());
        };
        if *lines + 1 > 2 * MAX_MARKS {
            // Rewrite from memory (atomically), which already holds the new mark.
            let mut text = String::new();
            for m in &self.marks {
                text.push_str(&serde_json::to_string(m).unwrap_or_default());
                text.push('\n');
            }
            crate::state_file::replace_atomic(path, text.as_bytes()).map_err(io_err(path))?;
            *lines = self.marks.len();
            return Ok(());
        }
        let mut line = serde_json::to_string(&mark).unwrap_or_default();
        line.push('\n');
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        // Never through a symlink, like the segments.
        open_own(
            path,
            OpenOptions::new().create(true).append(true).mode(0o600),
        )
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(io_err(path))?;
        *lines += 1;
        Ok(())
    }

    /// The marks at or after `since_ms`, oldest first.
    pub fn marks_since(&self, since_ms: u64) -> Vec<HistoryMark> {
        self.marks
            .iter()
            .filter(|m| m.unix_ms >= since_ms)
            .cloned()
            .collect()
    }

    /// Samples the ring holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Samples in memory now.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether memory holds no sample.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Heap bytes held by the ring (its allocated capacity; constant after construction).
    pub fn memory_bytes(&self) -> usize {
        self.ring.capacity() * std::mem::size_of::<Sample>()
    }

    /// Nominal sample interval, ms.
    pub fn interval_ms(&self) -> u64 {
        self.interval_ms
    }

    /// Spill writes that failed since start (the samples concerned are lost from disk only).
    pub fn spill_errors(&self) -> u64 {
        self.spill_errors
    }

    fn evict_front(&mut self) -> Result<(), HistoryError> {
        if let Some(old) = self.ring.pop_front() {
            if let Some(spill) = self.spill.as_mut() {
                if let Err(e) = spill.append(&old) {
                    self.spill_errors += 1;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Records a sample (stored [`Sample::sanitized`]). Samples older than the retention (relative to this one) and the
    /// oldest sample when the ring is full move to disk. The sample is always kept in memory;
    /// an error reports a failed spill write.
    pub fn record(&mut self, sample: Sample) -> Result<(), HistoryError> {
        let mut result = Ok(());
        let horizon = sample.unix_ms.saturating_sub(self.retention_ms);
        while self
            .ring
            .front()
            .is_some_and(|s| s.unix_ms < horizon || self.ring.len() >= self.capacity)
        {
            if let Err(e) = self.evict_front() {
                result = Err(e);
            }
        }
        self.ring.push_back(sample.sanitized());
        result
    }

    /// Moves every in-memory sample to disk (call at shutdown so nothing is lost).
    pub fn flush_to_disk(&mut self) -> Result<(), HistoryError> {
        if self.spill.is_none() {
            return Ok(());
        }
        let mut result = Ok(());
        while !self.ring.is_empty() {
            if let Err(e) = self.evict_front() {
                result = Err(e);
            }
        }
        result
    }

    /// Every sample at or after `since_unix_ms`, from disk and memory, oldest first.
    /// Disk is read only when memory does not reach back far enough.
    pub fn query(&self, since_unix_ms: u64) -> Result<Vec<Sample>, HistoryError> {
        let mut out = Vec::new();
        let memory_covers = self
            .ring
            .front()
            .is_some_and(|s| s.unix_ms <= since_unix_ms);
        if !memory_covers {
            if let Some(spill) = &self.spill {
                spill.read(since_unix_ms, &mut out)?;
            }
        }
        out.extend(self.ring.iter().filter(|s| s.unix_ms >= since_unix_ms));
        if !out.is_sorted_by_key(|s| s.unix_ms) {
            // Only after a wall-clock step backwards; keep the order of equal stamps.
            out.sort_by_key(|s| s.unix_ms);
        }
        Ok(out)
    }

    /// At most `max` samples at or after `since_unix_ms`, oldest first, and where the next
    /// page starts when more follow (ask again with that as `since_unix_ms`). A page never
    /// ends inside a run of samples with the same stamp (they would be asked for again),
    /// unless one run fills it.
    pub fn query_page(
        &self,
        since_unix_ms: u64,
        max: usize,
    ) -> Result<(Vec<Sample>, Option<u64>), HistoryError> {
        let max = max.max(1);
        let mut all = self.query(since_unix_ms)?;
        if all.len() <= max {
            return Ok((all, None));
        }
        let mut next = all[max].unix_ms;
        let mut end = max;
        while end > 0 && all[end - 1].unix_ms == next {
            end -= 1;
        }
        if end == 0 {
            // One stamp fills the page: the rest of that stamp is skipped.
            end = max;
            match all[max..].iter().find(|s| s.unix_ms > next) {
                Some(s) => next = s.unix_ms,
                None => {
                    all.truncate(end);
                    return Ok((all, None));
                }
            }
        }
        all.truncate(end);
        Ok((all, Some(next)))
    }

    /// Time of the oldest sample kept (on disk or in memory), `None` when there is none.
    /// Reads one line of the oldest segment.
    pub fn oldest_unix_ms(&self) -> Option<u64> {
        let on_disk = self.spill.as_ref().and_then(|spill| {
            (0..spill.segments).rev().find_map(|i| {
                let f = open_own(
                    &spill.dir.join(segment_name(i)),
                    OpenOptions::new().read(true),
                )
                .ok()?;
                let mut first = None;
                let _ = for_each_capped_line(
                    f,
                    MAX_HISTORY_LINE_BYTES,
                    spill.segment_bytes.saturating_mul(2).max(1 << 20),
                    |line| {
                        first = serde_json::from_slice::<Sample>(line)
                            .ok()
                            .map(|s| s.unix_ms);
                        first.is_none()
                    },
                );
                first
            })
        });
        on_disk.or_else(|| self.ring.front().map(|s| s.unix_ms))
    }

    /// Samples of the last `window` before `now_unix_ms`.
    pub fn query_recent(
        &self,
        now_unix_ms: u64,
        window: Duration,
    ) -> Result<Vec<Sample>, HistoryError> {
        self.query(now_unix_ms.saturating_sub(window.as_millis() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: u64) -> Sample {
        Sample {
            unix_ms: t,
            in_short_term_lufs: -20.0,
            ..Default::default()
        }
    }

    #[test]
    fn marks_survive_a_restart_and_the_file_stays_bounded() {
        use headroom_ipc::MarkKind;
        let dir = tempfile::tempdir().unwrap();
        let cfg = HistoryConfig {
            dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let mark = |t: u64| HistoryMark {
            unix_ms: t,
            kind: MarkKind::Bypass,
            text: format!("bypass on at {t}"),
        };
        let mut h = History::new(&cfg).unwrap();
        for t in 0..(2 * MAX_MARKS as u64 + 10) {
            h.mark(mark(t)).unwrap();
        }
        let lines = std::fs::read_to_string(dir.path().join(MARKS_FILE))
            .unwrap()
            .lines()
            .count();
        assert!(lines <= 2 * MAX_MARKS, "{lines} lines");
        drop(h);
        let h = History::new(&cfg).unwrap();
        let all = h.marks_since(0);
        assert_eq!(all.len(), MAX_MARKS);
        assert_eq!(all.last().unwrap().unix_ms, 2 * MAX_MARKS as u64 + 9);
        assert_eq!(h.marks_since(2 * MAX_MARKS as u64 + 5).len(), 5);
    }

    /// A mark dated after now (the year 3000) and a line that is no mark are skipped when
    /// the file is read; the marks of the past are kept.
    #[test]
    fn marks_dated_after_now_are_not_read_back() {
        use headroom_ipc::MarkKind;
        let dir = tempfile::tempdir().unwrap();
        let now = now_unix_ms();
        let line = |t: u64| {
            serde_json::to_string(&HistoryMark {
                unix_ms: t,
                kind: MarkKind::Bypass,
                text: "bypass on".into(),
            })
            .unwrap()
        };
        std::fs::write(
            dir.path().join(MARKS_FILE),
            format!(
                "{}\n{{junk\n{}\n",
                line(now - 5000),
                line(32_503_680_000_000)
            ),
        )
        .unwrap();
        let h = History::new(&HistoryConfig {
            dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        })
        .unwrap();
        let all = h.marks_since(0);
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0].unix_ms, now - 5000);
        assert!(h.marks_since(now).is_empty());
    }

    #[test]
    fn memory_only_keeps_the_newest() {
        let cfg = HistoryConfig {
            retention: Duration::from_secs(5),
            dir: None,
            ..Default::default()
        };
        let mut h = History::new(&cfg).unwrap();
        for t in 0..20 {
            h.record(sample(t * 1000)).unwrap();
        }
        let q = h.query(0).unwrap();
        let ts: Vec<u64> = q.iter().map(|s| s.unix_ms).collect();
        assert_eq!(ts, vec![15000, 16000, 17000, 18000, 19000]);
    }
}
