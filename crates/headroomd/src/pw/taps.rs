//! Layer A loudness taps: one `pw_filter` node per tapped application stream, with an input
//! port per channel of the bus's layout ([`BusLayout`]: `FL`, `FR` for a stereo real sink;
//! `FL` … `RR` for a 5.1 one) that headroomd links to the stream's output ports itself,
//! measuring its loudness in a real-time callback with the bus's channel weights.
//!
//! A filter has no converter in front of it (a capture `pw_stream` has one: PipeWire's
//! adapter with `audioconvert`), so its ports take the graph's own DSP format — 32-bit float
//! mono per channel at the graph's rate — and it allocates no conversion buffers: each tap
//! adds ≈ 0.37 MB to the daemon's RSS where a stream tap added ≈ 0.61 MB (PLAN.md,
//! Decisions). Its CPU per cycle is the same within the measurements' noise.
//!
//! WirePlumber does not link filters, so [`Taps::sync_links`] links each tap to its stream's
//! output ports (`link-factory`, the links headroomd's own, gone with it) whenever the ports
//! of either side change: the stream's ports are renegotiated when it moves between sinks of
//! different layouts. Channels map by `audio.channel`: `FL` → `FL`, `FC` → `FC` and so on, a
//! `MONO` port into `FL` and `FR`. A stream linked into the bus or the real sink has the
//! sink's channels, which are the tap's (the bus takes the real sink's layout where it can,
//! and every tap is made anew when the bus's layout changes: [`Taps::set_layout`]); a stream
//! with channels the tap has no port for is measured without them, and one with none of the
//! tap's names has its first output ports taken in the tap's order. The taps hear the
//! stream *after* its own volume (where Layer A applies its reduction; [`crate::layer_a`]
//! compensates for that).
//!
//! Taps are headroom's own nodes: `node.name = headroom-tap-<id>`, `headroom.role = tap`, no
//! `media.class` (the session manager leaves them alone; the router never routes them and
//! they are never tapped themselves). The PipeWire thread destroys a tap when its stream
//! disappears.
//!
//! The callback runs a preallocated [`LiveMeter`] (under `assert_no_alloc` in debug builds)
//! for the graph's rate — meters for 44.1, 48, 88.2 and 96 kHz are made with the tap, any
//! other rate is measured with the nearest — and publishes momentary and short-term loudness
//! through atomics ([`TapMeter`]); other threads read them through [`TapReadings`].

use std::collections::{BTreeMap, HashMap};
use std::ffi::{c_void, CString};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use headroom_core::meter::LiveMeter;
use parking_lot::RwLock;
use pipewire as pw;
use pw::core::CoreRc;
use pw::link::Link;
use pw::properties::PropertiesBox;
use pw::spa;
use pw::sys as pw_sys;

use super::format::BusLayout;
use super::graph::Graph;
use crate::layer_a::{TapReading, GATE_LUFS};
use crate::names::{HEADROOM_ROLE_PROP, TAP_NAME_PREFIX};

/// Loudness published by one tap's real-time callback.
#[derive(Debug)]
pub struct TapMeter {
    momentary: AtomicU32,
    short_term: AtomicU32,
    updates: AtomicU64,
}

impl Default for TapMeter {
    fn default() -> Self {
        let floor = (GATE_LUFS as f32).to_bits();
        Self {
            momentary: AtomicU32::new(floor),
            short_term: AtomicU32::new(floor),
            updates: AtomicU64::new(0),
        }
    }
}

impl TapMeter {
    /// Publishes a measurement. Real-time safe (two relaxed stores and an increment).
    pub fn publish(&self, momentary_lufs: f64, short_term_lufs: f64) {
        self.momentary
            .store((momentary_lufs as f32).to_bits(), Ordering::Relaxed);
        self.short_term
            .store((short_term_lufs as f32).to_bits(), Ordering::Relaxed);
        self.updates.fetch_add(1, Ordering::Release);
    }

    /// The latest measurement.
    pub fn reading(&self) -> TapReading {
        TapReading {
            momentary_lufs: f64::from(f32::from_bits(self.momentary.load(Ordering::Relaxed))),
            short_term_lufs: f64::from(f32::from_bits(self.short_term.load(Ordering::Relaxed))),
        }
    }

    /// How many callbacks have published so far (tells a live tap from a stalled one).
    pub fn updates(&self) -> u64 {
        self.updates.load(Ordering::Acquire)
    }
}

