//! Conversions between the daemon's own types (and those of the DSP and profile crates) and
//! their wire mirrors in `headroom-ipc`, which depends on neither.

use headroom_core::{MeterSnapshot, TimingSnapshot};
use headroom_ipc::{
    DspTiming, ErrorCode, HistorySample, IpcError, Meters, ProfileSource as WireSource,
    Route as WireRoute, SettingValue as WireValue, StreamInfo,
};
use headroom_profile::{ErrorKind, Route, SettingValue};

use crate::history::Sample;
use crate::profiles::{FileError, ProfileSource, StoreError};
use crate::routing::StreamRoute;

/// Wire [`Meters`] from a core [`MeterSnapshot`]. Allocation: none.
pub fn meters_from_core(m: &MeterSnapshot) -> Meters {
    Meters {
        in_momentary_lufs: m.in_momentary_lufs,
        in_short_term_lufs: m.in_short_term_lufs,
        in_integrated_lufs: m.in_integrated_lufs,
        in_true_peak_dbtp: m.in_true_peak_dbtp,
        out_momentary_lufs: m.out_momentary_lufs,
        out_short_term_lufs: m.out_short_term_lufs,
        out_integrated_lufs: m.out_integrated_lufs,
        out_true_peak_dbtp: m.out_true_peak_dbtp,
        agc_gain_db: m.agc_gain_db,
        compressor_gr_db: m.compressor_gr_db,
        limiter_gr_db: m.limiter_gr_db,
        target_lufs: m.target_lufs,
        bypass: m.bypass,
        frames: m.frames,
    }
}

/// Wire [`DspTiming`] from a core [`TimingSnapshot`]. Allocation: none.
pub fn dsp_timing_from_core(t: &TimingSnapshot) -> DspTiming {
    DspTiming {
        call_count: t.call_count,
        mean_us: t.mean_us(),
        max_us: t.max_us,
        spike_count: t.spike_count,
    }
}

/// A route from the wire.
pub fn route_from_wire(r: WireRoute) -> Route {
    match r {
        WireRoute::Processed => Route::Processed,
        WireRoute::Bypass => Route::Bypass,
    }
}

/// A route for the wire.
pub fn route_to_wire(r: Route) -> WireRoute {
    match r {
        Route::Processed => WireRoute::Processed,
        Route::Bypass => WireRoute::Bypass,
    }
}

/// A setting value for the wire: whole numbers go out as integers (`-18`, not `-18.0`).
pub fn value_to_wire(v: &SettingValue) -> WireValue {
    match v {
        SettingValue::Bool(b) => WireValue::Bool(*b),
        SettingValue::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
            WireValue::Int(*n as i64)
        }
        SettingValue::Number(n) => WireValue::Float(*n),
        SettingValue::String(s) => WireValue::String(s.clone()),
    }
}

/// A setting value from the wire.
pub fn value_from_wire(v: &WireValue) -> SettingValue {
    match v {
        WireValue::Bool(b) => SettingValue::Bool(*b),
        WireValue::Int(n) => SettingValue::Number(*n as f64),
        WireValue::Float(n) => SettingValue::Number(*n),
        WireValue::String(s) => SettingValue::String(s.clone()),
    }
}

/// Where a profile comes from, as the wire says it: shipped (also the built-in defaults) or
/// the user's.
pub fn source_to_wire(s: &ProfileSource) -> WireSource {
    match s {
        ProfileSource::Shipped | ProfileSource::BuiltIn => WireSource::Shipped,
        ProfileSource::User { .. } | ProfileSource::Path(_) => WireSource::User,
    }
}

/// The error code and message a failed `profile.use` answers with: a profile file that does
/// not load is `invalid_value` whatever is wrong in it (an unknown key in a file is no
/// `unknown_key` of `setting.*`); otherwise as [`store_error`].
pub fn profile_file_error(e: StoreError) -> IpcError {
    match &e {
        StoreError::Profile(_) => IpcError::new(ErrorCode::InvalidValue, e.to_string()),
        _ => store_error(e),
    }
}

/// The error code and message a failed profile-store operation answers with.
pub fn store_error(e: StoreError) -> IpcError {
    match &e {
        StoreError::Profile(pe) if pe.kind == ErrorKind::UnknownKey => {
            IpcError::new(ErrorCode::UnknownKey, e.to_string())
        }
        StoreError::Profile(_) | StoreError::Config(_) | StoreError::OwnNode { .. } => {
            IpcError::new(ErrorCode::InvalidValue, e.to_string())
        }
        StoreError::Unreadable { .. } => IpcError::new(
            ErrorCode::InvalidValue,
            format!("{e} (give a profile's name or the path of a .toml file)"),
        ),
        StoreError::NotFound { .. } | StoreError::NoFile { .. } => {
            IpcError::new(ErrorCode::NotFound, e.to_string())
        }
        // A file of the user's that cannot be read as text (config.toml full of binary
        // junk): the user's to fix, not the daemon's failure.
        StoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::InvalidData => {
            IpcError::new(
                ErrorCode::InvalidValue,
                format!("{e} (fix the file or remove it)"),
            )
        }
        _ => IpcError::internal(e.to_string()),
    }
}

