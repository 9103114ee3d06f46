//! The control socket server: accept loop and one thread per connection.
//!
//! A connection's thread reads requests and writes their replies; once the connection has
//! subscribed, a second thread writes its events from the subscriber's queue. Both write
//! whole lines through one [`Writer`]. Replies have a deadline ([`WRITE_TIMEOUT`]): a client
//! that sends requests but does not read the replies is cut off. Events have none: the event
//! thread of a subscriber that stops reading (a monitor stopped with Ctrl-Z) sleeps in
//! `write` while its queue overflows (publishing never waits for it), and once it reads
//! again it gets the `daemon/overflow` notice followed by fresh snapshots of the topics it
//! lost events of.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use headroom_ipc::{
    decode_client_frame, encode_line, ClientFrame, ErrorCode, Event, IpcError, LineDecoder,
    Request, RequestFrame, Response, ServerFrame, ServerHello, Subscribed, Topic, MAX_FRAME_BYTES,
    MAX_SERVER_FRAME_BYTES, PROTOCOL_VERSION,
};
use parking_lot::Mutex;

use super::broadcast::{Broadcaster, Queued, Registration};
use super::socket::{self, FileId};
use super::{ControlError, Handler, Reply};

/// Default limit of simultaneous connections; more are refused with `busy`.
pub const MAX_CLIENTS: usize = 256;

/// A connection sending this many malformed frames in a row is closed.
pub const MAX_CONSECUTIVE_BAD_FRAMES: u32 = 16;

/// How long [`ServerHandle::shutdown`] lets connections flush queued events before cutting
/// them off.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// Default time a new connection has to send its first whole frame (a hello or a request),
/// counted from the greeting; a connection that misses it gets a `timeout` error and is
/// closed, so connections that never say anything cannot hold the connection limit.
pub const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time a frame may take from its first byte to its `\n`; a connection that
/// leaves a frame unfinished longer gets a `timeout` error and is closed.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time a connection that has not subscribed may stay silent between frames
/// (counted from the last reply); then it gets a `timeout` error and is closed. A
/// subscribed connection may stay silent for ever. `headroom-client` reconnects by itself
/// when its next request finds the connection closed this way.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Default time a reply (the greeting, a response, an error, the `subscribed` answer and its
/// snapshot events: one frame each) may take to be written, counted from when it is ready; a
/// connection whose client does not read its replies that long is closed without a further
/// frame. Events have no write deadline: a subscriber that stops reading loses events
/// (`daemon/overflow`) instead. The same deadline bounds flushing queued events once the
/// client has stopped sending.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

const READ_CHUNK: usize = 8 * 1024;
const CONNECTION_STACK: usize = 512 * 1024;

/// Server options.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Version sent in the greeting.
    pub daemon_version: String,
    /// The only uid allowed to connect (`None`: our effective uid).
    pub allowed_uid: Option<u32>,
    /// Simultaneous connection limit.
    pub max_clients: usize,
    /// Deadline for a connection's first whole frame ([`FIRST_FRAME_TIMEOUT`]).
    pub first_frame_timeout: Duration,
    /// Deadline for completing a frame once it has started ([`FRAME_TIMEOUT`]).
    pub frame_timeout: Duration,
    /// Deadline for the next frame of a connection without a subscription
    /// ([`IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
    /// Deadline for writing one reply ([`WRITE_TIMEOUT`]).
    pub write_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            daemon_version: env!("CARGO_PKG_VERSION").to_owned(),
            allowed_uid: None,
            max_clients: MAX_CLIENTS,
            first_frame_timeout: FIRST_FRAME_TIMEOUT,
            frame_timeout: FRAME_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
        }
    }
}

/// The control server. See [`Server::start`].
#[derive(Debug)]
pub struct Server;

struct Shared {
    handler: Arc<dyn Handler>,
    broadcaster: Broadcaster,
    hello: Arc<str>,
    allowed_uid: u32,
    max_clients: usize,
    deadlines: Deadlines,
    stopping: AtomicBool,
    conns: Mutex<HashMap<u64, Conn>>,
    next_conn: AtomicU64,
    done_tx: crossbeam_channel::Sender<u64>,
    done_rx: crossbeam_channel::Receiver<u64>,
}

