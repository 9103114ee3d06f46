//! The seven evaluation programmes: what they are made of and at which levels. Every
//! programme is deterministic (same bytes every run); its cache key is a hash of this file,
//! of the assembly and material code, and of the tools' versions.

use anyhow::{bail, Result};

use crate::assemble::{db_to_lin, frames_on_grid, level, Audio, Kind, Level, Part, Programme};
use crate::material::{Clip, Material, Voice};

/// Programme names, in report order.
pub const NAMES: [&str; 7] = [
    "tv-evening",
    "film-night",
    "podcast",
    "playlist",
    "speech-noise",
    "recovery",
    "onset",
];

/// The source of the recipes, hashed into every programme's cache key.
pub const RECIPE_SOURCES: [&str; 3] = [
    include_str!("programmes.rs"),
    include_str!("assemble.rs"),
    include_str!("material.rs"),
];

// The speakers.
const ANCHOR: Voice = Voice::new("en-us+m3", 165, 45);
const REPORTER: Voice = Voice::new("en-gb+m7", 175, 35);
const HOST: Voice = Voice::new("en+f3", 160, 60);
const GUEST: Voice = Voice::new("en-gb-x-rp+m1", 150, 40);
const ANNOUNCER: Voice = Voice::new("en-us+f2", 195, 70);
const PITCHMAN: Voice = Voice::new("en-us+m5", 205, 55);
const SOFT: Voice = Voice::new("en+f4", 140, 50);
const ELDER: Voice = Voice::new("en-gb-scotland+m6", 135, 30);

const NEWS: [&str; 8] = [
    "Good evening, and welcome to the late news.",
    "Our top story tonight comes from the harbour, where the old bridge has finally reopened.",
    "Traffic was heavy all afternoon, but the council says the worst is now over.",
    "In other news, the library will stay open until ten on weekdays from next month.",
    "I am standing here in the rain, and the crowd behind me has been growing all day.",
    "People started arriving before sunrise, some of them with tents and flasks of tea.",
    "Nobody expected a turnout like this, not even the organisers themselves.",
    "Back to you in the studio.",
];

const DIALOGUE: [&str; 8] = [
    "Did you hear that noise outside?",
    "It was probably just the wind in the trees again.",
    "I am not so sure. It sounded like someone at the gate.",
    "Then go and have a look, if it worries you so much.",
    "You always say that, and then you never come with me.",
    "Fine. Give me the torch, and put the kettle on while I am gone.",
    "Be careful on the steps, they are slippery after the rain.",
    "I will be back in a minute. Do not lock the door.",
];

const ADS: [&str; 4] = [
    "Big savings this weekend only! Everything must go!",
    "Hurry down today, prices this low will not last!",
    "New and improved, with twice the power and half the price!",
    "Call now, and get a second one absolutely free!",
];

const FILM: [&str; 9] = [
    "Stay close to the wall, and keep your voice down.",
    "They changed the guards an hour ago. We have until midnight.",
    "And if they see us before we reach the tower?",
    "Then we run, and we do not look back.",
    "I never wanted any of this, you know that.",
    "None of us did. But here we are.",
    "Listen. Do you hear the horses?",
    "They are coming from the north road. We have to move now.",
    "Take my hand. Whatever happens, do not let go.",
];

const PODCAST: [&str; 10] = [
    "Welcome back to the show. Today we are talking about gardens in small cities.",
    "Thanks for having me. I have been growing tomatoes on a balcony for twelve years now.",
    "Twelve years! What is the one thing every beginner gets wrong?",
    "Watering, without a doubt. People drown their plants out of pure kindness.",
    "So how often should you water, say, in the middle of summer?",
    "Feel the soil with your finger. If it is dry two centimetres down, then water.",
    "That sounds almost too simple. Is there really nothing more to it?",
    "There is always more, but simple habits beat clever gadgets every time.",
    "Let us talk about light, because my kitchen window faces north.",
    "North is hard, but herbs like mint and parsley will still be happy there.",
];

const CHANNELS: [&str; 8] = [
    "Front_Center",
    "Front_Left",
    "Front_Right",
    "Rear_Center",
    "Rear_Left",
    "Rear_Right",
    "Side_Left",
    "Side_Right",
];

