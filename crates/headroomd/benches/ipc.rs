//! Control-plane round-trip benchmark: `status` against the real server with a fake
//! handler, next to a reference measured in the same run (a bare line echo over a Unix
//! socket pair, the floor of any request/response exchange).
//!
//! Prints p50/p99/max over 10 000 calls of each, and their ratio, then runs the criterion
//! benchmarks. Run with `cargo bench -p headroomd --bench ipc`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use headroom_client::Client;
use headroom_ipc::*;
use headroomd::control::{Broadcaster, Handler, Reply, Server, ServerHandle};

const CALLS: usize = 10_000;

struct Fake;

impl Handler for Fake {
    fn handle(&self, req: Request) -> Result<Reply, IpcError> {
        self.answer(req).map(Reply::from)
    }

    fn snapshot(&self, _topics: &[Topic]) -> Vec<Event> {
        Vec::new()
    }
}

/// A line echo over a socket pair: the reference round trip.
struct Echo {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    line: String,
}

impl Echo {
    fn start() -> Echo {
        let (a, b) = UnixStream::pair().expect("socketpair");
        std::thread::spawn(move || {
            let mut r = BufReader::new(b.try_clone().expect("clone"));
            let mut w = b;
            let mut line = String::new();
            while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                if w.write_all(line.as_bytes()).is_err() {
                    return;
                }
                line.clear();
            }
        });
        Echo {
            reader: BufReader::new(a.try_clone().expect("clone")),
            writer: a,
            line: String::new(),
        }
    }

    fn round_trip(&mut self) {
        self.writer
            .write_all(b"{\"id\":1,\"method\":\"status\"}\n")
            .expect("write");
        self.line.clear();
        self.reader.read_line(&mut self.line).expect("read");
    }
}

fn start_server(dir: &tempfile::TempDir) -> ServerHandle {
    Server::start(
        dir.path().join("control.sock"),
        Arc::new(Fake),
        Broadcaster::new(),
    )
    .expect("server starts")
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (at(0.50), at(0.99), *samples.last().expect("samples"))
}

fn measure(mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..500 {
        f();
    }
    (0..CALLS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect()
}

fn report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_server(&dir);
    let mut client = Client::connect_to(server.path()).expect("connect");
    let status = measure(|| {
        client.status().expect("status");
    });
    let mut echo = Echo::start();
    let reference = measure(|| echo.round_trip());
    let (s50, s99, smax) = percentiles(status);
    let (e50, e99, emax) = percentiles(reference);
    println!("status round trip over {CALLS} calls: p50 {s50:?}  p99 {s99:?}  max {smax:?}");
    println!("reference line echo over {CALLS} calls: p50 {e50:?}  p99 {e99:?}  max {emax:?}");
    println!(
        "ratio status/echo: p50 {:.2}x  p99 {:.2}x;  p99 goal < 1 ms: {}",
        s50.as_secs_f64() / e50.as_secs_f64(),
        s99.as_secs_f64() / e99.as_secs_f64(),
        if s99 < Duration::from_millis(1) {
            "met"
        } else {
            "NOT met"
        }
    );
}

fn main() {
    report();
    let mut c = Criterion::default().configure_from_args();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_server(&dir);
    let mut client = Client::connect_to(server.path()).expect("connect");
    let mut group = c.benchmark_group("ipc");
    group.bench_function("status_round_trip", |b| {
        b.iter(|| client.status().expect("status"))
    });
    let mut echo = Echo::start();
    group.bench_function("reference_line_echo", |b| b.iter(|| echo.round_trip()));
    group.finish();
    c.final_summary();
}

impl Fake {
    /// The result of `req`.
    fn answer(&self, req: Request) -> Result<Response, IpcError> {
        match req {
            Request::Status => Ok(Response::Status(Box::new(Status {
                state: headroom_ipc::StateWord::Levelling,
                daemon_version: "0.1.0".into(),
                protocol_version: PROTOCOL_VERSION,
                uptime_s: 12345,
                pipewire: PipewireState::Connected,
                real_sink: Some("alsa_output.pci-0000_00_1f.3.analog-stereo".into()),
                processed_sink: "headroom-processed".into(),
                processed_channels: None,
                promote_default: false,
                profile: "default".into(),
                bypass: false,
                dsp: DspTiming {
                    call_count: 1_000_000,
                    mean_us: 23.4,
                    max_us: 410,
                    spike_count: 0,
                },
                xruns: 0,
                meters: Meters::silent(-23.0),
                streams: 4,
                profile_error: None,
                profile_error_active: None,
                profile_in_force: None,
                alerts: vec![],
                config_warnings: vec![],
                file_warnings: vec![],
            }))),
            other => Err(IpcError::invalid_params(other.method())),
        }
    }
}