struct Conn {
    /// A copy of the connection's socket, to end it at shutdown; dropped (closed) as soon as
    /// the connection's thread is done.
    stream: Option<UnixStream>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds the socket at `path` (see [`ServerConfig::default`]) and starts serving.
    /// Returns once the socket accepts connections.
    pub fn start(
        path: impl AsRef<Path>,
        handler: Arc<dyn Handler>,
        broadcaster: Broadcaster,
    ) -> Result<ServerHandle, ControlError> {
        Self::start_with(path, handler, broadcaster, ServerConfig::default())
    }

    /// Like [`Server::start`], with explicit options.
    pub fn start_with(
        path: impl AsRef<Path>,
        handler: Arc<dyn Handler>,
        broadcaster: Broadcaster,
        config: ServerConfig,
    ) -> Result<ServerHandle, ControlError> {
        let path = path.as_ref().to_owned();
        let (listener, file_id) = socket::bind(&path)?;
        let hello = encode_line(&ServerFrame::Hello(ServerHello {
            protocol_version: PROTOCOL_VERSION,
            daemon_version: config.daemon_version.clone(),
        }));
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            handler,
            broadcaster,
            hello: Arc::from(hello),
            allowed_uid: config
                .allowed_uid
                .unwrap_or_else(|| nix::unistd::geteuid().as_raw()),
            max_clients: config.max_clients.max(1),
            deadlines: Deadlines {
                first_frame: config.first_frame_timeout,
                frame: config.frame_timeout,
                idle: config.idle_timeout,
                write: config.write_timeout,
            },
            stopping: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            done_tx,
            done_rx,
        });
        let listener = Arc::new(listener);
        let accept = {
            let shared = Arc::clone(&shared);
            let listener = Arc::clone(&listener);
            std::thread::Builder::new()
                .name("headroom-ctl-accept".into())
                .spawn(move || accept_loop(&listener, &shared))
                .map_err(|source| ControlError::Io {
                    context: "spawning accept thread for",
                    path: path.clone(),
                    source,
                })?
        };
        tracing::info!("control socket listening on {}", path.display());
        Ok(ServerHandle {
            path,
            file_id,
            shared,
            listener,
            accept: Some(accept),
        })
    }
}

/// A running server. Dropping it shuts the server down like [`ServerHandle::shutdown`].
pub struct ServerHandle {
    path: PathBuf,
    file_id: FileId,
    shared: Arc<Shared>,
    listener: Arc<UnixListener>,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("path", &self.path)
            .field("clients", &self.client_count())
            .finish()
    }
}

impl ServerHandle {
    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Connections currently open.
    pub fn client_count(&self) -> usize {
        if self.accept.is_some() {
            self.shared.reap();
        }
        self.shared.conns.lock().len()
    }

    /// Sockets of connections the server still holds a descriptor of (its copy for
    /// shutdown), without reaping finished connections first: one per open connection, none
    /// for connections that have ended.
    pub fn held_sockets(&self) -> usize {
        self.shared
            .conns
            .lock()
            .values()
            .filter(|c| c.stream.is_some())
            .count()
    }

