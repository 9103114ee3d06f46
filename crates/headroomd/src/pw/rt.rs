//! The real-time side of the bus: the capture stream's process callback and the lock-free
//! hand-offs it uses.
//!
//! Everything here that runs in the callback is real-time safe: no allocation, lock, logging
//! or panic, and exactly one kind of syscall-like call: `clock_gettime(CLOCK_MONOTONIC)`,
//! which Linux serves from the vDSO without entering the kernel, to time the callback. In
//! debug builds the callback body runs under `assert_no_alloc`, so an allocation aborts the
//! daemon loudly instead of going unnoticed.
//!
//! Denormals: the callback's own code only copies samples; the arithmetic happens in
//! [`headroom_core::Chain`], which flushes denormals in its state itself (changing the FPU
//! control register from Rust code is not sound).

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use headroom_core::{AtomicMeters, Chain, ChainParams, MeterSnapshot, PlaybackTiming};
use parking_lot::Mutex;
use pipewire::spa::sys as spa_sys;
use pipewire::sys as pw_sys;

use super::format::RATE;
use super::taps::TapReadings;

const DIRTY: u8 = 0b100;
const INDEX: u8 = 0b011;

/// A lock-free "latest value" mailbox (triple buffer) for `Copy` values: one writer at a time
/// (serialised by a mutex on the non-real-time side), one real-time reader at a time.
///
/// The writer fills the slot it owns and swaps it with the shared middle slot; the reader, when
/// the middle slot is marked new, swaps it with the slot it owns. No slot is ever accessed by
/// both sides at once, and a value written while the reader is not running (e.g. the stream is
/// idle) is never lost: the reader always gets the latest one.
pub struct Mailbox<T: Copy> {
    slots: [UnsafeCell<T>; 3],
    /// Index of the middle slot, with [`DIRTY`] set when it holds a value not yet read.
    middle: AtomicU8,
    /// Index of the slot the reader owns. Only the (single) reader touches it.
    front: AtomicU8,
    /// Index of the slot the writer owns, and the latest value written.
    writer: Mutex<(u8, T)>,
}

// SAFETY: the index protocol above guarantees that a slot is accessed by at most one side at a
// time; the writer side is serialised by `writer`, the reader side by the single-reader contract
// of `read_new` (documented as unsafe there).
unsafe impl<T: Copy + Send> Sync for Mailbox<T> {}
// SAFETY: the mailbox owns its slots; sending it moves `T` values, which are `Send`.
unsafe impl<T: Copy + Send> Send for Mailbox<T> {}

impl<T: Copy> Mailbox<T> {
    /// Creates a mailbox holding `initial` (not marked new). Allocates nothing beyond itself.
    pub fn new(initial: T) -> Self {
        Self {
            slots: [
                UnsafeCell::new(initial),
                UnsafeCell::new(initial),
                UnsafeCell::new(initial),
            ],
            middle: AtomicU8::new(1),
            front: AtomicU8::new(0),
            writer: Mutex::new((2, initial)),
        }
    }

    /// Publishes `value`. Not real-time safe (takes a mutex); never blocks the reader.
    pub fn write(&self, value: T) {
        let mut w = self.writer.lock();
        // SAFETY: slot `w.0` is owned by the writer (it is neither middle nor front).
        unsafe { *self.slots[(w.0 & INDEX) as usize].get() = value };
        let old_middle = self.middle.swap(w.0 | DIRTY, Ordering::AcqRel);
        w.0 = old_middle & INDEX;
        w.1 = value;
    }

    /// The latest value written (or the initial one). Not real-time safe.
    pub fn latest(&self) -> T {
        self.writer.lock().1
    }

    /// Returns the newest value if one arrived since the last call. Real-time safe: one load,
    /// at most one atomic swap, one copy.
    ///
    /// # Safety
    /// Only one thread may call this at a time (the audio callback; a new callback owner takes
    /// over only after the previous one has stopped).
    pub unsafe fn read_new(&self) -> Option<T> {
        if self.middle.load(Ordering::Relaxed) & DIRTY == 0 {
            return None;
        }
        let front = self.front.load(Ordering::Relaxed);
        let new_front = self.middle.swap(front & INDEX, Ordering::AcqRel) & INDEX;
        self.front.store(new_front, Ordering::Relaxed);
        // SAFETY: `new_front` is now owned by the reader alone.
        Some(unsafe { *self.slots[new_front as usize].get() })
    }
}

