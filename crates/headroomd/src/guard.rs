//! The volume guard: a small process forked when headroomd starts that gives the streams
//! their volume back when headroomd ends without doing it itself (SIGKILL, a crash, an
//! abort).
//!
//! Layer A sets application streams' master `volume` (a quiet app lifted by up to 20 dB). A
//! clean stop puts every one back at 1; a killed daemon could not, and a quiet app it had
//! lifted stayed lifted — loud content after it came out up to 20 dB hot — until the app's
//! stream ended or headroomd ran again. The guard closes that gap:
//!
//! * [`start`], first thing in `main` (before any thread exists), forks: the guard is a copy
//!   of headroomd as it starts (its pages shared with it: ≈ 0.2 MB of its own), named
//!   [`GUARD_NAME`] (`comm`; `pkill headroomd` and `killall headroomd` leave it alone, while
//!   `pidof`, which also reads the command line, lists it), holding the read end of a pipe.
//!   The shutdown signals stay blocked in it (the mask is inherited), so a SIGTERM meant for
//!   the whole service (or a Ctrl-C for the terminal's process group) does not cut its work
//!   short: it ends when the pipe does.
//! * headroomd writes what it does to stream volumes down the pipe, one line each (see
//!   [`Message`]): a stream given a volume other than 1, a stream back at 1 or gone, a new
//!   PipeWire connection (the old ids are void), and `bye` when it stops cleanly (it has put
//!   the volumes back itself).
//! * When the pipe closes (headroomd's end is closed by the kernel whatever ended it) without
//!   a `bye`, the guard connects to PipeWire, sets the master volume of every stream still
//!   listed (and still an application playback stream) back to 1, and exits; with nothing
//!   listed it exits at once. It does nothing else, and costs nothing while it waits (one
//!   blocking `read`).
//!
//! * While streams depend on headroomd — an application stream is linked into
//!   `headroom-processed`, or that sink is the default — headroomd says `watch` (and `rest`
//!   when none does). The guard then reads headroomd's state (`/proc/PID/stat`) every
//!   [`WATCH_EVERY`]: a headroomd stopped by a signal (`kill -STOP`; its nodes stay in the
//!   graph, so nothing moves the streams, and they are silent) is resumed with SIGCONT, and
//!   the guard says so in headroomd's log. A stop by a debugger (`ptrace`, state `t`) is left
//!   alone. With nothing depending on headroomd the guard does not wake at all. (Ctrl-Z does
//!   not stop headroomd in the first place: SIGTSTP stays blocked, and headroomd logs it.)
//!
//! The guard runs in a process group of its own, so that a signal to headroomd's group (a
//! shell's `kill -STOP %1`) does not reach it. A guard killed or stopped together with
//! headroomd (`systemctl --user kill`, `kill -9` of both, `kill -STOP $(pidof headroomd)`,
//! which lists both) cannot help; the systemd unit restarts a killed headroomd, which takes
//! the streams over again. Nor does the guard see a stream that an application links into
//! the sink itself (`pw-play --target headroom-processed`) while headroomd is stopped and
//! nothing else depends on it: headroomd, stopped, cannot tell it to watch.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use headroom_client::proc_stat::ProcStat;
use parking_lot::Mutex;

/// The guard process's name (`comm`, as `ps` and `pgrep` show it).
pub const GUARD_NAME: &str = "headroom-guard";

/// How long the guard tries to reach PipeWire and put the volumes back.
const RESTORE_WITHIN: Duration = Duration::from_secs(3);

/// How often the guard looks whether headroomd is stopped while streams depend on it.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);

/// The longest line the guard keeps while waiting for its newline (a line is a few bytes).
const MAX_LINE: usize = 64;