    /// Stops accepting, lets connections flush queued events for up to
    /// [`SHUTDOWN_GRACE`], closes them, joins every thread and unlinks the socket (only if
    /// the file at the path is still ours). Publish `daemon/shutdown` before calling this so
    /// subscribers learn why. Idempotent.
    pub fn shutdown(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wakes the blocked accept() (Linux returns EINVAL on a shut-down listener).
        let _ =
            nix::sys::socket::shutdown(self.listener.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        let _ = accept.join();
        // Ask connections to finish: no more requests, flush queued events.
        let open: Vec<u64> = {
            let conns = self.shared.conns.lock();
            for c in conns.values() {
                if let Some(s) = &c.stream {
                    let _ = s.shutdown(std::net::Shutdown::Read);
                }
            }
            conns.keys().copied().collect()
        };
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        let mut remaining = open.len();
        while remaining > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.shared.done_rx.recv_timeout(left) {
                Ok(_) => remaining -= 1,
                Err(_) => break,
            }
        }
        let threads: Vec<JoinHandle<()>> = {
            let mut conns = self.shared.conns.lock();
            conns
                .drain()
                .filter_map(|(_, mut c)| {
                    if let Some(s) = &c.stream {
                        let _ = s.shutdown(std::net::Shutdown::Both);
                    }
                    c.thread.take()
                })
                .collect()
        };
        for t in threads {
            let _ = t.join();
        }
        if socket::file_id(&self.path) == Some(self.file_id) {
            let _ = std::fs::remove_file(&self.path);
        }
        tracing::info!("control socket {} closed", self.path.display());
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Shared {
    /// Joins and forgets connections whose thread has finished.
    fn reap(&self) {
        while let Ok(id) = self.done_rx.try_recv() {
            let conn = self.conns.lock().remove(&id);
            if let Some(t) = conn.and_then(|mut c| c.thread.take()) {
                let _ = t.join();
            }
        }
    }
}

fn accept_loop(listener: &UnixListener, shared: &Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!("control socket accept failed: {e}");
                // Out of descriptors and the like: back off briefly instead of spinning.
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        shared.reap();
        if shared.conns.lock().len() >= shared.max_clients {
            refuse(
                stream,
                IpcError::new(
                    ErrorCode::Busy,
                    format!(
                        "too many control connections (limit {})",
                        shared.max_clients
                    ),
                ),
            );
            continue;
        }
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        let Ok(registry_copy) = stream.try_clone() else {
            continue;
        };
        let mut conns = shared.conns.lock();
        let thread = {
            let shared = Arc::clone(shared);
            std::thread::Builder::new()
                .name(format!("headroom-ctl-{id}"))
                .stack_size(CONNECTION_STACK)
                .spawn(move || serve(stream, &shared, id))
        };
        match thread {
            Ok(t) => {
                conns.insert(
                    id,
                    Conn {
                        stream: Some(registry_copy),
                        thread: Some(t),
                    },
                );
            }
            Err(e) => tracing::warn!("cannot spawn control connection thread: {e}"),
        }
    }
}

fn refuse(stream: UnixStream, error: IpcError) {
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    let line = encode_line(&ServerFrame::Error { id: None, error });
    let _ = (&stream).write_all(line.as_bytes());
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// Writes whole lines to a connection from the request thread and the event thread.
///
/// Replies are written with the socket's write timeout set to what is left of their
/// deadline; events without one (the socket option is shared by both threads, so whoever
/// holds the lock sets it for its own write).
struct Writer {
    stream: UnixStream,
    /// Serialises whole lines; holds whether the socket has a write timeout set.
    timed: Mutex<bool>,
    /// Deadline of a reply.
    reply_timeout: Duration,
    /// A reply missed its deadline: the connection is to be cut.
    stalled: AtomicBool,
}

impl Writer {
    fn new(stream: UnixStream, reply_timeout: Duration) -> Writer {
        Writer {
            stream,
            timed: Mutex::new(false),
            reply_timeout,
            stalled: AtomicBool::new(false),
        }
    }

    /// Writes a reply line within the reply deadline, counted from now (waiting for an event
    /// being written included). A reply that misses it marks the connection stalled and is
    /// an error; it may have been written in part, so the connection must be closed.
    fn reply_line(&self, line: &str) -> std::io::Result<()> {
        let deadline = Instant::now() + self.reply_timeout;
        let missed = || {
            self.stalled.store(true, Ordering::Relaxed);
            std::io::Error::new(ErrorKind::TimedOut, "reply write deadline missed")
        };
        let Some(mut timed) = self.timed.try_lock_until(deadline) else {
            return Err(missed());
        };
        let mut rest = line.as_bytes();
        while !rest.is_empty() {
            // Each `write` may block for the whole timeout after a partial write: set it to
            // what is left, so that a client reading a byte now and then gains nothing.
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(missed());
            }
            self.stream.set_write_timeout(Some(left))?;
            *timed = true;
            match (&self.stream).write(rest) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(missed())
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes an event line, waiting as long as it takes: a subscriber that does not read
    /// only makes its own queue overflow.
    fn event_line(&self, line: &str) -> std::io::Result<()> {
        let mut timed = self.timed.lock();
        if *timed {
            self.stream.set_write_timeout(None)?;
            *timed = false;
        }
        (&self.stream).write_all(line.as_bytes())
    }

    /// Whether a reply missed its deadline.
    fn stalled(&self) -> bool {
        self.stalled.load(Ordering::Relaxed)
    }

    /// Writes a reply frame (see [`sendable`]).
    fn frame(&self, frame: &ServerFrame) -> std::io::Result<()> {
        self.reply_line(&sendable(frame))
    }

    fn error(&self, id: Option<u64>, error: IpcError) -> std::io::Result<()> {
        self.frame(&ServerFrame::Error { id, error })
    }
}

/// `frame` as a line; a frame the client could not accept (over [`MAX_SERVER_FRAME_BYTES`],
/// which paging keeps answers well below) is replaced by an `internal` error for the same
/// request.
fn sendable(frame: &ServerFrame) -> String {
    let line = encode_line(frame);
    if line.len() <= MAX_SERVER_FRAME_BYTES + 1 {
        return line;
    }
    let id = match frame {
        ServerFrame::Response { id, .. } => Some(*id),
        ServerFrame::Error { id, .. } => *id,
        _ => None,
    };
    tracing::warn!(
        "not sending a {}-byte frame (over the {MAX_SERVER_FRAME_BYTES}-byte limit)",
        line.len()
    );
    let error = IpcError::internal(format!(
        "the answer is {} bytes, over the {MAX_SERVER_FRAME_BYTES}-byte frame limit",
        line.len() - 1
    ));
    encode_line(&ServerFrame::Error { id, error })
}

struct Subscription {
    registration: Registration,
    thread: JoinHandle<()>,
    /// Disconnected when the event thread ends.
    finished: crossbeam_channel::Receiver<()>,
}

/// Reports a connection as finished (its slot free for the next `accept`) when dropped.
struct Release<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        // The registry's copy of the socket closes now, not when the next connection reaps
        // this one: 50 connections come and gone held 49 descriptors until another came.
        if let Some(c) = self.shared.conns.lock().get_mut(&self.id) {
            c.stream = None;
        }
        let _ = self.shared.done_tx.send(self.id);
    }
}

fn serve(stream: UnixStream, shared: &Shared, id: u64) {
    let release = Release { shared, id };
    match socket::peer_uid(&stream) {
        Ok(uid) => {
            if let Err(e) = socket::check_peer(uid, shared.allowed_uid) {
                tracing::warn!("refused control connection: {}", e.message);
                refuse(stream, e);
                return;
            }
        }
        Err(e) => {
            refuse(
                stream,
                IpcError::new(
                    ErrorCode::PermissionDenied,
                    format!("cannot read peer credentials: {e}"),
                ),
            );
            return;
        }
    }
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let writer = Arc::new(Writer::new(write_half, shared.deadlines.write));
    let mut subscription: Option<Subscription> = None;
    if writer.reply_line(&shared.hello).is_ok() {
        read_loop(&stream, shared, &writer, &mut subscription);
    }
    let write = secs(shared.deadlines.write);
    let stalled = writer.stalled();
    if stalled {
        tracing::info!(
            "closing control connection {id}: a reply could not be written within {write} \
             (the client does not read)"
        );
    }
    let event_thread = subscription.map(|sub| {
        // Unregistering ends the event thread once its queue is flushed; a client that does
        // not read gets as long as a reply for that.
        drop(sub.registration);
        if !stalled
            && sub.finished.recv_timeout(shared.deadlines.write)
                == Err(crossbeam_channel::RecvTimeoutError::Timeout)
        {
            tracing::debug!(
                "closing control connection {id}: its queued events could not be written \
                 within {write}"
            );
        }
        sub.thread
    });
    // The slot is free before the client sees the end of the connection, so a client that
    // connects again at once is not refused `busy` by a connection that has ended. Cutting
    // the connection wakes an event thread blocked in `write`.
    drop(release);
    let _ = stream.shutdown(std::net::Shutdown::Both);
    if let Some(thread) = event_thread {
        let _ = thread.join();
    }
}

enum Next {
    Continue,
    Close,
}

/// The deadlines of a connection (see [`ServerConfig`]).
#[derive(Debug, Clone, Copy)]
struct Deadlines {
    first_frame: Duration,
    frame: Duration,
    idle: Duration,
    /// Writing one reply.
    write: Duration,
}

/// Where a connection stands between reads, for its deadline.
struct ReadClock {
    connected: Instant,
    /// A whole frame has arrived.
    first_done: bool,
    /// When the first byte of the frame still incomplete arrived.
    frame_started: Option<Instant>,
    /// When the last frame was answered.
    idle_since: Instant,
}

impl ReadClock {
    /// The next deadline and what missing it means, or `None` (a subscribed connection
    /// between frames: no deadline, the read blocks without waking up).
    fn deadline(&self, d: &Deadlines, subscribed: bool) -> Option<(Instant, String)> {
        let mut next: Option<(Instant, String)> = None;
        let mut consider = |at: Instant, why: String| {
            if next.as_ref().is_none_or(|(n, _)| at < *n) {
                next = Some((at, why));
            }
        };
        if !self.first_done {
            consider(
                self.connected + d.first_frame,
                format!(
                    "no whole frame within {} of connecting",
                    secs(d.first_frame)
                ),
            );
        }
        if let Some(started) = self.frame_started {
            consider(
                started + d.frame,
                format!("a frame was not completed within {}", secs(d.frame)),
            );
        } else if self.first_done && !subscribed {
            consider(
                self.idle_since + d.idle,
                format!("idle for {} without a subscription", secs(d.idle)),
            );
        }
        next
    }
}

/// `10 s`, `0.2 s`.
fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

fn read_loop(
    stream: &UnixStream,
    shared: &Shared,
    writer: &Arc<Writer>,
    subscription: &mut Option<Subscription>,
) {
    let mut decoder = LineDecoder::new(MAX_FRAME_BYTES);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut bad_in_a_row = 0u32;
    let now = Instant::now();
    let mut clock = ReadClock {
        connected: now,
        first_done: false,
        frame_started: None,
        idle_since: now,
    };
    loop {
        // The socket's read timeout enforces the deadline: the thread sleeps in `read` until
        // data, the end of the connection or the deadline, and never wakes up otherwise.
        let deadline = clock.deadline(&shared.deadlines, subscription.is_some());
        let timeout = match &deadline {
            Some((at, why)) => {
                let left = at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    let _ = writer.error(
                        None,
                        IpcError::new(ErrorCode::Timeout, format!("{why}; closing the connection")),
                    );
                    return;
                }
                Some(left)
            }
            None => None,
        };
        if stream.set_read_timeout(timeout).is_err() {
            return;
        }
        let n = match (&*stream).read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => return,
        };
        let arrived = Instant::now();
        let mut completed = false;
        let mut input = &buf[..n];
        while let Some(item) = decoder.next_frame(&mut input) {
            completed = true;
            clock.first_done = true;
            let frame = match item {
                Ok(f) => f,
                Err(e) => {
                    let _ = writer.error(
                        None,
                        IpcError::new(
                            ErrorCode::FrameTooLarge,
                            format!("{e}; closing the connection"),
                        ),
                    );
                    return;
                }
            };
            let next = match decode_client_frame(&frame) {
                Err(e) => {
                    // Only malformed frames count toward closing the connection: a
                    // well-formed request with an unknown method or unfitting params is
                    // answered like any other (a newer client may send one often).
                    if e.error.code == ErrorCode::BadRequest {
                        bad_in_a_row += 1;
                    } else {
                        bad_in_a_row = 0;
                    }
                    if writer.error(e.id, e.error).is_err() {
                        return;
                    }
                    if bad_in_a_row >= MAX_CONSECUTIVE_BAD_FRAMES {
                        let _ = writer.error(
                            None,
                            IpcError::bad_request("too many malformed frames; closing"),
                        );
                        return;
                    }
                    Next::Continue
                }
                Ok(frame) => {
                    bad_in_a_row = 0;
                    dispatch(frame, shared, writer, subscription)
                }
            };
            if let Next::Close = next {
                return;
            }
        }
        if completed {
            // Blank lines are no frames: they do not keep a connection from being idle.
            clock.idle_since = Instant::now();
        }
        clock.frame_started = if decoder.buffered() == 0 {
            None
        } else if completed {
            // The bytes left over began after a frame that ended in this read.
            Some(arrived)
        } else {
            clock.frame_started.or(Some(arrived))
        };
    }
}

