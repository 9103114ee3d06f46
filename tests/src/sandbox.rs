//! [`Sandbox`]: a private, headless PipeWire session (dbus, PipeWire, WirePlumber, a null
//! sink as the default), the processes it runs (players, recorders) and reading its graph.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::audio::{read_wav, Wav};
use crate::wait::wait_for;

/// Name of the null sink every sandbox creates and makes the default.
pub const DEFAULT_SINK: &str = "fake-speakers";

/// Environment variable set on every process a sandbox starts (the sandbox's root directory).
pub const SANDBOX_MARKER: &str = "HEADROOM_SANDBOX";

/// Environment variable set on every process a sandbox starts: the root of the checkout whose
/// tests started it. `scripts/no-leftovers.sh` looks for its own checkout here, so sandboxes of
/// other checkouts on the same machine are not counted as its leftovers.
pub const CHECKOUT_MARKER: &str = "HEADROOM_SANDBOX_CHECKOUT";

/// The root of this checkout (the workspace directory), as `scripts/no-leftovers.sh` names it.
pub fn checkout_root() -> PathBuf {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = tests.parent().unwrap_or(tests);
    root.canonicalize().unwrap_or_else(|_| root.to_path_buf())
}

static SERIAL: Mutex<()> = Mutex::new(());

/// A private, headless PipeWire session.
pub struct Sandbox {
    dir: tempfile::TempDir,
    env: BTreeMap<String, OsString>,
    children: Vec<(String, Child)>,
    _serial: Option<MutexGuard<'static, ()>>,
}

