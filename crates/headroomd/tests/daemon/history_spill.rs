//! Metrics history: bounded memory, rotated and capped spill files, ordered queries.

use std::path::Path;
use std::time::Duration;

use headroomd::history::{segment_name, History, HistoryConfig, Sample};

fn sample(t_s: u64) -> Sample {
    Sample {
        unix_ms: 1_700_000_000_000 + t_s * 1000,
        in_momentary_lufs: -20.0 - (t_s % 7) as f32,
        in_short_term_lufs: -21.5,
        out_momentary_lufs: -16.0,
        out_short_term_lufs: -16.25,
        agc_gain_db: 4.5,
        compressor_gr_db: 1.25,
        limiter_gr_db: 0.5,
        dsp_mean_us: 12.5,
        dsp_max_us: 80.0,
        spikes: t_s / 100,
        xruns: t_s / 1000,
    }
}

fn segments_on_disk(dir: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn memory_stays_within_budget_past_retention() {
    let cfg = HistoryConfig {
        retention: Duration::from_secs(600),
        memory_budget_bytes: 16 * 1024,
        dir: None,
        ..Default::default()
    };
    let mut h = History::new(&cfg).unwrap();
    let cap = h.capacity();
    let bytes = h.memory_bytes();
    assert!(
        bytes <= 16 * 1024 + std::mem::size_of::<Sample>() * 2,
        "ring of {bytes} bytes"
    );
    // The budget, not the 600 s retention, limits the ring here.
    assert!(cap < 600, "capacity {cap}");
    for t in 0..5000 {
        h.record(sample(t)).unwrap();
        assert!(h.len() <= cap);
    }
    assert_eq!(h.len(), cap);
    assert_eq!(h.memory_bytes(), bytes, "the ring grew");
    let q = h.query(0).unwrap();
    assert_eq!(q.len(), cap);
    assert_eq!(q.last().unwrap().unix_ms, sample(4999).unix_ms);
}

#[test]
fn retention_limits_memory_by_time() {
    let cfg = HistoryConfig {
        retention: Duration::from_secs(60),
        memory_budget_bytes: 1 << 20,
        dir: None,
        ..Default::default()
    };
    let mut h = History::new(&cfg).unwrap();
    assert_eq!(h.capacity(), 60);
    for t in 0..300 {
        h.record(sample(t)).unwrap();
    }
    let q = h.query(0).unwrap();
    assert_eq!(q.len(), 60);
    assert_eq!(q[0].unix_ms, sample(240).unix_ms);
    // A gap longer than the retention empties memory down to the new sample.
    h.record(sample(1000)).unwrap();
    assert_eq!(h.len(), 1);
}

#[test]
fn spill_files_rotate_and_stay_capped() {
    let dir = tempfile::tempdir().unwrap();
    let seg_bytes = 4096u64;
    let cfg = HistoryConfig {
        retention: Duration::from_secs(30),
        memory_budget_bytes: 1 << 20,
        dir: Some(dir.path().join("history")),
        segment_bytes: seg_bytes,
        segments: 3,
        ..Default::default()
    };
    let mut h = History::new(&cfg).unwrap();
    let line_len = serde_json::to_string(&sample(1234)).unwrap().len() as u64 + 1;
    // Far more than 3 segments' worth gets evicted.
    let n = 30 + 10 * seg_bytes / line_len;
    for t in 0..n {
        h.record(sample(t)).unwrap();
        let files = segments_on_disk(&dir.path().join("history"));
        assert!(files.len() <= 3, "{files:?}");
        for (name, len) in &files {
            assert!(*len <= seg_bytes, "{name} is {len} bytes");
        }
    }
    let files = segments_on_disk(&dir.path().join("history"));
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![segment_name(0), segment_name(1), segment_name(2)]
    );
    // The two rotated segments are nearly full.
    for (name, len) in &files[1..] {
        assert!(*len + line_len > seg_bytes, "{name} is only {len} bytes");
    }
    // The oldest samples are gone from disk; what remains is contiguous up to memory.
    let q = h.query(0).unwrap();
    assert!(q[0].unix_ms > sample(0).unix_ms);
    assert_eq!(q.last().unwrap().unix_ms, sample(n - 1).unix_ms);
    for w in q.windows(2) {
        assert_eq!(
            w[1].unix_ms - w[0].unix_ms,
            1000,
            "gap or disorder in {:?}",
            (w[0].unix_ms, w[1].unix_ms)
        );
    }
}

