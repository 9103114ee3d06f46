//! Framing: newline-delimited JSON, the handshake frames, and the decoders.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{ErrorCode, IpcError};
use crate::event::Event;
use crate::request::{Request, RequestFrame, METHODS};
use crate::response::Response;

/// Greeting the server sends first on every connection:
/// `{"type":"hello","protocol_version":1,"daemon_version":"0.1.0"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerHello {
    /// Protocol (major) version the daemon speaks.
    pub protocol_version: u32,
    /// Daemon version.
    pub daemon_version: String,
}

/// Optional greeting a client sends: `{"type":"hello","protocol_version":1}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientHello {
    /// Protocol (major) version the client speaks.
    pub protocol_version: u32,
}

/// A frame a client sends.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientFrame {
    /// The client greeting.
    Hello(ClientHello),
    /// A request.
    Request(RequestFrame),
}

/// A frame the server sends.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerFrame {
    /// The server greeting (always the first frame).
    Hello(ServerHello),
    /// A successful result: `{"id":1,"result":{…}}`, with `"warning":"…"` after the result
    /// when the request was carried out but something about it went wrong (a change in
    /// force that could not be saved, say).
    Response {
        /// Echoed request id.
        id: u64,
        /// The result.
        result: Response,
        /// What went wrong although the request was carried out, if anything.
        warning: Option<String>,
    },
    /// An error: `{"id":1,"error":{"code":…,"message":…}}`; `id` is `null` when the failing
    /// frame had no readable id (malformed JSON, oversized frame, handshake failure).
    Error {
        /// Echoed request id, if there was one.
        id: Option<u64>,
        /// The error.
        error: IpcError,
    },
    /// A subscription event.
    Event(Event),
}

#[derive(Serialize)]
struct TypedHello<'a, T: Serialize> {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(flatten)]
    inner: &'a T,
}

impl Serialize for ClientFrame {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ClientFrame::Hello(h) => TypedHello {
                ty: "hello",
                inner: h,
            }
            .serialize(s),
            ClientFrame::Request(r) => r.serialize(s),
        }
    }
}

impl Serialize for ServerFrame {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Ok<'a> {
            id: u64,
            result: &'a Response,
            #[serde(skip_serializing_if = "Option::is_none")]
            warning: &'a Option<String>,
        }
        #[derive(Serialize)]
        struct Err<'a> {
            id: Option<u64>,
            error: &'a IpcError,
        }
        match self {
            ServerFrame::Hello(h) => TypedHello {
                ty: "hello",
                inner: h,
            }
            .serialize(s),
            ServerFrame::Response {
                id,
                result,
                warning,
            } => Ok {
                id: *id,
                result,
                warning,
            }
            .serialize(s),
            ServerFrame::Error { id, error } => Err { id: *id, error }.serialize(s),
            ServerFrame::Event(e) => e.serialize(s),
        }
    }
}

/// Serialises `value` as one frame: compact JSON plus the terminating `\n`.
///
/// Serialisation of the protocol types cannot fail in practice; if it ever does, the line is
/// an `internal` error frame instead, so the caller always has something valid to send.
pub fn encode_line<T: Serialize>(value: &T) -> String {
    match serde_json::to_string(value) {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        Err(e) => {
            let frame = ServerFrame::Error {
                id: None,
                error: IpcError::internal(format!("cannot encode frame: {e}")),
            };
            let mut s = serde_json::to_string(&frame).unwrap_or_else(|_| {
                r#"{"id":null,"error":{"code":"internal","message":"cannot encode frame"}}"#
                    .to_owned()
            });
            s.push('\n');
            s
        }
    }
}

/// A frame that could not be decoded: the error to reply with, and the request `id` when it
/// could be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct DecodeError {
    /// Request id, when readable.
    pub id: Option<u64>,
    /// Error to send back.
    pub error: IpcError,
}

impl DecodeError {
    fn new(id: Option<u64>, code: ErrorCode, message: impl Into<String>) -> Self {
        DecodeError {
            id,
            error: IpcError::new(code, message),
        }
    }
}