/// Cloneable, thread-safe view of the taps' meters, by tapped stream node id.
#[derive(Debug, Clone, Default)]
pub struct TapReadings(Arc<RwLock<BTreeMap<u32, Arc<TapMeter>>>>);

impl TapReadings {
    /// The latest reading of the tap on `node_id`, if there is one.
    pub fn get(&self, node_id: u32) -> Option<TapReading> {
        self.0.read().get(&node_id).map(|m| m.reading())
    }

    /// The meter of the tap on `node_id`.
    pub fn meter(&self, node_id: u32) -> Option<Arc<TapMeter>> {
        self.0.read().get(&node_id).cloned()
    }

    /// Ids of the tapped streams.
    pub fn ids(&self) -> Vec<u32> {
        self.0.read().keys().copied().collect()
    }

    /// Number of taps.
    pub fn len(&self) -> usize {
        self.0.read().len()
    }

    /// Whether there are no taps.
    pub fn is_empty(&self) -> bool {
        self.0.read().is_empty()
    }

    /// Registers a meter without a stream (unit tests of code that reads taps).
    #[doc(hidden)]
    pub fn insert_for_tests(&self, node_id: u32, meter: Arc<TapMeter>) {
        self.0.write().insert(node_id, meter);
    }
}

/// Most input ports a tap has (the channels of the largest [`BusLayout`]).
const MAX_PORTS: usize = 8;
/// Graph rates a tap has a meter for (the K-weighting and the 100 ms sub-blocks depend on it).
const RATES: [u32; 4] = [44_100, 48_000, 88_200, 96_000];
/// Frames interleaved for the meter at a time.
const SCRATCH_FRAMES: usize = 1024;

/// State of one tap's real-time callback.
pub struct TapRt {
    /// One meter per rate of [`RATES`], for [`channels`](Self::channels) channels.
    meters: Vec<LiveMeter>,
    /// Interleaved frames for the meter, [`SCRATCH_FRAMES`] × `channels`.
    scratch: Vec<f32>,
    out: Arc<TapMeter>,
    /// Input ports in use (at most [`MAX_PORTS`]).
    channels: usize,
    /// The filter's input ports (their user data), in the layout's order; null until added
    /// (and past `channels`).
    ports: [*mut c_void; MAX_PORTS],
}

impl TapRt {
    /// Meters for `channels` channels (at most [`MAX_PORTS`]) at every rate of [`RATES`], and
    /// the scratch buffer. Allocates.
    fn new(out: Arc<TapMeter>, channels: usize) -> Self {
        let channels = channels.clamp(1, MAX_PORTS);
        Self {
            meters: RATES
                .iter()
                .map(|&r| LiveMeter::loudness_only(r, channels))
                .collect(),
            scratch: vec![0.0; SCRATCH_FRAMES * channels],
            out,
            channels,
            ports: [std::ptr::null_mut(); MAX_PORTS],
        }
    }

    /// Index of the meter for graph rate `rate` Hz: the one of [`RATES`] nearest to it.
    fn meter_for(rate: u32) -> usize {
        let mut best = 0;
        for (i, r) in RATES.iter().enumerate() {
            let d = r.abs_diff(rate);
            if d < RATES.get(best).map_or(u32::MAX, |b| b.abs_diff(rate)) {
                best = i;
            }
        }
        best
    }
}

/// One tap. Dropping it removes its links and destroys the filter (the callback no longer
/// runs once `pw_filter_destroy` returns).
struct Tap {
    filter: *mut pw_sys::pw_filter,
    /// The filter's listener; registered with the filter, so it must not move.
    _hook: Box<spa::sys::spa_hook>,
    /// The callback's state, handed to the filter as its user data; must not move either.
    rt: Box<TapRt>,
    /// Our links: (output port of the stream, input port of the tap, the link).
    links: Vec<(u32, u32, Link)>,
    /// Shown in mixers (`Headroom tap: APP`); kept to make the tap anew.
    description: String,
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.links.clear();
        // SAFETY: `filter` came from `pw_filter_new` and is destroyed only here, once. After
        // `pw_filter_destroy` returns the filter no longer calls back into `rt` or the hook
        // (its node is gone from the data loop), so both may be freed after it.
        unsafe {
            pw_sys::pw_filter_disconnect(self.filter);
            pw_sys::pw_filter_destroy(self.filter);
        }
    }
}

