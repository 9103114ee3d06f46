//! The audio format of the bus and the Layer A taps, and the PipeWire params (pods) headroomd
//! sends: the stream format and a stream's master volume.

use pipewire::spa;

/// Channels of the bus.
pub const CHANNELS: usize = 2;
/// Sample rate of the bus, Hz.
pub const RATE: u32 = 48_000;
/// Largest block the chain processes in one internal step, frames.
pub const MAX_BLOCK: usize = 2048;

/// The bus's (and the Layer A taps') audio format: F32 interleaved, 48 kHz, FL FR.
pub(super) fn format_pod() -> Result<Vec<u8>, String> {
    let mut info = spa::param::audio::AudioInfoRaw::new();
    info.set_format(spa::param::audio::AudioFormat::F32LE);
    info.set_rate(RATE);
    info.set_channels(CHANNELS as u32);
    let mut position = [0; spa::param::audio::MAX_CHANNELS];
    position[0] = spa::sys::SPA_AUDIO_CHANNEL_FL;
    position[1] = spa::sys::SPA_AUDIO_CHANNEL_FR;
    info.set_position(position);
    spa::pod::serialize::PodSerializer::serialize(
        std::io::Cursor::new(Vec::new()),
        &spa::pod::Value::Object(spa::pod::Object {
            type_: spa::sys::SPA_TYPE_OBJECT_Format,
            id: spa::sys::SPA_PARAM_EnumFormat,
            properties: info.into(),
        }),
    )
    .map(|(c, _)| c.into_inner())
    .map_err(|e| format!("serialising the format: {e:?}"))
}

/// A Props param setting the stream's master `volume` to `volume`. Layer A owns this property
/// and leaves `channelVolumes` alone: that is the volume desktop mixers (pavucontrol, wpctl,
/// pipewire-pulse clients) set, and the stream's converter applies the product of the two.
pub(super) fn volume_pod(volume: f32) -> Result<Vec<u8>, String> {
    spa::pod::serialize::PodSerializer::serialize(
        std::io::Cursor::new(Vec::new()),
        &spa::pod::Value::Object(spa::pod::Object {
            type_: spa::sys::SPA_TYPE_OBJECT_Props,
            id: spa::sys::SPA_PARAM_Props,
            properties: vec![spa::pod::Property {
                key: spa::sys::SPA_PROP_volume,
                flags: spa::pod::PropertyFlags::empty(),
                value: spa::pod::Value::Float(volume),
            }],
        }),
    )
    .map(|(c, _)| c.into_inner())
    .map_err(|e| format!("serialising the volume: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use spa::pod::Pod;

    #[test]
    fn format_pod_serialises() {
        let bytes = format_pod().unwrap();
        assert!(Pod::from_bytes(&bytes).is_some());
    }

    #[test]
    fn volume_pod_serialises() {
        let bytes = volume_pod(0.5).unwrap();
        assert!(Pod::from_bytes(&bytes).is_some());
    }
}
