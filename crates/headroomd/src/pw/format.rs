//! The audio format and channel layout of the bus, and the PipeWire params (pods) headroomd
//! sends: the stream format and a stream's master volume.

use pipewire::spa;

/// Sample rate of the bus, Hz.
pub const RATE: u32 = 48_000;
/// Largest block the chain processes in one internal step, frames.
pub const MAX_BLOCK: usize = 2048;

/// A channel position PipeWire names (`FL`, `LFE`, …) with its SPA id.
type Position = (&'static str, u32);

const FL: Position = ("FL", spa::sys::SPA_AUDIO_CHANNEL_FL);
const FR: Position = ("FR", spa::sys::SPA_AUDIO_CHANNEL_FR);
const FC: Position = ("FC", spa::sys::SPA_AUDIO_CHANNEL_FC);
const LFE: Position = ("LFE", spa::sys::SPA_AUDIO_CHANNEL_LFE);
const RL: Position = ("RL", spa::sys::SPA_AUDIO_CHANNEL_RL);
const RR: Position = ("RR", spa::sys::SPA_AUDIO_CHANNEL_RR);
const SL: Position = ("SL", spa::sys::SPA_AUDIO_CHANNEL_SL);
const SR: Position = ("SR", spa::sys::SPA_AUDIO_CHANNEL_SR);
const RC: Position = ("RC", spa::sys::SPA_AUDIO_CHANNEL_RC);
const MONO: Position = ("MONO", spa::sys::SPA_AUDIO_CHANNEL_MONO);

/// The layouts the bus can take, each in the order the chain weighs a channel count by
/// (`headroom_core::meter::channel_weight`: fronts, centre, LFE, surrounds): mono, stereo,
/// 3.0, quad and 5.0/5.1 with rear or side surrounds, 6.1 and 7.1.
const LAYOUTS: [&[Position]; 11] = [
    &[MONO],
    &[FL, FR],
    &[FL, FR, FC],
    &[FL, FR, RL, RR],
    &[FL, FR, SL, SR],
    &[FL, FR, FC, RL, RR],
    &[FL, FR, FC, SL, SR],
    &[FL, FR, FC, LFE, RL, RR],
    &[FL, FR, FC, LFE, SL, SR],
    &[FL, FR, FC, LFE, RC, SL, SR],
    &[FL, FR, FC, LFE, RL, RR, SL, SR],
];

/// The bus's channel layout (the processed sink's, its output's and the Layer A taps'): the
/// real sink's own when it is one of the layouts the chain weighs by channel count, in that
/// order, so that what plays into `headroom-processed` is mixed to the real sink's channels
/// as it would be played straight into it (a 5.1 film keeps its six channels on 5.1
/// speakers), and the output reaches the real sink as it is (PipeWire maps channels by
/// position). Stereo for any other sink (PipeWire converts as it does for any stereo stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusLayout(&'static [Position]);

impl Default for BusLayout {
    fn default() -> Self {
        BusLayout(LAYOUTS[1])
    }
}

impl BusLayout {
    /// The layout for a real sink whose `audio.position` property is `position` (PipeWire
    /// writes it as `[ FL FR ]` for nodes given it so, `FL,FR,RL,RR,FC,LFE` for ALSA
    /// devices): the supported layout with exactly those positions, in any order; stereo
    /// when the property is absent or names another set. Allocates nothing.
    pub fn for_sink(position: Option<&str>) -> Self {
        let Some(text) = position else {
            return Self::default();
        };
        let names = || {
            text.split(|c: char| c == ',' || c == '[' || c == ']' || c.is_whitespace())
                .filter(|t| !t.is_empty())
        };
        let count = names().count();
        LAYOUTS
            .iter()
            .find(|l| {
                l.len() == count
                    && l.iter()
                        .all(|(n, _)| names().any(|t| t.eq_ignore_ascii_case(n)))
            })
            .map_or_else(Self::default, |l| BusLayout(l))
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.0.len()
    }

    /// The positions' names, in the bus's order.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|(n, _)| *n).collect()
    }

    /// The positions, space-separated: `FL FR`.
    pub fn positions(&self) -> String {
        self.names().join(" ")
    }

    /// The positions as PipeWire's `audio.position` property writes them: `[ FL FR ]`.
    pub fn position_prop(&self) -> String {
        format!("[ {} ]", self.positions())
    }
}

