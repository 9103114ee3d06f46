//! The bus: the pair of `pw_stream`s that makes the `headroom-processed` sink (a capture
//! stream with `media.class=Audio/Sink`) and its playback stream `headroom-output` into the
//! real sink, sharing `node.group`/`node.link-group`. The capture stream's real-time callback
//! ([`super::rt`]) processes into the playback stream's buffer.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::AtomicPtr;
use std::sync::Arc;
use std::time::Instant;

use headroom_core::Chain;
use pipewire as pw;
use pw::core::CoreRc;
use pw::properties::PropertiesBox;
use pw::spa;
use pw::stream::{StreamFlags, StreamListener, StreamRc};
use spa::pod::Pod;

use super::format::{format_pod, BusLayout, MAX_BLOCK, RATE};
use super::rt::{self, RtCapture, RtShared};
use super::sink_state::{SharedSinkVolume, SinkVolume};
use crate::names::{BUS_SINK_DESCRIPTION, BUS_SINK_NAME, PLAYBACK_NODE_NAME};

/// The two streams of the bus. Field order is drop order.
pub(super) struct Bus {
    capture_listener: Option<StreamListener<RtCapture>>,
    capture_io_listener: Option<StreamListener<()>>,
    capture_ctl_listener: Option<StreamListener<()>>,
    pub(super) capture: StreamRc,
    pub(super) playback: StreamRc,
    pub(super) created: Instant,
    /// Frames of latency the bus's chain adds (the limiter lookahead).
    pub(super) latency_frames: usize,
    /// The processed sink's volume as mixers set it (applied after the chain, see
    /// [`super::promote`]).
    pub(super) volume: SharedSinkVolume,
    /// The channel layout of both streams (the real sink's when the bus was made).
    pub(super) layout: BusLayout,
}

impl Drop for Bus {
    fn drop(&mut self) {
        // Stop the real-time callback before its state and the playback stream go away.
        let _ = self.capture.set_active(false);
        let _ = self.capture.disconnect();
        self.capture_listener.take();
        self.capture_io_listener.take();
        self.capture_ctl_listener.take();
        let _ = self.playback.disconnect();
    }
}