/// Each sentence an utterance, spoken by `voice`, amplitudes cycling through `amps` (a
/// speaker's natural emphasis).
fn said(voice: Voice, amps: &[u32], texts: &[&'static str]) -> Vec<Vec<Clip>> {
    texts
        .iter()
        .enumerate()
        .map(|(i, &text)| {
            vec![Clip::Speech {
                voice,
                amp: amps[i % amps.len()],
                text,
            }]
        })
        .collect()
}

/// Recorded phrases pitch-shifted by `cents`, grouped into utterances of `per` phrases, in
/// an order that does not repeat the eight-phrase cycle exactly.
fn recorded(cents: i32, per: usize) -> Vec<Vec<Clip>> {
    let order = [0, 1, 2, 3, 4, 5, 6, 7, 2, 5, 0, 7, 4, 1, 6, 3];
    order
        .chunks(per)
        .map(|g| {
            g.iter()
                .map(|&i| Clip::Phrase {
                    name: CHANNELS[i],
                    cents,
                })
                .collect()
        })
        .collect()
}

/// Two speakers taking turns.
fn turns(a: Vec<Vec<Clip>>, b: Vec<Vec<Clip>>) -> Vec<Vec<Clip>> {
    let mut out = Vec::new();
    let (mut a, mut b) = (a.into_iter(), b.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

/// Talk exactly `secs` long: utterances (clips joined by `join` s) in turn, separated by
/// `pause` s; the last one is cut at `secs` (with a 10 ms fade, as an edit cuts a scene).
/// Pauses of kind `Speech` belong to the speech (natural pauses); pauses of kind `Noise` are
/// segments of their own (room noise goes under them as a bed).
fn talk(
    m: &mut Material,
    utts: &[Vec<Clip>],
    join: f64,
    pause: f64,
    pause_kind: Kind,
    secs: f64,
) -> Result<Part> {
    if utts.is_empty() {
        bail!("talk without utterances");
    }
    let total = frames_on_grid(secs);
    let mut part = Part::default();
    for i in 0.. {
        if part.audio.frames() >= total {
            break;
        }
        if i > 0 {
            part.push(pause_kind, Audio::silence(pause));
        }
        let mut utt = Audio::default();
        for (j, clip) in utts[i % utts.len()].iter().enumerate() {
            if j > 0 {
                utt.append(&Audio::silence(join));
            }
            utt.append(&m.get(clip)?);
        }
        part.push(Kind::Speech, utt);
    }
    part.truncate(total);
    Ok(part)
}

fn music(m: &mut Material, track: &'static str, start: f64, dur: f64) -> Result<Audio> {
    let mut a = m.get(&Clip::Music { track, start, dur })?;
    a.fade(0.3, 1.5);
    Ok(a)
}

/// A loud advert: music with an announcer 2 LU above it from 0.6 s.
fn advert(
    m: &mut Material,
    track: &'static str,
    start: f64,
    voice: Voice,
    texts: &[&'static str],
) -> Result<Part> {
    let mut a = m.get(&Clip::Music {
        track,
        start,
        dur: 10.0,
    })?;
    a.fade(0.01, 0.3);
    let n = a.frames();
    let speech = talk(
        m,
        &said(voice, &[150, 170], texts),
        0.0,
        0.3,
        Kind::Speech,
        8.8,
    )?;
    let gain = db_to_lin(a.loudness() + 2.0 - speech.audio.loudness());
    a.mix(&speech.audio, frames_on_grid(0.6), gain);
    a.set_frames(n);
    Ok(Part::single(Kind::Advert, a))
}

/// Loud action: an orchestral passage with explosions (low-passed brown-noise bursts
/// `boom_lu` above the orchestra) at `booms` and gunfire (the recorded camera shutter) at
/// `shots`, in seconds.
fn action(
    m: &mut Material,
    track: &'static str,
    start: f64,
    dur: f64,
    booms: &[f64],
    shots: &[f64],
    boom_lu: f64,
) -> Result<Part> {
    let mut a = m.get(&Clip::Music { track, start, dur })?;
    a.fade(0.02, 0.4);
    let n = a.frames();
    let base = a.loudness();
    let mut boom = m.get(&Clip::Noise {
        colour: "brownnoise",
        dur: 2.5,
        lowpass: 180,
    })?;
    boom.decay(0.6);
    let g = db_to_lin(base + boom_lu - boom.loudness());
    for &t in booms {
        a.mix(&boom, frames_on_grid(t), g);
    }
    let shot = m.get(&Clip::Effect("camera-shutter"))?;
    let g = db_to_lin(base - shot.loudness());
    for &t in shots {
        a.mix(&shot, frames_on_grid(t), g);
    }
    a.set_frames(n);
    Ok(Part::single(Kind::Action, a))
}

/// Builds programme `name`.
pub fn build(name: &str, m: &mut Material) -> Result<Programme> {
    let merge = Kind::Speech;
    let p = match name {
        "tv-evening" => {
            let mut p = Programme::new(
                name,
                "TV evening: news at two levels, a loud compressed advert block (music and speech), \
                 quiet dialogue, dialogue over a music bed, closing music",
            );
            let part = talk(
                m,
                &said(ANCHOR, &[100, 120, 90], &NEWS[..4]),
                0.0,
                0.6,
                merge,
                14.0,
            )?;
            p.section("news anchor, quiet", false, part, Level::Lufs(-28.0), None)?;
            let part = talk(
                m,
                &said(REPORTER, &[130, 110], &NEWS[4..]),
                0.0,
                0.5,
                merge,
                12.0,
            )?;
            p.section(
                "field reporter, louder",
                false,
                part,
                Level::Lufs(-19.0),
                None,
            )?;
            p.gap(0.4, Kind::Silence, None);
            let part = advert(m, "loyalists", 30.0, ANNOUNCER, &ADS[..2])?;
            p.section("advert 1", true, part, Level::Loud(-9.0), None)?;
            let part = advert(m, "frantic", 30.0, PITCHMAN, &ADS[2..])?;
            p.section("advert 2", true, part, Level::Loud(-9.0), None)?;
            let utts = turns(
                said(HOST, &[100, 80], &DIALOGUE[..4]),
                said(GUEST, &[90, 110], &DIALOGUE[4..]),
            );
            let part = talk(m, &utts, 0.0, 0.5, merge, 15.0)?;
            p.section("quiet dialogue", false, part, Level::Lufs(-32.0), None)?;
            let mut bed = m.get(&Clip::Music {
                track: "love_theme",
                start: 20.0,
                dur: 15.0,
            })?;
            bed.fade(0.5, 0.5);
            let part = talk(m, &recorded(0, 2), 0.35, 0.6, merge, 14.0)?;
            p.section(
                "dialogue over a music bed",
                false,
                part,
                Level::Lufs(-24.0),
                Some((&bed, 12.0)),
            )?;
            let a = music(m, "transience", 0.0, 12.0)?;
            p.section(
                "closing music",
                false,
                Part::single(Kind::Music, a),
                Level::Lufs(-20.0),
                None,
            )?;
            p
        }
        "film-night" => {
            let mut p = Programme::new(
                name,
                "Film night: quiet dialogue (-35..-40 LUFS) between loud action \
                 (orchestral passages, explosions, gunfire)",
            );
            let utts = turns(
                said(SOFT, &[90, 110], &FILM[..3]),
                said(ELDER, &[100], &FILM[3..6]),
            );
            let part = talk(m, &utts, 0.0, 0.6, merge, 15.0)?;
            p.section("dialogue", false, part, Level::Lufs(-38.0), None)?;
            let part = action(
                m,
                "battle-epic",
                44.0,
                8.0,
                &[0.3, 3.4, 6.1],
                &[2.0, 2.25, 2.5],
                4.0,
            )?;
            p.section(
                "action: battle, explosions, gunfire",
                true,
                part,
                Level::Lufs(-13.0),
                None,
            )?;
            let part = talk(
                m,
                &turns(recorded(-250, 2), said(GUEST, &[100], &FILM[6..])),
                0.35,
                0.6,
                merge,
                15.0,
            )?;
            p.section("dialogue", false, part, Level::Lufs(-35.0), None)?;
            let part = action(m, "the_city_falls", 147.0, 6.0, &[0.2], &[3.0, 3.2], 6.0)?;
            p.section(
                "action: orchestral hit, explosion",
                true,
                part,
                Level::Lufs(-11.0),
                None,
            )?;
            let part = talk(
                m,
                &said(SOFT, &[80, 100], &FILM[6..]),
                0.0,
                0.7,
                merge,
                15.0,
            )?;
            p.section("dialogue", false, part, Level::Lufs(-40.0), None)?;
            let part = action(m, "knolls", 255.0, 5.0, &[0.1, 2.4], &[], 6.0)?;
            p.section("action: explosions", true, part, Level::Lufs(-10.5), None)?;
            let part = talk(
                m,
                &turns(recorded(0, 2), said(ELDER, &[100], &FILM[..3])),
                0.35,
                0.6,
                merge,
                15.0,
            )?;
            p.section("dialogue", false, part, Level::Lufs(-36.0), None)?;
            p
        }
        "podcast" => {
            let mut p = Programme::new(
                name,
                "Podcast: a quiet (-40 LUFS) and a loud (-18 LUFS) speaker taking turns, \
                 room noise at -66 LUFS throughout and alone in the pauses between turns",
            );
            let room = m.get(&Clip::Noise {
                colour: "pinknoise",
                dur: 90.0,
                lowpass: 6000,
            })?;
            // The guest asks (even sentences), the host answers (odd ones); each turn starts
            // where the last one of that speaker stopped.
            let guest: Vec<&str> = PODCAST.iter().step_by(2).copied().collect();
            let host: Vec<&str> = PODCAST.iter().skip(1).step_by(2).copied().collect();
            for round in 0..4 {
                if round > 0 {
                    p.gap(1.5, Kind::Noise, None);
                }
                let mine: Vec<&'static str> = (0..guest.len())
                    .map(|i| guest[(round + i) % guest.len()])
                    .collect();
                let part = talk(m, &said(GUEST, &[100, 120], &mine), 0.0, 0.5, merge, 9.0)?;
                p.section("quiet speaker", false, part, Level::Lufs(-40.0), None)?;
                p.gap(1.5, Kind::Noise, None);
                let mine: Vec<&'static str> = (0..host.len())
                    .map(|i| host[(round + i) % host.len()])
                    .collect();
                let part = talk(m, &said(HOST, &[110, 90], &mine), 0.0, 0.5, merge, 9.0)?;
                p.section("loud speaker", false, part, Level::Lufs(-18.0), None)?;
            }
            p.room_noise(&room, -66.0);
            p
        }
        "playlist" => {
            let mut p = Programme::new(
                name,
                "Music playlist: orchestral tracks mastered at very different levels \
                 (-30, -12, -26, -14 LUFS), 35 s each, 1.5 s gaps",
            );
            let tracks = [
                ("knolls", 20.0, -30.0),
                ("nunc_dimittis", 60.0, -12.0),
                ("elvish-theme", 40.0, -26.0),
                ("loyalists", 15.0, -14.0),
            ];
            for (i, (track, start, lufs)) in tracks.into_iter().enumerate() {
                if i > 0 {
                    p.gap(1.5, Kind::Silence, None);
                }
                let a = music(m, track, start, 35.0)?;
                p.section(
                    &format!("track {}: {track}", i + 1),
                    lufs > -20.0,
                    Part::single(Kind::Music, a),
                    Level::Lufs(lufs),
                    None,
                )?;
            }
            p
        }
        "speech-noise" => {
            let mut p = Programme::new(
                name,
                "Speech with room-noise pauses: six voices from -45 to -10 LUFS, sentences \
                 separated by 2 s pauses, pink room noise 25-30 LU under each voice",
            );
            let room = m.get(&Clip::Noise {
                colour: "pinknoise",
                dur: 16.0,
                lowpass: 6000,
            })?;
            let voices: [(&str, Vec<Vec<Clip>>, f64, f64); 6] = [
                ("recorded voice", recorded(0, 3), -30.0, 25.0),
                (
                    "anchor",
                    said(ANCHOR, &[100, 130, 80], &NEWS[..4]),
                    -45.0,
                    28.0,
                ),
                ("host", said(HOST, &[110, 90], &PODCAST[..4]), -22.0, 30.0),
                (
                    "reporter",
                    said(REPORTER, &[120, 100], &NEWS[4..]),
                    -10.0,
                    26.0,
                ),
                ("recorded voice, lower", recorded(-300, 3), -38.0, 27.0),
                (
                    "guest",
                    said(GUEST, &[100, 120], &DIALOGUE[..4]),
                    -15.0,
                    29.0,
                ),
            ];
            for (label, utts, lufs, below) in voices {
                let part = talk(m, &utts, 0.35, 2.0, Kind::Noise, 15.0)?;
                p.section(label, false, part, Level::Lufs(lufs), Some((&room, below)))?;
            }
            p
        }
        "recovery" => {
            let mut p = Programme::new(
                name,
                "Recovery: recorded speech (phrases, 0.35 s pauses) at -36 LUFS for 20 s, \
                 15 s of an orchestral passage at -15.6 LUFS, the same speech again",
            );
            let mut speech = talk(m, &recorded(0, 1), 0.0, 0.35, merge, 20.0)?;
            level(&mut speech, Level::Lufs(-36.0))?;
            p.place(
                "recorded speech",
                false,
                speech.clone(),
                Level::Lufs(-36.0).describe(),
            );
            let mut orch = m.get(&Clip::Music {
                track: "battle-epic",
                start: 33.0,
                dur: 15.0,
            })?;
            orch.fade(0.02, 0.02);
            p.section(
                "orchestral passage",
                true,
                Part::single(Kind::Music, orch),
                Level::Lufs(-15.6),
                None,
            )?;
            p.place(
                "recorded speech (same)",
                false,
                speech,
                Level::Lufs(-36.0).describe(),
            );
            p
        }
        "onset" => {
            let mut p = Programme::new(
                name,
                "Onset: 20 s of quiet speech at -40 LUFS, then 10 s of a loud compressed advert \
                 (median 50 ms RMS -5 dBFS)",
            );
            let utts = turns(
                said(ANCHOR, &[100], &NEWS[..3]),
                said(REPORTER, &[100], &NEWS[4..7]),
            );
            let part = talk(m, &utts, 0.0, 0.5, merge, 20.0)?;
            p.section("quiet speech", false, part, Level::Lufs(-40.0), None)?;
            let part = advert(m, "frantic", 25.0, PITCHMAN, &ADS[..2])?;
            p.section("loud advert", true, part, Level::Rms50(-5.0), None)?;
            p
        }
        other => bail!("no programme `{other}` (programmes: {})", NAMES.join(", ")),
    };
    Ok(p)
}
