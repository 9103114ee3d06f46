//! # headroom-client
//!
//! A small blocking client for the headroomd control socket (protocol: `IPC.md`,
//! types: [`headroom_ipc`]).
//!
//! ```no_run
//! let mut client = headroom_client::Client::connect()?;
//! let status = client.status()?;
//! println!("profile {}, bypass {}", status.profile, status.bypass);
//! client.setting_set("agc.target_lufs", -18)?;
//! for event in client.subscribe(&[headroom_client::Topic::Meters])? {
//!     println!("{:?}", event?);
//! }
//! # Ok::<(), headroom_client::ClientError>(())
//! ```

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use headroom_ipc::{self as ipc, *};

pub mod proc_stat;

/// Default time to wait for the greeting and for each reply.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// What can go wrong talking to headroomd.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket: there is no socket file, or (`stale`) the file is
    /// left over from a daemon that stopped without removing it (killed, crashed), and
    /// connecting to it is refused.
    #[error(
        "headroomd is not running{} — start it with `systemctl --user start headroomd` or `headroomd` ({})",
        if *stale { " (connection refused)" } else { "" },
        if *stale {
            format!("{} is left over from a daemon that stopped; a new one replaces it", path.display())
        } else {
            format!("no daemon at {}", path.display())
        }
    )]
    NotRunning {
        /// Socket path tried.
        path: PathBuf,
        /// The socket file exists but nobody accepts on it.
        stale: bool,
    },
    /// Something other than a socket is at the path (a regular file, a directory, …), so it
    /// cannot be headroomd's control socket: the path given is wrong.
    #[error(
        "{} is not a socket but {what}: not headroomd's control socket (check --socket or \
         HEADROOM_SOCKET)",
        path.display()
    )]
    NotASocket {
        /// Socket path tried.
        path: PathBuf,
        /// What is there instead (`a regular file`, `a directory`, …).
        what: &'static str,
    },
    /// The socket path is longer than a Unix socket address holds: nothing can listen
    /// there, so the path given (or the runtime directory it is made from) is wrong.
    #[error(
        "control socket path {} is {len} bytes long; a Unix socket path holds at most {max} \
         (--socket, HEADROOM_SOCKET or XDG_RUNTIME_DIR sets it: choose a shorter one)",
        path.display()
    )]
    PathTooLong {
        /// Socket path tried.
        path: PathBuf,
        /// Its length, bytes.
        len: usize,
        /// The longest a socket path may be, bytes
        /// ([`headroom_ipc::MAX_SOCKET_PATH_BYTES`]).
        max: usize,
    },
    /// The socket exists but connecting failed for another reason (e.g. permissions).
    #[error("cannot connect to headroomd at {}: {source}", path.display())]
    Connect {
        /// Socket path tried.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Reading or writing the socket failed.
    #[error("control socket I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// No reply within the timeout.
    #[error("timed out waiting for headroomd")]
    Timeout,
    /// No reply within the timeout, and the daemon's process is stopped (a SIGSTOP, a
    /// debugger): it cannot answer until it runs again.
    #[error(
        "headroomd (pid {pid}) is stopped (SIGSTOP, or a debugger) and cannot answer; \
         `kill -CONT {pid}` resumes it"
    )]
    Stopped {
        /// The daemon's process id.
        pid: u32,
    },
    /// The daemon closed the connection.
    #[error("headroomd closed the connection")]
    Closed,
    /// The daemon sent something this client cannot read.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The daemon speaks another protocol version.
    #[error("incompatible protocol: headroomd speaks version {server}, this client speaks version {client}; install matching versions")]
    VersionMismatch {
        /// The daemon's version.
        server: u32,
        /// Ours.
        client: u32,
    },
    /// The daemon answered with an error.
    #[error("{}", .0.message)]
    Server(IpcError),
    /// The daemon answered with a result of the wrong kind.
    #[error("unexpected `{got}` result to `{method}`")]
    Unexpected {
        /// Method called.
        method: &'static str,
        /// Result kind received.
        got: &'static str,
    },
}

impl ClientError {
    /// The server error code, when the daemon answered with an error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server(e) => Some(e.code),
            _ => None,
        }
    }
}