/// One line from headroomd to its guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// `+ID`: node `ID`'s master volume was set to something other than 1.
    Touched(u32),
    /// `-ID`: node `ID`'s master volume is back at 1, or the node is gone.
    Released(u32),
    /// `0`: a new PipeWire connection; the ids before it are void.
    Forget,
    /// `bye`: headroomd stops cleanly and has put the volumes back.
    Bye,
    /// `watch`: streams depend on headroomd (one plays through `headroom-processed`, or it
    /// is the default sink): the guard resumes a stopped headroomd.
    Watch,
    /// `rest`: nothing depends on headroomd; the guard only waits for the pipe to close.
    Rest,
}

impl Message {
    /// Parses one line (without its newline); `None` for anything else.
    pub fn parse(line: &str) -> Option<Message> {
        let line = line.trim();
        match line {
            "bye" => Some(Message::Bye),
            "0" => Some(Message::Forget),
            "watch" => Some(Message::Watch),
            "rest" => Some(Message::Rest),
            _ => {
                let (sign, id) = line.split_at_checked(1)?;
                let id: u32 = id.parse().ok()?;
                match sign {
                    "+" => Some(Message::Touched(id)),
                    "-" => Some(Message::Released(id)),
                    _ => None,
                }
            }
        }
    }

    /// The line for this message, newline included.
    fn line(self) -> String {
        match self {
            Message::Touched(id) => format!("+{id}\n"),
            Message::Released(id) => format!("-{id}\n"),
            Message::Forget => "0\n".into(),
            Message::Bye => "bye\n".into(),
            Message::Watch => "watch\n".into(),
            Message::Rest => "rest\n".into(),
        }
    }
}

/// What the guard knows: the streams whose volume headroomd changed, whether streams depend
/// on headroomd, and whether it said goodbye.
#[derive(Debug, Default)]
pub struct Book {
    touched: BTreeSet<u32>,
    watching: bool,
    bye: bool,
}

impl Book {
    /// Takes one message into account.
    pub fn apply(&mut self, m: Message) {
        match m {
            Message::Touched(id) => {
                self.touched.insert(id);
            }
            Message::Released(id) => {
                self.touched.remove(&id);
            }
            Message::Forget => {
                self.touched.clear();
                self.watching = false;
            }
            Message::Bye => {
                self.bye = true;
                self.watching = false;
            }
            Message::Watch => self.watching = !self.bye,
            Message::Rest => self.watching = false,
        }
    }

    /// Whether streams depend on headroomd: the guard looks at its state every
    /// [`WATCH_EVERY`].
    pub fn watching(&self) -> bool {
        self.watching
    }

    /// The streams to give their volume back once the pipe has closed: none after `bye`.
    pub fn to_restore(&self) -> Vec<u32> {
        if self.bye {
            Vec::new()
        } else {
            self.touched.iter().copied().collect()
        }
    }
}

/// headroomd's end of the pipe (`None` once closed), the guard's process id, the streams
/// it has reported touched, and whether it last said `watch`.
struct Writer {
    pipe: Option<File>,
    guard: Option<nix::unistd::Pid>,
    touched: BTreeSet<u32>,
    watching: bool,
}

static WRITER: OnceLock<Mutex<Writer>> = OnceLock::new();

/// Errors of [`start`].
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The pipe or the fork failed.
    #[error("cannot start the volume guard: {0}")]
    Sys(#[from] nix::Error),
}