/// State shared between the handle and every incarnation of the real-time callback.
pub struct RtShared {
    /// Parameters for the chain.
    pub params: Mailbox<ChainParams>,
    /// Meters published after every callback.
    pub meters: Arc<AtomicMeters>,
    /// Callback durations.
    pub timing: Arc<PlaybackTiming>,
    /// Cycles the bus missed (graph position jumped past the expected one) plus cycles where
    /// the playback stream had no free buffer.
    pub xruns: Arc<AtomicU64>,
    /// Callbacks in which audio was processed.
    pub processed_blocks: AtomicU64,
    /// Meters of the Layer A taps (survives reconnects).
    pub taps: TapReadings,
    /// Linear gain (`f32` bits) the captured audio gets before the chain: Layer A's cut of a
    /// stream that plays alone, taken off again
    /// ([`crate::routing::RoutingController::bus_compensation_db`]). 1.0 for none.
    pub input_gain: AtomicU32,
}

/// Frames over which a new input gain is ramped to at the start of the block it comes in
/// (1.3 ms at 48 kHz), then held. A stream's own volume — which the gain compensates, and
/// which the engine changes at the same moment (bypass, Layer A's cut) — changes in one step
/// at the start of a cycle; ramped across the whole block, the gain trailed it by up to a
/// quantum: with bypass turned on at quantum 2048 the output came 9 dB over the source for
/// 45 ms (9 dB under when it was turned off).
pub const INPUT_GAIN_RAMP_FRAMES: usize = 64;

/// Largest input gain the callback applies (+24 dB); anything else (not finite, under 1)
/// counts as none.
pub const MAX_INPUT_GAIN: f32 = 15.85;

impl RtShared {
    /// The input gain to apply, linear, in `[1, MAX_INPUT_GAIN]`. Real-time safe.
    pub fn input_gain(&self) -> f32 {
        let g = f32::from_bits(self.input_gain.load(Ordering::Relaxed));
        if (1.0..=MAX_INPUT_GAIN).contains(&g) {
            g
        } else {
            1.0
        }
    }
}

/// Per-connection state of the capture stream's process callback.
pub struct RtCapture {
    /// The playback stream of the same bus (valid for as long as this state is used: the
    /// capture stream is disconnected before the playback stream is destroyed).
    pub playback: *mut pw_sys::pw_stream,
    /// The levelling chain.
    pub chain: Chain,
    /// Shared hand-offs.
    pub shared: Arc<RtShared>,
    /// The capture stream's `spa_io_position`, set from the `io_changed` event.
    pub position: Arc<AtomicPtr<spa_sys::spa_io_position>>,
    /// Graph position at which the next cycle is expected (0: unknown).
    pub next_position: u64,
    /// Driver clock id of the last cycle.
    pub clock_id: u32,
    /// Running-time offset of the graph position in the last cycle.
    pub offset: i64,
    /// Duration of the last cycle, frames.
    pub last_duration: u64,
    /// Input gain applied at the end of the last block (linear; see `RtShared::input_gain`).
    pub input_gain: f32,
    /// When the last callback began (monotonic µs; 0: none yet).
    pub last_callback_us: u64,
    /// Scratch for the silence of a pause ([`GAP_CHUNK_FRAMES`] frames, interleaved;
    /// allocated with the bus).
    pub gap_silence: Vec<f32>,
}

/// A pause between two callbacks longer than this, µs, is silence the chain is told of: the
/// graph stops calling an idle sink, so between two streams (one track ending, the next
/// starting 3 s later) the chain heard no silence, took the next programme for the last
/// one going on more quietly and held a quiet track 8–11 LU under the target for 5–8 s,
/// where `headroom render` of the same two tracks with the silence between them levelled
/// it at once. Longer than any cycle (8192 frames at 48 kHz: 171 ms).
pub const GAP_MIN_US: u64 = 300_000;
/// Most silence run through the chain after a pause, µs: enough for the AGC to see a gap
/// (its momentary window empty, then `agc::GAP_S`), about 1–2 ms of work.
pub const GAP_FEED_MAX_US: u64 = 1_200_000;
/// Frames of silence run through the chain at a time.
pub const GAP_CHUNK_FRAMES: usize = 1024;

/// Longest jump of the graph position, in cycles, still counted as an xrun (longer ones are
/// suspend/resume).
pub const MAX_XRUN_CYCLES: u64 = 8;