/// Creates the bus streams on `core` in `layout`, the playback stream pointed at `real_sink`;
/// the capture callback runs a new [`Chain`] for that many channels with the latest
/// parameters of `shared`. Allocates.
pub(super) fn create_bus(
    core: &CoreRc,
    shared: &Arc<RtShared>,
    real_sink: Option<&str>,
    layout: &BusLayout,
) -> Result<Bus, String> {
    let channels = layout.channels();
    let position = layout.position_prop();
    let group = format!("headroom-bus-{}", std::process::id());
    let common = |p: &mut PropertiesBox| {
        p.insert("media.type", "Audio");
        p.insert("node.group", group.as_str());
        p.insert("node.link-group", group.as_str());
        p.insert("audio.channels", channels.to_string());
        p.insert("audio.position", position.as_str());
        p.insert("audio.rate", "48000");
        p.insert("application.name", "headroomd");
        p.insert("object.linger", "false");
    };
    let mut pprops = PropertiesBox::new();
    common(&mut pprops);
    pprops.insert("media.class", "Stream/Output/Audio");
    pprops.insert("media.category", "Playback");
    pprops.insert("node.name", PLAYBACK_NODE_NAME);
    pprops.insert("node.description", "Headroom (output)");
    pprops.insert("state.restore-target", "false");
    pprops.insert("state.restore-props", "false");
    // Passive: the bus output alone does not keep the real sink (and the graph) running, so
    // with nothing playing into headroom-processed everything suspends (no idle CPU, no
    // awake sound card); a stream into headroom-processed starts it again.
    pprops.insert("node.passive", "true");
    if let Some(t) = real_sink {
        pprops.insert("target.object", t);
    }
    let mut cprops = PropertiesBox::new();
    common(&mut cprops);
    cprops.insert("media.class", "Audio/Sink");
    cprops.insert("media.category", "Capture");
    cprops.insert("node.name", BUS_SINK_NAME);
    cprops.insert("node.description", BUS_SINK_DESCRIPTION);
    cprops.insert("node.virtual", "true");
    // Under every sink that says nothing of its priority (WirePlumber counts those −1): with
    // no configured default the session manager makes headroom's sink the default only when
    // it is the only sink, and gives the default back to a real one that comes back (a
    // tie kept the sink first found, headroom's, the default after an outage).
    cprops.insert("priority.session", "-2");

    let playback = StreamRc::new(core.clone(), PLAYBACK_NODE_NAME, pprops)
        .map_err(|e| format!("playback stream: {e}"))?;
    let capture = StreamRc::new(core.clone(), BUS_SINK_NAME, cprops)
        .map_err(|e| format!("capture stream: {e}"))?;

    let position = Arc::new(AtomicPtr::new(std::ptr::null_mut()));
    let rt_state = RtCapture {
        playback: playback.as_raw_ptr(),
        chain: Chain::new(RATE, channels, MAX_BLOCK, &shared.params.latest()),
        shared: shared.clone(),
        position: position.clone(),
        next_position: 0,
        clock_id: 0,
        offset: 0,
        last_duration: 0,
        input_gain: 1.0,
        last_callback_us: 0,
        gap_silence: vec![0.0; rt::GAP_CHUNK_FRAMES * channels],
    };
    // The chain is what adds latency; the stream pair itself adds none (same cycle).
    let latency_frames = rt_state.chain.latency_frames();
    // Drain a value that is already reflected in the new chain.
    // SAFETY: no capture callback is running (the previous bus, if any, is gone).
    let _ = unsafe { shared.params.read_new() };

    let capture_listener = capture
        .add_local_listener_with_user_data(rt_state)
        // SAFETY: this is the capture stream's own process callback.
        .process(|stream, st| unsafe { rt::on_capture_process(stream.as_raw_ptr(), st) })
        .register()
        .map_err(|e| format!("capture listener: {e}"))?;
    let capture_io_listener = capture
        .add_local_listener_with_user_data(())
        .io_changed(move |_, _, id, area, size| {
            if id == spa::sys::SPA_IO_Position {
                let ok = !area.is_null()
                    && size as usize >= std::mem::size_of::<spa::sys::spa_io_position>();
                let p = if ok {
                    area as *mut spa::sys::spa_io_position
                } else {
                    std::ptr::null_mut()
                };
                position.store(p, std::sync::atomic::Ordering::Release);
            }
        })
        .register()
        .map_err(|e| format!("capture io listener: {e}"))?;

    // The sink's volume controls (what mixers set on headroom-processed), collected here and
    // applied after the chain by the housekeeping (`promote`), never from inside this event.
    let volume: SharedSinkVolume = Rc::new(RefCell::new(SinkVolume::default()));
    let capture_ctl_listener = {
        let volume = volume.clone();
        capture
            .add_local_listener_with_user_data(())
            .control_info(move |_, _, id, control| {
                if control.is_null() {
                    return;
                }
                // SAFETY: PipeWire passes a valid control for the duration of the call, its
                // `values` pointing to `n_values` floats (or null).
                let values = unsafe {
                    let c = &*control;
                    if c.values.is_null() {
                        &[][..]
                    } else {
                        std::slice::from_raw_parts(c.values, c.n_values as usize)
                    }
                };
                if let Ok(mut v) = volume.try_borrow_mut() {
                    v.update(id, values);
                }
            })
            .register()
            .map_err(|e| format!("capture control listener: {e}"))?
    };

    let fmt = format_pod(layout)?;
    let connect = |s: &StreamRc, dir, flags| {
        let pod = Pod::from_bytes(&fmt).ok_or("bad format pod")?;
        let mut params = [pod];
        s.connect(dir, None, flags, &mut params)
            .map_err(|e| format!("connect: {e}"))
    };
    let base = StreamFlags::AUTOCONNECT | StreamFlags::MAP_BUFFERS | StreamFlags::RT_PROCESS;
    connect(
        &playback,
        spa::utils::Direction::Output,
        base | StreamFlags::TRIGGER,
    )?;
    connect(&capture, spa::utils::Direction::Input, base)?;
    tracing::debug!(real_sink = ?real_sink, %layout, "bus streams connecting");
    Ok(Bus {
        capture_listener: Some(capture_listener),
        capture_io_listener: Some(capture_io_listener),
        capture_ctl_listener: Some(capture_ctl_listener),
        capture,
        playback,
        created: Instant::now(),
        latency_frames,
        volume,
        layout: layout.clone(),
    })
}