fn dispatch(
    frame: ClientFrame,
    shared: &Shared,
    writer: &Arc<Writer>,
    subscription: &mut Option<Subscription>,
) -> Next {
    let RequestFrame { id, request } = match frame {
        ClientFrame::Hello(h) if h.protocol_version != PROTOCOL_VERSION => {
            let _ = writer.error(
                None,
                IpcError::new(
                    ErrorCode::VersionMismatch,
                    format!(
                        "protocol version {} is not supported; this headroomd speaks version {PROTOCOL_VERSION}",
                        h.protocol_version
                    ),
                ),
            );
            return Next::Close;
        }
        ClientFrame::Hello(_) => return Next::Continue,
        ClientFrame::Request(r) => r,
    };
    let written = match request {
        Request::Subscribe { topics } => subscribe(id, topics, shared, writer, subscription),
        request => {
            let method = request.method();
            let handler = &shared.handler;
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| handler.handle(request)))
                .unwrap_or_else(|_| {
                    tracing::error!("control handler panicked on `{method}`");
                    Err(IpcError::internal(format!(
                        "internal error while handling `{method}`"
                    )))
                });
            match outcome {
                Ok(Reply { result, warning }) => writer.frame(&ServerFrame::Response {
                    id,
                    result,
                    warning,
                }),
                Err(error) => writer.error(Some(id), error),
            }
        }
    };
    if written.is_ok() {
        Next::Continue
    } else {
        Next::Close
    }
}