/// Monotonic clock in microseconds. `clock_gettime(CLOCK_MONOTONIC)` is answered by the vDSO
/// on Linux (no kernel entry), which is acceptable in the callback.
#[inline]
pub fn monotonic_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer to a timespec on the stack.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000)
        .wrapping_add(ts.tv_nsec as u64 / 1_000)
}

/// The capture stream's process callback: a thin wrapper over [`process_inner`], run under
/// `assert_no_alloc` in debug builds.
///
/// # Safety
/// Call only from the process callback of `capture`, the capture stream `st` belongs to.
pub unsafe fn on_capture_process(capture: *mut pw_sys::pw_stream, st: &mut RtCapture) {
    // SAFETY: forwarded contract.
    #[cfg(debug_assertions)]
    assert_no_alloc::assert_no_alloc(|| unsafe { process_inner(capture, st) });
    // SAFETY: forwarded contract.
    #[cfg(not(debug_assertions))]
    unsafe {
        process_inner(capture, st)
    };
}

/// Dequeues the captured buffer and a free playback buffer, copies and levels the audio into
/// the playback buffer, queues both and triggers the playback stream. Real-time safe.
///
/// # Safety
/// Call only from the process callback of `capture`, the capture stream `st` belongs to.
pub unsafe fn process_inner(capture: *mut pw_sys::pw_stream, st: &mut RtCapture) {
    let t0 = monotonic_us();
    // SAFETY: single reader: only this callback reads the mailbox, and only one capture stream
    // is connected at a time.
    if let Some(p) = unsafe { st.shared.params.read_new() } {
        st.chain.set_params(&p);
    }
    check_position(st);
    feed_pause(st, t0);

    // SAFETY: called from the capture stream's own process callback; `st.playback` belongs to
    // the same bus and outlives the capture stream's connection.
    //
    // The playback stream is a trigger node: the real sink waits for it in every cycle, and
    // only this callback triggers it. So it is triggered in every cycle whatever happens here
    // (no input buffer, no free output buffer): a cycle without the trigger would stall the
    // real sink and glitch everything it plays, not only the bus. Older input buffers that
    // piled up (the callback could not keep up) are recycled and only the newest one is
    // played, so a late cycle never turns into latency that stays.
    unsafe {
        let mut inb = pw_sys::pw_stream_dequeue_buffer(capture);
        if !inb.is_null() {
            loop {
                let next = pw_sys::pw_stream_dequeue_buffer(capture);
                if next.is_null() {
                    break;
                }
                st.shared.xruns.fetch_add(1, Ordering::Relaxed);
                pw_sys::pw_stream_queue_buffer(capture, inb);
                inb = next;
            }
        }
        let outb = pw_sys::pw_stream_dequeue_buffer(st.playback);
        if outb.is_null() {
            st.shared.xruns.fetch_add(1, Ordering::Relaxed);
        } else {
            let gain = (st.input_gain, st.shared.input_gain());
            st.input_gain = copy_and_process(inb, outb, &mut st.chain, gain);
            pw_sys::pw_stream_queue_buffer(st.playback, outb);
        }
        if !inb.is_null() {
            pw_sys::pw_stream_queue_buffer(capture, inb);
        }
        pw_sys::pw_stream_trigger_process(st.playback);
    }
    st.shared
        .meters
        .store(&as_delivered(st.chain.meters(), st.input_gain));
    st.shared.processed_blocks.fetch_add(1, Ordering::Relaxed);
    st.shared.timing.record(monotonic_us().saturating_sub(t0));
}

/// After a pause of the callbacks (the graph stopped calling the idle sink between two
/// streams), runs the chain over the silence that passed, up to [`GAP_FEED_MAX_US`], and
/// drops what it puts out (the tail of the sound before the pause in its lookahead line,
/// never played: the graph had stopped). Real-time safe: the scratch is allocated with the
/// bus; at most ≈ 58 000 frames of silence, once per pause.
fn feed_pause(st: &mut RtCapture, now_us: u64) {
    let last = std::mem::replace(&mut st.last_callback_us, now_us);
    if last == 0 {
        return;
    }
    let since = now_us.saturating_sub(last);
    if since <= GAP_MIN_US {
        return;
    }
    // The last callback's own block covers its cycle; the rest is the pause.
    let cycle_us = st.last_duration.saturating_mul(1_000_000) / u64::from(RATE);
    let pause_us = since.saturating_sub(cycle_us).min(GAP_FEED_MAX_US);
    let mut frames = (pause_us * u64::from(RATE) / 1_000_000) as usize;
    let channels = st.chain.channels().max(1);
    while frames > 0 {
        let n = frames.min(st.gap_silence.len() / channels);
        if n == 0 {
            break;
        }
        if let Some(buf) = st.gap_silence.get_mut(..n * channels) {
            buf.fill(0.0);
            st.chain.process(buf);
        }
        frames -= n;
    }
}