/// A profile error as the `profile/error` event carries it (position 0 = none).
pub fn file_error_to_wire(e: FileError) -> headroom_ipc::event::ProfileError {
    headroom_ipc::event::ProfileError {
        file: e.file.display().to_string(),
        line: (e.line > 0).then_some(e.line as u32),
        column: (e.column > 0).then_some(e.column as u32),
        message: e.message,
    }
}

/// A stream for `route.list` and the `routing` events, with its Layer A reduction (`None`
/// without a tap). `target` is what the stream is linked to, else what it was sent to.
/// A stream headroom leaves where it is (its own target, the user's, `dont-reconnect`) counts
/// as `processed` when it plays into the processed sink anyway, else `bypass`.
pub fn stream_info(s: &StreamRoute, reduction: Option<f32>) -> StreamInfo {
    let in_bus = s
        .linked_to
        .as_deref()
        .is_some_and(|l| l.split(", ").any(|n| n == crate::names::BUS_SINK_NAME));
    let route = s.route.unwrap_or(if in_bus {
        headroom_profile::Route::Processed
    } else {
        headroom_profile::Route::Bypass
    });
    let cut = |t: &str| headroom_ipc::truncate_name(t, headroom_ipc::MAX_NAME_BYTES).to_owned();
    StreamInfo {
        node_id: s.node_id,
        app: cut(&s.app),
        binary: s.binary.as_deref().map(cut),
        media_name: s.media_name.as_deref().map(cut),
        matched_rule: s.matched.as_ref().map(|m| cut(&m.description)),
        route: route_to_wire(route),
        target: s.linked_to.as_deref().or(s.target.as_deref()).map(cut),
        layer_a_reduction_db: reduction,
        sink: s.linked_description.as_deref().map(cut),
        note: s.note().as_deref().map(cut),
    }
}

/// A history sample for the wire.
pub fn sample_to_wire(s: &Sample) -> HistorySample {
    HistorySample {
        unix_ms: s.unix_ms,
        in_short_term_lufs: s.in_short_term_lufs,
        out_short_term_lufs: s.out_short_term_lufs,
        agc_gain_db: s.agc_gain_db,
        compressor_gr_db: s.compressor_gr_db,
        limiter_gr_db: s.limiter_gr_db,
        dsp_mean_us: s.dsp_mean_us,
        dsp_max_us: s.dsp_max_us,
        spikes: s.spikes,
        xruns: s.xruns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_meter_field_is_carried() {
        let core = MeterSnapshot {
            in_momentary_lufs: -1.0,
            in_short_term_lufs: -2.0,
            in_integrated_lufs: -3.0,
            in_true_peak_dbtp: -4.0,
            out_momentary_lufs: -5.0,
            out_short_term_lufs: -6.0,
            out_integrated_lufs: -7.0,
            out_true_peak_dbtp: -8.0,
            agc_gain_db: 9.0,
            compressor_gr_db: 10.0,
            limiter_gr_db: 11.0,
            target_lufs: -12.0,
            bypass: true,
            frames: 13,
        };
        // Same field names on both sides: compare through JSON, so a field added to the
        // core snapshot but not mirrored here shows up as a difference.
        let a = serde_json::to_value(core).unwrap();
        let b = serde_json::to_value(meters_from_core(&core)).unwrap();
        assert_eq!(a, b);
        let t = TimingSnapshot {
            call_count: 4,
            sum_us: 10,
            max_us: 5,
            spike_count: 1,
            last_spike_us: 5,
            last_spike_at_call: 3,
        };
        let d = dsp_timing_from_core(&t);
        assert_eq!(
            (d.call_count, d.mean_us, d.max_us, d.spike_count),
            (4, 2.5, 5, 1)
        );
    }

    /// The wire crate does not depend on the DSP crate, so it states the floor again.
    #[test]
    fn the_wire_floor_is_the_dsp_floor() {
        assert_eq!(
            f64::from(headroom_ipc::LUFS_FLOOR),
            headroom_core::LUFS_FLOOR
        );
    }

    #[test]
    fn values_and_routes_round_trip() {
        for v in [
            SettingValue::Bool(true),
            SettingValue::Number(-18.0),
            SettingValue::Number(1.5),
            SettingValue::String("x".into()),
        ] {
            assert_eq!(value_from_wire(&value_to_wire(&v)), v);
        }
        assert_eq!(
            value_to_wire(&SettingValue::Number(-18.0)),
            WireValue::Int(-18)
        );
        for r in Route::ALL {
            assert_eq!(route_from_wire(route_to_wire(r)), r);
        }
    }
}
