//! Layer A loudness taps: one capture `pw_stream` per tapped application stream, linked to
//! the stream's output ports, measuring its loudness in a real-time callback.
//!
//! A tap connects with `target.object = <object.serial of the app stream>` — PipeWire 0.3.65 /
//! WirePlumber 0.4.13 then link the app stream's output ports straight into the tap (next to
//! its link into the sink), exactly what `pw-record --target <serial>` does. The tap therefore
//! hears the stream *after* its own volume (where Layer A applies its reduction;
//! [`crate::layer_a`] compensates for that).
//!
//! Taps are headroom's own nodes: `node.name = headroom-tap-<id>`, `headroom.role = tap`, so the
//! router never routes them (they are capture streams anyway) and they are never tapped
//! themselves. They set `node.dont-reconnect = true` (when the app stream goes away
//! WirePlumber does not re-link the tap to some other source) and
//! `state.restore-target = false` / `state.restore-props = false` (restore-stream learns
//! nothing from them). The PipeWire thread destroys a tap when its stream disappears.
//!
//! The callback runs a preallocated [`LiveMeter`] (under `assert_no_alloc` in debug builds)
//! and publishes momentary and short-term loudness through atomics ([`TapMeter`]); other
//! threads read them through [`TapReadings`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use headroom_core::meter::LiveMeter;
use parking_lot::RwLock;
use pipewire as pw;
use pw::core::CoreRc;
use pw::properties::PropertiesBox;
use pw::spa;
use pw::spa::pod::Pod;
use pw::stream::{StreamFlags, StreamListener, StreamRc};
use pw::sys as pw_sys;

use crate::layer_a::{TapReading, GATE_LUFS};

// Tap sample rate and channels: the bus format (PipeWire converts and up/down-mixes).
use super::format::{format_pod, CHANNELS, RATE};
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

/// State of one tap's real-time callback.
pub struct TapRt {
    meter: LiveMeter,
    out: Arc<TapMeter>,
}

/// One tap. Dropping it stops the callback and destroys the stream.
struct Tap {
    listener: Option<StreamListener<TapRt>>,
    stream: StreamRc,
}

impl Drop for Tap {
    fn drop(&mut self) {
        let _ = self.stream.set_active(false);
        let _ = self.stream.disconnect();
        self.listener.take();
    }
}

/// Errors creating a tap.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    /// PipeWire refused to create or connect the stream.
    #[error("creating the tap stream for node {node_id}: {what}")]
    Stream {
        /// Tapped node.
        node_id: u32,
        /// What failed.
        what: String,
    },
}

/// The taps of one PipeWire connection; lives on the PipeWire thread. Drop it before the core.
pub struct Taps {
    taps: HashMap<u32, Tap>,
    readings: TapReadings,
}

impl Taps {
    /// An empty set publishing into `readings`.
    pub fn new(readings: TapReadings) -> Self {
        Self {
            taps: HashMap::new(),
            readings,
        }
    }