#[test]
fn query_merges_disk_and_memory_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = HistoryConfig {
        retention: Duration::from_secs(10),
        memory_budget_bytes: 1 << 20,
        dir: Some(dir.path().to_path_buf()),
        segment_bytes: 1 << 20,
        segments: 4,
        ..Default::default()
    };
    let mut h = History::new(&cfg).unwrap();
    for t in 0..100 {
        h.record(sample(t)).unwrap();
    }
    assert_eq!(h.len(), 10);
    let all = h.query(0).unwrap();
    assert_eq!(all.len(), 100);
    for (i, s) in all.iter().enumerate() {
        assert_eq!(*s, sample(i as u64), "sample {i} differs");
    }
    // A window reaching into the spilled part.
    let recent = h.query(sample(85).unix_ms).unwrap();
    assert_eq!(recent.len(), 15);
    assert_eq!(recent[0], sample(85));
    // A window served by memory alone.
    let last = h.query(sample(95).unix_ms).unwrap();
    assert_eq!(
        last.iter().map(|s| s.unix_ms).collect::<Vec<_>>(),
        (95..100).map(|t| sample(t).unix_ms).collect::<Vec<_>>()
    );
}

#[test]
fn history_survives_a_restart_and_skips_a_torn_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = HistoryConfig {
        retention: Duration::from_secs(5),
        memory_budget_bytes: 1 << 20,
        dir: Some(dir.path().to_path_buf()),
        segment_bytes: 1 << 20,
        segments: 2,
        ..Default::default()
    };
    {
        let mut h = History::new(&cfg).unwrap();
        for t in 0..20 {
            h.record(sample(t)).unwrap();
        }
        h.flush_to_disk().unwrap();
        assert!(h.is_empty());
    }
    // A crash mid-write leaves half a line behind.
    let seg0 = dir.path().join(segment_name(0));
    let mut text = std::fs::read_to_string(&seg0).unwrap();
    text.push_str("{\"unix_ms\":17000000");
    std::fs::write(&seg0, text).unwrap();

    let mut h = History::new(&cfg).unwrap();
    for t in 20..30 {
        h.record(sample(t)).unwrap();
    }
    let q = h.query(0).unwrap();
    let ts: Vec<u64> = q.iter().map(|s| s.unix_ms).collect();
    let want: Vec<u64> = (0..30).map(|t| sample(t).unix_ms).collect();
    assert_eq!(ts, want);
}

#[test]
fn non_finite_values_survive_the_round_trip_through_disk() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = HistoryConfig {
        retention: Duration::from_secs(2),
        memory_budget_bytes: 1 << 20,
        dir: Some(dir.path().to_path_buf()),
        segment_bytes: 1 << 20,
        segments: 2,
        ..Default::default()
    };
    let mut h = History::new(&cfg).unwrap();
    for t in 0..10 {
        let mut s = sample(t);
        s.in_short_term_lufs = f32::NEG_INFINITY;
        s.out_momentary_lufs = -200.0;
        s.agc_gain_db = f32::NAN;
        s.dsp_max_us = f32::INFINITY;
        h.record(s).unwrap();
    }
    let q = h.query(0).unwrap();
    assert_eq!(q.len(), 10, "samples lost on the way through disk");
    for s in &q {
        assert_eq!(s.in_short_term_lufs, -70.0);
        assert_eq!(s.out_momentary_lufs, -70.0);
        assert_eq!(s.agc_gain_db, 0.0);
        assert_eq!(s.dsp_max_us, 0.0);
        assert_eq!(s.out_short_term_lufs, -16.25);
    }
}