/// The chain's meters with the input readings as the bus receives them, before the input
/// gain `gain` (linear; [`RtShared::input_gain`]) the chain's input got: the `in` loudness
/// and true peak are what the apps deliver (through their volumes), not Layer A's cut taken
/// off again — a compensation of 10 dB read a loud app's peaks at +10 dBTP and raised
/// `input_clipping` for an app that clipped nothing. The loudness windows (and the
/// integrated loudness) are shifted by the gain in force now, exact while it holds.
/// Readings at or under the meters' floor ([`headroom_core::LUFS_FLOOR`]) stay as they are.
/// Real-time safe (no `log10` while the gain is 1).
fn as_delivered(mut m: MeterSnapshot, gain: f32) -> MeterSnapshot {
    if gain == 1.0 || !gain.is_finite() || gain <= 0.0 {
        return m;
    }
    let db = 20.0 * gain.log10();
    let floor = headroom_core::LUFS_FLOOR as f32;
    for v in [
        &mut m.in_momentary_lufs,
        &mut m.in_short_term_lufs,
        &mut m.in_integrated_lufs,
        &mut m.in_true_peak_dbtp,
    ] {
        if *v > floor {
            *v = (*v - db).max(floor);
        }
    }
    m
}

/// Counts cycles the graph ran without us: each callback expects the graph position to have
/// advanced by exactly the previous cycle's duration. A jump of up to [`MAX_XRUN_CYCLES`]
/// cycles on the same clock within one run of the graph is an xrun; a change of driver clock
/// or running-time offset, or a longer jump (the graph was suspended and resumed), only
/// re-synchronises.
fn check_position(st: &mut RtCapture) {
    let pos = st.position.load(Ordering::Acquire);
    if pos.is_null() {
        st.next_position = 0;
        return;
    }
    // SAFETY: PipeWire keeps the io area mapped while it is set on the stream; it is cleared
    // (set to NULL through io_changed) before being unmapped. Plain reads of integers.
    let (clock_id, position, duration, offset) = unsafe {
        let clock = std::ptr::addr_of!((*pos).clock);
        (
            std::ptr::read_volatile(std::ptr::addr_of!((*clock).id)),
            std::ptr::read_volatile(std::ptr::addr_of!((*clock).position)),
            std::ptr::read_volatile(std::ptr::addr_of!((*clock).duration)),
            std::ptr::read_volatile(std::ptr::addr_of!((*pos).offset)),
        )
    };
    // A restarted graph (resume after suspend, reconfiguration) gets a new running-time offset.
    let same_run = clock_id == st.clock_id && offset == st.offset;
    if st.next_position != 0 && same_run && position > st.next_position {
        let gap = position - st.next_position;
        if gap <= st.last_duration.saturating_mul(MAX_XRUN_CYCLES) {
            st.shared.xruns.fetch_add(1, Ordering::Relaxed);
        }
    }
    st.clock_id = clock_id;
    st.offset = offset;
    st.last_duration = duration;
    st.next_position = position.wrapping_add(duration);
}