/// Forks the guard. Must be called before any thread exists: the child runs on after the fork
/// (it never returns from here) and must not meet locks held by threads that do not exist in
/// it. In headroomd it returns once the guard runs; an error leaves headroomd without one (it
/// runs on, and says so).
pub fn start() -> Result<(), GuardError> {
    use nix::fcntl::OFlag;
    use nix::unistd::{fork, pipe2, ForkResult};
    let (read, write) = pipe2(OFlag::O_CLOEXEC)?;
    let daemon = nix::unistd::getpid();
    // SAFETY: called from `main` before any thread is spawned, so the child is a complete
    // copy of a single-threaded process: no lock can be held by a thread missing in it, and
    // it may allocate and use the standard library freely.
    match unsafe { fork() }? {
        ForkResult::Child => {
            drop(write);
            run_guard(File::from(read), daemon)
        }
        ForkResult::Parent { child } => {
            drop(read);
            // Never block headroomd: a guard that stopped reading loses lines, not time.
            nix::fcntl::fcntl(&write, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
            let _ = WRITER.set(Mutex::new(Writer {
                pipe: Some(File::from(write)),
                guard: Some(child),
                touched: BTreeSet::new(),
                watching: false,
            }));
            Ok(())
        }
    }
}

fn send(w: &mut Writer, m: Message) {
    // A full pipe (a guard that does not read) or a gone guard: nothing to do about it here.
    if let Some(p) = w.pipe.as_mut() {
        let _ = p.write_all(m.line().as_bytes());
    }
}

/// Layer A set node `node_id`'s master volume to `volume`. Called by the PipeWire thread (never
/// the audio callback); writes only when the stream's state changes (touched / back at 1).
pub fn volume_set(node_id: u32, volume: f32) {
    mark(node_id, volume != 1.0);
}

/// Node `node_id` is gone.
pub fn node_gone(node_id: u32) {
    mark(node_id, false);
}

/// Node `node_id`'s master volume is off 1 (`touched`) or not: tells the guard when that
/// changes.
fn mark(node_id: u32, touched: bool) {
    let Some(w) = WRITER.get() else {
        return;
    };
    let mut w = w.lock();
    let changed = if touched {
        w.touched.insert(node_id)
    } else {
        w.touched.remove(&node_id)
    };
    if changed {
        let m = if touched {
            Message::Touched(node_id)
        } else {
            Message::Released(node_id)
        };
        send(&mut w, m);
    }
}

/// A new PipeWire connection: the node ids of the last one are void.
pub fn forget_all() {
    let Some(w) = WRITER.get() else {
        return;
    };
    let mut w = w.lock();
    if !w.touched.is_empty() || w.watching {
        w.touched.clear();
        w.watching = false;
        send(&mut w, Message::Forget);
    }
}

/// Whether streams depend on headroomd now (an application stream linked into
/// `headroom-processed`, or that sink the default): tells the guard when that changes, so
/// that it resumes a stopped headroomd only while that would silence something, and does
/// not wake otherwise.
pub fn watch(in_use: bool) {
    let Some(w) = WRITER.get() else {
        return;
    };
    let mut w = w.lock();
    if w.watching != in_use {
        w.watching = in_use;
        let m = if in_use {
            Message::Watch
        } else {
            Message::Rest
        };
        send(&mut w, m);
    }
}

/// headroomd stops cleanly (the volumes are back): the guard is told, the pipe closed, and
/// the guard (which then exits without doing anything) waited for, up to a second.
pub fn dismiss() {
    let Some(w) = WRITER.get() else {
        return;
    };
    let mut w = w.lock();
    send(&mut w, Message::Bye);
    w.pipe = None;
    if let Some(pid) = w.guard.take() {
        use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
        let until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < until {
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(5)),
                _ => return,
            }
        }
    }
}