    /// Creates a tap on the stream `node_id`, whose `object.serial` (or node name) is
    /// `target`. A second attach for the same node replaces the first. Allocates (PipeWire
    /// thread only).
    pub fn attach(&mut self, core: &CoreRc, node_id: u32, target: &str) -> Result<(), TapError> {
        self.detach(node_id);
        let err = |what: String| TapError::Stream { node_id, what };
        let name = format!("{TAP_NAME_PREFIX}{node_id}");
        let mut props = PropertiesBox::new();
        props.insert("media.type", "Audio");
        props.insert("media.category", "Capture");
        props.insert("node.name", name.as_str());
        props.insert(
            "node.description",
            format!("Headroom tap on {node_id}").as_str(),
        );
        props.insert("application.name", "headroomd");
        props.insert(HEADROOM_ROLE_PROP, "tap");
        props.insert("headroom.tap.node", node_id.to_string().as_str());
        props.insert("target.object", target);
        props.insert("node.dont-reconnect", "true");
        props.insert("state.restore-target", "false");
        props.insert("state.restore-props", "false");
        props.insert("audio.channels", "2");
        props.insert("audio.position", "[ FL FR ]");
        props.insert("audio.rate", "48000");
        let stream = StreamRc::new(core.clone(), &name, props).map_err(|e| err(e.to_string()))?;
        let out = Arc::new(TapMeter::default());
        let rt = TapRt {
            meter: LiveMeter::loudness_only(RATE, CHANNELS),
            out: out.clone(),
        };
        let listener = stream
            .add_local_listener_with_user_data(rt)
            // SAFETY: the tap stream's own process callback.
            .process(|s, rt| unsafe { on_tap_process(s.as_raw_ptr(), rt) })
            .register()
            .map_err(|e| err(format!("listener: {e}")))?;
        // Same format as the bus: F32 interleaved, 48 kHz, FL FR.
        let fmt = format_pod().map_err(err)?;
        let pod = Pod::from_bytes(&fmt).ok_or_else(|| err("bad format pod".into()))?;
        let mut params = [pod];
        stream
            .connect(
                spa::utils::Direction::Input,
                None,
                StreamFlags::AUTOCONNECT | StreamFlags::MAP_BUFFERS | StreamFlags::RT_PROCESS,
                &mut params,
            )
            .map_err(|e| err(format!("connect: {e}")))?;
        self.readings.0.write().insert(node_id, out);
        self.taps.insert(
            node_id,
            Tap {
                listener: Some(listener),
                stream,
            },
        );
        Ok(())
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

/// The tap's process callback: meters the captured block and publishes. Real-time safe; runs
/// under `assert_no_alloc` in debug builds.
///
/// # Safety
/// `stream` is the tap stream whose process callback this is.
pub unsafe fn on_tap_process(stream: *mut pw_sys::pw_stream, rt: &mut TapRt) {
    // SAFETY: forwarded contract of this function.
    #[cfg(debug_assertions)]
    assert_no_alloc::assert_no_alloc(|| unsafe { tap_inner(stream, rt) });
    // SAFETY: forwarded contract of this function.
    #[cfg(not(debug_assertions))]
    unsafe {
        tap_inner(stream, rt)
    };
}

/// Dequeues the captured buffer, meters it and gives it back. Real-time safe.
///
/// # Safety
/// As [`on_tap_process`].
unsafe fn tap_inner(stream: *mut pw_sys::pw_stream, rt: &mut TapRt) {
    // SAFETY: `stream` is the live tap stream and this is its process callback, the one place
    // where dequeueing is allowed.
    let b = unsafe { pw_sys::pw_stream_dequeue_buffer(stream) };
    if b.is_null() {
        return;
    }
    // SAFETY: a non-null dequeued `pw_buffer` is valid until queued again; its `spa_buffer`
    // is null or mapped (MAP_BUFFERS), which is what `meter_buffer` requires. The buffer goes
    // back to the same stream it came from.
    unsafe {
        meter_buffer((*b).buffer, rt);
        pw_sys::pw_stream_queue_buffer(stream, b);
    }
}

/// Meters the first data plane of `buf` (interleaved F32 stereo) and publishes. Tolerates a
/// null buffer, missing data or chunk, out-of-range offsets and sizes, misaligned data.
/// Real-time safe.
///
/// # Safety
/// `buf` is null or points to a valid `spa_buffer` whose non-null `datas`, `data` and `chunk`
/// pointers are valid for `maxsize` bytes.
unsafe fn meter_buffer(buf: *const spa::sys::spa_buffer, rt: &mut TapRt) {
    const STRIDE: usize = CHANNELS * std::mem::size_of::<f32>();
    // SAFETY: every pointer is checked for null before it is dereferenced, and valid when not
    // null (contract above); the slice is built from an `f32`-aligned pointer inside the data,
    // and `offset + frames * STRIDE <= maxsize` because offset and size are clamped to it.
    unsafe {
        if buf.is_null() || (*buf).n_datas < 1 || (*buf).datas.is_null() {
            return;
        }
        let d = &*(*buf).datas;
        if d.data.is_null() || d.chunk.is_null() {
            return;
        }
        let chunk = &*d.chunk;
        let maxsize = d.maxsize as usize;
        let offset = (chunk.offset as usize).min(maxsize);
        let size = (chunk.size as usize).min(maxsize - offset);
        let frames = size / STRIDE;
        let ptr = (d.data as *const u8).add(offset);
        if frames > 0 && (ptr as usize).is_multiple_of(std::mem::align_of::<f32>()) {
            let samples = std::slice::from_raw_parts(ptr as *const f32, frames * CHANNELS);
            rt.meter.process(samples);
            rt.out
                .publish(rt.meter.momentary_lufs(), rt.meter.short_term_lufs());
        }
    }
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
        TapRt {
            meter: LiveMeter::loudness_only(RATE, CHANNELS),
            out: Arc::new(TapMeter::default()),
        }
    }

    #[test]
    fn callback_meters_without_allocating() {
        let mut rt = rt();
        let frames = 1024usize;
        let amp = 0.1f32; // −20 dBFS peak: −20 LUFS for a stereo 1 kHz sine
        let mut samples = vec![0f32; frames * 2];
        let mut phase = 0usize;
        let blocks = 4 * 48_000 / frames;
        for _ in 0..blocks {
            for f in 0..frames {
                let v = amp * (2.0 * std::f32::consts::PI * 1000.0 * phase as f32 / 48_000.0).sin();
                phase = (phase + 1) % 48_000;
                samples[2 * f] = v;
                samples[2 * f + 1] = v;
            }
            let size = std::mem::size_of_val(&samples[..]) as u32;
            let fb = FakeBuf::new(&mut samples, 0, size);
            let ptr = fb.spa();
            // SAFETY: `fb` and `samples` outlive the call.
            assert_no_alloc::assert_no_alloc(|| unsafe { meter_buffer(ptr, &mut rt) });
            drop(fb);
        }
        let r = rt.out.reading();
        assert!((r.momentary_lufs + 20.0).abs() < 0.2, "{r:?}");
        assert!((r.short_term_lufs + 20.0).abs() < 0.5, "{r:?}");
        assert_eq!(rt.out.updates(), blocks as u64);
    }

    #[test]
    fn callback_survives_hostile_buffers() {
        let mut rt = rt();
        let mut samples = vec![0.5f32; 64];
        let n = std::mem::size_of_val(&samples[..]) as u32;
        // SAFETY: every pointer handed in is null or points into live test data.
        unsafe {
            meter_buffer(std::ptr::null(), &mut rt);
            // Offset and size beyond the data, odd sizes, a misaligned offset.
            for (off, size) in [(n + 100, 8), (0, n + 1000), (0, 7), (2, 64), (n, 8)] {
                let fb = FakeBuf::new(&mut samples, off, size);
                assert_no_alloc::assert_no_alloc(|| meter_buffer(fb.spa(), &mut rt));
            }
            let mut fb = FakeBuf::new(&mut samples, 0, n);
            fb.data.data = std::ptr::null_mut();
            meter_buffer(fb.spa(), &mut rt);
            let mut fb = FakeBuf::new(&mut samples, 0, n);
            fb.data.chunk = std::ptr::null_mut();
            meter_buffer(fb.spa(), &mut rt);
            let mut fb = FakeBuf::new(&mut samples, 0, n);
            fb.buf.n_datas = 0;
            meter_buffer(fb.spa(), &mut rt);
        }
        // Only (0, n + 1000) was metered (its size clamps to the data); the others hold no
        // whole frame or are misaligned.
        assert_eq!(rt.out.updates(), 1);
    }
}