/// Copies the captured interleaved F32 frames into the playback buffer and runs the chain on
/// them in place; silence when the capture buffer carries no usable data (no data plane, null
/// data or chunk, or a chunk offset that leaves the samples misaligned). Offsets and sizes
/// beyond `maxsize` are clamped to it. An output buffer without a usable, `f32`-aligned data
/// plane is left untouched. A null `inb` (no capture buffer this cycle) also plays silence.
///
/// `gain` `(from, to)`: the input gain (linear) at the end of the last block and the one
/// wanted now; the block is ramped from one to the other (nothing is done at unity). Returns
/// the gain in force at the block's end. Real-time safe.
///
/// # Safety
/// `inb` (when not null) and `outb` are buffers just dequeued from the capture and playback streams: each is
/// valid, and its `spa_buffer`, `datas`, `data` and `chunk` pointers are null or valid, `data`
/// for `maxsize` bytes.
unsafe fn copy_and_process(
    inb: *mut pw_sys::pw_buffer,
    outb: *mut pw_sys::pw_buffer,
    chain: &mut Chain,
    gain: (f32, f32),
) -> f32 {
    let channels = chain.channels().max(1);
    let stride = channels * std::mem::size_of::<f32>();
    const ALIGN: usize = std::mem::align_of::<f32>();
    // SAFETY: every pointer is checked for null (and, before a slice is built on it, for
    // `f32` alignment) before it is dereferenced, and valid when not null (contract above).
    // Input: offset and size are clamped to `maxsize`, so `offset + in_frames * stride` stays
    // inside the data. Output: `n <= out_cap`, so `n * stride <= maxsize`. The two buffers are
    // distinct, so the slices do not overlap.
    unsafe {
        // No input buffer at all (the capture stream had none this cycle): a quantum of
        // silence keeps the playback stream's cycle.
        let no_input = inb.is_null();
        let ib = if no_input {
            std::ptr::null_mut()
        } else {
            (*inb).buffer
        };
        let ob = (*outb).buffer;
        if (ib.is_null() && !no_input) || ob.is_null() || (*ob).n_datas < 1 || (*ob).datas.is_null()
        {
            return gain.0;
        }
        let od = &mut *(*ob).datas;
        if od.data.is_null() || od.chunk.is_null() || !(od.data as usize).is_multiple_of(ALIGN) {
            return gain.0;
        }
        // Frames available in the input.
        let mut in_frames = 0usize;
        let mut in_ptr: *const f32 = std::ptr::null();
        if !ib.is_null() && (*ib).n_datas >= 1 && !(*ib).datas.is_null() {
            let id = &*(*ib).datas;
            if !id.data.is_null() && !id.chunk.is_null() {
                let chunk = &*id.chunk;
                let maxsize = id.maxsize as usize;
                let offset = (chunk.offset as usize).min(maxsize);
                let size = (chunk.size as usize).min(maxsize - offset);
                let ptr = (id.data as *const u8).add(offset);
                // A misaligned slice is undefined behaviour: such a buffer counts as no data.
                if (ptr as usize).is_multiple_of(ALIGN) {
                    in_frames = size / stride;
                    in_ptr = ptr as *const f32;
                }
            }
        }
        let out_cap = od.maxsize as usize / stride;
        let mut n = in_frames.min(out_cap);
        if in_ptr.is_null() {
            // No data: play a quantum of silence (requested size, else the whole buffer).
            let req = (*outb).requested as usize;
            n = if req > 0 { req.min(out_cap) } else { out_cap };
        }
        let out = std::slice::from_raw_parts_mut(od.data as *mut f32, n * channels);
        if in_ptr.is_null() {
            out.fill(0.0);
        } else {
            let input = std::slice::from_raw_parts(in_ptr, n * channels);
            out.copy_from_slice(input);
        }
        let (from, to) = gain;
        let in_force = if n == 0 {
            from
        } else {
            if from != 1.0 || to != 1.0 {
                // Over the block's first `INPUT_GAIN_RAMP_FRAMES`, then held.
                headroom_core::util::gain_ramp(
                    out,
                    channels,
                    from,
                    to,
                    0,
                    n.min(INPUT_GAIN_RAMP_FRAMES),
                );
            }
            to
        };
        chain.process(out);
        let oc = &mut *od.chunk;
        oc.offset = 0;
        oc.stride = stride as i32;
        oc.size = (n * stride) as u32;
        (*outb).size = n as u64;
        in_force
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake_buffer::FakeBuf;
    use super::*;

    /// Channels of the bus in these tests (a stereo real sink).
    const CHANNELS: usize = 2;

    #[test]
    fn mailbox_delivers_latest_once() {
        let m = Mailbox::new(0u32);
        // SAFETY: single reader in this test.
        unsafe {
            assert_eq!(m.read_new(), None);
            m.write(1);
            m.write(2);
            m.write(3);
            assert_eq!(m.read_new(), Some(3));
            assert_eq!(m.read_new(), None);
            m.write(4);
            assert_eq!(m.read_new(), Some(4));
        }
        assert_eq!(m.latest(), 4);
    }

    #[test]
    fn mailbox_concurrent_reader_sees_monotonic_values() {
        let m = Arc::new(Mailbox::new(0u64));
        let w = {
            let m = m.clone();
            std::thread::spawn(move || {
                for i in 1..=100_000u64 {
                    m.write(i);
                }
            })
        };
        let mut last = 0;
        let mut reads = 0;
        while last < 100_000 {
            // SAFETY: this thread is the only reader.
            if let Some(v) = unsafe { m.read_new() } {
                assert!(v > last, "value went back: {v} after {last}");
                last = v;
                reads += 1;
            }
            if w.is_finished() && reads > 0 && last < 100_000 {
                // The final value must still arrive.
                // SAFETY: single reader.
                let v = unsafe { m.read_new() };
                assert_eq!(v, Some(100_000));
                last = 100_000;
            }
        }
        w.join().unwrap();
    }

    fn chain() -> Chain {
        Chain::new(
            super::super::format::RATE,
            CHANNELS,
            super::super::format::MAX_BLOCK,
            &ChainParams::default(),
        )
    }

    /// Runs `copy_and_process` on the two buffers with allocation forbidden.
    fn run(inb: &mut FakeBuf, outb: &mut FakeBuf, chain: &mut Chain) {
        run_with_gain(inb, outb, chain, (1.0, 1.0));
    }

    /// [`run`] with an input gain `(from, to)`; returns the gain in force after it.
    fn run_with_gain(
        inb: &mut FakeBuf,
        outb: &mut FakeBuf,
        chain: &mut Chain,
        gain: (f32, f32),
    ) -> f32 {
        let (i, o): (*mut pw_sys::pw_buffer, *mut pw_sys::pw_buffer) = (&mut inb.pw, &mut outb.pw);
        // SAFETY: both buffers and the memory they point to outlive the call.
        assert_no_alloc::assert_no_alloc(|| unsafe { copy_and_process(i, o, chain, gain) })
    }

    /// The input gain reaches the chain as if the input were that much louder: ramped over
    /// the first `INPUT_GAIN_RAMP_FRAMES` of the block it changes in, steady after that; no
    /// block, no change.
    #[test]
    fn the_input_gain_reaches_the_chain() {
        let sig = |k: usize| {
            (
                (k as f32 * 0.05).sin() * 0.2,
                (k as f32 * 0.031).cos() * 0.2,
            )
        };
        let (mut a, mut b) = (chain(), chain());
        let mut g = 1.0f32;
        for block in 0..20usize {
            let mut plain: Vec<f32> = (0..256)
                .flat_map(|k| {
                    let (l, r) = sig(block * 256 + k);
                    [l, r]
                })
                .collect();
            // The same input made louder by hand: 1 → 2 over the start of block 5, then 2.
            let mut louder = plain.clone();
            let to = if block >= 5 { 2.0 } else { 1.0 };
            headroom_core::util::gain_ramp(&mut louder, CHANNELS, g, to, 0, INPUT_GAIN_RAMP_FRAMES);
            if block == 5 {
                // Reached within the ramp: the block's last 192 frames are exactly doubled.
                let tail = 2 * (256 - 192);
                assert!(louder[tail..]
                    .iter()
                    .zip(&plain[tail..])
                    .all(|(l, p)| *l == 2.0 * p));
            }
            let (mut oa, mut ob) = (vec![0.0f32; 512], vec![0.0f32; 512]);
            let mut ia = FakeBuf::new(&mut plain, 0, 256 * 8);
            let mut out_a = FakeBuf::new(&mut oa, 0, 0);
            g = run_with_gain(&mut ia, &mut out_a, &mut a, (g, to));
            assert_eq!(g, to);
            let mut ib = FakeBuf::new(&mut louder, 0, 256 * 8);
            let mut out_b = FakeBuf::new(&mut ob, 0, 0);
            run(&mut ib, &mut out_b, &mut b);
            drop((ia, out_a, ib, out_b));
            assert_eq!(oa, ob, "block {block}");
        }
        // No block: the gain in force stays.
        let mut o = vec![0.0f32; 512];
        let mut ob = FakeBuf::new(&mut o, 0, 0);
        let mut empty: Vec<f32> = Vec::new();
        let mut ie = FakeBuf::new(&mut empty, 0, 0);
        assert_eq!(run_with_gain(&mut ie, &mut ob, &mut a, (2.0, 3.0)), 2.0);
    }

    /// The `in` readings published are the input as it arrived, before the input gain: a
    /// chain fed the input 12 dB up reads it 12 dB higher, published back where it was; the
    /// output's readings and the meters' floor are left alone.
    #[test]
    fn the_input_meters_read_the_input_before_the_input_gain() {
        let (mut plain, mut raised) = (chain(), chain());
        let g = 10f32.powf(12.0 / 20.0);
        for block in 0..100usize {
            let mut x: Vec<f32> = (0..2 * 256)
                .map(|k| ((block * 512 + k) as f32 * 0.043).sin() * 0.05)
                .collect();
            plain.process(&mut x.clone());
            x.iter_mut().for_each(|v| *v *= g);
            raised.process(&mut x);
        }
        let (p, r) = (plain.meters(), raised.meters());
        assert!((r.in_short_term_lufs - p.in_short_term_lufs - 12.0).abs() < 0.01);
        let d = as_delivered(r, g);
        for (got, want) in [
            (d.in_momentary_lufs, p.in_momentary_lufs),
            (d.in_short_term_lufs, p.in_short_term_lufs),
            (d.in_integrated_lufs, p.in_integrated_lufs),
            (d.in_true_peak_dbtp, p.in_true_peak_dbtp),
        ] {
            assert!((got - want).abs() < 0.01, "{got} against {want}");
        }
        assert_eq!(d.out_short_term_lufs, r.out_short_term_lufs);
        assert_eq!(d.out_true_peak_dbtp, r.out_true_peak_dbtp);
        assert_eq!(as_delivered(r, 1.0), r);
        let quiet = MeterSnapshot {
            in_short_term_lufs: headroom_core::LUFS_FLOOR as f32,
            in_momentary_lufs: -65.0,
            ..r
        };
        let d = as_delivered(quiet, g);
        assert_eq!(d.in_short_term_lufs, headroom_core::LUFS_FLOOR as f32);
        assert_eq!(d.in_momentary_lufs, headroom_core::LUFS_FLOOR as f32);
    }

    #[test]
    fn copy_and_process_passes_whole_frames_through() {
        let mut chain = chain();
        let mut input = vec![0.25f32; 2 * 256];
        let mut output = vec![9.0f32; 2 * 1024];
        // 256 frames plus 3 stray bytes: whole frames only.
        let mut inb = FakeBuf::new(&mut input, 0, 256 * 8 + 3);
        let mut outb = FakeBuf::new(&mut output, 0, 0);
        run(&mut inb, &mut outb, &mut chain);
        assert_eq!(outb.chunk.size, 256 * 8);
        assert_eq!(outb.chunk.stride, 8);
        assert_eq!(outb.chunk.offset, 0);
        assert_eq!(outb.pw.size, 256);
        drop((inb, outb));
        assert!(output[..512]
            .iter()
            .all(|x| x.is_finite() && x.abs() <= 1.0));
        assert!(
            output[512..].iter().all(|&x| x == 9.0),
            "wrote past the frames"
        );
    }

    /// A bus in a 5.1 real sink's layout: frames of six channels, each channel processed and
    /// kept in its place (the same as a chain run on the samples directly).
    #[test]
    fn copy_and_process_keeps_every_channel_of_a_surround_bus() {
        const SIX: usize = 6;
        let new_chain = || {
            Chain::new(
                super::super::format::RATE,
                SIX,
                super::super::format::MAX_BLOCK,
                &ChainParams::default(),
            )
        };
        let (mut chain, mut reference) = (new_chain(), new_chain());
        let frames = 480;
        let mut input: Vec<f32> = (0..frames * SIX)
            .map(|i| {
                let (k, c) = ((i / SIX) as f32, (i % SIX) as f32);
                0.1 * (c + 1.0) * (k * 0.01 * (c + 1.0)).sin()
            })
            .collect();
        let mut want = input.clone();
        let mut output = vec![9.0f32; (frames + 100) * SIX];
        let mut inb = FakeBuf::new(&mut input, 0, (frames * SIX * 4) as u32);
        let mut outb = FakeBuf::new(&mut output, 0, 0);
        run(&mut inb, &mut outb, &mut chain);
        assert_eq!(outb.chunk.size, (frames * SIX * 4) as u32);
        assert_eq!(outb.chunk.stride, (SIX * 4) as i32);
        assert_eq!(outb.pw.size, frames as u64);
        drop((inb, outb));
        reference.process(&mut want);
        assert_eq!(&output[..frames * SIX], &want[..]);
        assert!(
            output[frames * SIX..].iter().all(|&x| x == 9.0),
            "wrote past the frames"
        );
        // Past the lookahead every channel carries its own signal.
        let late = &output[200 * SIX..frames * SIX];
        for c in 0..SIX {
            assert!(
                late.iter().skip(c).step_by(SIX).any(|x| x.abs() > 1e-3),
                "channel {c} silent"
            );
        }
    }
    #[test]
    fn copy_and_process_survives_hostile_input_buffers() {
        let mut chain = chain();
        let mut input = vec![0.5f32; 2 * 64];
        let n = std::mem::size_of_val(&input[..]) as u32;
        let mut output = vec![0f32; 2 * 32];
        // (offset, size, expected output frames): out of range offsets and sizes clamp to
        // the data and then to the output's capacity; a misaligned offset counts as no data
        // (a quantum of silence of the requested 16 frames).
        for (off, size, want) in [
            (n + 100, 8, 0),
            (0, n + 1000, 32),
            (n - 8, 64, 1),
            (2, 64, 16),
            (0, 7, 0),
        ] {
            let mut inb = FakeBuf::new(&mut input, off, size);
            let mut outb = FakeBuf::new(&mut output, 0, 12345);
            outb.pw.requested = 16;
            run(&mut inb, &mut outb, &mut chain);
            assert_eq!(outb.chunk.size, want * 8, "offset {off} size {size}");
            assert_eq!(outb.pw.size, u64::from(want));
        }
        // Missing data plane, null plane pointer, null data, null chunk, null spa_buffer: a
        // quantum of silence, never the stale contents of the output buffer.
        for case in 0..5 {
            // A fresh chain: nothing of the audio above is still in its delay line.
            let mut chain = self::chain();
            let mut inb = FakeBuf::new(&mut input, 0, n);
            match case {
                0 => inb.buf.n_datas = 0,
                1 => inb.buf.datas = std::ptr::null_mut(),
                2 => inb.data.data = std::ptr::null_mut(),
                3 => inb.data.chunk = std::ptr::null_mut(),
                _ => inb.pw.buffer = std::ptr::null_mut(),
            }
            output.fill(7.0);
            let mut outb = FakeBuf::new(&mut output, 0, 12345);
            outb.pw.requested = 16;
            run(&mut inb, &mut outb, &mut chain);
            if case < 4 {
                assert_eq!(outb.chunk.size, 16 * 8, "case {case}");
                drop(outb);
                assert!(output[..32].iter().all(|&x| x == 0.0), "case {case}");
            } else {
                // Without an input spa_buffer nothing is written.
                assert_eq!(outb.chunk.size, 12345);
            }
        }
    }

    #[test]
    fn copy_and_process_plays_silence_without_an_input_buffer() {
        let mut chain = chain();
        let mut output = vec![7.0f32; 2 * 64];
        let mut outb = FakeBuf::new(&mut output, 0, 12345);
        outb.pw.requested = 16;
        let o: *mut pw_sys::pw_buffer = &mut outb.pw;
        // SAFETY: the output buffer and its memory outlive the call; a null input is allowed.
        assert_no_alloc::assert_no_alloc(|| unsafe {
            copy_and_process(std::ptr::null_mut(), o, &mut chain, (1.0, 1.0))
        });
        assert_eq!(outb.chunk.size, 16 * 8);
        drop(outb);
        assert!(output[..32].iter().all(|&x| x == 0.0));
    }

    #[test]
    fn copy_and_process_leaves_unusable_output_buffers_alone() {
        let mut chain = chain();
        let mut input = vec![0.5f32; 2 * 64];
        let n = std::mem::size_of_val(&input[..]) as u32;
        let mut output = vec![0f32; 2 * 64 + 1];
        for case in 0..5 {
            let mut inb = FakeBuf::new(&mut input, 0, n);
            let mut outb = FakeBuf::new(&mut output[..128], 0, 12345);
            match case {
                0 => outb.buf.n_datas = 0,
                1 => outb.buf.datas = std::ptr::null_mut(),
                2 => outb.data.data = std::ptr::null_mut(),
                3 => {
                    // Misaligned by two bytes (still inside the allocation).
                    // SAFETY: 2 bytes into a 516-byte allocation.
                    outb.data.data = unsafe { outb.data.data.cast::<u8>().add(2).cast() };
                }
                _ => outb.pw.buffer = std::ptr::null_mut(),
            }
            run(&mut inb, &mut outb, &mut chain);
            assert_eq!(outb.chunk.size, 12345, "case {case}");
        }
    }

    #[test]
    fn monotonic_clock_advances() {
        let a = monotonic_us();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(monotonic_us() >= a + 1000);
    }
}