fn parse_object(frame: &[u8]) -> Result<Map<String, Value>, DecodeError> {
    let text = std::str::from_utf8(frame).map_err(|e| {
        DecodeError::new(
            None,
            ErrorCode::BadRequest,
            format!("frame is not valid UTF-8: {e}"),
        )
    })?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(DecodeError::new(
            None,
            ErrorCode::BadRequest,
            "frame must be a JSON object",
        )),
        Err(e) => Err(DecodeError::new(
            None,
            ErrorCode::BadRequest,
            format!("invalid JSON: {e}"),
        )),
    }
}

/// What a request's params failed on, in the protocol's words: serde's own text names Rust
/// types (`Request::Status`, `untagged enum SettingValue`) that mean nothing to a client.
fn params_error(method: &str, e: &serde_json::Error) -> String {
    let text = e.to_string();
    if text.contains("untagged enum SettingValue") {
        "`value` must be a boolean, a number or a string".to_owned()
    } else if text.contains("expected unit variant") {
        format!("`{method}` takes no params (leave them out, or send null or {{}})")
    } else {
        text.replace("unknown variant", "unknown value")
    }
}

/// Decodes one client frame (without its `\n`). Never panics; every failure is a
/// [`DecodeError`] carrying the code to reply with (`bad_request`, `unknown_method`,
/// `invalid_params`).
pub fn decode_client_frame(frame: &[u8]) -> Result<ClientFrame, DecodeError> {
    let mut map = parse_object(frame)?;
    if let Some(ty) = map.get("type") {
        return match ty.as_str() {
            Some("hello") => serde_json::from_value::<ClientHello>(Value::Object(map))
                .map(ClientFrame::Hello)
                .map_err(|e| {
                    DecodeError::new(None, ErrorCode::BadRequest, format!("invalid hello: {e}"))
                }),
            _ => Err(DecodeError::new(
                None,
                ErrorCode::BadRequest,
                format!("unknown frame type {ty}"),
            )),
        };
    }
    let id = match map.get("id") {
        Some(v) => v.as_u64().ok_or_else(|| {
            DecodeError::new(
                None,
                ErrorCode::BadRequest,
                "`id` must be an unsigned integer",
            )
        })?,
        None => {
            return Err(DecodeError::new(
                None,
                ErrorCode::BadRequest,
                "frame has no `id` (requests are {\"id\":N,\"method\":…})",
            ))
        }
    };
    let method = match map.remove("method") {
        Some(Value::String(m)) => m,
        Some(_) => {
            return Err(DecodeError::new(
                Some(id),
                ErrorCode::BadRequest,
                "`method` must be a string",
            ))
        }
        None => {
            return Err(DecodeError::new(
                Some(id),
                ErrorCode::BadRequest,
                "frame has no `method`",
            ))
        }
    };
    if !METHODS.contains(&method.as_str()) {
        return Err(DecodeError::new(
            Some(id),
            ErrorCode::UnknownMethod,
            format!("unknown method `{method}`"),
        ));
    }
    let params = map.remove("params").filter(|p| !p.is_null());
    let attempt = |params: Option<Value>| {
        let mut obj = Map::new();
        obj.insert("method".to_owned(), Value::String(method.clone()));
        if let Some(p) = params {
            obj.insert("params".to_owned(), p);
        }
        serde_json::from_value::<Request>(Value::Object(obj))
    };
    let request = match &params {
        Some(p) => match attempt(Some(p.clone())) {
            Ok(r) => Ok(r),
            // Methods without parameters accept an empty `params` object.
            Err(e) if p.as_object().is_some_and(|o| o.is_empty()) => attempt(None).map_err(|_| e),
            Err(e) => Err(e),
        },
        None => attempt(None).or_else(|e| attempt(Some(Value::Object(Map::new()))).map_err(|_| e)),
    }
    .map_err(|e| {
        DecodeError::new(
            Some(id),
            ErrorCode::InvalidParams,
            format!(
                "invalid params for `{method}`: {}",
                params_error(&method, &e)
            ),
        )
    })?;
    request.validate().map_err(|error| DecodeError {
        id: Some(id),
        error,
    })?;
    Ok(ClientFrame::Request(RequestFrame { id, request }))
}