/// What is at `path` when it is something other than a socket (following symlinks), e.g.
/// `a regular file`; `None` for a socket or when it cannot be told.
fn not_a_socket(path: &Path) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let t = std::fs::metadata(path).ok()?.file_type();
    if t.is_socket() {
        None
    } else if t.is_file() {
        Some("a regular file")
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_fifo() {
        Some("a FIFO")
    } else if t.is_char_device() || t.is_block_device() {
        Some("a device")
    } else {
        Some("another kind of file")
    }
}

/// A connection to headroomd.
#[derive(Debug)]
pub struct Client {
    path: PathBuf,
    stream: UnixStream,
    decoder: LineDecoder,
    rbuf: Box<[u8]>,
    rpos: usize,
    rlen: usize,
    next_id: u64,
    hello: ServerHello,
    timeout: Option<Duration>,
    /// The `warning` of the last result.
    warning: Option<String>,
}

impl Client {
    /// Connects to the socket at [`default_socket_path`].
    pub fn connect() -> Result<Client, ClientError> {
        Self::connect_to(default_socket_path())
    }

    /// Connects to the socket at `path`, reads the greeting, checks the protocol version
    /// and sends ours. Waits at most [`DEFAULT_TIMEOUT`] for the greeting.
    ///
    /// The daemon closes a connection that stays idle too long without a subscription
    /// (`IPC.md`, "Deadlines"); a [`Client`] kept between requests then connects again by
    /// itself when its next request finds the connection closed before the request was
    /// read (so nothing is applied twice).
    pub fn connect_to(path: impl AsRef<Path>) -> Result<Client, ClientError> {
        let path = path.as_ref();
        if let Some(len) = headroom_ipc::socket_path_too_long(path) {
            return Err(ClientError::PathTooLong {
                path: path.to_owned(),
                len,
                max: headroom_ipc::MAX_SOCKET_PATH_BYTES,
            });
        }
        let stream = UnixStream::connect(path).map_err(|source| match source.kind() {
            ErrorKind::NotFound => ClientError::NotRunning {
                path: path.to_owned(),
                stale: false,
            },
            ErrorKind::ConnectionRefused => match not_a_socket(path) {
                Some(what) => ClientError::NotASocket {
                    path: path.to_owned(),
                    what,
                },
                None => ClientError::NotRunning {
                    path: path.to_owned(),
                    stale: true,
                },
            },
            _ => ClientError::Connect {
                path: path.to_owned(),
                source,
            },
        })?;
        let mut client = Client {
            path: path.to_owned(),
            stream,
            decoder: LineDecoder::new(MAX_SERVER_FRAME_BYTES),
            rbuf: vec![0; 64 * 1024].into_boxed_slice(),
            rpos: 0,
            rlen: 0,
            next_id: 1,
            hello: ServerHello {
                protocol_version: 0,
                daemon_version: String::new(),
            },
            timeout: None,
            warning: None,
        };
        client.set_timeout(Some(DEFAULT_TIMEOUT))?;
        let hello = client.read_frame().map_err(|e| match e {
            ClientError::Timeout => match stopped_peer(&client.stream) {
                Some(pid) => ClientError::Stopped { pid },
                None => ClientError::Timeout,
            },
            e => e,
        })?;
        match hello {
            ServerFrame::Hello(h) => client.hello = h,
            ServerFrame::Error { error, .. } => return Err(ClientError::Server(error)),
            other => {
                return Err(ClientError::Protocol(format!(
                    "expected a hello frame, got {other:?}"
                )))
            }
        }
        if client.hello.protocol_version != PROTOCOL_VERSION {
            return Err(ClientError::VersionMismatch {
                server: client.hello.protocol_version,
                client: PROTOCOL_VERSION,
            });
        }
        client.send(&ClientFrame::Hello(ClientHello {
            protocol_version: PROTOCOL_VERSION,
        }))?;
        Ok(client)
    }

    /// The daemon's greeting (its version).
    pub fn server_hello(&self) -> &ServerHello {
        &self.hello
    }