fn subscribe(
    id: u64,
    mut topics: Vec<Topic>,
    shared: &Shared,
    writer: &Arc<Writer>,
    subscription: &mut Option<Subscription>,
) -> std::io::Result<()> {
    if subscription.is_some() {
        return writer.error(
            Some(id),
            IpcError::bad_request("this connection is already subscribed"),
        );
    }
    topics.sort();
    topics.dedup();
    // Register first, then take the snapshot: no change is lost between the two; a change
    // may show up both in the snapshot and as a later delta, which is harmless because
    // deltas carry new state.
    let (registration, queue) = shared.broadcaster.subscribe(&topics);
    writer.frame(&ServerFrame::Response {
        id,
        result: Response::Subscribed(Subscribed {
            topics: topics.clone(),
        }),
        warning: None,
    })?;
    for event in snapshot(&*shared.handler, &topics) {
        writer.frame(&ServerFrame::Event(event))?;
    }
    let (finished_tx, finished) = crossbeam_channel::bounded::<()>(0);
    let thread = {
        let writer = Arc::clone(writer);
        let handler = Arc::clone(&shared.handler);
        std::thread::Builder::new()
            .name("headroom-ctl-events".into())
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                let _finished = finished_tx;
                while let Some(item) = queue.recv() {
                    if deliver(item, &writer, &*handler, &topics).is_err() {
                        return;
                    }
                    if let Some(notice) = queue.overflow_if_idle() {
                        if deliver(notice, &writer, &*handler, &topics).is_err() {
                            return;
                        }
                    }
                }
            })?
    };
    *subscription = Some(Subscription {
        registration,
        thread,
        finished,
    });
    Ok(())
}

