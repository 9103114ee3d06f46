//! `make demo` (scripts/demo.sh) on a running desktop session: inside a [`Sandbox`] (PipeWire,
//! WirePlumber and a default sink, as on a desktop) the demo takes the session path rather than
//! starting a private sandbox of its own, plays on the current default sink, never changes which
//! sink is the default, stops a headroomd it started and leaves a running one alone, and prints
//! a table in which headroom holds the programme near the target loudness under the ceiling.
//!
//! The demo runs with the binaries this test was built with (`HEADROOM_DEMO_BIN`) and a shortened
//! programme (`HEADROOM_DEMO_SECS`).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use headroom_tests::daemon::{bus_linked, sandbox_pids, Daemon, BUS_SINK};
use headroom_tests::{metadata_value_name, wait_for, workspace_bin, Sandbox, DEFAULT_SINK};

/// Seconds of each half (quiet, loud) of the demo programme.
const SECS: &str = "6";
/// The demo's default target loudness (LUFS).
const TARGET_LUFS: f64 = -16.0;
/// The limiter ceiling of the default profile (dBTP).
const CEILING_DBTP: f64 = -1.0;
/// Longest a demo run may take before the test gives up on it.
const DEMO_TIMEOUT: Duration = Duration::from_secs(120);

/// What one demo run printed and how it ended, plus every default sink seen while it ran.
struct DemoRun {
    status: ExitStatus,
    output: String,
    defaults_seen: Vec<Option<String>>,
}

/// One row of the demo's loudness table.
#[derive(Debug)]
struct Row {
    integrated: f64,
    p95: f64,
    lo: f64,
    hi: f64,
    true_peak: f64,
}

fn demo_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/demo.sh")
}

/// Reads `key` (e.g. `default.audio.sink`) of the `default` metadata.
fn default_metadata(sb: &Sandbox, key: &str) -> Option<String> {
    let out = sb
        .command("pw-metadata")
        .args(["-n", "default", "0", key])
        .stderr(Stdio::null())
        .output()
        .expect("running pw-metadata");
    metadata_value_name(&String::from_utf8_lossy(&out.stdout))
}