    /// Sets the reply timeout (`None`: wait forever).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> Result<(), ClientError> {
        let t = timeout.filter(|d| !d.is_zero());
        self.stream.set_read_timeout(t)?;
        self.stream.set_write_timeout(t)?;
        self.timeout = t;
        Ok(())
    }

    fn send(&mut self, frame: &ClientFrame) -> Result<(), ClientError> {
        let line = encode_line(frame);
        self.stream.write_all(line.as_bytes()).map_err(io_err)
    }

    fn read_frame(&mut self) -> Result<ServerFrame, ClientError> {
        loop {
            let mut input = &self.rbuf[self.rpos..self.rlen];
            let item = self.decoder.next_frame(&mut input);
            self.rpos = self.rlen - input.len();
            match item {
                Some(Ok(frame)) => {
                    return decode_server_frame(&frame).map_err(ClientError::Protocol)
                }
                Some(Err(e)) => return Err(ClientError::Protocol(e.to_string())),
                None => {
                    let n = loop {
                        match self.stream.read(&mut self.rbuf) {
                            Ok(n) => break n,
                            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                            Err(e) => return Err(io_err(e)),
                        }
                    };
                    if n == 0 {
                        return Err(ClientError::Closed);
                    }
                    self.rpos = 0;
                    self.rlen = n;
                }
            }
        }
    }

    /// Sends `request` and waits for its result. Error replies become
    /// [`ClientError::Server`]. When the daemon had closed the connection for being idle
    /// (the request could not be written, or the daemon's `timeout` error came instead of
    /// the reply: it reads nothing more after it), connects again and sends the request
    /// once more.
    pub fn call(&mut self, request: Request) -> Result<Response, ClientError> {
        match self.call_once(&request) {
            Err(Attempt::NotRead) => {
                self.reconnect()?;
                self.call_once(&request).map_err(Attempt::into_error)
            }
            other => other.map_err(Attempt::into_error),
        }
    }

    /// The warning that came with the last result, if any: the request was carried out, but
    /// something about it went wrong (e.g. a change in force that headroomd could not save,
    /// or an override a newly chosen profile leaves out of force). `None` after a call that
    /// failed.
    pub fn warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }

    fn call_once(&mut self, request: &Request) -> Result<Response, Attempt> {
        self.warning = None;
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let frame = ClientFrame::Request(RequestFrame {
            id,
            request: request.clone(),
        });
        match self.send(&frame) {
            Ok(()) => {}
            // The daemon has shut the connection: the request was not delivered.
            Err(ClientError::Closed) => return Err(Attempt::NotRead),
            Err(e) => return Err(Attempt::Failed(e)),
        }
        loop {
            match self.read_frame().map_err(Attempt::Failed)? {
                ServerFrame::Response {
                    id: rid,
                    result,
                    warning,
                } if rid == id => {
                    self.warning = warning;
                    return Ok(result);
                }
                ServerFrame::Error {
                    id: Some(rid),
                    error,
                } if rid == id => return Err(Attempt::Failed(ClientError::Server(error))),
                ServerFrame::Error { id: None, error } if error.code == ErrorCode::Timeout => {
                    return Err(Attempt::NotRead)
                }
                ServerFrame::Error { id: None, error } => {
                    return Err(Attempt::Failed(ClientError::Server(error)))
                }
                // Stale replies (after a timeout), events and greetings are skipped.
                _ => continue,
            }
        }
    }

    /// Replaces the connection with a new one to the same socket (same reply timeout).
    fn reconnect(&mut self) -> Result<(), ClientError> {
        let mut fresh = Client::connect_to(&self.path)?;
        fresh.set_timeout(self.timeout)?;
        fresh.next_id = self.next_id;
        *self = fresh;
        Ok(())
    }

    /// `status`.
    pub fn status(&mut self) -> Result<Status, ClientError> {
        match self.call(Request::Status)? {
            Response::Status(s) => Ok(*s),
            other => Err(unexpected("status", &other)),
        }
    }

    /// `profile.list`.
    pub fn profile_list(&mut self) -> Result<ProfileList, ClientError> {
        match self.call(Request::ProfileList)? {
            Response::ProfileList(p) => Ok(p),
            other => Err(unexpected("profile.list", &other)),
        }
    }

    /// `profile.show` (`None`: the active profile).
    pub fn profile_show(&mut self, name: Option<&str>) -> Result<ProfileShow, ClientError> {
        let request = Request::ProfileShow {
            name: name.map(str::to_owned),
        };
        match self.call(request)? {
            Response::ProfileShow(p) => Ok(p),
            other => Err(unexpected("profile.show", &other)),
        }
    }

    /// `profile.use`; returns the name now active.
    pub fn profile_use(&mut self, name: &str) -> Result<String, ClientError> {
        let request = Request::ProfileUse {
            name: name.to_owned(),
        };
        match self.call(request)? {
            Response::ProfileActive(p) => Ok(p.name),
            other => Err(unexpected("profile.use", &other)),
        }
    }

    /// `profile.reload`; returns the name now active.
    pub fn profile_reload(&mut self) -> Result<String, ClientError> {
        match self.call(Request::ProfileReload)? {
            Response::ProfileActive(p) => Ok(p.name),
            other => Err(unexpected("profile.reload", &other)),
        }
    }

    /// `route.list`: every page, followed transparently (rules from the first page, streams
    /// of all).
    pub fn route_list(&mut self) -> Result<Routes, ClientError> {
        let mut all = self.route_list_page(None)?;
        let mut cursor = all.next_cursor.take();
        while let Some(c) = cursor {
            let mut page = self.route_list_page(Some(c))?;
            cursor = page.next_cursor.take().filter(|n| *n > c);
            all.streams.append(&mut page.streams);
        }
        Ok(all)
    }

    /// One page of `route.list` (`cursor`: the `next_cursor` of the previous page).
    pub fn route_list_page(&mut self, cursor: Option<u64>) -> Result<Routes, ClientError> {
        match self.call(Request::RouteList { cursor })? {
            Response::Routes(r) => Ok(r),
            other => Err(unexpected("route.list", &other)),
        }
    }

    /// `route.set`.
    pub fn route_set(&mut self, app: &str, route: Route) -> Result<(), ClientError> {
        let request = Request::RouteSet {
            app: app.to_owned(),
            route,
        };
        match self.call(request)? {
            Response::Ok => Ok(()),
            other => Err(unexpected("route.set", &other)),
        }
    }

    /// `route.unset`.
    pub fn route_unset(&mut self, app: &str) -> Result<(), ClientError> {
        let request = Request::RouteUnset {
            app: app.to_owned(),
        };
        match self.call(request)? {
            Response::Ok => Ok(()),
            other => Err(unexpected("route.unset", &other)),
        }
    }

    /// `setting.get`.
    pub fn setting_get(&mut self, key: &str) -> Result<SettingEntry, ClientError> {
        let request = Request::SettingGet {
            key: key.to_owned(),
        };
        match self.call(request)? {
            Response::Setting(s) => Ok(s),
            other => Err(unexpected("setting.get", &other)),
        }
    }

    /// `setting.set`; returns the entry in its new state.
    pub fn setting_set(
        &mut self,
        key: &str,
        value: impl Into<SettingValue>,
    ) -> Result<SettingEntry, ClientError> {
        let request = Request::SettingSet {
            key: key.to_owned(),
            value: value.into(),
        };
        match self.call(request)? {
            Response::Setting(s) => Ok(s),
            other => Err(unexpected("setting.set", &other)),
        }
    }

    /// `setting.list`.
    pub fn setting_list(&mut self) -> Result<Vec<SettingEntry>, ClientError> {
        match self.call(Request::SettingList)? {
            Response::Settings(s) => Ok(s.settings),
            other => Err(unexpected("setting.list", &other)),
        }
    }

    /// `setting.reset` of one key (`Some`) or of every key (`None`); returns the entries
    /// reset, in their new state.
    pub fn setting_reset(&mut self, key: Option<&str>) -> Result<Vec<SettingEntry>, ClientError> {
        let request = Request::SettingReset {
            key: key.map(str::to_owned),
            all: key.is_none(),
        };
        match self.call(request)? {
            Response::Settings(s) => Ok(s.settings),
            other => Err(unexpected("setting.reset", &other)),
        }
    }

    /// `bypass.set`; returns the bypass state after the change.
    pub fn bypass_set(&mut self, mode: BypassMode) -> Result<bool, ClientError> {
        match self.call(Request::BypassSet { mode })? {
            Response::Bypass(b) => Ok(b.bypass),
            other => Err(unexpected("bypass.set", &other)),
        }
    }

    /// `history` (`None`: everything kept): every page, followed transparently.
    pub fn history(&mut self, since_secs: Option<u64>) -> Result<History, ClientError> {
        let mut all = self.history_page(since_secs, None)?;
        let mut next = all.next_unix_ms.take();
        while let Some(from) = next {
            let mut page = self.history_page(since_secs, Some(from))?;
            // Pages move forward; a daemon that answered the same page again ends the loop.
            next = page.next_unix_ms.take().filter(|n| *n > from);
            all.samples.append(&mut page.samples);
            all.marks.append(&mut page.marks);
        }
        Ok(all)
    }

    /// One page of `history` (`from_unix_ms`: the `next_unix_ms` of the previous page).
    pub fn history_page(
        &mut self,
        since_secs: Option<u64>,
        from_unix_ms: Option<u64>,
    ) -> Result<History, ClientError> {
        let request = Request::History {
            since_secs,
            from_unix_ms,
        };
        match self.call(request)? {
            Response::History(h) => Ok(h),
            other => Err(unexpected("history", &other)),
        }
    }

    /// `subscribe`: turns the connection into an event stream. The first events are the
    /// snapshot of each topic, then changes as they happen. The returned iterator waits
    /// forever for the next event unless [`Subscription::set_timeout`] is used; it ends when
    /// the daemon closes the connection.
    pub fn subscribe(mut self, topics: &[Topic]) -> Result<Subscription, ClientError> {
        let request = Request::Subscribe {
            topics: topics.to_vec(),
        };
        match self.call(request)? {
            Response::Subscribed(_) => {}
            other => return Err(unexpected("subscribe", &other)),
        }
        self.set_timeout(None)?;
        Ok(Subscription {
            client: self,
            done: false,
        })
    }
}

