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
pub(crate) fn volume_pod(volume: f32) -> Result<Vec<u8>, String> {
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

/// The user's own volume in a stream's Props param (`bytes`, as a node's `param` event
/// carries it): the power mean of its `channelVolumes`, linear amplitude. `None` when the
/// param has none (or is no Props object).
pub(super) fn channel_volume_of(bytes: &[u8]) -> Option<f32> {
    use spa::pod::deserialize::PodDeserializer;
    use spa::pod::{Value, ValueArray};
    let Ok((_, Value::Object(obj))) = PodDeserializer::deserialize_any_from(bytes) else {
        return None;
    };
    if obj.type_ != spa::sys::SPA_TYPE_OBJECT_Props {
        return None;
    }
    obj.properties.iter().find_map(|p| match &p.value {
        Value::ValueArray(ValueArray::Float(v))
            if p.key == spa::sys::SPA_PROP_channelVolumes && !v.is_empty() =>
        {
            let mean = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / v.len() as f64;
            Some(mean.sqrt() as f32)
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use spa::pod::Pod;

    #[test]
    fn channel_volumes_are_read_from_a_props_param() {
        let props = |properties| {
            spa::pod::serialize::PodSerializer::serialize(
                std::io::Cursor::new(Vec::new()),
                &spa::pod::Value::Object(spa::pod::Object {
                    type_: spa::sys::SPA_TYPE_OBJECT_Props,
                    id: spa::sys::SPA_PARAM_Props,
                    properties,
                }),
            )
            .unwrap()
            .0
            .into_inner()
        };
        let with = props(vec![
            spa::pod::Property {
                key: spa::sys::SPA_PROP_volume,
                flags: spa::pod::PropertyFlags::empty(),
                value: spa::pod::Value::Float(0.3),
            },
            spa::pod::Property {
                key: spa::sys::SPA_PROP_channelVolumes,
                flags: spa::pod::PropertyFlags::empty(),
                value: spa::pod::Value::ValueArray(spa::pod::ValueArray::Float(vec![0.5, 0.5])),
            },
        ]);
        assert_eq!(channel_volume_of(&with), Some(0.5));
        // Only the master volume (Layer A's own): nothing to report.
        assert_eq!(channel_volume_of(&volume_pod(0.5).unwrap()), None);
        assert_eq!(channel_volume_of(&format_pod().unwrap()), None);
        assert_eq!(channel_volume_of(b"garbage"), None);
    }

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