/// Writes one item of a subscriber's queue. An overflow notice is followed by fresh
/// snapshots of the topics it counts losses of (but `meters`, whose next tick is whole), so
/// that a subscriber that fell behind holds the daemon's state again: the events still
/// queued behind the notice were published after those it lost, and every later one follows.
fn deliver(
    item: Queued,
    writer: &Writer,
    handler: &dyn Handler,
    topics: &[Topic],
) -> std::io::Result<()> {
    let (notice, lost) = match item {
        Queued::Event(line) => return writer.event_line(&line),
        Queued::Overflow(line, lost) => (line, lost),
    };
    writer.event_line(&notice)?;
    let stale: Vec<Topic> = lost
        .into_iter()
        .filter(|t| *t != Topic::Meters && topics.contains(t))
        .collect();
    if stale.is_empty() {
        return Ok(());
    }
    for event in snapshot(handler, &stale) {
        writer.event_line(&sendable(&ServerFrame::Event(event)))?;
    }
    Ok(())
}

/// The handler's snapshot events of `topics`, without events of other topics (a panic in
/// the handler gives none).
fn snapshot(handler: &dyn Handler, topics: &[Topic]) -> Vec<Event> {
    let mut events = std::panic::catch_unwind(AssertUnwindSafe(|| handler.snapshot(topics)))
        .unwrap_or_else(|_| {
            tracing::error!("control handler panicked building a snapshot");
            Vec::new()
        });
    events.retain(|e| topics.contains(&e.topic()));
    events
}