/// Errors creating a tap.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    /// PipeWire refused to create or connect the filter.
    #[error("creating the tap for node {node_id}: {what}")]
    Filter {
        /// Tapped node.
        node_id: u32,
        /// What failed.
        what: String,
    },
}

/// The filter's callbacks: only `process`.
static FILTER_EVENTS: pw_sys::pw_filter_events = pw_sys::pw_filter_events {
    version: pw_sys::PW_VERSION_FILTER_EVENTS,
    destroy: None,
    state_changed: None,
    io_changed: None,
    param_changed: None,
    add_buffer: None,
    remove_buffer: None,
    process: Some(on_filter_process),
    drained: None,
    command: None,
};

/// The taps of one PipeWire connection; lives on the PipeWire thread. Drop it before the core.
pub struct Taps {
    taps: HashMap<u32, Tap>,
    readings: TapReadings,
    /// The channels new taps get (the bus's).
    layout: BusLayout,
}

impl Taps {
    /// An empty set publishing into `readings`, its taps stereo until
    /// [`set_layout`](Self::set_layout).
    pub fn new(readings: TapReadings) -> Self {
        Self {
            taps: HashMap::new(),
            readings,
            layout: BusLayout::default(),
        }
    }

    /// Gives the taps the bus's channel layout: every tap is made anew in it when it differs
    /// from theirs (their readings start again). Allocates (PipeWire thread only).
    pub fn set_layout(&mut self, core: &CoreRc, layout: &BusLayout) {
        if *layout == self.layout {
            return;
        }
        self.layout = layout.clone();
        let again: Vec<(u32, String)> = self
            .taps
            .iter()
            .map(|(&id, t)| (id, t.description.clone()))
            .collect();
        for (node_id, description) in again {
            if let Err(e) = self.attach(core, node_id, &description) {
                tracing::warn!("{e}");
            }
        }
    }

    /// Creates a tap on the stream `node_id`, shown in mixers as `description` (`Headroom
    /// tap: APP`); its links follow with [`sync_links`](Self::sync_links) once the ports are
    /// known. A second attach for the same node replaces the first. Allocates (PipeWire
    /// thread only).
    pub fn attach(
        &mut self,
        core: &CoreRc,
        node_id: u32,
        description: &str,
    ) -> Result<(), TapError> {
        self.detach(node_id);
        let err = |what: String| TapError::Filter { node_id, what };
        let name = format!("{TAP_NAME_PREFIX}{node_id}");
        let mut props = PropertiesBox::new();
        props.insert("media.type", "Audio");
        props.insert("media.category", "Capture");
        props.insert("media.role", "DSP");
        props.insert("node.name", name.as_str());
        props.insert("node.description", description);
        props.insert("application.name", "headroomd");
        props.insert(HEADROOM_ROLE_PROP, "tap");
        props.insert("headroom.tap.node", node_id.to_string().as_str());
        let cname = CString::new(name).map_err(|e| err(e.to_string()))?;
        let out = Arc::new(TapMeter::default());
        let positions = self.layout.names();
        let mut rt = Box::new(TapRt::new(out.clone(), positions.len()));
        // SAFETY: `core` is a live core of this thread; `pw_filter_new` takes ownership of the
        // properties and copies the name.
        let filter =
            unsafe { pw_sys::pw_filter_new(core.as_raw_ptr(), cname.as_ptr(), props.into_raw()) };
        if filter.is_null() {
            return Err(err("pw_filter_new failed".into()));
        }
        // SAFETY: all-zero is the documented initial state of a `spa_hook`.
        let mut hook: Box<spa::sys::spa_hook> = Box::new(unsafe { std::mem::zeroed() });
        // From here on `Tap`'s drop destroys the filter on every error path.
        let rt_ptr: *mut TapRt = &mut *rt;
        // SAFETY: `filter` is live; the hook and `rt` are boxed (they do not move) and live in
        // the `Tap` below, which destroys the filter before freeing them; the events are static.
        unsafe {
            pw_sys::pw_filter_add_listener(filter, &mut *hook, &FILTER_EVENTS, rt_ptr.cast());
        }
        for (k, channel) in positions.iter().enumerate().take(MAX_PORTS) {
            let mut pp = PropertiesBox::new();
            pp.insert("format.dsp", "32 bit float mono audio");
            pp.insert("audio.channel", *channel);
            pp.insert("port.name", format!("input_{channel}").as_str());
            // SAFETY: `filter` is live; the call takes ownership of the properties. The port
            // data it returns lives as long as the filter; the callback only reads it.
            let data = unsafe {
                pw_sys::pw_filter_add_port(
                    filter,
                    spa::sys::SPA_DIRECTION_INPUT,
                    pw_sys::pw_filter_port_flags_PW_FILTER_PORT_FLAG_MAP_BUFFERS,
                    std::mem::size_of::<u64>(),
                    pp.into_raw(),
                    std::ptr::null_mut(),
                    0,
                )
            };
            if let Some(slot) = rt.ports.get_mut(k) {
                *slot = data;
            }
        }
        let tap = Tap {
            filter,
            _hook: hook,
            rt,
            links: Vec::new(),
            description: description.to_string(),
        };
        if tap.rt.ports[..tap.rt.channels].iter().any(|p| p.is_null()) {
            return Err(err("adding its ports failed".into()));
        }
        // SAFETY: `filter` is live; no format params (DSP ports).
        let res = unsafe {
            pw_sys::pw_filter_connect(
                filter,
                pw_sys::pw_filter_flags_PW_FILTER_FLAG_RT_PROCESS,
                std::ptr::null_mut(),
                0,
            )
        };
        if res < 0 {
            return Err(err(format!("connect: error {res}")));
        }
        self.readings.0.write().insert(node_id, out);
        self.taps.insert(node_id, tap);
        Ok(())
    }