fn set_pdeathsig(cmd: &mut Command) {
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches only the calling
    // (freshly forked) process; nothing is allocated between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

impl Sandbox {
    /// Starts dbus, PipeWire and WirePlumber in a fresh runtime dir and creates the default
    /// null sink [`DEFAULT_SINK`]. Waits (by polling) until WirePlumber names it the default.
    pub fn start() -> Result<Self> {
        let guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let mut sb = Self::start_unserialised()?;
        sb._serial = Some(guard);
        Ok(sb)
    }

    /// Like [`Sandbox::start`] without the process-wide lock (for the `hr-sandbox` binary).
    pub fn start_unserialised() -> Result<Self> {
        for tool in [
            "pipewire",
            "wireplumber",
            "dbus-daemon",
            "pw-cli",
            "pw-metadata",
        ] {
            which(tool).with_context(|| {
                format!("`{tool}` is not installed: run `make deps` (needs pipewire, pipewire-bin, wireplumber, dbus)")
            })?;
        }
        let dir = tempfile::Builder::new()
            .prefix("headroom-sandbox-")
            .tempdir()
            .context("creating sandbox dir")?;
        let root = dir.path().to_path_buf();
        let runtime = root.join("run");
        let mut env = BTreeMap::new();
        for (k, sub) in [
            ("XDG_RUNTIME_DIR", "run"),
            ("XDG_STATE_HOME", "state"),
            ("XDG_CONFIG_HOME", "config"),
            ("XDG_DATA_HOME", "data"),
            ("XDG_CACHE_HOME", "cache"),
        ] {
            let p = root.join(sub);
            std::fs::create_dir_all(&p)?;
            env.insert(k.to_string(), p.into_os_string());
        }
        std::fs::set_permissions(
            &runtime,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )?;
        env.insert(SANDBOX_MARKER.into(), root.clone().into_os_string());
        env.insert(CHECKOUT_MARKER.into(), checkout_root().into_os_string());
        env.insert(
            "PIPEWIRE_RUNTIME_DIR".into(),
            runtime.clone().into_os_string(),
        );
        let bus = runtime.join("bus");
        env.insert(
            "DBUS_SESSION_BUS_ADDRESS".into(),
            format!("unix:path={}", bus.display()).into(),
        );
        // Quiet the harmless libcamera / JACK noise.
        env.insert("LIBCAMERA_LOG_LEVELS".into(), "*:ERROR".into());
        let mut sb = Sandbox {
            dir,
            env,
            children: Vec::new(),
            _serial: None,
        };

        // Session bus: ready once it prints its address.
        let mut dbus = sb
            .command("dbus-daemon")
            .args(["--session", "--nofork", "--print-address"])
            .arg(format!("--address=unix:path={}", bus.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting dbus-daemon")?;
        let out = dbus.stdout.take().expect("piped stdout");
        sb.children.push(("dbus-daemon".into(), dbus));
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .context("reading dbus address")?;
        if line.trim().is_empty() {
            bail!("dbus-daemon exited without printing its address");
        }

        sb.spawn_logged("pipewire", &[])?;
        sb.wait_pipewire()?;
        sb.spawn_logged("wireplumber", &[])?;
        sb.wait_wireplumber()?;
        sb.create_null_sink(DEFAULT_SINK)?;
        sb.wait_default_sink(DEFAULT_SINK, Duration::from_secs(10))?;
        Ok(sb)
    }

    fn spawn_logged(&mut self, prog: &str, args: &[&str]) -> Result<()> {
        let log = std::fs::File::create(self.dir.path().join(format!("{prog}.log")))?;
        let child = self
            .command(prog)
            .args(args)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {prog}"))?;
        self.children.push((prog.to_string(), child));
        Ok(())
    }

    /// Stops the sandbox's WirePlumber and PipeWire (SIGTERM, as `systemctl --user stop` does,
    /// SIGKILL after 2 s) and reaps them. Clients such as headroomd keep running; start the
    /// stack again with [`Sandbox::start_stack`].
    pub fn stop_stack(&mut self) -> Result<()> {
        for name in ["wireplumber", "pipewire"] {
            while let Some(pos) = self.children.iter().position(|(n, _)| n == name) {
                let (_, mut c) = self.children.remove(pos);
                stop_child(&mut c, libc::SIGTERM, Duration::from_secs(2))?;
            }
        }
        Ok(())
    }

    /// Starts PipeWire and WirePlumber again after [`Sandbox::stop_stack`] and recreates the
    /// default null sink; returns once it is the default (asked for as a user does), with the instant
    /// PipeWire first answered (`pw-cli info 0`).
    pub fn start_stack(&mut self) -> Result<Instant> {
        self.spawn_logged("pipewire", &[])?;
        self.wait_pipewire()?;
        let pipewire_up = Instant::now();
        self.spawn_logged("wireplumber", &[])?;
        self.wait_wireplumber()?;
        self.create_null_sink(DEFAULT_SINK)?;
        // headroomd may be back first with its own sink, and the null sink has no session
        // priority to win WirePlumber's choice with (a real card's sink has): make it the
        // default explicitly, as `restart_stack` does.
        self.set_default_sink(DEFAULT_SINK, Duration::from_secs(30))?;
        Ok(pipewire_up)
    }

    /// Kills WirePlumber and PipeWire (SIGKILL, like a crash), starts both again and recreates
    /// the default null sink; returns once WirePlumber names it the default again. Clients such
    /// as headroomd are left running and must reconnect by themselves.
    pub fn restart_stack(&mut self) -> Result<()> {
        for name in ["wireplumber", "pipewire"] {
            if let Some(pos) = self.children.iter().position(|(n, _)| n == name) {
                let (_, mut c) = self.children.remove(pos);
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        self.spawn_logged("pipewire", &[])?;
        self.wait_pipewire()?;
        self.spawn_logged("wireplumber", &[])?;
        self.wait_wireplumber()?;
        self.create_null_sink(DEFAULT_SINK)?;
        // headroomd may be back first with its own sink: make the null sink the default
        // explicitly rather than rely on WirePlumber's choice.
        self.set_default_sink(DEFAULT_SINK, Duration::from_secs(30))
    }

    /// Polls until PipeWire answers `pw-cli info 0`.
    pub fn wait_pipewire(&mut self) -> Result<()> {
        wait_for("pipewire", Duration::from_secs(10), || {
            self.check_children()?;
            let ok = self
                .command("pw-cli")
                .args(["info", "0"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?
                .success();
            Ok(ok.then_some(()))
        })
    }

    /// Polls until WirePlumber has created the `default` metadata.
    pub fn wait_wireplumber(&mut self) -> Result<()> {
        wait_for("wireplumber", Duration::from_secs(10), || {
            self.check_children()?;
            let out = self
                .command("pw-metadata")
                .args(["-n", "default"])
                .stderr(Stdio::null())
                .output()?;
            Ok(String::from_utf8_lossy(&out.stdout)
                .contains("Found \"default\"")
                .then_some(()))
        })
    }

    /// Fails if one of the sandbox's own processes has exited.
    fn check_children(&mut self) -> Result<()> {
        for (name, child) in &mut self.children {
            if let Some(st) = child.try_wait()? {
                bail!(
                    "{name} exited ({st}); log: {}",
                    self.dir.path().join(format!("{name}.log")).display()
                );
            }
        }
        Ok(())
    }

    /// Creates a stereo null sink (`support.null-audio-sink`) named `name` that outlives
    /// `pw-cli`, and waits until it is visible.
    pub fn create_null_sink(&self, name: &str) -> Result<()> {
        self.create_null_sink_at(name, "FL FR")
    }

    /// Like [`Sandbox::create_null_sink`] with the channel positions `positions` (as
    /// PipeWire names them, e.g. `"FL FR FC LFE RL RR"`).
    pub fn create_null_sink_at(&self, name: &str, positions: &str) -> Result<()> {
        let props = format!(
            "{{ factory.name=support.null-audio-sink node.name={name} node.description=\"{name}\" \
             media.class=Audio/Sink object.linger=true audio.position=[{positions}] \
             audio.rate=48000 }}"
        );
        let st = self
            .command("pw-cli")
            .args(["create-node", "adapter", &props])
            .stdout(Stdio::null())
            .status()?;
        if !st.success() {
            bail!("pw-cli create-node for {name} failed: {st}");
        }
        wait_for(&format!("sink {name}"), Duration::from_secs(5), || {
            Ok(self.node_id(name)?.map(|_| ()))
        })
    }

    /// Destroys the node called `name` (e.g. a null sink) and waits until it is gone.
    pub fn destroy_node(&self, name: &str) -> Result<()> {
        let id = self
            .node_id(name)?
            .ok_or_else(|| anyhow!("no node {name}"))?;
        let st = self
            .command("pw-cli")
            .args(["destroy", &id.to_string()])
            .stdout(Stdio::null())
            .status()?;
        if !st.success() {
            bail!("pw-cli destroy {id} failed");
        }
        wait_for(&format!("{name} gone"), Duration::from_secs(5), || {
            Ok(self.node_id(name)?.is_none().then_some(()))
        })
    }

    /// The control socket a headroomd started in this sandbox listens on.
    pub fn control_socket(&self) -> PathBuf {
        Path::new(&self.env()["XDG_RUNTIME_DIR"]).join("headroom/control.sock")
    }

    /// The id of the node with `node.name == name`, if any (via `pw-dump`).
    pub fn node_id(&self, name: &str) -> Result<Option<u32>> {
        for obj in self.dump()? {
            if obj["type"] == "PipeWire:Interface:Node" && obj["info"]["props"]["node.name"] == name
            {
                return Ok(obj["id"].as_u64().map(|v| v as u32));
            }
        }
        Ok(None)
    }

    /// All objects of the graph, as `pw-dump` prints them. When the graph changes while it
    /// runs, `pw-dump` prints further JSON arrays with the changes; they are merged by object
    /// id (an entry with `info: null` and no type is a removal).
    pub fn dump(&self) -> Result<Vec<serde_json::Value>> {
        let out = self.command("pw-dump").stderr(Stdio::null()).output()?;
        if !out.status.success() {
            bail!("pw-dump failed: {}", out.status);
        }
        merge_dumps(&out.stdout)
    }

    /// The default audio sink's node name according to WirePlumber, if set.
    pub fn default_sink(&self) -> Result<Option<String>> {
        let out = self
            .command("pw-metadata")
            .args(["-n", "default", "0", "default.audio.sink"])
            .stderr(Stdio::null())
            .output()?;
        let s = String::from_utf8_lossy(&out.stdout);
        // update: id:0 key:'default.audio.sink' value:'{"name":"fake-speakers"}' type:'Spa:String:JSON'
        Ok(metadata_value_name(&s))
    }

    /// Waits until WirePlumber reports `name` as the default sink.
    /// Makes the sink `name` the default as a user does (`wpctl set-default`) and waits until
    /// WirePlumber has made it the default; asks again every 2 s meanwhile (a WirePlumber
    /// still settling, e.g. on a loaded machine, can drop the request).
    pub fn set_default_sink(&self, name: &str, timeout: Duration) -> Result<()> {
        let mut asked: Option<Instant> = None;
        wait_for(&format!("default sink {name}"), timeout, || {
            if self.default_sink()?.as_deref() == Some(name) {
                return Ok(Some(()));
            }
            if asked.is_none_or(|t| t.elapsed() >= Duration::from_secs(2)) {
                let Some(id) = self.node_id(name)? else {
                    return Ok(None);
                };
                asked = Some(Instant::now());
                let st = self
                    .command("wpctl")
                    .args(["set-default", &id.to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()?;
                if !st.success() {
                    bail!("wpctl set-default {id} ({name}) failed: {st}");
                }
            }
            Ok(None)
        })
    }

    /// Polls until the default sink is `name`.
    pub fn wait_default_sink(&self, name: &str, timeout: Duration) -> Result<()> {
        wait_for(&format!("default sink {name}"), timeout, || {
            Ok((self.default_sink()?.as_deref() == Some(name)).then_some(()))
        })
    }

    /// A `Command` for `prog` that runs inside this sandbox (its environment set, killed if the
    /// test process dies).
    pub fn command(&self, prog: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(prog);
        c.envs(&self.env).stdin(Stdio::null());
        set_pdeathsig(&mut c);
        c
    }

    /// The sandbox environment (`XDG_RUNTIME_DIR`, `DBUS_SESSION_BUS_ADDRESS`, …).
    pub fn env(&self) -> &BTreeMap<String, OsString> {
        &self.env
    }

    /// The sandbox's root directory (runtime, state, config and logs live below it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path for a scratch file inside the sandbox.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Plays `wav` with `pw-play` into `target` (a node name) and waits for it to finish.
    /// `props` are extra stream properties, e.g. `application.name=foo`.
    pub fn play(&self, wav: &Path, target: &str, props: &[&str]) -> Result<()> {
        let st = self.play_cmd(wav, target, props).status()?;
        if !st.success() {
            bail!("pw-play {} failed: {st}", wav.display());
        }
        Ok(())
    }

    /// A `pw-play` command for `wav` that names no target (WirePlumber links it to the
    /// default sink, headroomd's routing moves it), like most desktop apps.
    pub fn play_app_cmd(&self, wav: &Path, props: &[&str]) -> Command {
        let mut c = self.command("pw-play");
        if !props.is_empty() {
            c.arg("-P").arg(format!("{{ {} }}", props.join(" ")));
        }
        c.arg(wav).stdout(Stdio::null()).stderr(Stdio::null());
        c
    }

    /// A `pw-play` command for `wav` into `target` (spawn it to play in the background). The
    /// stream names its own target: headroomd leaves it there unless a rule for the app says
    /// `processed`.
    pub fn play_cmd(&self, wav: &Path, target: &str, props: &[&str]) -> Command {
        let mut c = self.command("pw-play");
        c.arg("--target").arg(target);
        if !props.is_empty() {
            c.arg("-P").arg(format!("{{ {} }}", props.join(" ")));
        }
        c.arg(wav).stdout(Stdio::null()).stderr(Stdio::null());
        c
    }

    /// Starts capturing what `sink` plays (its monitor) into `out` as 32-bit float stereo
    /// 48 kHz WAV. Returns once the capture stream is linked.
    pub fn record(&self, sink: &str, out: &Path) -> Result<Recorder> {
        self.record_at(sink, out, &["FL", "FR"])
    }

    /// Like [`Sandbox::record`] in the channel positions `positions` (one channel each, in
    /// that order).
    pub fn record_at(&self, sink: &str, out: &Path, positions: &[&str]) -> Result<Recorder> {
        let channels = positions.len().to_string();
        let child = self
            .command("pw-record")
            .args([
                "--target",
                sink,
                "-P",
                "{ stream.capture.sink=true node.name=hr-test-recorder }",
            ])
            .args([
                "--rate",
                "48000",
                "--channels",
                &channels,
                "--format",
                "f32",
            ])
            .args(["--channel-map", &positions.join(",")])
            .arg(out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting pw-record")?;
        let mut rec = Recorder {
            child: Some(child),
            path: out.to_path_buf(),
        };
        // Ready when the recorder node has an input link.
        wait_for("pw-record linked", Duration::from_secs(5), || {
            if let Some(c) = rec.child.as_mut() {
                if let Some(st) = c.try_wait()? {
                    bail!("pw-record exited early: {st}");
                }
            }
            let dump = self.dump()?;
            let Some(id) = dump.iter().find_map(|o| {
                (o["type"] == "PipeWire:Interface:Node"
                    && o["info"]["props"]["node.name"] == "hr-test-recorder")
                    .then(|| o["id"].as_u64())
                    .flatten()
            }) else {
                return Ok(None);
            };
            let linked = dump.iter().any(|o| {
                o["type"] == "PipeWire:Interface:Link"
                    && o["info"]["input-node-id"].as_u64() == Some(id)
            });
            Ok(linked.then_some(()))
        })?;
        Ok(rec)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Stop in reverse order: session manager, server, bus.
        for (_, child) in self.children.iter_mut().rev() {
            if stop_child(child, libc::SIGTERM, Duration::from_secs(2)).is_err() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Sends `signal` to `child` (one of ours, not yet reaped), waits up to `grace` for it to
/// exit, SIGKILLs it if it has not, and reaps it.
pub fn stop_child(child: &mut Child, signal: libc::c_int, grace: Duration) -> Result<()> {
    // SAFETY: kill(2) on a pid we spawned and have not yet reaped.
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
    let deadline = Instant::now() + grace;
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.wait();
    Ok(())
}

/// A running `pw-record`; [`Recorder::stop`] finalises the file.
pub struct Recorder {
    child: Option<Child>,
    path: PathBuf,
}

impl Recorder {
    /// A recorder for a `pw-record` already started into `path`.
    pub fn from_child(child: Child, path: &Path) -> Self {
        Recorder {
            child: Some(child),
            path: path.to_path_buf(),
        }
    }

    /// Stops the capture (SIGINT, so the WAV header is written) and reads the file.
    pub fn stop(mut self) -> Result<Wav> {
        self.finish()?;
        read_wav(&self.path)
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c, libc::SIGINT, Duration::from_secs(3))?;
        }
        Ok(())
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Extracts `name` from the JSON value of a `pw-metadata` update line
/// (`value:'{"name":"fake-speakers"}'`).
pub fn metadata_value_name(pw_metadata_output: &str) -> Option<String> {
    let v = pw_metadata_output
        .split("value:'")
        .nth(1)?
        .split("' type:")
        .next()?;
    let json: serde_json::Value = serde_json::from_str(v).ok()?;
    json["name"].as_str().map(str::to_string)
}

/// Finds `prog` on `PATH`.
pub fn which(prog: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
        .ok_or_else(|| anyhow!("{prog} not found on PATH"))
}

/// Path of a binary built by this workspace (`headroomd`, `headroom`), next to the test
/// executable's `target/<profile>` directory. Build it first (`cargo build`); `make test` does.
pub fn workspace_bin(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/<test-binary>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| anyhow!("unexpected test binary location {}", exe.display()))?;
    let p = profile_dir.join(name);
    if !p.is_file() {
        bail!(
            "{} not built: run `cargo build --workspace` first ({})",
            name,
            p.display()
        );
    }
    Ok(p)
}

/// Merges the JSON arrays `pw-dump` printed (the first is the graph, later ones are updates)
/// into one list of objects, in first-seen order.
pub fn merge_dumps(bytes: &[u8]) -> Result<Vec<serde_json::Value>> {
    let mut order: Vec<u64> = Vec::new();
    let mut objs: BTreeMap<u64, serde_json::Value> = BTreeMap::new();
    let mut untracked = Vec::new();
    for doc in serde_json::Deserializer::from_slice(bytes).into_iter::<serde_json::Value>() {
        let doc = doc.context("parsing pw-dump output")?;
        for o in doc.as_array().cloned().unwrap_or_default() {
            let Some(id) = o["id"].as_u64() else {
                untracked.push(o);
                continue;
            };
            if o.get("type").is_none() && o["info"].is_null() {
                objs.remove(&id);
                continue;
            }
            if !objs.contains_key(&id) {
                order.push(id);
            }
            objs.insert(id, o);
        }
    }
    let mut all: Vec<serde_json::Value> = order.iter().filter_map(|id| objs.remove(id)).collect();
    all.extend(untracked);
    Ok(all)
}

#[cfg(test)]
mod dump_tests {
    use super::merge_dumps;

    #[test]
    fn later_documents_update_and_remove_objects() {
        let out = br#"[ { "id": 1, "type": "PipeWire:Interface:Node", "info": { "n": 1 } },
                        { "id": 2, "type": "PipeWire:Interface:Node", "info": { "n": 2 } } ]
                      [ { "id": 2, "info": null },
                        { "id": 3, "type": "PipeWire:Interface:Link", "info": {} },
                        { "id": 1, "type": "PipeWire:Interface:Node", "info": { "n": 10 } } ]"#;
        let v = merge_dumps(out).unwrap();
        let ids: Vec<u64> = v.iter().map(|o| o["id"].as_u64().unwrap()).collect();
        assert_eq!(ids, [1, 3]);
        assert_eq!(v[0]["info"]["n"], 10);
        assert!(merge_dumps(b"[ { \"id\": 1 } ] [ oops").is_err());
    }
}