impl std::fmt::Display for BusLayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} channels ({})", self.channels(), self.positions())
    }
}

/// The bus's audio format: F32 interleaved, 48 kHz, in `layout`.
pub(super) fn format_pod(layout: &BusLayout) -> Result<Vec<u8>, String> {
    let mut info = spa::param::audio::AudioInfoRaw::new();
    info.set_format(spa::param::audio::AudioFormat::F32LE);
    info.set_rate(RATE);
    info.set_channels(layout.channels() as u32);
    let mut position = [0; spa::param::audio::MAX_CHANNELS];
    for (slot, (_, id)) in position.iter_mut().zip(layout.0) {
        *slot = *id;
    }
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
        assert_eq!(
            channel_volume_of(&format_pod(&BusLayout::default()).unwrap()),
            None
        );
        assert_eq!(channel_volume_of(b"garbage"), None);
    }

    #[test]
    fn format_pod_serialises() {
        for layout in LAYOUTS {
            let bytes = format_pod(&BusLayout(layout)).unwrap();
            assert!(Pod::from_bytes(&bytes).is_some());
        }
    }

    #[test]
    fn the_bus_takes_the_real_sinks_layout_in_the_chains_order() {
        let names = |p: Option<&str>| {
            let l = BusLayout::for_sink(p);
            (l.channels(), l.position_prop())
        };
        // As null sinks and ALSA devices write the property.
        assert_eq!(names(Some("[FL FR]")), (2, "[ FL FR ]".into()));
        assert_eq!(
            names(Some("FL,FR,RL,RR,FC,LFE")),
            (6, "[ FL FR FC LFE RL RR ]".into())
        );
        assert_eq!(
            names(Some("[ FL FR FC LFE SL SR ]")),
            (6, "[ FL FR FC LFE SL SR ]".into())
        );
        assert_eq!(
            names(Some("FL,FR,FC,LFE,RL,RR,SL,SR")),
            (8, "[ FL FR FC LFE RL RR SL SR ]".into())
        );
        assert_eq!(names(Some("fl,fr,rl,rr")), (4, "[ FL FR RL RR ]".into()));
        assert_eq!(names(Some("MONO")), (1, "[ MONO ]".into()));
        // Anything else is stereo: no property, 2.1, unknown or repeated names, AUX ports.
        for other in [
            None,
            Some(""),
            Some("FL,FR,LFE"),
            Some("FL,FR,FL,FR"),
            Some("AUX0,AUX1,AUX2,AUX3"),
            Some("FL FR FC LFE RL RR extra"),
        ] {
            assert_eq!(names(other), (2, "[ FL FR ]".into()), "{other:?}");
        }
        // Every layout is in the order the chain weighs its channel count by: its LFE (if
        // any) where a weight of 0 falls, its surrounds where 1.41 does.
        for layout in LAYOUTS {
            let n = layout.len();
            for (k, (name, _)) in layout.iter().enumerate() {
                let w = headroom_core::meter::channel_weight(n, k);
                let want = match *name {
                    "LFE" => 0.0,
                    "RL" | "RR" | "SL" | "SR" | "RC" => headroom_core::meter::SURROUND_WEIGHT,
                    _ => 1.0,
                };
                assert_eq!(w, want, "{name} in {n} channels");
            }
        }
    }

    #[test]
    fn volume_pod_serialises() {
        let bytes = volume_pod(0.5).unwrap();
        assert!(Pod::from_bytes(&bytes).is_some());
    }
}