    /// Links every tap's input ports to its stream's output ports as `graph` shows them and
    /// drops links whose ports are gone (see the [module documentation](self)). Called by the
    /// PipeWire thread whenever a port appears or goes. Allocates.
    pub fn sync_links(&mut self, core: &CoreRc, graph: &Graph) {
        let positions = self.layout.names();
        for (&node_id, tap) in self.taps.iter_mut() {
            // The filter's own node, by the id PipeWire gave it (not by name: another client
            // may name a node like a tap); none until the filter is bound.
            // SAFETY: `tap.filter` is live while the tap exists.
            let tap_node = unsafe { pw_sys::pw_filter_get_node_id(tap.filter) };
            let want = if tap_node == spa::sys::SPA_ID_INVALID {
                Vec::new()
            } else {
                wanted_links(graph, node_id, tap_node, &positions)
            };
            tap.links.retain(|(o, i, _)| want.contains(&(*o, *i)));
            for (o, i) in want {
                if tap.links.iter().any(|(lo, li, _)| (*lo, *li) == (o, i)) {
                    continue;
                }
                let mut props = PropertiesBox::new();
                props.insert("link.output.node", node_id.to_string().as_str());
                props.insert("link.output.port", o.to_string().as_str());
                props.insert("link.input.node", tap_node.to_string().as_str());
                props.insert("link.input.port", i.to_string().as_str());
                props.insert("object.linger", "false");
                match core.create_object::<Link>("link-factory", &props) {
                    Ok(link) => tap.links.push((o, i, link)),
                    Err(e) => tracing::warn!(node_id, "linking the tap: {e}"),
                }
            }
        }
    }

    /// Destroys the tap on `node_id`. Returns whether there was one.
    pub fn detach(&mut self, node_id: u32) -> bool {
        self.readings.0.write().remove(&node_id);
        self.taps.remove(&node_id).is_some()
    }

    /// Destroys every tap.
    pub fn clear(&mut self) {
        self.readings.0.write().clear();
        self.taps.clear();
    }

    /// Whether `node_id` is tapped.
    pub fn contains(&self, node_id: u32) -> bool {
        self.taps.contains_key(&node_id)
    }

    /// Number of taps.
    pub fn len(&self) -> usize {
        self.taps.len()
    }

    /// Whether there are no taps.
    pub fn is_empty(&self) -> bool {
        self.taps.is_empty()
    }
}

impl Drop for Taps {
    fn drop(&mut self) {
        self.clear();
    }
}