/// Decodes one server frame (without its `\n`). Never panics. Unknown event names decode as
/// [`Event::Other`]; anything else unreadable is an error message.
pub fn decode_server_frame(frame: &[u8]) -> Result<ServerFrame, String> {
    let map = parse_object(frame).map_err(|e| e.error.message)?;
    if let Some(ty) = map.get("type") {
        return match ty.as_str() {
            Some("hello") => serde_json::from_value::<ServerHello>(Value::Object(map))
                .map(ServerFrame::Hello)
                .map_err(|e| format!("invalid hello: {e}")),
            Some("event") => serde_json::from_value::<Event>(Value::Object(map))
                .map(ServerFrame::Event)
                .map_err(|e| format!("invalid event: {e}")),
            _ => Err(format!("unknown frame type {ty}")),
        };
    }
    #[derive(Deserialize)]
    struct ErrFrame {
        id: Option<u64>,
        error: IpcError,
    }
    #[derive(Deserialize)]
    struct OkFrame {
        id: u64,
        result: Response,
        #[serde(default)]
        warning: Option<String>,
    }
    if map.contains_key("error") {
        let f: ErrFrame = serde_json::from_value(Value::Object(map))
            .map_err(|e| format!("invalid error frame: {e}"))?;
        Ok(ServerFrame::Error {
            id: f.id,
            error: f.error,
        })
    } else if map.contains_key("result") {
        let f: OkFrame = serde_json::from_value(Value::Object(map))
            .map_err(|e| format!("invalid response frame: {e}"))?;
        Ok(ServerFrame::Response {
            id: f.id,
            result: f.result,
            warning: f.warning,
        })
    } else {
        Err("frame is neither hello, event, result nor error".to_owned())
    }
}

/// A frame exceeded the decoder's limit. The decoder has dropped it (and drops the rest of
/// it up to the next `\n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("frame exceeds the {limit}-byte limit")]
pub struct FrameTooLarge {
    /// The limit in bytes.
    pub limit: usize,
}

/// Splits a byte stream into `\n`-terminated frames of at most `limit` bytes (excluding the
/// `\n` and a `\r` before it, which is removed). Blank lines are skipped.
///
/// Memory is bounded: the decoder never holds more than `limit + 1` bytes (a frame and its
/// `\r`). A longer frame is
/// reported once as [`FrameTooLarge`] and its remaining bytes are discarded up to the next
/// `\n`.
#[derive(Debug)]
pub struct LineDecoder {
    buf: Vec<u8>,
    limit: usize,
    discarding: bool,
}

impl LineDecoder {
    /// A decoder with the given frame limit in bytes.
    pub fn new(limit: usize) -> Self {
        LineDecoder {
            buf: Vec::new(),
            limit,
            discarding: false,
        }
    }

    /// The frame limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes of an incomplete frame held now (always `<= limit + 1`).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Takes bytes from `input` until a frame is complete and returns it; returns `None`
    /// when `input` is used up without completing a frame (its bytes are kept for the next
    /// call). Call repeatedly until `None`.
    pub fn next_frame(&mut self, input: &mut &[u8]) -> Option<Result<Vec<u8>, FrameTooLarge>> {
        loop {
            if input.is_empty() {
                return None;
            }
            let data: &[u8] = input;
            match data.iter().position(|&b| b == b'\n') {
                Some(pos) => {
                    let (line, rest) = data.split_at(pos);
                    *input = rest.get(1..).unwrap_or(&[]);
                    if self.discarding {
                        self.discarding = false;
                        continue;
                    }
                    let ends_cr = line.last().or(self.buf.last()) == Some(&b'\r');
                    let len = self.buf.len() + line.len() - usize::from(ends_cr);
                    if len > self.limit {
                        self.buf = Vec::new();
                        return Some(Err(FrameTooLarge { limit: self.limit }));
                    }
                    let mut frame = std::mem::take(&mut self.buf);
                    frame.extend_from_slice(line);
                    if ends_cr {
                        frame.pop();
                    }
                    if frame.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    return Some(Ok(frame));
                }
                None => {
                    *input = &[];
                    if self.discarding {
                        return None;
                    }
                    // Room for one more byte: the `\r` of a frame of exactly `limit` bytes.
                    if self.buf.len() + data.len() > self.limit + 1 {
                        self.buf = Vec::new();
                        self.discarding = true;
                        return Some(Err(FrameTooLarge { limit: self.limit }));
                    }
                    if self.buf.is_empty() {
                        self.buf.reserve_exact(data.len());
                    }
                    self.buf.extend_from_slice(data);
                    return None;
                }
            }
        }
    }
}