/// Makes `name` the default sink the way a user does (`wpctl set-default`), and waits until
/// WirePlumber reports it.
fn set_default(sb: &Sandbox, name: &str) {
    let id = sb.node_id(name).unwrap().expect("sink exists");
    let st = sb
        .command("wpctl")
        .args(["set-default", &id.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("running wpctl");
    assert!(st.success(), "wpctl set-default {name} failed");
    sb.wait_default_sink(name, Duration::from_secs(5)).unwrap();
}

/// Runs scripts/demo.sh in `sb` with the binaries next to this test, sampling the default sink
/// while it runs. The demo runs in its own process group, killed whole if it overruns.
fn run_demo(sb: &Sandbox) -> DemoRun {
    let bin_dir = workspace_bin("headroomd")
        .expect("headroomd built")
        .parent()
        .expect("binary directory")
        .to_path_buf();
    workspace_bin("headroom").expect("headroom built");
    let log_path = sb.path("demo.out");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = sb
        .command("bash")
        .arg(demo_script())
        .env("HEADROOM_DEMO_BIN", &bin_dir)
        .env("HEADROOM_DEMO_SECS", SECS)
        .env_remove("HEADROOM_DEMO_INNER")
        .env_remove("HEADROOM_DEMO_TARGET")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("starting scripts/demo.sh");
    let start = Instant::now();
    let mut defaults_seen = Vec::new();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > DEMO_TIMEOUT {
            // SAFETY: kill(2) on the process group of our own unreaped child.
            unsafe {
                libc::kill(-(child.id() as i32), libc::SIGKILL);
            }
            let _ = child.wait();
            panic!(
                "the demo did not finish within {DEMO_TIMEOUT:?}; output:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        let d = sb.default_sink().unwrap_or(None);
        if defaults_seen.last() != Some(&d) {
            defaults_seen.push(d);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    println!(
        "demo finished in {:.1?} ({status}):\n{output}",
        start.elapsed()
    );
    DemoRun {
        status,
        output,
        defaults_seen,
    }
}

/// Parses the table row `label  I LUFS  P LU  LO .. HI LUFS  TP dBTP`.
fn parse_row(output: &str, label: &str) -> Row {
    let line = output
        .lines()
        .find(|l| l.split_whitespace().next() == Some(label))
        .unwrap_or_else(|| panic!("no `{label}` row in the demo's table:\n{output}"));
    let t: Vec<&str> = line.split_whitespace().collect();
    assert!(
        t.len() == 11
            && t[2] == "LUFS"
            && t[4] == "LU"
            && t[6] == ".."
            && t[8] == "LUFS"
            && t[10] == "dBTP",
        "unexpected `{label}` row: {line:?}"
    );
    let num = |i: usize| -> f64 {
        t[i].parse()
            .unwrap_or_else(|_| panic!("`{}` in {line:?} is not a number", t[i]))
    };
    Row {
        integrated: num(1),
        p95: num(3),
        lo: num(5),
        hi: num(7),
        true_peak: num(9),
    }
}

/// The loudness table: the programme really swings played straight, and through headroom it
/// stays near the target and under the ceiling.
fn check_table(output: &str) {
    assert!(
        output.contains(&format!("== loudness (target {TARGET_LUFS} LUFS)")),
        "no loudness table (is `headroom analyze` missing?):\n{output}"
    );
    let direct = parse_row(output, "direct");
    let headroom = parse_row(output, "headroom");
    println!("direct: {direct:?}\nheadroom: {headroom:?}");
    // The programme's quiet half is ≈ 17 LU under the target: played straight, it is far off.
    assert!(
        direct.p95 >= 10.0 && direct.hi - direct.lo >= 15.0,
        "played straight, the programme does not swing as it should: {direct:?}"
    );
    assert!(
        headroom.p95 <= 3.0,
        "through headroom, P95 |S-target| is {} LU (> 3 LU): {headroom:?}",
        headroom.p95
    );
    assert!(
        headroom.p95 * 3.0 <= direct.p95,
        "headroom's P95 |S-target| ({} LU) is not much smaller than direct's ({} LU)",
        headroom.p95,
        direct.p95
    );
    assert!(
        (headroom.integrated - TARGET_LUFS).abs() <= 3.0,
        "through headroom, the programme integrates to {} LUFS (target {TARGET_LUFS})",
        headroom.integrated
    );
    assert!(
        headroom.true_peak <= CEILING_DBTP + 0.3,
        "through headroom, the true peak is {} dBTP (ceiling {CEILING_DBTP} dBTP + 0.3 dB)",
        headroom.true_peak
    );
}

/// Common checks: the session path was taken, the demo succeeded and played on `sink`, and the
/// default sink never changed while it ran.
fn check_session_run(run: &DemoRun, sink: &str) {
    let out = &run.output;
    assert!(
        run.status.success(),
        "the demo failed ({}):\n{out}",
        run.status
    );
    assert!(
        !out.contains("no PipeWire running") && !out.contains("hr-sandbox:"),
        "the demo started a private sandbox although PipeWire was running:\n{out}"
    );
    assert!(
        !out.contains("== building"),
        "the demo built release binaries although HEADROOM_DEMO_BIN was set:\n{out}"
    );
    assert!(
        out.contains(&format!("== real sink: {sink}\n")),
        "the demo did not play on the default sink {sink}:\n{out}"
    );
    assert!(
        run.defaults_seen.iter().all(|d| d.as_deref() == Some(sink)),
        "the default sink changed while the demo ran: {:?}",
        run.defaults_seen
    );
}

/// No running headroomd: the demo starts one, plays on the user's current default sink (here a
/// second sink the user chose, not the first one), leaves the default alone, and its headroomd
/// is gone afterwards.
#[test]
fn demo_on_a_session_starts_its_own_headroomd_and_stops_it() {
    let sb = Sandbox::start().expect("sandbox");
    sb.create_null_sink("desk-speakers").unwrap();
    set_default(&sb, "desk-speakers");
    let default_before = sb.default_sink().unwrap();
    let configured_before = default_metadata(&sb, "default.configured.audio.sink");
    assert_eq!(default_before.as_deref(), Some("desk-speakers"));
    assert!(
        sandbox_pids(&sb, "headroomd").is_empty(),
        "a headroomd is running before the demo"
    );

    let run = run_demo(&sb);
    check_session_run(&run, "desk-speakers");
    assert!(
        run.output.contains("== starting headroomd"),
        "the demo did not say it starts headroomd:\n{}",
        run.output
    );

    assert_eq!(
        sb.default_sink().unwrap(),
        default_before,
        "the demo changed the default sink"
    );
    assert_eq!(
        default_metadata(&sb, "default.configured.audio.sink"),
        configured_before,
        "the demo changed the configured default sink"
    );
    let left = sandbox_pids(&sb, "headroomd");
    assert!(
        left.is_empty(),
        "the headroomd the demo started is still running: pids {left:?}"
    );
    wait_for("headroom-processed gone", Duration::from_secs(5), || {
        Ok(sb.node_id(BUS_SINK)?.is_none().then_some(()))
    })
    .expect("the demo's headroomd left its sink behind");
    assert!(
        sb.node_id(DEFAULT_SINK).unwrap().is_some(),
        "the sandbox's first sink disappeared"
    );
    check_table(&run.output);
}

/// A headroomd is already running: the demo says it uses that one, and the daemon is still
/// running, with its bus linked, afterwards.
#[test]
fn demo_on_a_session_uses_the_running_headroomd_and_leaves_it_running() {
    let sb = Sandbox::start().expect("sandbox");
    let mut d = Daemon::start(&sb, &[]).expect("headroomd");
    let pid = d.pid().expect("pid") as i32;
    let default_before = sb.default_sink().unwrap();
    assert_eq!(default_before.as_deref(), Some(DEFAULT_SINK));

    let run = run_demo(&sb);
    check_session_run(&run, DEFAULT_SINK);
    assert!(
        run.output.contains("== using the running headroomd"),
        "the demo did not say it uses the running headroomd:\n{}",
        run.output
    );
    assert!(
        !run.output.contains("== starting headroomd"),
        "the demo started a second headroomd:\n{}",
        run.output
    );

    assert!(
        d.is_running(),
        "the running headroomd is gone after the demo; log:\n{}",
        d.log()
    );
    assert_eq!(
        sandbox_pids(&sb, "headroomd"),
        vec![pid],
        "headroomd processes after the demo are not just the one that was running"
    );
    assert!(
        bus_linked(&sb).unwrap(),
        "the running headroomd's bus is no longer linked after the demo"
    );
    assert_eq!(
        sb.default_sink().unwrap(),
        default_before,
        "the demo changed the default sink"
    );
    check_table(&run.output);
    d.terminate().expect("headroomd stops cleanly");
}