/// The links the tap of stream `node_id`, whose own node is `tap` with input ports for
/// `positions`, should have in `graph`: (output port of the stream, input port of the tap)
/// pairs, by channel (see the [module documentation](self)).
fn wanted_links(graph: &Graph, node_id: u32, tap: u32, positions: &[&str]) -> Vec<(u32, u32)> {
    let tap_port = |channel: &str| {
        graph
            .ports
            .values()
            .find(|p| p.node == tap && !p.output && p.channel.as_deref() == Some(channel))
            .map(|p| p.id)
    };
    let Some(inputs) = positions
        .iter()
        .map(|c| tap_port(c))
        .collect::<Option<Vec<u32>>>()
    else {
        return Vec::new();
    };
    let input_for = |channel: &str| {
        positions
            .iter()
            .zip(&inputs)
            .find(|(c, _)| **c == channel)
            .map(|(_, &i)| i)
    };
    let outs: Vec<_> = graph
        .ports
        .values()
        .filter(|p| p.node == node_id && p.output && !p.monitor)
        .collect();
    let mut want = Vec::new();
    let mut by_channel = false;
    for p in &outs {
        let Some(channel) = p.channel.as_deref() else {
            continue;
        };
        if let Some(i) = input_for(channel) {
            want.push((p.id, i));
        } else if channel == "MONO" {
            want.extend(
                ["FL", "FR"]
                    .iter()
                    .filter_map(|c| input_for(c))
                    .map(|i| (p.id, i)),
            );
        } else {
            continue;
        }
        by_channel = true;
    }
    if !by_channel {
        want.extend(outs.iter().zip(&inputs).map(|(p, &i)| (p.id, i)));
    }
    want
}

/// The filter's process callback: meters the cycle's samples and publishes. Real-time safe;
/// runs under `assert_no_alloc` in debug builds.
///
/// # Safety
/// Called by PipeWire with `data` the tap's [`TapRt`] (as registered in [`Taps::attach`]) and
/// `position` null or the graph's position for this cycle.
unsafe extern "C" fn on_filter_process(
    data: *mut c_void,
    position: *mut spa::sys::spa_io_position,
) {
    if data.is_null() {
        return;
    }
    // SAFETY: `data` is the boxed `TapRt` of a live tap (contract above); only this callback
    // touches it while the filter runs.
    let rt = unsafe { &mut *data.cast::<TapRt>() };
    // SAFETY: `position` is null or valid for this cycle (contract above).
    let rate = unsafe { position.as_ref() }.map_or(48_000, |p| p.clock.rate.denom);
    #[cfg(debug_assertions)]
    // SAFETY: forwarded contract of this function.
    assert_no_alloc::assert_no_alloc(|| unsafe { filter_inner(rt, rate) });
    // SAFETY: forwarded contract of this function.
    #[cfg(not(debug_assertions))]
    unsafe {
        filter_inner(rt, rate)
    };
}

/// Takes each input port's buffer of this cycle, meters it and gives it back. Real-time safe.
///
/// # Safety
/// As [`on_filter_process`]: `rt.ports` are the live tap's port data (or null).
unsafe fn filter_inner(rt: &mut TapRt, rate: u32) {
    let mut planes: [Option<&[f32]>; MAX_PORTS] = [None; MAX_PORTS];
    let mut bufs: [*mut pw_sys::pw_buffer; MAX_PORTS] = [std::ptr::null_mut(); MAX_PORTS];
    let n = rt.channels.min(MAX_PORTS);
    for (k, &port) in rt.ports.iter().enumerate().take(n) {
        if port.is_null() {
            continue;
        }
        // SAFETY: `port` is the port data of a live filter port, and this is the filter's
        // process callback, where buffers are dequeued.
        let b = unsafe { pw_sys::pw_filter_dequeue_buffer(port) };
        if b.is_null() {
            continue;
        }
        if let Some(slot) = bufs.get_mut(k) {
            *slot = b;
        }
        if let Some(slot) = planes.get_mut(k) {
            // SAFETY: a dequeued `pw_buffer` is valid until queued again, below, after the
            // last use of the slice; its `spa_buffer` is null or mapped (MAP_BUFFERS), which
            // `plane` requires.
            *slot = unsafe { plane((*b).buffer) };
        }
    }
    meter_planes(rt, &planes[..n], rate);
    for (k, &b) in bufs.iter().enumerate() {
        if let (false, Some(&port)) = (b.is_null(), rt.ports.get(k)) {
            // SAFETY: `b` was dequeued from `port` in this callback.
            unsafe { pw_sys::pw_filter_queue_buffer(port, b) };
        }
    }
}