/// The guard process: reads the pipe to its end (resuming a stopped headroomd while told to
/// watch), then puts back what is left, and exits.
fn run_guard(mut pipe: File, daemon: nix::unistd::Pid) -> ! {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::io::Read;
    use std::os::fd::AsFd;
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes; the literal is
    // 15 bytes with its NUL.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, c"headroom-guard".as_ptr());
    }
    // A process group of its own: a stop sent to headroomd's group (`kill -STOP -- -PGID`, a
    // shell's `kill -STOP %1`) stopped the guard with it, and nothing resumed either. (Its
    // writes to a terminal still go through: SIGTTOU stays blocked.)
    let _ = nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0));
    let mut book = Book::default();
    let mut line: Vec<u8> = Vec::with_capacity(MAX_LINE);
    let mut buf = [0u8; 512];
    let mut next_look = Instant::now();
    loop {
        let timeout = if book.watching() {
            let ms = next_look
                .saturating_duration_since(Instant::now())
                .as_millis();
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
        } else {
            PollTimeout::NONE
        };
        let readable = {
            let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, timeout) {
                Ok(n) => n > 0,
                Err(nix::errno::Errno::EINTR) => false,
                Err(_) => break,
            }
        };
        if readable {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let was_watching = book.watching();
                    for &b in buf.get(..n).unwrap_or(&[]) {
                        if b == b'\n' {
                            if let Some(m) =
                                std::str::from_utf8(&line).ok().and_then(Message::parse)
                            {
                                book.apply(m);
                            }
                            line.clear();
                        } else if line.len() < MAX_LINE {
                            line.push(b);
                        }
                    }
                    if book.watching() && !was_watching {
                        next_look = Instant::now() + WATCH_EVERY;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        if book.watching() && Instant::now() >= next_look {
            next_look = Instant::now() + WATCH_EVERY;
            if is_stopped(daemon) {
                let resumed = nix::sys::signal::kill(daemon, nix::sys::signal::Signal::SIGCONT);
                let _ = match resumed {
                    Ok(()) => writeln!(
                        std::io::stderr(),
                        "{GUARD_NAME}: headroomd was stopped (SIGSTOP) while streams played \
                         through headroom-processed, which silenced them: resumed it \
                         (SIGCONT). To end headroomd, send SIGTERM or run `systemctl --user \
                         stop headroomd`"
                    ),
                    Err(e) => writeln!(
                        std::io::stderr(),
                        "{GUARD_NAME}: headroomd is stopped and its streams are silent, but \
                         it cannot be resumed: {e}"
                    ),
                };
            }
        }
    }
    let ids = book.to_restore();
    if !ids.is_empty() {
        // headroomd's log (its stderr), which may be gone with its terminal: never fails.
        let mut log = std::io::stderr();
        let _ = match restore(&ids) {
            Ok(n) => writeln!(
                log,
                "{GUARD_NAME}: headroomd ended without giving {} stream(s) their volume back; \
                 {n} put back at 1",
                ids.len()
            ),
            Err(e) => writeln!(
                log,
                "{GUARD_NAME}: cannot put the streams' volume back: {e}"
            ),
        };
    }
    std::process::exit(0)
}

/// Whether process `pid` is stopped by a signal (state `T` in `/proc/PID/stat`; a debugger's
/// stop, `t`, is not counted).
fn is_stopped(pid: nix::unistd::Pid) -> bool {
    u32::try_from(pid.as_raw())
        .ok()
        .and_then(ProcStat::read)
        .is_some_and(|s| s.stopped_by_signal())
}