/// How one attempt of [`Client::call`] ended, when not with a result.
enum Attempt {
    /// The daemon had closed the connection without reading the request.
    NotRead,
    /// Any other failure.
    Failed(ClientError),
}

impl Attempt {
    fn into_error(self) -> ClientError {
        match self {
            Attempt::NotRead => ClientError::Closed,
            Attempt::Failed(e) => e,
        }
    }
}

fn io_err(e: std::io::Error) -> ClientError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => ClientError::Timeout,
        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset => ClientError::Closed,
        _ => ClientError::Io(e),
    }
}

fn unexpected(method: &'static str, got: &Response) -> ClientError {
    ClientError::Unexpected {
        method,
        got: got.kind(),
    }
}

/// A stream of events from a subscribed connection (see [`Client::subscribe`]).
#[derive(Debug)]
pub struct Subscription {
    client: Client,
    done: bool,
}

impl Subscription {
    /// Sets how long `next` waits for an event (`None`: forever). On expiry `next` yields
    /// [`ClientError::Timeout`] and the subscription stays usable.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> Result<(), ClientError> {
        self.client.set_timeout(timeout)
    }

    /// The daemon's greeting.
    pub fn server_hello(&self) -> &ServerHello {
        self.client.server_hello()
    }
}

impl Iterator for Subscription {
    type Item = Result<Event, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            return match self.client.read_frame() {
                Ok(ServerFrame::Event(e)) => Some(Ok(e)),
                Ok(ServerFrame::Error { error, .. }) => Some(Err(ClientError::Server(error))),
                Ok(_) => continue,
                Err(ClientError::Closed) => {
                    self.done = true;
                    None
                }
                Err(e @ ClientError::Timeout) => Some(Err(e)),
                Err(e) => {
                    self.done = true;
                    Some(Err(e))
                }
            };
        }
    }
}