/// The samples of the first data plane of `buf` (mono `f32`). Tolerates a null buffer,
/// missing data or chunk, out-of-range offsets and sizes, misaligned data. Real-time safe.
///
/// # Safety
/// `buf` is null or points to a valid `spa_buffer` whose non-null `datas`, `data` and `chunk`
/// pointers are valid for `maxsize` bytes, for as long as the returned slice is used.
unsafe fn plane<'a>(buf: *const spa::sys::spa_buffer) -> Option<&'a [f32]> {
    const SAMPLE: usize = std::mem::size_of::<f32>();
    // SAFETY: every pointer is checked for null before it is dereferenced, and valid when not
    // null (contract above); the slice is built from an `f32`-aligned pointer inside the data,
    // and `offset + frames * SAMPLE <= maxsize` because offset and size are clamped to it.
    unsafe {
        if buf.is_null() || (*buf).n_datas < 1 || (*buf).datas.is_null() {
            return None;
        }
        let d = &*(*buf).datas;
        if d.data.is_null() || d.chunk.is_null() {
            return None;
        }
        let chunk = &*d.chunk;
        let maxsize = d.maxsize as usize;
        let offset = (chunk.offset as usize).min(maxsize);
        let size = (chunk.size as usize).min(maxsize - offset);
        let ptr = (d.data as *const u8).add(offset);
        if !(ptr as usize).is_multiple_of(std::mem::align_of::<f32>()) {
            return None;
        }
        Some(std::slice::from_raw_parts(ptr.cast::<f32>(), size / SAMPLE))
    }
}

/// Meters one cycle of the tap's ports (`None`: no buffer, counted as silence; one per
/// channel of the tap, in its order) with the meter for `rate` and publishes; nothing when no
/// port had samples. Real-time safe.
fn meter_planes(rt: &mut TapRt, planes: &[Option<&[f32]>], rate: u32) {
    let channels = rt.channels;
    let frames = planes.iter().flatten().map(|p| p.len()).max().unwrap_or(0);
    if frames == 0 {
        return;
    }
    let Some(meter) = rt.meters.get_mut(TapRt::meter_for(rate)) else {
        return;
    };
    let mut done = 0;
    while done < frames {
        let n = (frames - done).min(SCRATCH_FRAMES);
        for (f, frame) in rt.scratch.chunks_exact_mut(channels).take(n).enumerate() {
            for (k, s) in frame.iter_mut().enumerate() {
                *s = planes
                    .get(k)
                    .copied()
                    .flatten()
                    .and_then(|p| p.get(done + f))
                    .copied()
                    .unwrap_or(0.0);
            }
        }
        if let Some(chunk) = rt.scratch.get(..n * channels) {
            meter.process(chunk);
        }
        done += n;
    }
    rt.out
        .publish(meter.momentary_lufs(), meter.short_term_lufs());
}

#[cfg(test)]
mod tests {
    use super::super::fake_buffer::FakeBuf;
    use super::*;

    #[test]
    fn meter_round_trips_and_counts() {
        let m = TapMeter::default();
        assert_eq!(m.reading(), TapReading::SILENT);
        assert_eq!(m.updates(), 0);
        m.publish(-12.5, -14.25);
        let r = m.reading();
        assert_eq!(r.momentary_lufs, -12.5);
        assert_eq!(r.short_term_lufs, -14.25);
        assert_eq!(m.updates(), 1);
    }

    #[test]
    fn readings_view_follows_the_registry() {
        let r = TapReadings::default();
        assert!(r.is_empty());
        let m = Arc::new(TapMeter::default());
        r.0.write().insert(7, m.clone());
        m.publish(-20.0, -21.0);
        assert_eq!(r.get(7).unwrap().momentary_lufs, -20.0);
        assert_eq!(r.ids(), vec![7]);
        assert_eq!(r.len(), 1);
        assert!(r.get(8).is_none());
    }

    fn rt() -> TapRt {
        TapRt::new(Arc::new(TapMeter::default()), 2)
    }

    fn sine(frames: usize, start: usize, rate: u32, amp: f32) -> Vec<f32> {
        (start..start + frames)
            .map(|n| {
                let t = (n % rate as usize) as f32 / rate as f32;
                amp * (2.0 * std::f32::consts::PI * 1000.0 * t).sin()
            })
            .collect()
    }

