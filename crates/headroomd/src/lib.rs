//! # headroomd
//!
//! The headroom daemon as a library: [`run`] starts everything and returns when the daemon is
//! asked to stop. The `headroomd` binary is a thin wrapper, so integration tests can start a
//! real daemon in-process or as a child process.

pub mod code_pages;
pub mod control;
pub mod engine;
pub mod files;
pub mod guard;
pub mod history;
pub mod instance;
pub mod layer_a;
pub mod names;
pub mod notify;
pub mod profiles;
pub mod pw;
pub mod routing;
pub mod state_file;
pub mod watch;

/// Daemon start-up configuration (command line and environment).
#[derive(Debug, Clone, Default)]
pub struct DaemonConfig {
    /// Path of the daemon config file (`$XDG_CONFIG_HOME/headroom/config.toml` when `None`).
    pub config_path: Option<std::path::PathBuf>,
    /// Sink to play the processed audio into when present (node name), instead of the
    /// default sink.
    pub preferred_real_sink: Option<String>,
    /// Start with the chain bypassed (audio passes unchanged, delayed by the chain latency).
    pub bypass: bool,
    /// Make `headroom-processed` the default sink while running, regardless of the profile's
    /// `route.promote_default` (`--promote-default`).
    pub promote_default: bool,
}

// Debug builds abort on any heap allocation inside `assert_no_alloc` sections (the audio
// callback); release builds use the system allocator untouched.
#[cfg(debug_assertions)]
#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

/// Allocations of at least 32 kB always get their own mapping, which is returned to the
/// system when freed (glibc only; elsewhere a no-op). Call it first thing in `main`.
///
/// glibc raises its mmap threshold each time such a block is freed, so once a stream's
/// converter scratch buffers (about 4 MB per Layer A tap, allocated by PipeWire's
/// audioconvert with `calloc`) have been freed, the next tap's buffers come from the heap and
/// are zeroed page by page: every later tap then costs its full scratch size in resident
/// memory instead of the few pages a quantum touches, and the memory is not returned when it
/// goes away. A fixed threshold keeps them lazily mapped. At 32 kB rather than glibc's
/// initial 128 kB, the PipeWire streams' smaller `calloc`'d blocks are mapped lazily too
/// instead of being zeroed in the heap, and given back when a stream goes (≈ 0.3 MB less
/// with one tapped stream). The real-time callbacks never allocate, so the extra `mmap`
/// calls happen only when streams and large replies come and go.
pub fn fix_malloc_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's tuning; called before any other thread
    // exists, with a valid parameter and value.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 * 1024);
    }
}

/// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread, and SIGTSTP and SIGTTOU; threads
/// spawned afterwards inherit the mask, so the signals stay pending until
/// [`spawn_signal_waiter`] takes them. Call it first thing in `main`, before any thread exists.
///
/// A stopped headroomd silences every stream routed through its sink, so the terminal's
/// job-control stops do not stop it: Ctrl-Z (SIGTSTP) is logged and ignored, and a headroomd
/// in a terminal's background writes its log instead of stopping (SIGTTOU blocked). Its guard
/// resumes it from SIGSTOP, which cannot be blocked (see [`guard`]).
pub fn block_shutdown_signals() -> anyhow::Result<()> {
    let mut set = shutdown_sigset();
    set.add(nix::sys::signal::Signal::SIGTTOU);
    set.thread_block()?;
    Ok(())
}

/// The signals [`spawn_signal_waiter`] takes: the three that stop headroomd, and SIGTSTP.
fn shutdown_sigset() -> nix::sys::signal::SigSet {
    let mut set = nix::sys::signal::SigSet::empty();
    set.add(nix::sys::signal::Signal::SIGTERM);
    set.add(nix::sys::signal::Signal::SIGINT);
    // A closed terminal: a daemon started in one stops as on SIGTERM (killed by the default
    // action, it left the streams' Layer A volumes behind).
    set.add(nix::sys::signal::Signal::SIGHUP);
    set.add(nix::sys::signal::Signal::SIGTSTP);
    set
}

/// Spawns a thread that waits (`sigwait`) for SIGTERM, SIGINT or SIGHUP and calls `on_signal` once,
/// with the signal's name; a SIGTSTP (Ctrl-Z) on the way is logged and ignored. Needs
/// [`block_shutdown_signals`] to have run first.
pub fn spawn_signal_waiter(
    on_signal: impl FnOnce(&'static str) + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("headroom-signals".into())
        .spawn(move || loop {
            match shutdown_sigset().wait() {
                Ok(nix::sys::signal::Signal::SIGTSTP) => tracing::warn!(
                    "SIGTSTP (Ctrl-Z) ignored: a stopped headroomd would silence every stream \
                     playing through headroom-processed; Ctrl-C or SIGTERM ends it"
                ),
                Ok(sig) => {
                    on_signal(sig.as_str());
                    return;
                }
                Err(e) => {
                    tracing::error!("waiting for signals failed: {e}");
                    return;
                }
            }
        })
}

/// Runs the daemon until SIGTERM/SIGINT/SIGHUP (see [`engine::run`]): the control socket, the
/// PipeWire bus, routing, profiles with hot reload, and metrics history.
pub fn run(config: DaemonConfig) -> anyhow::Result<()> {
    engine::run(config)
}