/// The process at the other end of `stream` when it is stopped (state `T` or `t` in
/// `/proc/PID/stat`): a daemon that accepted the connection (the kernel does that for it)
/// but cannot run to answer.
fn stopped_peer(stream: &UnixStream) -> Option<u32> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    let cred = getsockopt(stream, PeerCredentials).ok()?;
    let pid = u32::try_from(cred.pid()).ok()?;
    let state = proc_stat::ProcStat::read(pid)?.state;
    matches!(state, 'T' | 't').then_some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A path no socket can have is said to be too long, with the limit, not as the
    /// system's `SUN_LEN` message.
    #[test]
    fn a_socket_path_too_long_is_named_with_the_limit() {
        let path = PathBuf::from(format!("/tmp/{}/control.sock", "d".repeat(250)));
        let err = Client::connect_to(&path).unwrap_err();
        assert!(
            matches!(
                err,
                ClientError::PathTooLong {
                    len: 268,
                    max: 107,
                    ..
                }
            ),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("is 268 bytes long"), "{msg}");
        assert!(msg.contains("holds at most 107"), "{msg}");
        assert!(!msg.contains("SUN_LEN"), "{msg}");
        // The longest path that fits is tried as a path (nothing there: not running).
        let max = headroom_ipc::MAX_SOCKET_PATH_BYTES;
        let fits = PathBuf::from(format!("/tmp/{}", "s".repeat(max - 5)));
        assert_eq!(fits.as_os_str().len(), max);
        let err = Client::connect_to(&fits).unwrap_err();
        assert!(matches!(err, ClientError::NotRunning { .. }), "{err:?}");
    }

    /// A daemon stopped by SIGSTOP: the kernel still accepts the connection, and the call
    /// timed out with nothing more than "timed out waiting for headroomd". The error names
    /// the stopped process and how to resume it.
    #[test]
    fn a_stopped_daemon_is_named_as_stopped() {
        use nix::sys::signal::{kill, Signal};
        use nix::sys::socket::{bind, socket, AddressFamily, SockFlag, SockType, UnixAddr};
        use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
        use nix::unistd::{fork, pipe, ForkResult};
        use std::os::fd::AsRawFd;
        let dir = std::env::temp_dir().join(format!("headroom-stopped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("control.sock");
        let _ = std::fs::remove_file(&path);
        let sock = socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::empty(),
            None,
        )
        .unwrap();
        bind(sock.as_raw_fd(), &UnixAddr::new(&path).unwrap()).unwrap();
        let (ready_r, ready_w) = pipe().unwrap();
        // SAFETY: the child only makes async-signal-safe calls (listen, write, pause) until
        // it is killed: no allocation and no lock another thread of this process could hold.
        let child = match unsafe { fork() }.unwrap() {
            // SAFETY: listen, write and pause on descriptors this process owns (the socket
            // and the pipe's write end, both open), with a valid one-byte buffer.
            ForkResult::Child => unsafe {
                // The peer credentials a connection sees are the listener's: the child's.
                libc::listen(sock.as_raw_fd(), 8);
                libc::write(ready_w.as_raw_fd(), b"1".as_ptr().cast(), 1);
                loop {
                    libc::pause();
                }
            },
            ForkResult::Parent { child } => child,
        };
        drop(ready_w);
        let mut b = [0u8; 1];
        let n = nix::unistd::read(&ready_r, &mut b).unwrap();
        assert_eq!(n, 1, "the listener did not start");
        kill(child, Signal::SIGSTOP).unwrap();
        assert!(matches!(
            waitpid(child, Some(WaitPidFlag::WUNTRACED)).unwrap(),
            WaitStatus::Stopped(..)
        ));
        let err = Client::connect_to(&path).unwrap_err();
        let _ = kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        let _ = std::fs::remove_dir_all(&dir);
        let pid = child.as_raw() as u32;
        assert!(
            matches!(err, ClientError::Stopped { pid: p } if p == pid),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(&format!("kill -CONT {pid}")),
            "{err}"
        );
    }

    #[test]
    fn absent_socket_says_daemon_not_running() {
        let dir = std::env::temp_dir().join(format!("headroom-client-test-{}", std::process::id()));
        let err = Client::connect_to(dir.join("nope.sock")).unwrap_err();
        assert!(matches!(err, ClientError::NotRunning { stale: false, .. }));
        let msg = err.to_string();
        assert!(msg.contains("headroomd is not running"), "{msg}");
        assert!(msg.contains("systemctl --user start headroomd"), "{msg}");
        assert!(msg.contains("no daemon at"), "{msg}");
    }

    /// A path that is no socket at all is not mistaken for a stopped daemon's socket.
    #[test]
    fn a_file_that_is_no_socket_is_named_as_such() {
        let dir = std::env::temp_dir().join(format!("headroom-client-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("passwd");
        std::fs::write(&path, "root:x:0:0::/root:/bin/sh\n").unwrap();
        let err = Client::connect_to(&path).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            matches!(
                err,
                ClientError::NotASocket {
                    what: "a regular file",
                    ..
                }
            ),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("is not a socket but a regular file"), "{msg}");
        assert!(!msg.contains("left over"), "{msg}");
    }

    /// What a killed daemon leaves: a socket file nobody accepts on.
    #[test]
    fn left_over_socket_says_daemon_not_running() {
        let dir =
            std::env::temp_dir().join(format!("headroom-client-stale-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("control.sock");
        let _ = std::fs::remove_file(&path);
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let err = Client::connect_to(&path).unwrap_err();
        let msg = err.to_string();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            matches!(err, ClientError::NotRunning { stale: true, .. }),
            "{err:?}"
        );
        assert!(
            msg.contains("headroomd is not running (connection refused)"),
            "{msg}"
        );
        assert!(msg.contains("systemctl --user start headroomd"), "{msg}");
        assert!(
            msg.contains("left over from a daemon that stopped"),
            "{msg}"
        );
    }
}