    #[test]
    fn callback_meters_without_allocating_at_the_graph_rate() {
        // −20 dBFS peak on both channels: −20 LUFS for a stereo 1 kHz sine, at either rate
        // (each measured with its own meter), in quanta larger than the scratch buffer too.
        for (rate, frames) in [(48_000u32, 256usize), (44_100, 1024), (48_000, 3000)] {
            let mut rt = rt();
            let blocks = 4 * rate as usize / frames;
            for b in 0..blocks {
                let l = sine(frames, b * frames, rate, 0.1);
                let r = l.clone();
                assert_no_alloc::assert_no_alloc(|| {
                    meter_planes(&mut rt, &[Some(&l[..]), Some(&r[..])], rate)
                });
            }
            let m = rt.out.reading();
            assert!((m.momentary_lufs + 20.0).abs() < 0.2, "{rate} Hz: {m:?}");
            assert!((m.short_term_lufs + 20.0).abs() < 0.5, "{rate} Hz: {m:?}");
            assert_eq!(rt.out.updates(), blocks as u64);
        }
    }

    #[test]
    fn a_missing_or_short_port_counts_as_silence() {
        let mut rt = rt();
        meter_planes(&mut rt, &[None, None], 48_000);
        meter_planes(&mut rt, &[Some(&[]), None], 48_000);
        assert_eq!(rt.out.updates(), 0, "nothing to meter, nothing published");
        // The right port's buffer holds 100 of the cycle's 512 frames, the rest counts as
        // silence: 10·log10((1 + 100/512) / 2) = −2.24 dB under the stereo sine's −20 LUFS.
        for b in 0..(4 * 48_000 / 512) {
            let l = sine(512, b * 512, 48_000, 0.1);
            meter_planes(&mut rt, &[Some(&l[..]), Some(&l[..100])], 48_000);
        }
        let m = rt.out.reading();
        assert!((m.momentary_lufs + 22.24).abs() < 0.1, "{m:?}");
    }

    #[test]
    fn rates_map_to_the_nearest_meter() {
        let rate = |hz| RATES[TapRt::meter_for(hz)];
        assert_eq!(rate(44_100), 44_100);
        assert_eq!(rate(48_000), 48_000);
        assert_eq!(rate(96_000), 96_000);
        assert_eq!(rate(88_200), 88_200);
        assert_eq!(rate(32_000), 44_100);
        assert_eq!(rate(50_000), 48_000);
        assert_eq!(rate(192_000), 96_000);
        assert_eq!(rate(0), 44_100);
    }

    #[test]
    fn planes_of_hostile_buffers_are_refused_or_clamped() {
        let mut samples = vec![0.5f32; 64];
        let n = std::mem::size_of_val(&samples[..]) as u32;
        // SAFETY: every pointer handed in is null or points into live test data.
        unsafe {
            assert!(plane(std::ptr::null()).is_none());
            for (off, size, want) in [
                (n + 100, 8, Some(0)),
                (0, n + 1000, Some(64)),
                (0, 7, Some(1)),
                (2, 64, None),
                (n, 8, Some(0)),
                (8, 16, Some(4)),
            ] {
                let fb = FakeBuf::new(&mut samples, off, size);
                assert_eq!(plane(fb.spa()).map(<[f32]>::len), want, "{off} {size}");
            }
            let mut fb = FakeBuf::new(&mut samples, 0, n);
            fb.data.data = std::ptr::null_mut();
            assert!(plane(fb.spa()).is_none());
            let mut fb = FakeBuf::new(&mut samples, 0, n);
            fb.data.chunk = std::ptr::null_mut();
            assert!(plane(fb.spa()).is_none());
            let mut fb = FakeBuf::new(&mut samples, 0, n);
            fb.buf.n_datas = 0;
            assert!(plane(fb.spa()).is_none());
        }
    }