/// Connects to PipeWire and sets the master volume of the listed application playback
/// streams back to 1; returns how many it set.
fn restore(ids: &[u32]) -> Result<usize, String> {
    use pipewire as pw;
    use pw::context::ContextRc;
    use pw::main_loop::MainLoopRc;
    use pw::node::Node;
    use pw::properties::PropertiesBox;
    use pw::registry::GlobalObject;
    use pw::types::ObjectType;
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    pw::init();
    let main_loop = MainLoopRc::new(None).map_err(|e| format!("main loop: {e}"))?;
    let context = ContextRc::new(&main_loop, None).map_err(|e| format!("context: {e}"))?;
    let core = context
        .connect_rc(None)
        .map_err(|e| format!("connect: {e}"))?;
    let registry = core
        .get_registry_rc()
        .map_err(|e| format!("registry: {e}"))?;
    let wanted: BTreeSet<u32> = ids.iter().copied().collect();
    let found: Rc<RefCell<Vec<GlobalObject<PropertiesBox>>>> = Rc::default();
    let done: Rc<Cell<Option<pw::spa::utils::result::AsyncSeq>>> = Rc::default();
    let _registry_listener = {
        let found = found.clone();
        registry
            .add_listener_local()
            .global(move |obj| {
                let stream = obj.type_ == ObjectType::Node
                    && wanted.contains(&obj.id)
                    && obj
                        .props
                        .is_some_and(|p| p.get("media.class") == Some("Stream/Output/Audio"));
                if stream {
                    found.borrow_mut().push(obj.to_owned());
                }
            })
            .register()
    };
    let _core_listener = {
        let done = done.clone();
        core.add_listener_local()
            .done(move |id, seq| {
                if id == pw::core::PW_ID_CORE {
                    done.set(Some(seq));
                }
            })
            .register()
    };
    let deadline = Instant::now() + RESTORE_WITHIN;
    let sync = |what: &str| -> Result<(), String> {
        let seq = core.sync(0).map_err(|e| format!("sync: {e}"))?;
        while done.get() != Some(seq) {
            let now = Instant::now();
            if now >= deadline {
                return Err(format!("no answer from PipeWire ({what})"));
            }
            main_loop
                .loop_()
                .iterate(pw::loop_::Timeout::Finite(deadline - now));
        }
        Ok(())
    };
    // Every global is announced before the answer to the first sync.
    sync("listing the streams")?;
    let bytes = crate::pw::format::volume_pod(1.0)?;
    let pod = pw::spa::pod::Pod::from_bytes(&bytes).ok_or("the volume does not serialise")?;
    let mut proxies: Vec<Node> = Vec::new();
    for obj in found.borrow().iter() {
        match registry.bind::<Node, _>(obj) {
            Ok(node) => {
                node.set_param(pw::spa::param::ParamType::Props, 0, pod);
                proxies.push(node);
            }
            Err(e) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "{GUARD_NAME}: cannot bind node {}: {e}",
                    obj.id
                );
            }
        }
    }
    // The second answer comes after the volumes were applied.
    sync("setting the volumes")?;
    Ok(proxies.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_garbage_is_ignored() {
        for m in [
            Message::Touched(42),
            Message::Released(7),
            Message::Forget,
            Message::Bye,
            Message::Watch,
            Message::Rest,
        ] {
            assert_eq!(Message::parse(m.line().trim_end()), Some(m));
        }
        for bad in ["", "+", "-x", "*3", "+-3", "byebye", "+4294967296", "é"] {
            assert_eq!(Message::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_book_keeps_what_is_still_touched_unless_told_goodbye() {
        let mut b = Book::default();
        for m in [
            Message::Touched(3),
            Message::Touched(5),
            Message::Touched(3),
            Message::Released(5),
            Message::Touched(9),
        ] {
            b.apply(m);
        }
        assert_eq!(b.to_restore(), [3, 9]);
        b.apply(Message::Forget);
        assert!(b.to_restore().is_empty());
        b.apply(Message::Touched(11));
        assert_eq!(b.to_restore(), [11]);
        b.apply(Message::Bye);
        assert!(b.to_restore().is_empty());
    }

    #[test]
    fn the_guard_watches_only_between_watch_and_rest_and_never_after_goodbye() {
        let mut b = Book::default();
        assert!(!b.watching(), "a new guard does not wake");
        b.apply(Message::Watch);
        assert!(b.watching());
        b.apply(Message::Touched(4));
        assert!(b.watching());
        b.apply(Message::Rest);
        assert!(!b.watching());
        b.apply(Message::Watch);
        b.apply(Message::Forget);
        assert!(!b.watching(), "a new connection's graph says again");
        b.apply(Message::Watch);
        b.apply(Message::Bye);
        assert!(!b.watching());
        b.apply(Message::Watch);
        assert!(!b.watching(), "nothing is watched after goodbye");
    }

    #[test]
    fn a_running_process_is_not_stopped() {
        assert!(!is_stopped(nix::unistd::getpid()));
    }
}