    /// A 5.1 tap meters the centre and the surrounds too, with BS.1770's weights: the same
    /// tone in FL and FC reads 3 dB over FL alone; in a surround, 1.5 dB more than in a
    /// front channel; in the LFE, nothing.
    #[test]
    fn a_surround_tap_weighs_every_channel() {
        let read = |ch: &[usize]| {
            let mut rt = TapRt::new(Arc::new(TapMeter::default()), 6);
            for b in 0..(4 * 48_000 / 512) {
                let s = sine(512, b * 512, 48_000, 0.1);
                let planes: Vec<Option<&[f32]>> =
                    (0..6).map(|k| ch.contains(&k).then_some(&s[..])).collect();
                assert_no_alloc::assert_no_alloc(|| meter_planes(&mut rt, &planes, 48_000));
            }
            rt.out.reading().momentary_lufs
        };
        let fl = read(&[0]);
        assert!((fl + 23.0).abs() < 0.2, "{fl}");
        assert!((read(&[0, 2]) - fl - 3.01).abs() < 0.05);
        assert!((read(&[4]) - fl - 10.0 * 1.41f64.log10()).abs() < 0.05);
        assert!(read(&[3]) < -69.0, "the LFE is not measured");
    }

    fn graph_with(app_ports: &[(&str, bool)]) -> Graph {
        graph_with_tap(app_ports, &["FL", "FR"])
    }

    fn graph_with_tap(app_ports: &[(&str, bool)], tap_ports: &[&str]) -> Graph {
        use super::super::graph::GraphPort;
        // Stream 50's output ports from id 100, the input ports of its tap (node 90) from 200.
        let mut g = Graph::default();
        for (id, (ch, monitor)) in (100..).zip(app_ports) {
            g.ports.insert(
                id,
                GraphPort {
                    id,
                    node: 50,
                    output: true,
                    channel: Some((*ch).into()),
                    monitor: *monitor,
                },
            );
        }
        for (k, ch) in tap_ports.iter().enumerate() {
            g.ports.insert(
                200 + k as u32,
                GraphPort {
                    id: 200 + k as u32,
                    node: 90,
                    output: false,
                    channel: Some((*ch).into()),
                    ..GraphPort::default()
                },
            );
        }
        g
    }

    /// A stereo tap's ports.
    const ST: [&str; 2] = ["FL", "FR"];

    #[test]
    fn taps_link_by_channel() {
        let stereo = graph_with(&[("FL", false), ("FR", false), ("FL", true)]);
        assert_eq!(
            wanted_links(&stereo, 50, 90, &ST),
            vec![(100, 200), (101, 201)]
        );
        let mono = graph_with(&[("MONO", false)]);
        assert_eq!(
            wanted_links(&mono, 50, 90, &ST),
            vec![(100, 200), (100, 201)]
        );
        let surround = graph_with(&[("FL", false), ("FR", false), ("FC", false), ("LFE", false)]);
        assert_eq!(
            wanted_links(&surround, 50, 90, &ST),
            vec![(100, 200), (101, 201)]
        );
        let aux = graph_with(&[("AUX0", false), ("AUX1", false), ("AUX2", false)]);
        assert_eq!(
            wanted_links(&aux, 50, 90, &ST),
            vec![(100, 200), (101, 201)]
        );
        // Nothing before the tap's own ports are known, nothing for other streams, nothing
        // into another node's ports however it is named.
        let mut early = graph_with(&[("FL", false), ("FR", false)]);
        early.ports.remove(&201);
        assert!(wanted_links(&early, 50, 90, &ST).is_empty());
        assert!(wanted_links(&stereo, 51, 90, &ST).is_empty());
        assert!(wanted_links(&stereo, 50, 91, &ST).is_empty());
        // A 5.1 tap: each of the stream's channels into its own port (in any order), the
        // LFE too (it weighs nothing), a mono stream into FL and FR.
        let six = ["FL", "FR", "FC", "LFE", "RL", "RR"];
        let g = graph_with_tap(
            &[
                ("FL", false),
                ("FR", false),
                ("RL", false),
                ("RR", false),
                ("FC", false),
                ("LFE", false),
            ],
            &six,
        );
        assert_eq!(
            wanted_links(&g, 50, 90, &six),
            vec![
                (100, 200),
                (101, 201),
                (102, 204),
                (103, 205),
                (104, 202),
                (105, 203)
            ]
        );
        let g = graph_with_tap(&[("MONO", false)], &six);
        assert_eq!(wanted_links(&g, 50, 90, &six), vec![(100, 200), (100, 201)]);
        // A stereo stream in a 5.1 tap: FL and FR only.
        let g = graph_with_tap(&[("FL", false), ("FR", false)], &six);
        assert_eq!(wanted_links(&g, 50, 90, &six), vec![(100, 200), (101, 201)]);
    }
}
