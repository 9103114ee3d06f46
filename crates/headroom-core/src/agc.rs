//! Automatic gain control toward a loudness target.
//!
//! The AGC keeps an estimate `P` of the *programme loudness* of its input and moves its gain
//! toward `target − P` (clamped to `max_boost_db` / `max_cut_db`). What the compressor and
//! the limiter take away afterwards is made up behind the compressor by the
//! [`crate::Chain`] (its automatic makeup), so the target is the loudness that comes *out*.
//!
//! # Inputs
//! * The input meter's gated **momentary loudness** (400 ms) and the loudness of its last
//!   **100 ms sub-block**, once per meter update (every 100 ms). They move `P`.
//! * A **fast level** `F`: the mean square of the input over the last [`FAST_WINDOW_S`]
//!   (measured by [`Agc::process`] before the gain, summed so that the result does not
//!   depend on how the audio is split into calls), in LUFS through a correction for the
//!   K-weighting learnt from the momentary readings (taken whole from the first 100 ms
//!   sub-block of sound, smoothed after that). It catches loud onsets.
//!
//! # The programme estimate `P`
//! `P` is the gated loudness (BS.1770: energy mean, readings more than
//! [`RELATIVE_GATE_LU`] under the mean left out) of the *programme readings* of the last
//! `window_s` seconds. The first estimate is the momentary loudness once there has been
//! [`ONSET_S`] of sound; the gain rises to it at [`ADOPTED_RISE_DB_PER_S`] up to
//! [`FIRST_RISE_MARGIN_DB`] under the gain it asks for, then at `rise_db_per_s`. Each
//! momentary reading is judged against `P`:
//! * **Silence** (at or below `silence_gate_lufs`, and after silence until a reading is
//!   [`GATE_HYSTERESIS_LU`] over it): nothing moves and the gain is frozen (it may fall,
//!   never rise). Sound after [`GAP_S`] of silence may be a new programme (the
//!   next track): the window starts over with it, so `P` becomes that sound's loudness
//!   within a reading or two. For the first [`ONSET_S`] after silence only readings above
//!   `P` count (the 400 ms window is still partly silent), so sound after silence never
//!   comes back louder; after a gap each such reading replaces the ones before it (each
//!   holds less of the silence), and a programme that puts the gain's goal more than
//!   [`ADOPT_LU`] under the gain held from before is met at [`ADOPTED_RISE_DB_PER_S`]
//!   ([`GAP_FALL_S`]).
//! * **Programme** (above `P`, or less than [`RELATIVE_GATE_LU`] under it): enters the
//!   window — unless it is more than [`ADOPT_LU`] under `P` and its last
//!   [`STEADY_UNDER_BLOCKS`] sub-blocks hold still (spread under [`STATIONARY_LU`]: rain,
//!   hum, an ambience under the speech that stopped), which is quieter sound (below) and
//!   never pulls the estimate down onto itself. A louder programme is followed as fast as
//!   its energy fills the window (and by the onset gain below when it jumps) — one that
//!   holds still (a compressed advert, a steady bed: [`LOUDER_READINGS`] readings within
//!   [`LOUDER_SPREAD_LU`], [`LOUDER_LU`] over the window's older ones) starts the window
//!   over with its readings, and the gain falls to it as after a gap, in windows up to
//!   [`LOUDER_WINDOW_MAX_S`] — in longer ones, a louder *voice* does
//!   ([`LOUDER_VOICE_READINGS`] readings whose sub-blocks are speech-like), and so does
//!   one that holds still after talk the gain had levelled (the advert after the news), a
//!   louder passage of music does not (nor the band after a quiet, sparse opening the
//!   gain could not lift, which reads as talk); a quieter one
//!   within the relative gate once the louder readings have left the window, so after at
//!   most `window_s`.
//! * **A pause of a speech-like programme** (over its last 2 s of readings, its 100 ms
//!   loudness spreads [`SPEECH_LU`] with dips of [`PAUSE_DIP_LU`] and `P` held within
//!   [`RESUME_RISING_LU`]): once the last 0.4 s read clearly quieter (below), momentary
//!   readings more than [`ADOPT_LU`] under `P` are held back from the window while the quieter
//!   sound has no syllables (no dip) — entered when the programme is heard again within
//!   [`PAUSE_CONFIRM_S`] (a gap between phrases), dropped when the pause lasts. A crowd or a
//!   music bed a few LU under a commentator stays at the voice's gain through the pauses (it
//!   rose 6–11 dB in pauses of 3 s); whether it is a new programme is left to the adoption —
//!   so quieter music after speech is taken up after [`STEADY_ADOPT_S`], where it was followed
//!   as it filled the window (≈ 2 s with a 2 s window).
//! * **Clearly quieter** sound (the gated loudness of its last 0.4 s of 100 ms sub-blocks —
//!   which show a change at once — more than [`ADOPT_LU`] under `P`, or no sound at all):
//!   a pause, room noise between sentences, a fade — or a new, quieter programme. `P` is
//!   held until all of these hold, and then the window starts over with that sound's
//!   sub-blocks (after speech-like sound, or modulated sound after a gap, is adopted the
//!   gain may rise at [`ADOPTED_RISE_DB_PER_S`]; to other sound at `rise_db_per_s`):
//!   - after a gap (the window restarted at it), sound that is not steady (its first
//!     [`JUDGE_BLOCKS`] full sub-blocks spread at least [`STATIONARY_LU`]) is judged at once
//!     on its own sub-blocks: adopted when it is more than [`ADOPT_LU`] under `P` and
//!     speech-like or above the noise floor (below) — no wait, no fade test (a fade does
//!     not go on across silence); otherwise:
//!   - it has lasted [`adopt_s`] (0.3 × `window_s`, 0.6 … 1.5 s) if it is *speech-like* (its
//!     100 ms loudness spreads over at least [`SPEECH_LU`], with a dip that deep under
//!     louder sound on each side of it: syllables and pauses, which noise never has, nor a
//!     music bed swelling in a pause of the voice over it), otherwise [`STEADY_ADOPT_S`];
//!     in a window longer than 5 s, unless a
//!     gap came first, at least half the window less a second ([`long_window_adopt_s`]: a
//!     long window levels whole passages, and a quiet passage inside a track is no new
//!     programme; the next track after a gap is);
//!   - the loudest 100 ms of its newer half is within [`FADE_LU`] of the older half's, and
//!     it does not fall steadily as a ramp over the last 1.5 s ([`FADE_SLOPE_LU`]) or 3 s
//!     ([`SLOW_FADE_SLOPE_LU`]) unless it is speech-like (a fade-out keeps falling and is
//!     never taken for a programme; a song's beats and swells hide its fall between two
//!     half seconds);
//!   - sound that is not speech-like is more than [`FLOOR_MARGIN_LU`] above the
//!     programme's *noise floor*: the level of the pauses of the last speech-like programme
//!     (its third-quietest 100 ms of 3 s, when that lies [`FLOOR_UNDER_LU`] or more under
//!     it and the two quietest are within 3 dB of it; only pauses the programme came back
//!     from count, not the quiet sound that follows its end);
//!   - and any sound, after a gap too, reads (momentary) more than [`FLOOR_MARGIN_LU`] over
//!     the silence gate: what lies just over it is what a programme's silences hold
//!     (typing in a call), not the next programme.
//!
//!   - stationary sound straight after a programme that spread and dipped as speech does
//!     (the window still holds it) is adopted only when the stationary cap then takes the
//!     gain down (new noise after a quiet, boosted voice); otherwise it is the programme's
//!     own room noise or hum, a pause held at the programme's gain however long it lasts.
//!     After other programme (music) it is adopted as any steady sound is, after
//!     [`STEADY_ADOPT_S`]: a pad or a tone after loud music is the next programme, not
//!     that music's room noise.
//!
//!   Room noise 10 LU or more under speech is therefore never adopted, however long a
//!   pause lasts, nor is stationary room noise closer to it that the gain would lift (it
//!   is not told from quiet syllables by level: a pause that lasts [`STEADY_ADOPT_S`] was
//!   adopted and the noise lifted 2.5–7 dB within a tenth of a second), while quiet speech
//!   after a loud passage is adopted about 1–1.5 s after the passage ends, and comes up
//!   within about another 0.3 s.
//! * **The programme from before, resuming.** While the programme is speech-like (its last
//!   2 s spread over [`SPEECH_LU`]) and the estimate is not still rising to a louder one
//!   (readings [`RESUME_RISING_LU`] above it), its level is remembered; a much louder programme
//!   (at least [`RELATIVE_GATE_LU`] above it: an action scene, an advert) leaves the memory
//!   alone for up to [`RESUME_MAX_S`]. When that louder programme gives way to sound at the
//!   remembered level (its gated 100 ms loudness within [`RESUME_UNDER_LU`] under to
//!   [`RESUME_OVER_LU`] over it — room noise lies far under that — and none of it within
//!   the relative gate of the louder one, or more than [`RESUME_PEAK_LU`] over the
//!   remembered level where that reaches into the gate) for [`RESUME_S`] — decided within
//!   [`RESUME_WITHIN_S`] of that sound's start, after which it is judged as a new programme —
//!   the dialogue is back: the window starts over at the remembered level (counted for half
//!   the window, so the quieter first syllables do not pull it down) and the gain rises at
//!   [`ADOPTED_RISE_DB_PER_S`] — with a 40 ms time constant when the programme was heard
//!   within [`RESUME_FAST_S`] — so a film's dialogue is on target from its second word after
//!   an action scene instead of after 1–1.5 s.
//! * **After a burst** (laughter, applause, an interjection: the estimate [`BURST_LU`] or
//!   more above the remembered level within [`BURST_S`] of when it was remembered) the
//!   memory is kept even when the burst is speech-like and less than [`RELATIVE_GATE_LU`]
//!   louder, and the programme after it is resumed from that smaller rise (as above: sound
//!   at its level for [`RESUME_S`], clearly under the burst), once the burst is over: a gap
//!   (a sub-block silent or [`SPEECH_LU`] under that sound) at its start or within it, and
//!   two of its sub-blocks at its level, not room noise. A louder voice that talks on is
//!   no burst however close it lies: its quieter words are not the voice before it. A
//!   second of laughter raises a 2 s window's estimate by less than the gate; remembered
//!   in the voice's place, it left the voice after it 7 dB under itself for a second.
//! * **After a short louder moment** (a shouted word: the estimate [`SHORT_RISE_LU`] or more
//!   above the remembered level, and quieter sound again within [`SHORT_MOMENT_S`] of the
//!   last time the programme was remembered) the memory is kept even when the moment was
//!   less than [`RELATIVE_GATE_LU`] louder, and the programme is resumed from its first
//!   100 ms back at its level ([`SHORT_RESUME_S`], within [`SHORT_RESUME_UNDER_LU`] under to
//!   [`RESUME_OVER_LU`] over it; no spread asked); the gain goes back up with a 40 ms time
//!   constant. Before, the dialogue after a shouted word waited 0.3–0.6 s for a resumption
//!   or an adoption and came out 10–15 dB under itself meanwhile. A louder voice that talks
//!   on for longer is a new programme: the room noise in its pauses may lie at the
//!   remembered level (`make eval`'s speech-noise programme, music profile, took such a
//!   pause for the quiet voice at 2 s and put the loud voice's next sentence 8 LU over
//!   the target).
//! * **A short louder moment followed by silence** (a chime, a door, a shot in a pause of
//!   the dialogue: at most [`MOMENT_BLOCKS_MAX`] 100 ms sub-blocks more than
//!   [`RESUME_PEAK_LU`] over the remembered level in the last 3 s and at most
//!   [`MOMENT_HEARD_MAX_S`] of sound since the programme was last heard, the estimate
//!   [`SHORT_RISE_LU`] or more over it, then [`GAP_S`] of silence) resumes the remembered
//!   programme in that silence: the estimate goes back to its level and the gain back to
//!   its gain while the silence lasts (restored, not lifted over it; silence otherwise
//!   freezes the gain), and the moment is forgotten as the reference of what is new. The
//!   window restarts with the next sound, as after any gap: the next sentence starts on
//!   its level (its first 0.2 s came out 15–20 dB under itself), and a louder programme
//!   after the silence is caught as a loud onset after the voice. A pause with room noise
//!   in it ([`PAUSE_BLOCKS`] sub-blocks all [`SHORT_RESUME_UNDER_LU`] under the voice, after
//!   a moment from a rise of [`BURST_LU`]) resumes it the same way, but the gain waits for
//!   sound [`HOLD_MARGIN_LU`] over the noise before it goes back: the noise is not lifted.
//! * **Stationary sound** (100 ms loudness spreading less than [`STATIONARY_LU`]: tones,
//!   hiss, hum; or less than [`NOISE_SPREAD_LU`] over at least [`NOISE_JUDGE_BLOCKS`]
//!   sub-blocks whose spectra are like noise's, [`NOISE_FLATNESS_DB`]: room tone, rumble, a
//!   drifting hiss) that `P` was set from is boosted by at most [`STEADY_MAX_BOOST_DB`], until
//!   anything less steady is heard: a tone a little under the target is levelled, noise on
//!   its own is not pumped up. Quiet music spreads as little as drifting noise, but its
//!   spectrum is made of partials ([`crate::flatness`], handed in by the chain with each
//!   reading). Sound after silence (the start, or a gap) is judged on its own first
//!   [`JUDGE_BLOCKS`] full sub-blocks — never on the silence before it or a first, partly
//!   silent sub-block (about 0.4 s after it starts), so noise that follows a moment of
//!   silence is not taken for a modulated programme; sound like noise that spreads more
//!   than a tone is judged on [`NOISE_JUDGE_BLOCKS`] of them (a swell of wind spreads little
//!   over 0.3 s), and the gain neither rises for it nor falls to the cap meanwhile. Sound
//!   that then turns out modulated (a whisper, a track that opens on a cymbal roll, within
//!   [`STEADY_ADOPT_S`] of its start), or that comes [`LOUDER_LU`] over stationary sound (a
//!   voice after rumble), is met as an adopted programme.
//! * **Fades.** While the 100 ms loudness of the programme's own sub-blocks falls steadily —
//!   a line fitted over 1.5 s falls faster than [`FADE_SLOPE_LU`] per sub-block, or over 3 s
//!   faster than [`SLOW_FADE_SLOPE_LU`], by at least twice the readings' scatter about it —
//!   the gain does not rise. When that fall is a ramp (the line fits about as well as the
//!   best single step down between two levels: a step is a louder sound giving way to a
//!   quieter one, not a fade), the quieter sound is not adopted unless it is speech-like,
//!   and until the fade has ended — a gap, a new programme, speech-like sound, or
//!   [`FADE_RELEASE_S`] with no steady fall — the gain rises at [`FADED_RISE_DB_PER_S`] at
//!   most: a song's beats and swells break its fall for a second at a time, and the
//!   estimate, which follows the fade down within its relative gate, had the gain lift
//!   the rest of the fade by 20–30 dB. A decrescendo that ends in a quieter passage is
//!   lifted that slowly for those seconds too.
//!
//! # Loud onsets
//! The AGC *engages* when either
//! * the fast level jumps more than [`NOVELTY_LU`] above the loudest fast level of the 2 s
//!   before the last closed 100 ms sub-block (not the start of its own rise) and, at the
//!   gains in force, would come out more than [`ONSET_EXCESS_LU`] above the target (a
//!   sudden loud sound) — before the first estimate (a fresh chain: the daemon's
//!   first sound, a file's start in `render`) when it goes into the compressor more than
//!   [`FIRST_EXCESS_LU`] above the target, since nothing else acts on the first 0.4 s of
//!   sound: loud music from its first frame was left to the chain's loudness ceiling, which
//!   let its first 200 ms out with all the room of a momentary window that held silence
//!   and then cut 4–16 dB under the gain the music settled at for 200 ms to keep the
//!   400 ms loudness at the limit (16 with `night`, whose compressor held the start and
//!   so kept it under the ordinary threshold) — or
//! * the fast level stays more than [`SUSTAINED_LU`] above the loudness of the last 2 s, and
//!   above the target by as much, for [`SUSTAIN_S`] (a louder programme: an advert after
//!   dialogue; a loud vowel is over sooner).
//!
//! A separate fast gain (3 ms attack; `fall_db_per_s` does not apply) then holds the level
//! going into the compressor at [`ONSET_HOLD_LU`] above the target, using the energy average
//! since the onset; the AGC's whole cut (ordinary + onset gain) stays within `max_cut_db`,
//! so with the ordinary gain at that limit the event is over. After [`ONSET_CONFIRM_S`] the
//! event is a new programme: the window starts over at its level (read through the event's
//! own K-weighting correction, from its first sub-block, where that reads it quieter than
//! the programme's before it: a rumble after a whisper), the ordinary gain falls to
//! its goal (fast) and the onset gain gives back what the ordinary gain takes over; while the
//! onset lasts it gives back cut its level so far no longer asks for with a 50 ms time
//! constant. It is confirmed while it sounds; an event whose fast level stays
//! [`ONSET_END_LU`] under its level so far for [`ONSET_END_S`] before it is confirmed is a
//! transient (a slam, a shot; a loud talker's gaps between syllables are shorter): the onset
//! gain lets it go (150 ms release), the estimate stays, and the momentary readings that
//! still hold it (0.4 s) are no programme — otherwise a 60 ms slam, still in the energy
//! average 150 ms on, became the programme and the voice after it came out 30 LU down for a
//! second. The chain drops the makeup behind the compressor at an onset and learns it anew
//! (and takes back what it dropped when the onset was a transient, or when the programme
//! before it is resumed). Speech syllables and drum hits are not new relative to the last
//! 2 s and do not last, and never engage it. (A louder programme whose peaks are no louder
//! than the speech before it — dense music after lively dialogue — is left to the
//! programme window and the chain's loudness ceiling.)
//!
//! # The gain
//! The ordinary gain moves toward its goal with a 150 ms time constant, limited to
//! `rise_db_per_s` / `fall_db_per_s`; the total gain (ordinary + onset) is ramped linearly
//! sample by sample between control points: no zipper, no steps. A steady rise of the
//! programme is followed with a lag of about half `window_s` times its slope.
//!
//! Control points fall every [`STEP`] frames counted from the last reset, so the output does
//! not depend on how the audio is split into blocks.
//!
//! # Why one file
//! The programme window, the adoption of quieter programmes, the stationary cap and the onset
//! gain read and reset one another's state every control step; they are one state machine,
//! and the order of their decisions in [`Agc`]'s step is the algorithm. Split into files they
//! would share every field; kept here, the module documentation above reads against the code
//! below it. The unit tests are at the end; the levelling tests on programmes live in the
//! crate's `dsp` test binary.

use crate::params::AgcParams;
use crate::util::{db_to_lin, finite_clamp, gain_ramp, LaneEnergy, Memo};
use crate::LUFS_FLOOR;

/// Control interval in frames.
pub const STEP: usize = 64;
/// Readings more than this below the programme estimate are held as pauses, LU.
pub const RELATIVE_GATE_LU: f64 = 10.0;
/// Sound whose recent gated loudness is this far under the programme estimate may be a new,
/// quieter programme, LU.
pub const ADOPT_LU: f64 = 4.0;
/// How long speech-like quieter sound must last to be a new programme, s: 0.3 × the
/// programme window, between [`ADOPT_MIN_S`] and [`ADOPT_MAX_S`] (and see
/// [`long_window_adopt_s`]).
pub fn adopt_s(window_s: f64) -> f64 {
    (0.3 * window_s).clamp(ADOPT_MIN_S, ADOPT_MAX_S)
}
/// Least time quieter sound must last to be a new programme when it follows the programme
/// without a gap, s: half the window less a second (6.5 s at the music profile's 15 s;
/// under [`adopt_s`] and [`STEADY_ADOPT_S`] for windows up to 5 and 10 s, where those
/// decide). A long window is asked to level whole passages and keep the dynamics inside
/// them: with the 1.5 s and 4 s of the short windows, every decrescendo of a track into a
/// quiet passage was a new programme, lifted at [`ADOPTED_RISE_DB_PER_S`] (Wesnoth's
/// knolls, music profile: +15 dB within 0.6 s; the loudness range of whole orchestral
/// tracks cut by 46–49 %). Sound after a gap (the next track) is judged by the short rules.
pub fn long_window_adopt_s(window_s: f64) -> f64 {
    0.5 * window_s - 1.0
}
/// Quieter sound this far under the estimate, LU, counts as speech-like without a dip
/// when its 100 ms readings step both ways by [`MOVES_LU`] (see [`Agc`]'s adoption).
pub const FAR_UNDER_LU: f64 = RELATIVE_GATE_LU + ADOPT_LU;
/// See [`FAR_UNDER_LU`], LU.
pub const MOVES_LU: f64 = 3.0;
/// A louder programme that holds still is a new programme once this many momentary
/// readings in a row lie within [`LOUDER_SPREAD_LU`] of one another, their mean
/// [`LOUDER_LU`] or more over the window's older readings: the window starts over with them
/// (in windows of up to [`LOUDER_WINDOW_MAX_S`]). Its estimate otherwise climbed over the
/// window's whole length, and a dense advert after the news came out 2–3.6 LU over the
/// target for 2.5 s with `default` while the loudness ceiling held it (too late for the
/// onset gain, which leaves what the ceiling holds to it). Speech and music step too
/// much between readings to count; a compressed advert, a steady bed, noise do not.
pub const LOUDER_READINGS: usize = 5;
/// See [`LOUDER_READINGS`], LU.
pub const LOUDER_SPREAD_LU: f64 = 3.0;
/// See [`LOUDER_READINGS`], LU.
pub const LOUDER_LU: f64 = 6.0;
/// See [`LOUDER_READINGS`]: longer windows are asked to keep a programme's louder
/// passages, s.
pub const LOUDER_WINDOW_MAX_S: f64 = 5.0;
/// In windows longer than [`LOUDER_WINDOW_MAX_S`], a louder *voice* is a new programme once
/// this many readings of it (all programme; their sub-blocks speech-like) lie [`LOUDER_LU`]
/// or more over the window's older readings: the window starts over with them. A louder
/// passage of music is kept (that is what a long window is for), but a voice 9 LU over the
/// one before it that no onset caught (soft first words) came out 5–7 dB over its gain 3 s
/// in with `music`'s 15 s window, which followed it at ≈ 0.3 dB/s.
pub const LOUDER_VOICE_READINGS: usize = 15;
/// Shortest time after which speech-like quieter sound can be a new programme, s.
pub const ADOPT_MIN_S: f64 = 0.6;
/// Longest time after which speech-like quieter sound becomes a new programme in a window
/// of up to 5 s, s.
pub const ADOPT_MAX_S: f64 = 1.5;
/// After a quieter programme was adopted (or a remembered one resumed) the gain may rise at
/// least this fast, dB/s (the decision is made; the new programme should not come up
/// slowly).
pub const ADOPTED_RISE_DB_PER_S: f64 = 100.0;
/// The first estimate of a programme (its first 400 ms of sound, after a start or a
/// reset) is risen to at [`ADOPTED_RISE_DB_PER_S`] up to this far under the gain it asks
/// for, then at `rise_db_per_s`, dB. Risen to at `rise_db_per_s` all the way, a quiet voice
/// from a file's first second took 1.8–2.9 s to come up (0.5–1.5 s in: 5–14 LU under the
/// target; now 1.6–3.2). A voice's first 400 ms read 2–4.5 dB under the level it settles
/// at (its soft first syllables): risen to all the way at the fast rate, or to 3 dB under
/// it, the gain overshot the settled one by ≈ 2 dB for a second; 6 dB under leaves
/// 1–1.5 dB while the estimate firms up (with a `fall_db_per_s` of 0.01 the gain keeps
/// that overshoot).
pub const FIRST_RISE_MARGIN_DB: f64 = 6.0;
/// How long other quieter sound (music, noise) must last to be a new programme, s.
pub const STEADY_ADOPT_S: f64 = 4.0;
/// Sound at the level of the speech-like programme heard before a louder one resumes that
/// programme after this long, s (the dialogue after an action scene).
pub const RESUME_S: f64 = 0.3;
/// Least spread of the 100 ms loudness of that sound for it to be the programme resuming,
/// LU: speech comes back in syllables, room noise is steady.
pub const RESUME_SPREAD_LU: f64 = 3.0;
/// How far the loudness of that sound may lie under / over the remembered programme for it
/// to be that programme again, LU (a syllable's 100 ms reads louder than the programme).
pub const RESUME_UNDER_LU: f64 = 4.0;
/// See [`RESUME_UNDER_LU`].
pub const RESUME_OVER_LU: f64 = 6.0;
/// How far over the remembered programme a 100 ms sub-block of it coming back may read
/// (its loudest syllables), LU: see [`Agc`]'s resumption.
pub const RESUME_PEAK_LU: f64 = 8.0;
/// A reading this far above the estimate means the estimate is still rising to a louder
/// programme: the level is not remembered then, LU.
pub const RESUME_RISING_LU: f64 = 3.0;
/// How long a speech-like programme is remembered while a louder one plays, s.
pub const RESUME_MAX_S: f64 = 120.0;
/// A programme resumed within this long of when it was last heard (after laughter,
/// applause, an action scene) goes back to its gain as fast as after a short moment (40 ms
/// time constant), s; resumed later, at [`ADOPTED_RISE_DB_PER_S`] with the ordinary 150 ms.
/// At the ordinary pace the dialogue's first 0.3–0.5 s after a burst of laughter came out
/// 6–8 dB under itself on average. (Later resumptions are rarer and less certain: a track's
/// fade-out passing through a level remembered from the track before is one.)
pub const RESUME_FAST_S: f64 = 20.0;
/// A louder passage that took the estimate [`BURST_LU`] or more over the remembered
/// programme within this long of when that was last remembered is a *burst* (laughter,
/// applause, a louder voice's interjection), s: the memory is kept through it even when it
/// is speech-like itself and less than [`RELATIVE_GATE_LU`] louder, and the programme
/// after it is resumed from that smaller rise (within [`RESUME_WITHIN_S`] after it). A
/// second of laughter 12 LU over a voice raises a 2 s window's estimate by 9 LU; the
/// laughter was remembered as the programme and the voice after it adopted anew, its first
/// second 6–7 dB under itself.
pub const BURST_S: f64 = 4.0;
/// See [`BURST_S`], LU.
pub const BURST_LU: f64 = 6.0;
/// A resumption is decided within this long of the quieter sound's start, s. Dialogue coming
/// back is resumed within a few syllables (or adopted as speech-like sound within
/// [`ADOPT_MAX_S`]); quieter sound still undecided after this is not speech-like, and music
/// whose beats spread its 100 ms loudness over [`RESUME_SPREAD_LU`] now and then was taken
/// for the remembered dialogue seconds into it (the estimate set at the dialogue's level, up
/// to 7 LU under the music's: 2.7 LU too loud for 10 s with the `music` profile's window).
pub const RESUME_WITHIN_S: f64 = 2.0;
/// A louder moment that took the estimate over and gave way to quieter sound within this
/// of the last time the speech-like programme was remembered is a *short* one (a shouted
/// word), s: the programme after it is resumed sooner ([`SHORT_RESUME_S`]) and already when
/// the moment stood [`SHORT_RISE_LU`] above it. (A louder voice that goes on for longer is
/// a new programme whose own pauses may lie at the remembered level: its room noise.)
pub const SHORT_MOMENT_S: f64 = 1.2;
/// See [`SHORT_MOMENT_S`]: how far above the remembered programme the estimate must stand, LU.
pub const SHORT_RISE_LU: f64 = 10.0;
/// See [`SHORT_MOMENT_S`]: how long the sound at the remembered level must last, s (one
/// 100 ms reading with sound: its loudness, not a spread, decides).
pub const SHORT_RESUME_S: f64 = 0.1;
/// See [`SHORT_MOMENT_S`]: 100 ms sub-blocks of sound at the remembered level after the
/// moment that resume the programme while the momentary readings (and an onset that took
/// the moment for a programme) still hold the moment. A notification's 0.3 s chime over
/// dialogue took the estimate over, and the rest of the sentence after it came out 25 dB
/// down: the last 0.4 s as a whole still read as the chime until the sentence had ended.
/// (Two: a loud programme's single 100 ms gap between words does not resume.)
pub const SHORT_AFTER_BLOCKS: usize = 2;
/// A louder moment that lasted at most [`SHORT_MOMENT_S`] (its 100 ms sub-blocks more than
/// [`RESUME_PEAK_LU`] over the remembered level, counted over the last 3 s) and gave way to
/// silence for [`GAP_S`] resumes the remembered programme in that silence: a notification's
/// chime, a door or a shot in a pause of the dialogue. The gain goes back to the dialogue's
/// in the silence (restored to what it was before the moment, nothing lifted over that);
/// the next sentence then starts from the dialogue's level instead of the moment's — its
/// first 0.2 s came out 15–20 dB under itself after a 0.3 s chime, with every profile. A
/// louder programme that goes on after such a silence comes in as a loud onset after quiet
/// (the onset gain and the loudness ceiling hold it).
pub const MOMENT_BLOCKS_MAX: usize = 12;
/// See [`MOMENT_BLOCKS_MAX`]: the most sound heard since the remembered programme was last
/// heard for what came after it to be a moment, s — the 3 s the moment is looked for in
/// and the pause after it ([`PAUSE_BLOCKS`]), with room for the programme's own last
/// readings before it. Longer, it is a programme of its own, whatever its last 3 s hold:
/// 30 s of music that ended on quieter bars and stopped was taken for a moment in the
/// voice's pause from before it, and the voice's gain resumed in the silence (what came
/// next came out at it: hiss 16 dB over the music's gain).
pub const MOMENT_HEARD_MAX_S: f64 = 5.0;
/// A pause with room noise in it after such a moment (the moment [`BURST_LU`] or more over
/// the remembered level): this many 100 ms sub-blocks, all [`SHORT_RESUME_UNDER_LU`] or
/// more under the remembered level, resume the remembered programme; the gain then waits
/// for sound [`HOLD_MARGIN_LU`] over the pause's level before it goes back (the noise is
/// not lifted on its own).
pub const PAUSE_BLOCKS: usize = 5;
/// See [`PAUSE_BLOCKS`], LU.
pub const HOLD_MARGIN_LU: f64 = 6.0;
/// See [`SHORT_MOMENT_S`]: how far under the remembered level the sound may lie, LU (the
/// first syllables after a pause, all there is to judge by that soon, read quieter than
/// the programme; room noise lies 20 LU and more under it).
pub const SHORT_RESUME_UNDER_LU: f64 = 10.0;
/// Spread of the 100 ms loudness (90th − 10th percentile over up to 2 s, silence counted
/// at −70 LUFS) from which sound counts as speech-like (sound with pauses), LU.
pub const SPEECH_LU: f64 = 6.0;

/// How far on each side of a dip, in 100 ms sub-blocks, the louder sound that makes it
/// speech-like lies ([`SPEECH_LU`]): a word's gap, not a music bed's slow ebb.
pub const DIP_SPAN: usize = 3;
/// Spread below which sound counts as stationary (tones, hiss, hum), LU. Music spreads
/// wider than this almost always.
pub const STATIONARY_LU: f64 = 1.0;
/// Spread below which sound whose spectrum is like noise's ([`NOISE_FLATNESS_DB`]) counts
/// as stationary all the same, LU: room tone, rumble and a drifting hiss spread 2–4 LU over
/// 100 ms by themselves and were lifted by the whole `max_boost_db` when they were all there
/// was (pink noise at −55 LUFS drifting ±0.5 dB came out at −25.7). Under [`SPEECH_LU`]:
/// nothing this still has syllables.
pub const NOISE_SPREAD_LU: f64 = 5.0;
/// Sub-blocks (100 ms) of sound over which it is judged by [`NOISE_SPREAD_LU`] and
/// [`NOISE_FLATNESS_DB`]: over 0.3 s a swell of wind or a brushed cymbal spreads as little
/// as room tone.
pub const NOISE_JUDGE_BLOCKS: usize = 10;
/// How far the fast (20 ms) level must fall under its sub-block's loudness within it for the
/// sound to have a gap, LU: such sound is not noise-like, however flat its spectrum (a
/// sound's start within its first full sub-block reads at most ≈ 12 LU under it).
pub const NOISE_GAP_LU: f64 = 20.0;
/// Mean spectral flatness ([`crate::flatness`]) of the sub-blocks judged over which sound is
/// like noise, dB. Noise of any colour reads −1.5 … −3.6 dB over 0.5 s, music −8 … −11 in
/// the median (Wesnoth's orchestral tracks: 0–16 % of 0.5 s windows over −3.5 dB, in
/// silences, fades and percussion), a voice −4 … −6.5 (a whisper −1.5: as noise-like as
/// breath; its syllables tell it apart).
pub const NOISE_FLATNESS_DB: f64 = -4.0;
/// Largest fall of the loudest 100 ms between the two halves of the quieter sound (up to
/// 0.6 s each) for it to count as a new programme (larger falls are fades), LU.
pub const FADE_LU: f64 = 3.0;
/// Sub-blocks (100 ms) over which a steady fall of the sound counts as a fade-out or a
/// ringing decay, during which the gain does not rise ([`Agc`]).
pub const FADE_FIT_BLOCKS: usize = 15;
/// Steepest fall per sub-block (the fitted line's slope) that is no fade, LU: 3 LU/s.
pub const FADE_SLOPE_LU: f64 = 0.3;
/// Sub-blocks over which a slower steady fall counts as a fade-out too: a song's fade
/// falls 2–5 dB a second, and its beats scatter its 100 ms loudness over 1.5 s as far as
/// it falls in that time.
pub const SLOW_FADE_FIT_BLOCKS: usize = 30;
/// Steepest fall per sub-block over [`SLOW_FADE_FIT_BLOCKS`] that is no fade, LU: 1.5 LU/s.
pub const SLOW_FADE_SLOPE_LU: f64 = 0.15;
/// Fastest rise of the gain after a fade until it has ended ([`FADE_RELEASE_S`]), dB/s.
pub const FADED_RISE_DB_PER_S: f64 = 2.0;
/// Sound heard without a steady fall for this long after a fade ([`Agc`]'s `faded`) is no
/// longer that fade: the gain may rise to it again, and it may be adopted, s.
pub const FADE_RELEASE_S: f64 = 3.0;
const _: () = assert!(FADE_FIT_BLOCKS <= HISTORY_LEN && SLOW_FADE_FIT_BLOCKS <= HISTORY_LEN);
/// Quieter sound within this of the programme's noise floor is that floor, LU.
pub const FLOOR_MARGIN_LU: f64 = 6.0;
/// The programme's noise floor lies at least this far under the programme, LU: room noise
/// 10–15 LU under a voice is a noisy recording's floor (with 15, such noise was adopted 4 s
/// into a pause and came out 8 dB down, or onto the target when it was not stationary);
/// closer than that, quiet syllables of continuous speech would be taken for it.
pub const FLOOR_UNDER_LU: f64 = RELATIVE_GATE_LU;
/// A pause of a speech-like programme (the sound of the last 0.4 s clearly under it) that has
/// lasted this long is a pause, not a gap between phrases, s: the momentary readings that
/// fell inside it, held back from the window until then, are dropped, and later ones are
/// held back as well. Shorter, it was a gap between phrases: its readings enter the window
/// when the programme is heard again, as if they had entered at once.
pub const PAUSE_CONFIRM_S: f64 = 0.6;
/// A programme is speech-like for [`PAUSE_CONFIRM_S`] when its 100 ms loudness spreads
/// [`SPEECH_LU`] with dips this deep, LU: a bed 8 LU under a voice fills the gaps between its
/// syllables, and the voice over it shows no dip of [`SPEECH_LU`].
pub const PAUSE_DIP_LU: f64 = 3.0;
/// Programme readings over which the estimate must have held for a pause to be held back
/// (2 s of readings).
const PROG_LEVELS: usize = 20;
/// Momentary readings of a pause held back before it is confirmed (at least
/// [`PAUSE_CONFIRM_S`] of readings at 100 ms).
const DEFER_MAX: usize = 16;
/// After silence, how long the estimate may only rise, s.
pub const ONSET_S: f64 = 0.4;
/// Silence that makes the next sound a possible new programme, s of silent readings.
pub const GAP_S: f64 = 0.5;
/// For this long after a gap, sound that puts the gain's goal more than [`ADOPT_LU`] under
/// the gain held from before (a louder programme) takes the gain down at
/// [`ADOPTED_RISE_DB_PER_S`] instead of `fall_db_per_s`, until it is within
/// [`SETTLED_DB`] of its goal, s of sound.
pub const GAP_FALL_S: f64 = 1.0;
/// After a silent reading, sound must come this far over `silence_gate_lufs` to end the
/// silence, LU: room noise right at the gate read silent and sound by turns, a gap in it
/// restarted the window and the noise became the programme in a long pause (the voice
/// after it 4–15 LU under the target).
pub const GATE_HYSTERESIS_LU: f64 = 1.5;
/// Full 100 ms sub-blocks of sound after a silence on which it is judged stationary or not
/// (quieter sound is adopted later than that), and half the sub-blocks that must show a wider
/// spread before sound judged stationary counts as modulated.
pub const JUDGE_BLOCKS: usize = 3;
/// 100 ms sub-blocks over which clearly quieter sound is judged stationary before it may
/// enter the programme estimate (see [`STATIONARY_LU`]): steady noise 5–10 LU under speech
/// was taken for the programme going on and lifted to the target.
pub const STEADY_UNDER_BLOCKS: usize = 5;
/// Largest boost for stationary sound (see [`STATIONARY_LU`]), dB.
pub const STEADY_MAX_BOOST_DB: f64 = 6.0;
/// Window of the fast level, s.
pub const FAST_WINDOW_S: f64 = 0.02;
/// A fast level this far above the loudest of the last 2 s is an onset, LU.
pub const NOVELTY_LU: f64 = 6.0;
/// An onset is caught when it would reach this far above the target, LU.
pub const ONSET_EXCESS_LU: f64 = 9.0;
/// Before the first estimate (a fresh chain: the daemon's first sound, a file's start in
/// `render`) an onset is caught when it would go into the compressor this far above the
/// target, LU.
pub const FIRST_EXCESS_LU: f64 = 6.0;
/// Level above the target an onset is pulled down to, LU.
pub const ONSET_HOLD_LU: f64 = 1.0;
/// An onset lasting this long raises the programme estimate, s.
pub const ONSET_CONFIRM_S: f64 = 0.15;
/// How far into an onset a 100 ms sub-block must close for its K-weighting correction to
/// count as the event's own (the rest of it was the programme before), s.
pub const ONSET_ATTACK_S: f64 = 0.05;
/// An onset not yet confirmed whose fast level stays this far under its level so far for
/// [`ONSET_END_S`] is over (a transient), LU.
pub const ONSET_END_LU: f64 = 10.0;
/// See [`ONSET_END_LU`], s: longer than the gaps between a loud talker's syllables.
pub const ONSET_END_S: f64 = 0.2;
/// A fast level held this far above the loudness of the last 2 s (and the target) for
/// [`SUSTAIN_S`] is a louder programme arriving: an onset, LU.
pub const SUSTAINED_LU: f64 = 8.0;
/// How long the fast level must hold for [`SUSTAINED_LU`], s.
pub const SUSTAIN_S: f64 = 0.1;
/// Ring of fast levels for [`SUSTAIN_S`] at up to 96 kHz (longer at higher rates).
const SUSTAIN_RING: usize = 160;
/// The gain counts as settled within this distance of its goal, dB.
pub const SETTLED_DB: f64 = 1.5;

/// Longest programme window, readings (60 s).
const WINDOW_MAX: usize = 600;
/// Time constant of the ordinary gain, s.
pub(crate) const TAU_GAIN: f64 = 0.15;
/// Time constant of the ordinary gain going back up after a short louder moment, s: the
/// programme after it was playing at that gain a moment ago.
const TAU_GAIN_BACK: f64 = 0.04;
/// Rise limit of the ordinary gain going back up after a short louder moment, dB/s.
const BACK_RISE_DB_PER_S: f64 = 400.0;
/// Attack and release time constants of the fast onset gain, s.
const TAU_ONSET_ATTACK: f64 = 0.003;
const TAU_ONSET_RELEASE: f64 = 0.15;
/// Time constant of the onset gain giving back cut while the onset lasts (its level so far
/// falling from its first moments, the ordinary gain taking over), s.
const TAU_ONSET_FOLLOW: f64 = 0.05;
/// Fall rate of the ordinary gain while it takes over from the fast onset gain, dB/s.
const ONSET_FALL_DB_PER_S: f64 = 400.0;
/// Readings in the "recent" window: the sound of the last 0.4 s as a whole decides whether
/// the programme is still there; at most this much of each half goes into the fade test.
const RECENT: usize = 4;
/// Readings kept: 3 s of 100 ms meter updates.
const HISTORY_LEN: usize = 30;
/// Fast level ring: enough steps for [`FAST_WINDOW_S`] at up to 384 kHz.
const FAST_RING: usize = 128;
/// Peak fast levels an onset is judged against, one per 100 ms: 2 s.
const PEAK_RING: usize = 20;
/// Newest 100 ms peaks left out of the reference an onset is judged against: the fast level
/// rises over 20–50 ms at a word's start, and where a sub-block closed within that rise its
/// first part became the reference for the rest of it. A louder voice's first word then
/// missed [`NOVELTY_LU`] by a fraction of a LU, or reached it, depending only on where the
/// stream's start fell on the 100 ms grid (`make eval` tv-evening, `music`: the reporter 9 LU
/// over the anchor came out on the target, or 4–5 LU over it for 12 s while the 15 s window
/// filled; live, wherever the stream's first callback landed).
const PEAK_SKIP: usize = 1;
/// Peak fast levels kept.
const PEAK_LEN: usize = PEAK_RING + PEAK_SKIP;
/// Mean square to LUFS, BS.1770.
const LUFS_OFFSET: f64 = -0.691;

/// Channels whose loudness weight [`ChannelWeights`] holds (the meters' layouts; more
/// channels than that weigh 1).
const WEIGHTED_CHANNELS: usize = 8;

/// The BS.1770 weight of each channel ([`crate::meter::channel_weight`]) for the AGC's own,
/// unfiltered level: an LFE burst (left out of the loudness) counted in it read as a loud
/// onset, and after it the correction to the loudness was seconds off.
#[derive(Debug, Clone, Copy)]
struct ChannelWeights {
    of: [f64; WEIGHTED_CHANNELS],
    /// Whether any is not 1 (four channels and more).
    any: bool,
    /// Largest K-weighting correction taken, LU ([`k_max_for`]): the unweighted level is a
    /// mean over the channels and the loudness a weighted sum, so the correction of sound
    /// in a few of many channels is that much larger.
    k_max: f64,
}

/// Largest K-weighting correction for `channels` interleaved channels, LU: 8, and for more
/// than two channels as much more as the mean over them lies under the mean over two (a
/// voice in two of six channels reads 4.8 dB under it; clamped at 8 LU, a bright word in
/// the surround channels of a 5.1 file was predicted 1.5 LU quieter than it came out, and
/// passed `night`'s momentary limit).
fn k_max_for(channels: usize) -> f64 {
    8.0 + 10.0 * (channels.max(2) as f64 / 2.0).log10()
}

fn ms_to_lufs(ms: f64) -> f64 {
    if ms > 1e-20 {
        LUFS_OFFSET + 10.0 * ms.log10()
    } else {
        LUFS_FLOOR - 30.0
    }
}

fn lufs_to_ms(l: f64) -> f64 {
    10f64.powf((l - LUFS_OFFSET) / 10.0)
}

/// Energy mean of loudness values in LUFS, gated BS.1770-style: values at or below `gate`
/// are ignored, then values more than 10 LU under the mean of the rest. `None` when fewer
/// than `min` values pass the absolute gate. Each item is a value with its energy
/// (`10^(v/10)`, computed once when the value was recorded: see [`LoudRing`]).
fn gated_mean(
    values: impl Iterator<Item = (f64, f64)> + Clone,
    gate: f64,
    min: usize,
) -> Option<f64> {
    let (mut n, mut e) = (0usize, 0.0f64);
    for (_, p) in values.clone().filter(|&(v, _)| v > gate) {
        n += 1;
        e += p;
    }
    if n < min.max(1) {
        return None;
    }
    let rel = 10.0 * (e / n as f64).log10() - RELATIVE_GATE_LU;
    let (mut m, mut f) = (0usize, 0.0f64);
    for (_, p) in values.filter(|&(v, _)| v > gate && v >= rel) {
        m += 1;
        f += p;
    }
    (m > 0).then(|| 10.0 * (f / m as f64).log10())
}

/// The energy `10^(v/10)` of a loudness value `v`, as [`gated_mean`] sums it.
fn energy_of(v: f64) -> f64 {
    10f64.powf(v / 10.0)
}

/// Fixed-size ring of `f64` readings, newest last.
#[derive(Debug, Clone, Copy)]
struct Ring<const N: usize> {
    items: [f64; N],
    pos: usize,
    len: usize,
}

impl<const N: usize> Ring<N> {
    fn new(fill: f64) -> Self {
        Self {
            items: [fill; N],
            pos: 0,
            len: 0,
        }
    }

    fn push(&mut self, v: f64) {
        if let Some(slot) = self.items.get_mut(self.pos) {
            *slot = v;
        }
        self.pos = (self.pos + 1) % N;
        self.len = (self.len + 1).min(N);
    }

    /// The `k`-th newest value (0 = newest), if there is one.
    fn back(&self, k: usize) -> Option<f64> {
        if k >= self.len {
            return None;
        }
        self.items.get((self.pos + N - 1 - k) % N).copied()
    }

    /// The newest `count` values, newest first.
    fn newest(&self, skip: usize, count: usize) -> impl Iterator<Item = f64> + Clone + '_ {
        (skip..skip + count).filter_map(move |k| self.back(k))
    }

    /// Replaces every value over `max` with `to`.
    fn forget_over(&mut self, max: f64, to: f64) {
        for v in &mut self.items {
            if *v > max {
                *v = to;
            }
        }
    }
}

/// A [`Ring`] of loudness values with each value's energy beside it, computed once when
/// the value is pushed rather than in every [`gated_mean`] over the ring.
#[derive(Debug, Clone, Copy)]
struct LoudRing<const N: usize> {
    lufs: Ring<N>,
    energy: Ring<N>,
}

impl<const N: usize> LoudRing<N> {
    fn new(fill: f64) -> Self {
        Self {
            lufs: Ring::new(fill),
            energy: Ring::new(energy_of(fill)),
        }
    }

    fn push(&mut self, v: f64) {
        self.lufs.push(v);
        self.energy.push(energy_of(v));
    }

    /// The `k`-th newest value (0 = newest), if there is one.
    fn back(&self, k: usize) -> Option<f64> {
        self.lufs.back(k)
    }

    /// The newest `count` values after `skip`, newest first.
    fn newest(&self, skip: usize, count: usize) -> impl Iterator<Item = f64> + Clone + '_ {
        self.lufs.newest(skip, count)
    }

    /// Replaces every value over `max` with `to` (and its energy).
    fn forget_over(&mut self, max: f64, to: f64) {
        for (v, e) in self.lufs.items.iter_mut().zip(self.energy.items.iter_mut()) {
            if *v > max {
                *v = to;
                *e = energy_of(to);
            }
        }
    }

    /// The newest `count` values after `skip` with their energies, newest first.
    fn newest_with_energy(
        &self,
        skip: usize,
        count: usize,
    ) -> impl Iterator<Item = (f64, f64)> + Clone + '_ {
        self.lufs
            .newest(skip, count)
            .zip(self.energy.newest(skip, count))
    }
}

/// A snapshot of the AGC's inner state, for tracing and tests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgcDiagnostics {
    /// Programme loudness estimate, LUFS (`None` before the first).
    pub programme_lufs: Option<f64>,
    /// Time the sound has been clearly under the programme, s.
    pub below_s: f64,
    /// The programme's noise floor (level of its pauses), LUFS.
    pub floor_lufs: f64,
    /// Spread of the 100 ms loudness over the last 2 s, LU.
    pub spread_lu: f64,
    /// Whether the estimate comes from stationary sound (boost capped).
    pub stationary: bool,
    /// Programme readings in the window.
    pub window_readings: usize,
    /// K-weighted minus unweighted loudness of the input, LU.
    pub k_correction_lu: f64,
    /// Fast level of the input, LUFS.
    pub fast_lufs: f64,
    /// The loudest fast level of the last 2 s, LUFS.
    pub recent_fast_lufs: f64,
    /// Whether a fade was heard and has not ended (a gap, a new programme, speech-like
    /// sound, or [`FADE_RELEASE_S`] with no steady fall): the gain rises at
    /// [`FADED_RISE_DB_PER_S`] at most.
    pub faded: bool,
}

/// The AGC of a [`crate::Chain`].
#[derive(Debug, Clone)]
pub struct Agc {
    params: AgcParams,
    /// `exp(−dt / tau)` of the onset gain's last time constant.
    onset_exp: Memo,
    /// `exp(−dt / tau)` of [`TAU_ONSET_FOLLOW`].
    onset_follow_exp: Memo,
    /// Control interval, s.
    dt: f64,
    /// Interval of the meter's readings, s.
    reading_dt: f64,
    /// Programme loudness estimate, LUFS (valid once `has_level`).
    level: f64,
    has_level: bool,
    /// `level` was set from steady sound and nothing modulated has been heard since.
    steady_only: bool,
    /// The sound since the last silence is like noise and still too short to be judged by
    /// [`NOISE_SPREAD_LU`]: the gain does not rise for it, and is not capped either.
    noise_pending: bool,
    /// The sound since the last silence (start, or a gap) is still to be judged stationary
    /// or not; until then the gain does not rise for it.
    judge_pending: bool,
    /// Ordinary gain in force at the last control point, dB, and its goal.
    gain_db: f64,
    goal_db: f64,
    /// Fast onset gain, dB (≤ 0).
    onset_db: f64,
    /// Total gain ramp of the current step.
    gain_from: f32,
    gain_to: f32,
    gain_to_db: f64,
    pos: usize,
    /// Sum of squares and frames of the current step, before the gain.
    step_energy: LaneEnergy,
    /// The loudness weights of the channels (see [`ChannelWeights`]), and the current
    /// step's weighted sum of squares when they are not all 1.
    weights: ChannelWeights,
    step_weighted: f64,
    step_sum: f64,
    step_frames: usize,
    last_step_frames: usize,
    step_channels: usize,
    /// Fast level: per-step sums of squares and frames in a ring, and their totals.
    fast_sums: [f64; FAST_RING],
    fast_frames: [u32; FAST_RING],
    fast_pos: usize,
    fast_len: usize,
    fast_cap: usize,
    fast_sum: f64,
    fast_count: u64,
    /// Unweighted sums of squares of the current meter sub-block and of the last four.
    sub_sum: f64,
    sub_frames: u64,
    subs: Ring<4>,
    /// K-weighted minus unweighted loudness of the last 400 ms of sound, LU.
    k_corr: f64,
    /// Whether `k_corr` has been measured: until the first sub-block of sound closes it is a
    /// guess (0), and that sub-block's own correction replaces it whole.
    k_known: bool,
    /// The same for the last 100 ms sub-block alone, LU.
    k_sub: f64,
    /// Loudest fast level of the current 100 ms and of the last 2.1 s (one per 100 ms), LUFS.
    peak_now: f64,
    peaks: Ring<PEAK_LEN>,
    /// The loudest of `peaks` but the newest [`PEAK_SKIP`] ([`Agc::peak_reference`]; kept
    /// when a value is pushed, not folded at every step), LUFS.
    recent_peak: f64,
    /// Momentary and sub-block readings of the last 3 s, LUFS.
    hist_m: LoudRing<HISTORY_LEN>,
    hist_sb: LoudRing<HISTORY_LEN>,
    /// Spectral flatness of the input's sub-blocks (see [`Agc::set_flatness_db`]), beside
    /// `hist_sb`; NaN where none was handed in.
    hist_flat: Ring<HISTORY_LEN>,
    /// The lowest fast (20 ms) level within each sub-block, beside `hist_sb`, LUFS.
    hist_fast_min: Ring<HISTORY_LEN>,
    /// The lowest fast level of the sub-block the next fresh reading closes, LUFS.
    fast_min: f64,
    /// The flatness handed in for the sub-block the next fresh reading closes, dB.
    flat_db: f64,
    /// Time with sound since the last silent reading, s.
    active_s: f64,
    /// Silent time in a row, s.
    silent_s: f64,
    /// Energies of the programme readings of the window (ring), newest last.
    window: [f64; WINDOW_MAX],
    win_pos: usize,
    win_len: usize,
    /// Time since the last onset started, s (readings under the estimate are not
    /// programme for [`ONSET_S`] after one).
    since_onset_s: f64,
    /// Time since the programme was last heard (a reading within the relative gate), s.
    below_s: f64,
    /// Quietest 100 ms heard in the programme's pauses (its noise floor), LUFS.
    floor: f64,
    /// Onset engaged: time since it started (s; negative when not engaged), and the energy
    /// and frames of the event so far.
    onset_s: f64,
    onset_sum: f64,
    onset_frames: u64,
    /// K-weighted minus unweighted loudness of the event itself (the first 100 ms
    /// sub-block closed [`ONSET_ATTACK_S`] or more into it), LU; NaN before one closed.
    onset_k: f64,
    /// The onset lasted: the estimate was raised to its level.
    onset_confirmed: bool,
    /// Time since an onset ended as a transient (before it was confirmed), s: the momentary
    /// readings hold it for their window's length and are no programme.
    since_transient_s: f64,
    /// Readings left that still hold a short louder moment the programme was resumed after
    /// ([`SHORT_AFTER_BLOCKS`]): no programme.
    moment_held: usize,
    /// How long the onset being caught has been far under its level so far, s.
    onset_quiet_s: f64,
    /// Count of onsets let go as transients (wrapping).
    transients: u32,
    /// Count of remembered programmes resumed (wrapping).
    resumptions: u32,
    /// The level of the onset being caught so far, LUFS (the fast level at its start, then
    /// the energy average since it began).
    onset_level: f64,
    /// A quieter programme was adopted and the gain is still rising to it.
    adopted_rise: bool,
    /// The first estimate was made and the gain is still rising to it (see
    /// [`FIRST_RISE_MARGIN_DB`]).
    first_rise: bool,
    /// Sound after a gap, for its first [`GAP_FALL_S`]: a louder programme may be met fast.
    after_gap: bool,
    /// A clearly louder programme after a gap, or one that started the window over: the
    /// gain is falling to it at [`ADOPTED_RISE_DB_PER_S`] (see [`GAP_FALL_S`]).
    gap_fall: bool,
    /// The programme from before a short louder moment was resumed and the gain is still
    /// going back up to it (faster than [`ADOPTED_RISE_DB_PER_S`]).
    back_rise: bool,
    /// The programme from before a louder one was resumed within [`RESUME_FAST_S`] and the
    /// gain is still going back up to it (as fast as after a short moment).
    resumed_rise: bool,
    /// Loudness of the last speech-like programme, LUFS ([`LUFS_FLOOR`]: none), and the
    /// time since it was last heard, s.
    resume_level: f64,
    resume_age_s: f64,
    /// Time since the remembered level was last refreshed, every reading counted (silence
    /// and onsets too), s.
    remembered_s: f64,
    /// Sound heard since the remembered level was last refreshed (readings that were not
    /// silent), s: how long a louder moment after it can have lasted.
    heard_s: f64,
    /// The remembered programme was resumed in the current silence ([`MOMENT_BLOCKS_MAX`]):
    /// the silence is its pause, not a gap before a new programme.
    resumed_in_silence: bool,
    /// The remembered programme was resumed in a pause with room noise at this level
    /// (LUFS) after a short louder moment: the gain is held until the fast level rises
    /// [`HOLD_MARGIN_LU`] over it.
    hold_floor: Option<f64>,
    /// Whether the sound fell steadily over the last readings ([`Agc::falls_steadily`]): the gain
    /// does not rise meanwhile.
    fading: bool,
    /// Whether that fall is a ramp, not a step down ([`Agc::falls_steadily`]): a fade-out,
    /// whose quieter sound is no new programme.
    fade_ramp: bool,
    /// A fade (a ramp) was heard and the sound since has not been silent for a gap, nor
    /// speech-like, nor without a steady fall for [`FADE_RELEASE_S`]: the gain rises at
    /// [`FADED_RISE_DB_PER_S`] at most. A fade's beats and the swells of its music
    /// interrupt its steady fall (a song faded over 30 s read as level for a second and was
    /// lifted 25 dB).
    faded: bool,
    /// Time since the last steady fall while `faded`, s.
    unfaded_s: f64,
    /// Sub-blocks read since the programme started ([`Self::new_programme`]), up to
    /// [`HISTORY_LEN`]: a fade is looked for in those only.
    since_start: usize,

    /// Whether the last reading was programme (not silence, not a pause, not an onset).
    programme_active: bool,
    /// Whether the programme was speech-like (see [`PAUSE_DIP_LU`]) when it was last heard.
    speech_prog: bool,
    /// Whether the programme's last 2 s, when it was last heard, spread and dipped as speech
    /// does (`speech_prog` without the estimate held): what may have room noise in its
    /// pauses.
    talk_prog: bool,
    /// `talk_prog` after each of the last 32 programme readings, the newest in bit 0.
    talk_bits: u32,
    /// Momentary readings of a pause not yet confirmed ([`PAUSE_CONFIRM_S`]), LUFS, and
    /// how many.
    deferred: [f64; DEFER_MAX],
    deferred_len: usize,
    /// The estimate after each of the last [`PROG_LEVELS`] programme readings, LUFS.
    prog_levels: Ring<PROG_LEVELS>,
    /// Count of programme changes (onsets, adoptions, first estimates, gaps).
    changes: u32,
    /// The silence gate in force, LUFS.
    gate: f64,
    /// The fast level at the last control point, LUFS.
    last_fast: f64,
    /// Gated loudness of the momentary readings of the last 2 s, LUFS.
    recent_2s: f64,
    /// Fast levels of the last [`SUSTAIN_S`] (ring).
    sustain: [f64; SUSTAIN_RING],
    sustain_pos: usize,
    sustain_cap: usize,
    /// The quietest of the ring's `sustain_cap` values, kept as values come and go (the
    /// ring is scanned again only when the value that leaves was the quietest), LUFS.
    sustain_min: f64,
    /// Gain applied after the AGC by the chain (automatic makeup), dB.
    post_db: f64,
}

impl Agc {
    /// Creates an AGC for `channels` interleaved channels at `sample_rate`, starting at unity
    /// gain. Allocation: none.
    pub fn new(sample_rate: u32, channels: usize, params: &AgcParams) -> Self {
        let rate = sample_rate.max(1);
        let mut weights = ChannelWeights {
            of: [1.0; WEIGHTED_CHANNELS],
            any: false,
            k_max: k_max_for(channels),
        };
        for (k, w) in weights.of.iter_mut().enumerate() {
            *w = if k < channels {
                crate::meter::channel_weight(channels, k)
            } else {
                1.0
            };
            weights.any |= *w != 1.0;
        }
        let fast_cap =
            ((FAST_WINDOW_S * rate as f64 / STEP as f64).round() as usize).clamp(1, FAST_RING);
        let sustain_cap =
            ((SUSTAIN_S * rate as f64 / STEP as f64).round() as usize).clamp(1, SUSTAIN_RING);
        Self::fresh(
            *params,
            STEP as f64 / rate as f64,
            ((rate as usize + 5) / 10) as f64 / rate as f64,
            fast_cap,
            sustain_cap,
            weights,
        )
    }

    /// Unity gain, no loudness estimate, with the timing fixed by [`Agc::new`].
    fn fresh(
        params: AgcParams,
        dt: f64,
        reading_dt: f64,
        fast_cap: usize,
        sustain_cap: usize,
        weights: ChannelWeights,
    ) -> Self {
        Self {
            weights,
            step_weighted: 0.0,
            onset_exp: Memo::new(),
            onset_follow_exp: Memo::new(),
            params,
            dt,
            reading_dt,
            level: 0.0,
            has_level: false,
            steady_only: false,
            noise_pending: false,
            judge_pending: true,
            gain_db: 0.0,
            goal_db: 0.0,
            onset_db: 0.0,
            gain_from: 1.0,
            gain_to: 1.0,
            gain_to_db: 0.0,
            pos: 0,
            step_energy: LaneEnergy::default(),
            step_sum: 0.0,
            step_frames: 0,
            last_step_frames: 0,
            step_channels: 1,
            fast_sums: [0.0; FAST_RING],
            fast_frames: [0; FAST_RING],
            fast_pos: 0,
            fast_len: 0,
            fast_cap,
            fast_sum: 0.0,
            fast_count: 0,
            sub_sum: 0.0,
            sub_frames: 0,
            subs: Ring::new(0.0),
            k_corr: 0.0,
            k_known: false,
            k_sub: 0.0,
            peak_now: LUFS_FLOOR,
            peaks: Ring::new(LUFS_FLOOR),
            recent_peak: LUFS_FLOOR,
            hist_m: LoudRing::new(LUFS_FLOOR),
            hist_sb: LoudRing::new(LUFS_FLOOR),
            hist_flat: Ring::new(f64::NAN),
            hist_fast_min: Ring::new(LUFS_FLOOR),
            fast_min: f64::INFINITY,
            flat_db: f64::NAN,
            active_s: 0.0,
            silent_s: 0.0,
            window: [0.0; WINDOW_MAX],
            win_pos: 0,
            win_len: 0,
            since_onset_s: f64::INFINITY,
            below_s: 0.0,
            floor: LUFS_FLOOR,
            onset_s: -1.0,
            onset_sum: 0.0,
            onset_frames: 0,
            onset_k: f64::NAN,
            onset_confirmed: false,
            since_transient_s: f64::INFINITY,
            moment_held: 0,
            onset_quiet_s: 0.0,
            transients: 0,
            resumptions: 0,
            onset_level: LUFS_FLOOR,
            adopted_rise: false,
            first_rise: false,
            after_gap: false,
            gap_fall: false,
            back_rise: false,
            resumed_rise: false,
            resume_level: LUFS_FLOOR,
            resume_age_s: 0.0,
            remembered_s: 0.0,
            heard_s: 0.0,
            resumed_in_silence: false,
            hold_floor: None,
            fading: false,
            fade_ramp: false,
            faded: false,
            unfaded_s: 0.0,
            since_start: 0,

            programme_active: false,
            speech_prog: false,
            talk_prog: false,
            talk_bits: 0,
            deferred: [0.0; DEFER_MAX],
            deferred_len: 0,
            prog_levels: Ring::new(LUFS_FLOOR),
            changes: 0,
            gate: LUFS_FLOOR,
            last_fast: LUFS_FLOOR,
            recent_2s: LUFS_FLOOR,
            sustain: [LUFS_FLOOR; SUSTAIN_RING],
            sustain_pos: 0,
            sustain_cap,
            sustain_min: LUFS_FLOOR,
            post_db: 0.0,
        }
    }

    /// Returns to unity gain with no loudness estimate. Real-time safe.
    pub fn reset(&mut self) {
        *self = Self::fresh(
            self.params,
            self.dt,
            self.reading_dt,
            self.fast_cap,
            self.sustain_cap,
            self.weights,
        );
    }

    /// Hands in new parameters; the gain moves to the new goal at the configured rates.
    /// Real-time safe.
    pub fn set_params(&mut self, p: &AgcParams) {
        self.params = *p;
    }

    /// The parameters in force.
    pub fn params(&self) -> &AgcParams {
        &self.params
    }

    /// Total gain at the last control point (ordinary + onset gain), dB. Real-time safe.
    pub fn gain_db(&self) -> f32 {
        (self.gain_db + self.onset_db) as f32
    }

    /// Fast onset gain at the last control point, dB (≤ 0; 0 when no onset is engaged).
    /// Real-time safe.
    pub fn onset_gain_db(&self) -> f32 {
        self.onset_db as f32
    }

    /// Whether the ordinary gain is within [`SETTLED_DB`] of its goal and no onset is
    /// engaged. Real-time safe.
    pub fn is_settled(&self) -> bool {
        (self.goal_db - self.gain_db).abs() < SETTLED_DB && self.onset_db > -0.5
    }

    /// Whether the total gain (ordinary + onset) is within [`SETTLED_DB`] of the ordinary
    /// gain's goal: the levelling is where it wants to be (not rising to a quieter programme
    /// just adopted, not falling to a louder one). Real-time safe.
    pub fn total_settled(&self) -> bool {
        (self.goal_db - (self.gain_db + self.onset_db)).abs() < SETTLED_DB
    }

    /// Whether the last reading was programme: sound within the relative gate of the
    /// programme estimate, outside an onset. Stages after the AGC measure what they take
    /// away only then. Real-time safe.
    pub fn programme_active(&self) -> bool {
        self.programme_active
    }

    /// Whether the last reading was under the silence gate (silence, or noise under
    /// `silence_gate_lufs`). Real-time safe.
    pub fn is_silent(&self) -> bool {
        self.silent_s > 0.0
    }

    /// A snapshot of the inner state. Real-time safe.
    pub fn diagnostics(&self) -> AgcDiagnostics {
        AgcDiagnostics {
            programme_lufs: self.has_level.then_some(self.level),
            below_s: self.below_s,
            floor_lufs: self.floor,
            spread_lu: self.spread(20),
            stationary: self.steady_only,
            window_readings: self.win_len,
            k_correction_lu: self.k_corr,
            fast_lufs: self.last_fast,
            recent_fast_lufs: self.recent_peak,
            faded: self.faded,
        }
    }

    /// The fast level of the input at the last control point: its mean square over the last
    /// [`FAST_WINDOW_S`] before the gain, in LUFS through the learnt K-weighting correction
    /// (digital silence reads about −100). Real-time safe.
    pub fn fast_lufs(&self) -> f64 {
        self.last_fast
    }

    /// K-weighted minus unweighted loudness of the input (learnt from the meter readings),
    /// LU: turns a mean square into an estimate of loudness. Real-time safe.
    pub fn k_correction_lu(&self) -> f64 {
        self.k_corr
    }

    /// K-weighted minus unweighted loudness of the input's last 100 ms sub-block alone, LU
    /// (the programme's [`k_correction_lu`](Self::k_correction_lu) when it was silent),
    /// updated when the meter closes a sub-block. Real-time safe.
    pub fn sub_block_k_correction_lu(&self) -> f64 {
        self.k_sub
    }

    /// Hands in the spectral flatness ([`crate::flatness`]) of the input's sub-block that the
    /// next fresh reading of [`control`](Self::control) closes, dB. Without it (NaN), sound
    /// is judged stationary by its spread alone. Real-time safe.
    pub fn set_flatness_db(&mut self, db: f64) {
        self.flat_db = db;
    }

    /// Tells the AGC the gain the chain applies after it (the automatic makeup), dB, so that
    /// loud onsets are held at the target as it comes out. Real-time safe.
    pub fn set_post_gain_db(&mut self, db: f64) {
        self.post_db = if db.is_finite() { db } else { 0.0 };
    }

    /// Time since the loud onset being handled began, s; `None` when none is engaged.
    /// Real-time safe.
    pub fn onset_elapsed_s(&self) -> Option<f64> {
        (self.onset_s >= 0.0).then_some(self.onset_s)
    }

    /// Number of loud onsets so far that were over before they were confirmed (wrapping):
    /// transients, after which the programme before them goes on. Stages after the AGC
    /// take back what they dropped at such an onset. Real-time safe.
    pub fn transients(&self) -> u32 {
        self.transients
    }

    /// Number of times so far (wrapping) that the speech-like programme heard before a louder
    /// one came back and was resumed at its remembered level ([`programme_lufs`] is that
    /// level then). Stages after the AGC take back what they had learnt of it. Real-time
    /// safe.
    ///
    /// [`programme_lufs`]: Self::programme_lufs
    pub fn resumptions(&self) -> u32 {
        self.resumptions
    }

    /// Whether the gain is going back up to the programme resumed after a short louder
    /// moment (a shouted word: [`SHORT_MOMENT_S`]). What stages after the AGC had learnt of
    /// that programme still holds. Real-time safe.
    pub fn back_from_short_moment(&self) -> bool {
        self.back_rise
    }

    /// Number of programme changes so far (wrapping): loud onsets, adopted quieter
    /// programmes, first estimates and gaps. Stages after the AGC re-learn what they take
    /// away when it changes. Real-time safe.
    pub fn programme_changes(&self) -> u32 {
        self.changes
    }

    /// Programme loudness estimate of the input, LUFS ([`LUFS_FLOOR`] before the first one).
    pub fn programme_lufs(&self) -> f32 {
        if self.has_level {
            self.level as f32
        } else {
            LUFS_FLOOR as f32
        }
    }

    /// Loudness of the input the gain in force is set for, LUFS: while a loud onset is
    /// being caught and has not yet become the programme estimate, the onset's level so far
    /// (the onset gain holds what goes in at [`ONSET_HOLD_LU`] over the target, within the
    /// AGC's whole cut); otherwise [`Agc::programme_lufs`]. Stages after the AGC that follow
    /// the level going in use this, so that an onset, until it is confirmed or let go, is
    /// not taken for the quieter programme before it at the onset's cut. Real-time safe.
    pub fn level_in_force_lufs(&self) -> f32 {
        if self.onset_s >= 0.0 && !self.onset_confirmed && self.params.enabled {
            self.onset_level as f32
        } else {
            self.programme_lufs()
        }
    }

    /// Sum of squares (per channel, before the gain) and frames of the last completed step
    /// (the one closed by the last [`control`](Self::control)). Real-time safe.
    pub fn step_energy(&self) -> (f64, usize) {
        (self.step_sum, self.last_step_frames)
    }

    /// Frames left until the next control point (1..=[`STEP`]). The caller must not hand
    /// [`process`](Self::process) more frames than this before calling
    /// [`control`](Self::control).
    pub fn frames_to_control(&self) -> usize {
        STEP - self.pos.min(STEP - 1)
    }

    /// Measures interleaved frames (before the gain, for the fast level) and applies the gain
    /// ramp in place, at most [`frames_to_control`](Self::frames_to_control) frames (extra
    /// frames get the end gain). `channels` is the interleaving. Real-time safe.
    #[inline]
    pub fn process(&mut self, buf: &mut [f32], channels: usize) {
        let ch = channels.max(1);
        let n = buf.len() / ch;
        let frames = buf.get(..n * ch).unwrap_or(&[]);
        if self.weights.any {
            // Weighted as the meters weigh the channels (LFE left out, surround 1.41):
            // weighted alike, the level follows the loudness wherever the sound moves.
            for f in frames.chunks_exact(ch) {
                let mut e = 0.0f64;
                for (k, &x) in f.iter().enumerate() {
                    let w = self.weights.of.get(k).copied().unwrap_or(1.0);
                    e += w * f64::from(x) * f64::from(x);
                }
                self.step_weighted += e;
            }
        } else {
            self.step_energy.add(frames);
        }
        self.step_frames += n;
        self.step_channels = ch;
        let (from, to) = (self.gain_from, self.gain_to);
        if from == to {
            // Flat ramp: every frame gets exactly `from` (what the ramp formula gives).
            buf.iter_mut().take(n * ch).for_each(|x| *x *= from);
            self.pos = self.pos.saturating_add(n).min(STEP);
        } else {
            self.pos = gain_ramp(buf, ch, from, to, self.pos, STEP);
        }
    }

    /// Control update at the end of a step. `momentary_lufs`: gated momentary loudness of the
    /// input; `sub_block_lufs`: loudness of the input's last 100 ms sub-block ([`LUFS_FLOOR`]
    /// or lower for none); `fresh`: whether the meter produced new readings since the last
    /// call (the programme estimate moves only then; the gains move every step).
    /// Real-time safe.
    pub fn control(&mut self, momentary_lufs: f64, sub_block_lufs: f64, fresh: bool) {
        self.pos = 0;
        let p = self.params;
        let dt = self.dt;
        let target = self.target_lufs();
        let gate =
            finite_clamp(p.silence_gate_lufs, -60.0, -100.0, 0.0).max(LUFS_FLOOR as f32) as f64;
        let max_boost = self.max_boost_db();
        let max_cut = self.max_cut_db();
        let rise = finite_clamp(p.rise_db_per_s, 3.0, 0.01, 1000.0) as f64;
        let fall = finite_clamp(p.fall_db_per_s, 10.0, 0.01, 1000.0) as f64;
        let window = finite_clamp(p.window_s, 2.0, 0.1, 60.0) as f64;
        let finite = |v: f64| if v.is_finite() { v } else { LUFS_FLOOR };
        let m = finite(momentary_lufs);
        let sb = finite(sub_block_lufs);
        self.gate = gate;

        let fast = self.fast_level(fresh, m, sb, gate);
        if fresh && self.onset_s >= ONSET_ATTACK_S && self.onset_k.is_nan() {
            self.onset_k = self.k_sub;
        }
        self.last_fast = fast;
        self.fast_min = self.fast_min.min(fast);
        let silent =
            m <= gate || m <= LUFS_FLOOR || (self.silent_s > 0.0 && m <= gate + GATE_HYSTERESIS_LU);

        if fresh {
            self.hist_m.push(if silent { LUFS_FLOOR } else { m });
            self.hist_sb.push(if sb <= gate { LUFS_FLOOR } else { sb });
            self.hist_flat.push(self.flat_db);
            self.flat_db = f64::NAN;
            self.hist_fast_min.push(self.fast_min);
            self.fast_min = f64::INFINITY;
            self.recent_2s =
                gated_mean(self.hist_m.newest_with_energy(0, 20), gate, 3).unwrap_or(LUFS_FLOOR);
            self.since_start = (self.since_start + 1).min(HISTORY_LEN);
            let short = self.falls_steadily(FADE_FIT_BLOCKS, FADE_SLOPE_LU);
            let long = self.falls_steadily(SLOW_FADE_FIT_BLOCKS, SLOW_FADE_SLOPE_LU);
            self.fading = short.is_some() || long.is_some();
            self.fade_ramp = short == Some(true) || long == Some(true);
            if self.fade_ramp {
                self.faded = true;
                self.unfaded_s = 0.0;
            } else if self.faded && !silent {
                self.unfaded_s += self.reading_dt;
                // Speech is no fade, whatever a phrase's fall looked like: its syllables
                // step both ways again and again, with dips between louder sound.
                let talk =
                    self.spread(20) >= SPEECH_LU && self.has_dip(20) && self.moves_both_ways(20, 2);
                self.faded = self.unfaded_s < FADE_RELEASE_S && !talk;
            }
            self.reading(m, silent, gate, window);
        }

        self.onset(fast, target, max_cut);

        let mut goal = if p.enabled && self.has_level {
            let boost = if self.steady_only {
                max_boost.min(STEADY_MAX_BOOST_DB)
            } else {
                max_boost
            };
            (target - self.level).clamp(-max_cut, boost)
        } else if p.enabled {
            self.gain_db
        } else {
            0.0
        };
        // Frozen: never move toward a boost while silent, but do honour a lowered limit
        // (parameter change) or a disabled stage. (A programme resumed in this silence takes
        // back the gain it had before the moment that cut it: what is under the gate is
        // restored to where it was then, not lifted over it.) Held the same way while sound
        // like noise is still being judged: no rise for it (nor a fall to the stationary cap
        // before it is judged stationary).
        let mut hold = (silent || self.noise_pending) && p.enabled && !self.resumed_in_silence;
        if let Some(floor) = self.hold_floor {
            if fast > floor + HOLD_MARGIN_LU || !p.enabled {
                self.hold_floor = None;
            } else {
                hold = true;
            }
        }
        // A fade-out or the ringing decay of a song's last chord: each reading lies within
        // the relative gate of an estimate that follows it down, and the gain rose as fast
        // as the sound fell — a chord dying away over 5 s was held at one level, 30 dB up by
        // its end. The gain does not follow the sound up while it falls steadily; what the
        // sound settles at, if anything, is levelled from there. (A programme resumed or
        // adopted over the fading tail — the dialogue after an explosion's decay — rises as
        // it did.)
        let own_rise = !(self.back_rise || self.resumed_rise || self.adopted_rise);
        hold |= self.fading && p.enabled && own_rise;
        if hold {
            goal = self.gain_db.min(goal).max(-max_cut);
        }
        self.goal_db = goal;
        // A clearly louder programme after a gap (the next track, a louder scene after a
        // pause): the gain held from the quieter one before is met as the new sound is read,
        // not at `fall_db_per_s` (music's 10 dB/s left a track 7 LU over the target for
        // its first second).
        if self.after_gap && !hold && self.gain_db - goal > ADOPT_LU {
            self.gap_fall = true;
        }
        if self.gap_fall && (self.gain_db - goal < SETTLED_DB || !p.enabled) {
            self.gap_fall = false;
        }
        // Taking over from the onset gain, the ordinary gain may fall as fast as needed.
        let fall_limit = if self.onset_db < -0.5 {
            fall.max(ONSET_FALL_DB_PER_S)
        } else if self.gap_fall {
            fall.max(ADOPTED_RISE_DB_PER_S)
        } else {
            fall
        };
        let (tau, rise_limit) = if self.back_rise || self.resumed_rise {
            (TAU_GAIN_BACK, rise.max(BACK_RISE_DB_PER_S))
        } else if self.adopted_rise
            || (self.first_rise && goal - self.gain_db > FIRST_RISE_MARGIN_DB)
        {
            (TAU_GAIN, rise.max(ADOPTED_RISE_DB_PER_S))
        } else if self.faded && own_rise {
            // After a fade, until it has ended: the gain follows what is left of it up only
            // slowly (a swell within the fade, a bar that holds still, the music's quieter
            // passage that the fall ended in), so the fade is heard as one.
            (TAU_GAIN, rise.min(FADED_RISE_DB_PER_S))
        } else {
            (TAU_GAIN, rise)
        };
        let v = ((goal - self.gain_db) / tau).clamp(-fall_limit, rise_limit);
        let mut next = self.gain_db + v * dt;
        if (goal - next).abs() < 1e-6 {
            next = goal;
        }
        // What the ordinary gain took over is released from the onset gain at once.
        if self.onset_db < 0.0 && next < self.gain_db {
            self.onset_db = (self.onset_db + (self.gain_db - next)).min(0.0);
        }
        self.gain_db = next;
        if goal - self.gain_db <= FIRST_RISE_MARGIN_DB {
            self.first_rise = false;
        }
        // (Held until the voice comes: the rise is for it.)
        if self.adopted_rise && self.hold_floor.is_none() && goal - self.gain_db < SETTLED_DB {
            self.adopted_rise = false;
            self.back_rise = false;
            self.resumed_rise = false;
        }
        if !p.enabled {
            self.onset_db = 0.0;
        }

        let total = self.gain_db + self.onset_db;
        self.gain_from = self.gain_to;
        if total != self.gain_to_db {
            self.gain_to_db = total;
            self.gain_to = db_to_lin(total as f32);
        }
    }

    /// Closes the step's measurement: updates the fast level ring, the K-weighting
    /// correction and the per-100 ms peaks; returns the fast level in LUFS.
    fn fast_level(&mut self, fresh: bool, m: f64, sb: f64, gate: f64) -> f64 {
        let total = if self.weights.any {
            std::mem::take(&mut self.step_weighted)
        } else {
            self.step_energy.take()
        };
        let sum = total / self.step_channels.max(1) as f64;
        let frames = self.step_frames;
        self.step_sum = sum;
        self.last_step_frames = frames;
        self.step_frames = 0;
        // Ring of per-step sums over the fast window.
        if self.fast_len == self.fast_cap {
            let old = self.fast_pos;
            self.fast_sum -= self.fast_sums.get(old).copied().unwrap_or(0.0);
            self.fast_count -= u64::from(self.fast_frames.get(old).copied().unwrap_or(0));
        } else {
            self.fast_len += 1;
        }
        if let (Some(s), Some(f)) = (
            self.fast_sums.get_mut(self.fast_pos),
            self.fast_frames.get_mut(self.fast_pos),
        ) {
            *s = sum;
            *f = frames.min(u32::MAX as usize) as u32;
        }
        self.fast_pos = (self.fast_pos + 1) % self.fast_cap;
        self.fast_sum = (self.fast_sum + sum).max(0.0);
        self.fast_count += frames as u64;
        if self.fast_len == self.fast_cap && self.fast_pos == 0 {
            // Re-sum once per window: no drift from the running subtraction.
            self.fast_sum = self.fast_sums.iter().take(self.fast_cap).sum();
        }
        self.sub_sum += sum;
        self.sub_frames += frames as u64;
        if fresh {
            let ms = if self.sub_frames > 0 {
                self.sub_sum / self.sub_frames as f64
            } else {
                0.0
            };
            self.subs.push(ms);
            self.k_sub = if sb > gate && ms > 0.0 {
                (sb - ms_to_lufs(ms)).clamp(-8.0, self.weights.k_max)
            } else {
                self.k_corr
            };
            self.sub_sum = 0.0;
            self.sub_frames = 0;
            if !self.k_known && sb > gate && ms > 0.0 {
                // The first sub-block of sound: a fresh chain's first loud start (clipped,
                // bright music) read 4–5 dB quiet through the guess, and its onset gain held
                // it that much over the target.
                self.k_corr = self.k_sub;
                self.k_known = true;
            } else if m > gate && self.subs.len == 4 {
                let unweighted = self.subs.newest(0, 4).sum::<f64>() / 4.0;
                if unweighted > 0.0 {
                    let c = m - ms_to_lufs(unweighted);
                    // Smoothed: one reading of a spectral change moves it only in part.
                    self.k_corr += 0.3 * (c.clamp(-8.0, self.weights.k_max) - self.k_corr);
                }
            }
            self.peaks.push(self.peak_now);
            self.recent_peak = self.peak_reference();
            self.peak_now = LUFS_FLOOR;
        }
        let f = if self.fast_count > 0 {
            ms_to_lufs(self.fast_sum / self.fast_count as f64) + self.k_corr
        } else {
            LUFS_FLOOR
        };
        self.peak_now = self.peak_now.max(f);
        f
    }

    /// The loudest fast level of the 2 s before the newest [`PEAK_SKIP`] sub-blocks, LUFS.
    fn peak_reference(&self) -> f64 {
        self.peaks
            .newest(PEAK_SKIP, PEAK_RING)
            .fold(LUFS_FLOOR, f64::max)
    }

    /// Puts `fast` in the [`SUSTAIN_S`] ring in place of its oldest value and returns the
    /// ring's quietest value: the same as folding the ring with `f64::min`, kept
    /// incrementally (a new value at or under the quietest is the quietest; otherwise only
    /// the quietest value leaving, or a NaN, makes it scan the ring again).
    fn hold(&mut self, fast: f64) -> f64 {
        let Some(slot) = self.sustain.get_mut(self.sustain_pos) else {
            return self.sustain_min;
        };
        let leaving = std::mem::replace(slot, fast);
        self.sustain_pos = (self.sustain_pos + 1) % self.sustain_cap.max(1);
        if fast <= self.sustain_min {
            self.sustain_min = fast;
        } else if leaving == self.sustain_min || fast.is_nan() {
            self.sustain_min = self
                .sustain
                .iter()
                .take(self.sustain_cap)
                .fold(f64::INFINITY, |a, &b| a.min(b));
        }
        self.sustain_min
    }

    /// The fast onset gain: engages on a new loud level, holds the event down, hands over
    /// to the ordinary gain.
    fn onset(&mut self, fast: f64, target: f64, max_cut: f64) {
        let dt = self.dt;
        if !self.params.enabled {
            self.onset_s = -1.0;
            self.onset_db = 0.0;
            return;
        }
        let recent = self.recent_peak;
        let excess = fast + self.gain_db + self.onset_db + self.post_db - target;
        // The fast level held over the last SUSTAIN_S: a loud syllable or hit is over by
        // then, a louder programme (an advert after dialogue) is not.
        let held = self.hold(fast);
        let held_excess = held + self.gain_db + self.onset_db + self.post_db - target;
        // Against the loudness of the last 2 s (not the programme window, which lags a slow
        // crescendo by design).
        let first = !self.has_level && excess - self.post_db > FIRST_EXCESS_LU;
        let novel = (fast > recent + NOVELTY_LU && (excess > ONSET_EXCESS_LU || first))
            || (self.recent_2s > LUFS_FLOOR
                && held > self.recent_2s + SUSTAINED_LU
                && held_excess > SUSTAINED_LU);
        if novel && self.onset_s < 0.0 {
            self.changes = self.changes.wrapping_add(1);
            self.onset_s = 0.0;
            self.onset_confirmed = false;
            self.onset_quiet_s = 0.0;
            self.since_onset_s = 0.0;
            self.onset_sum = 0.0;
            self.onset_frames = 0;
            self.onset_k = f64::NAN;
        }
        let mut want = 0.0;
        self.since_onset_s += dt;
        self.since_transient_s += dt;
        if self.onset_s >= 0.0 {
            self.onset_s += dt;
            // The event's level so far: the fast window at its start, then the energy
            // average since the onset.
            let last = self
                .fast_sums
                .get((self.fast_pos + self.fast_cap - 1) % self.fast_cap);
            let frames = self
                .fast_frames
                .get((self.fast_pos + self.fast_cap - 1) % self.fast_cap);
            self.onset_sum += last.copied().unwrap_or(0.0);
            self.onset_frames += u64::from(frames.copied().unwrap_or(0));
            let since = if self.onset_frames > 0 {
                ms_to_lufs(self.onset_sum / self.onset_frames as f64) + self.k_corr
            } else {
                fast
            };
            let level = if self.onset_s < FAST_WINDOW_S {
                fast.max(since)
            } else {
                since
            };
            self.onset_level = level;
            // The level going into the compressor is held at the target; the chain drops the
            // makeup behind the compressor at an onset, so that is what comes out.
            want = (target + ONSET_HOLD_LU - (level + self.gain_db)).min(0.0);
            // How long the event has been quiet (its fast level far under its level so far):
            // a gap between a loud talker's syllables is short, the end of a slam is not.
            if self.onset_s >= FAST_WINDOW_S && fast < level - ONSET_END_LU {
                self.onset_quiet_s += dt;
            } else {
                self.onset_quiet_s = 0.0;
            }
            if !self.onset_confirmed && self.onset_quiet_s >= ONSET_END_S {
                // Over before it became a programme (a slam, a shot, a clap): a transient.
                // The onset gain lets go (its release) and the programme estimate stays:
                // the voice after it is not taken for far under a new, loud programme.
                want = 0.0;
                self.onset_s = -1.0;
                self.since_transient_s = 0.0;
                self.transients = self.transients.wrapping_add(1);
            } else if self.onset_confirmed {
                // The estimate has the event's level: the fast gain covers what the ordinary
                // gain has still to fall.
                want = (target + ONSET_HOLD_LU - (self.level + self.gain_db)).min(0.0);
            } else if self.onset_s >= ONSET_CONFIRM_S && want < -0.5 && self.onset_quiet_s == 0.0 {
                // (Confirmed while it sounds: in a gap, it waits for more of it or its end.)
                // A lasting louder programme: the estimate takes it, the ordinary gain
                // follows and takes the cut over.
                self.onset_confirmed = true;
                // The estimate takes the event's level through the K-weighting correction
                // learnt from the programme before, or the event's own once a sub-block of
                // it has closed, whichever reads it quieter: a bass-heavy explosion after a
                // whisper read 9–10 LU louder through the whisper's correction than it is,
                // and the estimate set from that held the explosion 6–7 dB under its own
                // level (14 LU under the whisper) for as long as it lasted. (An estimate
                // under the programme is corrected by the readings that come in over it
                // within a reading or two; one over it is not: they count as a pause.)
                let level = match (self.onset_k.is_finite(), self.onset_frames > 0) {
                    (true, true) => level.min(
                        ms_to_lufs(self.onset_sum / self.onset_frames as f64)
                            + self.k_corr.min(self.onset_k),
                    ),
                    _ => level,
                };
                if !self.has_level || level > self.level {
                    self.restart_window(level);
                    self.steady_only = false;
                    self.noise_pending = false;
                    self.below_s = 0.0;
                }
            }
            // The whole cut of the AGC stays within max_cut: with the ordinary gain at the
            // limit there is nothing left for the onset gain to hold, and the event is over
            // (else it would stay engaged and freeze the programme estimate).
            want = want.max((-max_cut - self.gain_db).min(0.0));
            if want >= -0.05 && self.onset_s >= FAST_WINDOW_S {
                self.onset_s = -1.0;
            }
        }
        let a = if want < self.onset_db {
            1.0 - self.onset_exp.get(-dt / TAU_ONSET_ATTACK, f64::exp)
        } else if self.onset_s >= 0.0 {
            1.0 - self.onset_follow_exp.get(-dt / TAU_ONSET_FOLLOW, f64::exp)
        } else {
            1.0 - self.onset_exp.get(-dt / TAU_ONSET_RELEASE, f64::exp)
        };
        self.onset_db += a * (want - self.onset_db);
        if self.onset_db > -1e-4 {
            self.onset_db = 0.0;
        }
    }

    /// A new momentary reading (every 100 ms): silence, gaps, the relative gate, the
    /// programme estimate.
    fn reading(&mut self, m: f64, silent: bool, gate: f64, window_s: f64) {
        let rdt = self.reading_dt;
        self.remembered_s += rdt;
        self.programme_active = false;
        let cap = ((window_s / rdt).round() as usize).clamp(1, WINDOW_MAX);
        if silent {
            self.active_s = 0.0;
            self.silent_s += rdt;
            if self.silent_s >= GAP_S {
                // A fade before the gap has ended.
                self.faded = false;
            }
            if self.silent_s >= GAP_S
                && self.has_level
                && !self.resumed_in_silence
                && self.moment_before(SHORT_RISE_LU)
            {
                // A short louder moment, then silence: the remembered programme's pause. Its
                // level is the estimate again and the gain goes back to it in the silence;
                // the window restarts with the next sound, as after any gap, and that sound
                // is judged on its own.
                self.resume_in_pause(gate);
                self.judge_pending = true;
                self.resumed_in_silence = true;
                self.after_gap = true;
            } else if self.silent_s >= GAP_S && self.win_len > 0 && self.has_level {
                // A gap: the next sound may be a new programme (the next track). The
                // estimate stays as it is until sound comes; the window restarts with it.
                self.win_len = 0;
                self.deferred_len = 0;
                self.changes = self.changes.wrapping_add(1);
                self.judge_pending = true;
                self.after_gap = true;
            }
            if self.has_level {
                self.below_s += rdt;
            }
            return;
        }
        if self.silent_s > 0.0 && self.silent_s < GAP_S {
            // Sound again after a silence shorter than a gap: what follows is no longer the
            // start of the sound after the last gap.
            self.after_gap = false;
        }
        self.silent_s = 0.0;
        self.resumed_in_silence = false;
        self.active_s += rdt;
        self.heard_s += rdt;
        if self.active_s > GAP_FALL_S {
            self.after_gap = false;
        }
        if self.judge_pending {
            // Sound after silence: stationary (noise, hum, a tone) or not, judged on its own
            // full sub-blocks only (not the silence before it, not a first partial block).
            if let Some(s) = self.sound_spread(JUDGE_BLOCKS) {
                self.judge_sound(s);
            }
        }
        if !self.has_level {
            // Wait for the 400 ms window to fill before the first estimate.
            if self.active_s >= ONSET_S {
                self.changes = self.changes.wrapping_add(1);
                self.restart_window(m);
                self.first_rise = true;
            }
            return;
        }
        if self.steady_only
            && !self.judge_pending
            && self
                .sound_spread(2 * JUDGE_BLOCKS)
                .is_some_and(|s| self.modulated(s))
        {
            self.steady_only = false;
            // Sound `LOUDER_LU` or more over the stationary sound (a voice after room tone,
            // music after an ambience) is a programme over it, and so is sound that turns
            // modulated within `STEADY_ADOPT_S` of its start (a track that opens on a cymbal
            // roll): the gain meets it as an adopted programme's instead of rising from the
            // stationary cap at `rise_db_per_s` (a voice at −40 LUFS after rumble at −56 came
            // out 9 dB under itself for its first second with `default`; a Wesnoth track at
            // −55 LUFS reached its gain 3 s later than with no cap).
            if self.active_s < STEADY_ADOPT_S
                || self
                    .quiet_of(self.sound_blocks())
                    .is_some_and(|q| m >= q + LOUDER_LU)
            {
                self.adopted_rise = true;
            }
        }
        if let Some(after) = self.resumes_after_moment(gate) {
            self.resume(cap);
            // The momentary readings of the next sub-blocks still hold the moment.
            let window = (ONSET_S / rdt).round() as usize;
            self.moment_held = window.saturating_sub(after + 1);
            return;
        }
        if self.hold_floor.is_none() {
            if let Some(floor) = self.moment_before_pause() {
                // A short louder moment, then a pause with room noise in it: the remembered
                // programme's pause. Its level is the estimate again; the gain is held until
                // sound over the noise comes (the voice), so the noise is not lifted.
                self.resume_in_pause(gate);
                self.hold_floor = Some(floor);
                self.below_s = 0.0;
                return;
            }
        }
        if self.moment_held > 0 {
            self.moment_held -= 1;
            return;
        }
        if self.onset_s >= 0.0 || self.since_transient_s < ONSET_S {
            // An onset is being handled, its readings still hold what came before; or a
            // transient just ended, and they still hold it.
            return;
        }
        let diff = m - self.level;
        let settling = self.active_s < ONSET_S || self.since_onset_s < ONSET_S;
        // Clearly quieter sound that holds still (its last 0.5 s of 100 ms loudness within
        // STATIONARY_LU: noise, hum, an ambience) is not the programme going on more quietly:
        // it would pull the estimate down and the gain up onto it. It is judged as quieter
        // sound instead (held like a pause, adopted as stationary if it lasts).
        let steady_under = diff < -ADOPT_LU
            && (self.spread_of(STEADY_UNDER_BLOCKS, STEADY_UNDER_BLOCKS) < STATIONARY_LU
                || self.steady_over(
                    self.spread_of(NOISE_JUDGE_BLOCKS, NOISE_JUDGE_BLOCKS),
                    NOISE_JUDGE_BLOCKS,
                ));
        // A pause of a speech-like programme, with sound in it a few LU under the voice (a
        // crowd, a music bed, a noisy room): its readings would pull the estimate down and the
        // gain up onto that sound within the window's length — a bed 8–12 LU under a
        // commentator rose 6–11 dB in pauses of 3 s. While the programme was speech-like and
        // its estimate held (`speech_prog`), once the last 0.4 s read clearly quieter (after
        // the first such reading), readings more than ADOPT_LU under the estimate are
        // held back while the sound since then has no syllables (no dip): entered when the
        // programme is heard again within PAUSE_CONFIRM_S (a gap between phrases counts as
        // it always did), dropped when the pause lasts. Whether the quieter sound is a new
        // programme is left to the adoption below.
        let pause_under = diff < -ADOPT_LU
            && self.speech_prog
            && self.below_s > 0.0
            && !self.has_dip(self.readings_below().clamp(5, 20));
        let within = diff >= -RELATIVE_GATE_LU && !settling && !steady_under;
        if diff >= 0.0 || (within && !pause_under) {
            // Programme: within the relative gate (and not a window still partly silent or
            // still holding what came before an onset).
            self.programme_active = true;
            self.flush_deferred(cap);
            self.learn_floor();
            if self.after_gap && self.active_s < ONSET_S + 0.5 * rdt {
                // The first readings after a gap still hold part of the silence: each is a
                // fuller reading of the new sound than the one before, so it replaces them
                // (averaged in, they held a louder programme's estimate under it for the
                // whole window).
                self.restart_window(m);
            } else {
                self.enter(m, cap);
                let louder = if window_s <= LOUDER_WINDOW_MAX_S {
                    // A louder programme that holds still.
                    self.louder_programme(cap).map(|l| (l, LOUDER_READINGS))
                } else {
                    // A louder voice, in a window long enough to keep a louder passage; after
                    // talk, also a louder programme that holds still.
                    self.louder_voice(cap)
                        .map(|l| (l, LOUDER_VOICE_READINGS))
                        .or_else(|| {
                            self.levelled_talk_before()
                                .then(|| self.louder_programme(cap))
                                .flatten()
                                .map(|l| (l, LOUDER_READINGS))
                        })
                };
                if let Some((l, readings)) = louder {
                    // The window starts over with its readings instead of climbing to it
                    // over its whole length.
                    self.changes = self.changes.wrapping_add(1);
                    self.restart_window(l);
                    // The gain meets it as a louder programme after a gap.
                    self.gap_fall = true;
                    for _ in 1..readings {
                        self.enter(l, cap);
                    }
                }
            }
            self.prog_levels.push(self.level);
            self.talk_prog = self.spread(20) >= SPEECH_LU && self.has_dip_of(20, PAUSE_DIP_LU);
            self.talk_bits = (self.talk_bits << 1) | u32::from(self.talk_prog);
            self.speech_prog = self.talk_prog && self.estimate_held();
            self.remember(m);
        } else if within {
            // A pause: held back until it is known to be more than a gap between phrases.
            if self.below_s + 1e-9 < PAUSE_CONFIRM_S {
                if let Some(slot) = self.deferred.get_mut(self.deferred_len) {
                    *slot = m;
                    self.deferred_len += 1;
                }
            } else {
                self.deferred_len = 0;
            }
        }
        self.resume_age_s += rdt;
        // The programme is still there while the sound of the last 0.4 s as a whole (its
        // 100 ms sub-blocks, which show a change at once) is within ADOPT_LU of the estimate:
        // one quiet moment is not a new programme, and a pause is no sign of the programme.
        let present = self
            .recent_level(gate)
            .is_some_and(|q| q >= self.level - ADOPT_LU);
        if present {
            self.below_s = 0.0;
            return;
        }
        // Clearly quieter for a while: a pause, unless it is a new programme.
        self.below_s += rdt;
        if self.resumes(gate) {
            self.resume(cap);
            return;
        }
        if let Some(fast) = self.adopt(gate, window_s) {
            self.changes = self.changes.wrapping_add(1);
            self.new_programme();
            let readings = self.readings_below();
            // Judged on the sound since the last silence when there was one in between
            // (digital silence does not make noise modulated).
            if self.sound_blocks() < readings {
                match self.sound_spread(JUDGE_BLOCKS) {
                    Some(s) => self.judge_sound(s),
                    None => {
                        // Too little of it yet: as before, judged again once there is.
                        self.steady_only = self.steady_over(self.spread(readings), readings);
                        self.noise_pending = false;
                        self.judge_pending = true;
                    }
                }
            } else {
                self.steady_only = self.steady_over(self.spread(readings), readings);
                self.noise_pending = false;
            }
            // The window starts over with the quieter sound heard so far.
            let n = readings.clamp(1, 10);
            let mut first = true;
            for k in (0..n).rev() {
                let Some(v) = self.hist_sb.back(k).filter(|&v| v > gate) else {
                    continue;
                };
                if first {
                    self.win_len = 0;
                    self.deferred_len = 0;
                    first = false;
                }
                self.enter(v, n);
                self.adopted_rise = fast;
                self.back_rise = false;
                self.resumed_rise = false;
            }
            self.below_s = 0.0;
        }
    }

    /// Enters a programme reading into the window and updates the estimate: the gated
    /// (BS.1770 relative gate) energy mean of the newest `cap` readings.
    fn enter(&mut self, m: f64, cap: usize) {
        if let Some(slot) = self.window.get_mut(self.win_pos) {
            *slot = lufs_to_ms(m);
        }
        self.win_pos = (self.win_pos + 1) % WINDOW_MAX;
        self.win_len = (self.win_len + 1).min(WINDOW_MAX);
        let n = self.win_len.min(cap);
        let newest = self.window_readings(0, n);
        let mean = newest.clone().sum::<f64>() / n.max(1) as f64;
        let rel = mean * 10f64.powf(-RELATIVE_GATE_LU / 10.0);
        let (mut e, mut c) = (0.0, 0usize);
        for v in newest.filter(|&v| v >= rel) {
            e += v;
            c += 1;
        }
        if c > 0 {
            self.level = ms_to_lufs(e / c as f64);
            self.has_level = true;
        }
    }

    /// A louder programme that holds still: the newest [`LOUDER_READINGS`] momentary
    /// readings (none silent) within [`LOUDER_SPREAD_LU`] of one another and their energy
    /// mean [`LOUDER_LU`] or more over the window's older readings (at least as many).
    /// `Some` of that mean. Real-time safe (no allocation; at most the window's readings).
    fn louder_programme(&self, cap: usize) -> Option<f64> {
        let n = self.win_len.min(cap);
        if n < 2 * LOUDER_READINGS {
            return None;
        }
        let (mut lo, mut hi, mut e) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
        for v in self.hist_m.newest(0, LOUDER_READINGS) {
            if v <= LUFS_FLOOR {
                return None;
            }
            lo = lo.min(v);
            hi = hi.max(v);
            e += lufs_to_ms(v);
        }
        if hi - lo > LOUDER_SPREAD_LU {
            return None;
        }
        let new = ms_to_lufs(e / LOUDER_READINGS as f64);
        // The window's readings before them.
        (new >= self.window_mean_lufs(LOUDER_READINGS, n) + LOUDER_LU).then_some(new)
    }

    /// Whether the programme before the newest [`LOUDER_READINGS`] programme readings was
    /// talk-like (`talk_prog`) and levelled: its estimate then within the gain's reach of
    /// the target. A louder programme that holds still after it is a new programme (the
    /// advert after the news), not a louder passage; after a quiet, sparse opening of
    /// music that the gain could not lift to the target (which reads as talk), it is the
    /// music's own contrast.
    fn levelled_talk_before(&self) -> bool {
        let Some(before) = self.prog_levels.back(LOUDER_READINGS - 1) else {
            return false;
        };
        let need = self.target_lufs() - before;
        (self.talk_bits >> (LOUDER_READINGS - 1)) & 1 == 1
            && need <= self.max_boost_db()
            && need >= -self.max_cut_db()
    }

    /// A louder voice: the newest [`LOUDER_VOICE_READINGS`] readings are all in the window
    /// (none silent), their sub-blocks speech-like (spread over [`SPEECH_LU`] with a dip
    /// that deep) and their energy mean [`LOUDER_LU`] or more over the window's older
    /// readings (at least as many). `Some` of that mean. Real-time safe (no allocation; at
    /// most the window's readings).
    fn louder_voice(&self, cap: usize) -> Option<f64> {
        let n = self.win_len.min(cap);
        if n < 2 * LOUDER_VOICE_READINGS
            || self
                .hist_m
                .newest(0, LOUDER_VOICE_READINGS)
                .any(|v| v <= LUFS_FLOOR)
            || self.spread(LOUDER_VOICE_READINGS) < SPEECH_LU
            || !self.has_dip(LOUDER_VOICE_READINGS)
        {
            return None;
        }
        let new = self.window_mean_lufs(0, LOUDER_VOICE_READINGS);
        let old = self.window_mean_lufs(LOUDER_VOICE_READINGS, n);
        (new >= old + LOUDER_LU).then_some(new)
    }

    /// The energy mean of the window's readings `from..to` counted from the newest (0), LUFS
    /// (`to > from`). Real-time safe.
    fn window_mean_lufs(&self, from: usize, to: usize) -> f64 {
        ms_to_lufs(self.window_readings(from, to).sum::<f64>() / (to - from) as f64)
    }

    /// The window's readings `from..to` counted from the newest (0), as mean squares.
    fn window_readings(&self, from: usize, to: usize) -> impl Iterator<Item = f64> + Clone + '_ {
        (from..to).filter_map(|k| {
            self.window
                .get((self.win_pos + WINDOW_MAX - 1 - k) % WINDOW_MAX)
                .copied()
        })
    }

    /// A programme starts (adopted, resumed, a louder one taking over): a fade heard before
    /// it has ended, and the fade test looks at its sub-blocks only.
    fn new_programme(&mut self) {
        self.faded = false;
        self.unfaded_s = 0.0;
        self.since_start = 0;
    }

    /// Starts the window over with one reading at `level`: a new programme.
    fn restart_window(&mut self, level: f64) {
        self.new_programme();
        self.win_len = 0;
        self.deferred_len = 0;
        self.enter(level, 1);
    }

    /// Whether the estimate has held within [`RESUME_RISING_LU`] over the last
    /// [`PROG_LEVELS`] programme readings: the programme is the one that has been playing,
    /// not a louder moment that just took the estimate over (the sound after a shouted word
    /// is the dialogue resuming, decided by the resumption) nor a change still under way.
    fn estimate_held(&self) -> bool {
        if self.prog_levels.len < PROG_LEVELS {
            return false;
        }
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for k in 0..PROG_LEVELS {
            let v = self.prog_levels.back(k).unwrap_or(f64::NAN);
            lo = lo.min(v);
            hi = hi.max(v);
        }
        hi - lo <= RESUME_RISING_LU
    }

    /// Enters the readings of a pause held back ([`PAUSE_CONFIRM_S`]): it was a gap between
    /// phrases.
    fn flush_deferred(&mut self, cap: usize) {
        let n = std::mem::take(&mut self.deferred_len);
        for k in 0..n.min(DEFER_MAX) {
            let v = self.deferred.get(k).copied().unwrap_or(LUFS_FLOOR);
            self.enter(v, cap);
        }
    }

    /// Readings since the programme was last heard (at most the history).
    fn readings_below(&self) -> usize {
        ((self.below_s / self.reading_dt).round() as usize).min(HISTORY_LEN)
    }

    /// The target in force, LUFS (the parameter, made finite and in range).
    fn target_lufs(&self) -> f64 {
        finite_clamp(self.params.target_lufs, -16.0, LUFS_FLOOR as f32, 0.0) as f64
    }

    /// The largest boost in force, dB (the parameter, made finite and in range).
    fn max_boost_db(&self) -> f64 {
        finite_clamp(self.params.max_boost_db, 18.0, 0.0, 60.0) as f64
    }

    /// The largest cut in force, dB (the parameter, made finite and in range).
    fn max_cut_db(&self) -> f64 {
        finite_clamp(self.params.max_cut_db, 24.0, 0.0, 90.0) as f64
    }

    /// Whether the sound heard since the programme was last heard, quieter than the
    /// relative gate, is a new programme: `Some(fast)` if it is, `fast` when the gain may rise
    /// to it at [`ADOPTED_RISE_DB_PER_S`] (speech-like sound, or modulated sound after a gap:
    /// a quiet voice after a loud passage, the next track). Other sound — a music bed left
    /// alone for seconds — is risen to at `rise_db_per_s`, as the programme's own changes
    /// are: lifted at 100 dB/s, a bed adopted 5 s into a pause swelled by 8 dB within 0.3 s,
    /// and the voice back over it came out that much hot.
    fn adopt(&self, gate: f64, window_s: f64) -> Option<bool> {
        // Judge the quieter sound alone: its sub-blocks since the programme was last heard.
        let own = self.readings_below();
        // Modulated sound after a gap (the window restarted at it: the next track, speech
        // after a pause of silence that ended the music) follows a programme that has ended:
        // it is judged as soon as its own first full sub-blocks are heard, with no wait for
        // it to last and no fade test (a fade does not go on across silence). It waited the
        // rules below (a fade test over 0.6 s of sound each side), and the first 1.3 s of
        // quiet speech after loud music and a second of silence came out 6.6–8.4 LU under
        // the target (19–21 for recorded speech at −41.5 LUFS, whose pauses fell under the
        // silence gate). Steady sound (noise, hum) is still judged by them.
        if self.win_len == 0 && self.sound_blocks() < own {
            if let Some(s) = self.sound_spread(JUDGE_BLOCKS) {
                if !self.steady_over(s, self.sound_blocks()) {
                    let heard = self.sound_blocks().min(HISTORY_LEN);
                    let now = gated_mean(self.hist_sb.newest_with_energy(0, heard), gate, 2)?;
                    return (now < self.level - ADOPT_LU
                        && self.over_gate(gate)
                        && (s >= SPEECH_LU || now > self.floor + FLOOR_MARGIN_LU))
                        .then_some(true);
                }
            }
        }
        // Speech-like: syllables and the pauses between them, a dip on each side of which
        // louder sound is heard. A spread alone also counts a music bed swelling in a
        // pause of the voice over it (−47 → −38 LUFS in 0.6 s): it was adopted 0.6 s into
        // every pause of 3 s and more and lifted 14 dB within a quarter second.
        // Far under the estimate (a loud programme has ended: a film's dialogue after an
        // action scene), steps of MOVES_LU both ways between its 100 ms readings will do for
        // the dip: continuous dialogue 15–18 LU under a battle had no dip for 1.4 s and sat
        // 20–25 LU under the target all that time.
        let far = || {
            gated_mean(self.hist_sb.newest_with_energy(0, own), gate, 2)
                .is_some_and(|l| l < self.level - FAR_UNDER_LU)
        };
        let spread = own >= 4 && self.spread(own) >= SPEECH_LU;
        // While the sound falls steadily as a ramp (`fade_ramp`), one dip or one step each
        // way is the fade's music (a beat, a swell near its end), not yet syllables: speech
        // steps both ways again and again.
        let times = if self.fade_ramp { 2 } else { 1 };
        let dip = spread && self.has_dip(own) && (!self.fade_ramp || self.moves_both_ways(own, 2));
        // (Such sound is no fade of the programme either: a fade steps one way.)
        let syllables = spread && !dip && far() && self.moves_both_ways(own, times);
        let speech_like = dip || syllables;
        let short = if speech_like {
            adopt_s(window_s)
        } else {
            STEADY_ADOPT_S
        };
        // Quieter sound straight after the programme (the window holds programme heard
        // since the last gap) may be a quiet passage inside it: a long window waits longer.
        let needed = if self.win_len > 0 {
            short.max(long_window_adopt_s(window_s))
        } else {
            short
        };
        if self.below_s + 1e-9 < needed {
            return None;
        }
        // Not a fade: the newer half of the quieter sound (up to 0.6 s) is not clearly under
        // the older half.
        // Compared by their loudest 100 ms: the loud syllables of speech come back in every
        // half second, a fade's do not.
        let half = (self.readings_below() / 2).clamp(3, 6);
        let loudest = |skip: usize| {
            self.hist_sb
                .newest(skip, half)
                .filter(|&v| v > gate)
                .fold(f64::NEG_INFINITY, f64::max)
        };
        let (peak_now, peak_before) = (loudest(0), loudest(half));
        // Nor is sound that still falls steadily as a ramp (`fade_ramp`) unless it is
        // speech-like: a song's fade-out whose beats hide the fall between two half seconds
        // was taken up 4 s into it and lifted 20 dB while it went on fading.
        if !peak_now.is_finite()
            || !peak_before.is_finite()
            || (peak_now < peak_before - FADE_LU && !syllables)
            || (self.fade_ramp && !speech_like)
        {
            return None;
        }
        let now = gated_mean(self.hist_sb.newest_with_energy(0, 2 * half), gate, 2)?;
        if now >= self.level - ADOPT_LU {
            return None;
        }
        // Stationary sound straight after the programme (the window still holds it: room
        // noise or hum in a long pause) is adopted only when the stationary cap then takes
        // the gain down (new noise after a quiet, boosted voice); the programme's own noise
        // is never lifted onto the target (it rose 2.5–7 dB within a tenth of a second, 4 s
        // into a pause after a loud voice): it stays a pause, at the programme's gain.
        // After a programme with no pauses of speech (music), steady sound that lasts is the
        // next programme (a pad, an organ chord, a tone: held at loud music's gain, 21–23 LU
        // under the target for as long as it lasted), lifted within the stationary cap.
        if self.win_len > 0 && self.steady_over(self.spread(own), own) && self.talk_prog {
            let boost = self.max_boost_db().min(STEADY_MAX_BOOST_DB);
            if (self.target_lufs() - now).min(boost) > self.gain_db {
                return None;
            }
        }
        // The programme's own noise floor, heard on its own, is not a programme (speech-like
        // sound never is a noise floor), nor is sound just over the silence gate.
        (self.over_gate(gate) && (speech_like || now > self.floor + FLOOR_MARGIN_LU))
            .then_some(speech_like)
    }

    /// Whether the newest momentary reading lies [`FLOOR_MARGIN_LU`] or more over the silence
    /// gate. Sound just over it is what a programme's silences hold, not a programme to lift
    /// onto the target: where the programme's pauses fall under the gate no noise floor is
    /// learnt, and typing in a call's silences (its momentary loudness 2–4 LU over the gate,
    /// its clicks' 100 ms readings spread like syllables with dips between them) was adopted
    /// as the next programme and lifted to the 30 dB limit, 12 dB over the voice's gain.
    fn over_gate(&self, gate: f64) -> bool {
        self.hist_m.newest(0, 1).next().unwrap_or(LUFS_FLOOR) > gate + FLOOR_MARGIN_LU
    }

    /// Remembers the programme's level while it is speech-like (its last 2 s spread like
    /// syllables and pauses) and the estimate is not rising, unless a much louder programme
    /// has taken the estimate over since the remembered one was heard: that one is then
    /// kept, for [`RESUME_MAX_S`], to be resumed at once when it comes back.
    fn remember(&mut self, m: f64) {
        // Not while the estimate is still rising to a louder programme (its readings are
        // above it): the level remembered is one the programme held.
        // Speech-like as for an adoption (a dip, not only a spread): a music bed that took
        // the estimate over while it swelled was remembered, and resumed at 100 dB/s in the
        // voice's next pause.
        if m > self.level + RESUME_RISING_LU || self.spread(20) < SPEECH_LU || !self.has_dip(20) {
            return;
        }
        let kept = self.resume_level > LUFS_FLOOR && self.resume_age_s <= RESUME_MAX_S;
        // A short louder moment leaves the memory alone as well (for now): the programme
        // after it is resumed at once.
        let moment = self.short_moment();
        if !kept || (self.level < self.resume_level + RELATIVE_GATE_LU && !moment && !self.burst())
        {
            self.resume_level = self.level;
            self.resume_age_s = 0.0;
            self.remembered_s = 0.0;
            self.heard_s = 0.0;
        }
    }

    /// Whether the estimate stands [`BURST_LU`] or more above the remembered level within
    /// [`BURST_S`] of the last time it was remembered.
    fn burst(&self) -> bool {
        self.resume_level > LUFS_FLOOR
            && self.resume_age_s <= BURST_S
            && self.level >= self.resume_level + BURST_LU
    }

    /// Whether the estimate stands [`SHORT_RISE_LU`] or more above the remembered level, and
    /// took over within [`SHORT_MOMENT_S`] of the last time it was remembered.
    fn short_moment(&self) -> bool {
        self.resume_level > LUFS_FLOOR
            && self.remembered_s <= SHORT_MOMENT_S
            && self.level >= self.resume_level + SHORT_RISE_LU
    }

    /// The remembered programme resumed in a pause after a short louder moment
    /// ([`MOMENT_BLOCKS_MAX`]): the estimate at its level, the window empty (it restarts with
    /// the next sound, as after a gap), and the moment forgotten as the reference of what is
    /// new — a louder programme after the pause is a loud onset after the remembered one,
    /// caught by the onset gain (against the moment's level it was not new, and came out at
    /// the voice's gain until the estimate rose: 6–10 LU over the target).
    fn resume_in_pause(&mut self, gate: f64) {
        self.restart_window(self.resume_level);
        self.win_len = 0;
        let over = self.resume_level + SHORT_RISE_LU;
        self.peaks.forget_over(over, LUFS_FLOOR);
        self.recent_peak = self.peak_reference();
        self.hist_m.forget_over(over, LUFS_FLOOR);
        self.recent_2s =
            gated_mean(self.hist_m.newest_with_energy(0, 20), gate, 3).unwrap_or(LUFS_FLOOR);
        self.changes = self.changes.wrapping_add(1);
        self.resumptions = self.resumptions.wrapping_add(1);
        self.steady_only = false;
        self.noise_pending = false;
        self.adopted_rise = true;
        self.resumed_rise = true;
    }

    /// After a short louder moment ([`moment_before`](Self::moment_before), from a rise of
    /// [`BURST_LU`]), whether the newest [`PAUSE_BLOCKS`] 100 ms sub-blocks all lie
    /// [`SHORT_RESUME_UNDER_LU`] or more under the remembered level (room noise, or
    /// silence): `Some` of the loudest of them, the pause's level.
    fn moment_before_pause(&self) -> Option<f64> {
        if !self.moment_before(BURST_LU) {
            return None;
        }
        let quiet = self.resume_level - SHORT_RESUME_UNDER_LU;
        let (mut floor, mut blocks) = (LUFS_FLOOR, 0);
        for v in self.hist_sb.newest(0, PAUSE_BLOCKS) {
            if v > quiet {
                return None;
            }
            floor = floor.max(v);
            blocks += 1;
        }
        (blocks == PAUSE_BLOCKS).then_some(floor)
    }

    /// Whether the estimate stands `rise` or more over the remembered level (in memory for
    /// less than [`RESUME_MAX_S`], at most [`MOMENT_HEARD_MAX_S`] of sound heard since it
    /// was last refreshed) and the last 3 s hold at most [`MOMENT_BLOCKS_MAX`]
    /// 100 ms sub-blocks more than [`RESUME_PEAK_LU`] over it, with a quieter one before
    /// them (the oldest of a full history is not one of them): a short louder moment took
    /// the estimate, and no longer louder programme is known.
    fn moment_before(&self, rise: f64) -> bool {
        if self.resume_level <= LUFS_FLOOR
            || self.resume_age_s > RESUME_MAX_S
            || self.heard_s > MOMENT_HEARD_MAX_S
            || self.level < self.resume_level + rise
        {
            return false;
        }
        let loud = self.resume_level + RESUME_PEAK_LU;
        let history = self.hist_sb.newest(0, HISTORY_LEN);
        let blocks = history.clone().filter(|&v| v > loud).count();
        // The moment began within the history: a louder programme that goes back further
        // (its last second, once a silence has filled the rest) is no moment — loud music
        // that ended in hiss under the gate had the quiet voice before it resumed.
        let began =
            history.clone().count() < HISTORY_LEN || history.last().is_some_and(|v| v <= loud);
        began && (1..=MOMENT_BLOCKS_MAX).contains(&blocks)
    }

    /// Whether the quieter sound heard since the programme was last heard is the remembered
    /// speech-like programme coming back: the estimate stands at least the relative gate
    /// above it, the sound has lasted [`RESUME_S`] and not more than [`RESUME_WITHIN_S`], none
    /// of its 100 ms is within the relative gate of the estimate, its 100 ms loudness spreads
    /// at least [`RESUME_SPREAD_LU`]
    /// (syllables, not the louder programme's steady room noise), and its gated loudness lies
    /// within [`RESUME_UNDER_LU`] / [`RESUME_OVER_LU`] of the remembered level.
    fn resumes(&self, gate: f64) -> bool {
        // After a short louder moment, sooner, from a smaller rise, on one reading with sound
        // and from further under the remembered level (see SHORT_MOMENT_S).
        let moment = self.short_moment();
        let after_burst = !moment && self.resume_age_s <= BURST_S + RESUME_WITHIN_S;
        let (above, lasts, sounds, under) = if moment {
            (SHORT_RISE_LU, SHORT_RESUME_S, 1, SHORT_RESUME_UNDER_LU)
        } else if after_burst {
            (BURST_LU, RESUME_S, 2, RESUME_UNDER_LU)
        } else {
            (RELATIVE_GATE_LU, RESUME_S, 2, RESUME_UNDER_LU)
        };
        if self.resume_level <= LUFS_FLOOR
            || self.resume_age_s > RESUME_MAX_S
            || self.level < self.resume_level + above
        {
            return false;
        }
        let own = self.readings_below();
        let heard = (own as f64) * self.reading_dt;
        if heard + 1e-9 < lasts || heard > RESUME_WITHIN_S + 1e-9 {
            return false;
        }
        let n = own.min(RECENT + 2);
        // None of it within the relative gate of the louder programme — or, when that one
        // is less than RESUME_PEAK_LU over the remembered programme plus the gate, none of
        // it more than RESUME_PEAK_LU over the remembered level (and all of it clearly
        // under the louder one): a voice's loudest syllables reach 6–8 LU over its level,
        // and after laughter 12 LU over the voice they reached into the gate; the voice was
        // not resumed but adopted from its first syllables, 12 dB down for half a second
        // and 3 dB for two more.
        let ceiling = (self.level - above)
            .max(self.resume_level + RESUME_PEAK_LU)
            .min(self.level - ADOPT_LU);
        if self.hist_sb.newest(0, n).any(|v| v > ceiling) {
            return false;
        }
        // Speech comes back in syllables; the louder programme's room noise is steady, and
        // may lie at the remembered level (a quiet voice remembered, a loud one with its
        // room noise 25 LU under it). (A short moment has no room noise of its own.)
        if !moment && self.spread_of(own.min(20), 3) < RESUME_SPREAD_LU {
            return false;
        }
        let Some(now) = gated_mean(self.hist_sb.newest_with_energy(0, n), gate, sounds) else {
            return false;
        };
        if after_burst && !self.burst_over(gate, own, now) {
            return false;
        }
        // (Room noise lies 20 LU and more under the speech it came with: out of that range.
        // Right after a short moment the first words' 100 ms come in quieter: they are all
        // there is to judge by.)
        now >= self.resume_level - under && now <= self.resume_level + RESUME_OVER_LU
    }

    /// After a burst (6–10 LU over the remembered voice), whether the quieter sound read at
    /// `now` over its `own` sub-blocks follows the burst's end: a gap (a sub-block silent or
    /// [`SPEECH_LU`] under it) lies at its start or within it, and two of its sub-blocks
    /// (not room noise under the relative gate) are at its level. A louder voice that talks
    /// on lies only that far over the one before it, and its quieter words, or its first
    /// syllable after a pause read as it rose, came out at the remembered level: the quieter
    /// voice was resumed in the louder one (+9 dB; with `music`'s window 3.4–3.7 LU over the
    /// target for 8 s, after half the places its start could fall on the 100 ms grid).
    /// Real-time safe.
    fn burst_over(&self, gate: f64, own: usize, now: f64) -> bool {
        let span = (own + 2).min(HISTORY_LEN);
        let gap = self
            .hist_sb
            .newest(0, span)
            .any(|v| v <= gate || v <= now - SPEECH_LU);
        let at_level = self
            .hist_sb
            .newest(0, own.min(RECENT + 2))
            .filter(|&v| v > gate && v >= now - RELATIVE_GATE_LU)
            .count();
        gap && at_level >= 2
    }

    /// The speech-like programme from before the louder one is back: its level is known, so
    /// the window starts over at it and the gain rises at once.
    fn resume(&mut self, cap: usize) {
        self.changes = self.changes.wrapping_add(1);
        self.resumptions = self.resumptions.wrapping_add(1);
        self.back_rise = self.short_moment();
        self.resumed_rise = self.resume_age_s <= RESUME_FAST_S;
        // It counts for half the window: a level the programme held, which its first
        // syllables after the pause (quieter than it) do not pull down at once.
        self.restart_window(self.resume_level);
        for _ in 1..(cap / 2).max(1) {
            self.enter(self.resume_level, cap);
        }
        self.steady_only = false;
        self.noise_pending = false;
        self.judge_pending = false;
        self.adopted_rise = true;
        self.below_s = 0.0;
    }

    /// Whether, right after a short louder moment, the newest [`SHORT_AFTER_BLOCKS`] or more
    /// 100 ms sub-blocks all lie [`SHORT_RISE_LU`] under the estimate, the newest
    /// [`SHORT_AFTER_BLOCKS`] with sound and their gated loudness at the remembered level (as
    /// for [`resumes`](Self::resumes) after a short moment): the programme goes on after the
    /// moment; `Some(count)` of the sub-blocks under the estimate.
    /// Judged on them alone, so neither the momentary readings nor an onset still holding
    /// the moment delay it.
    fn resumes_after_moment(&self, gate: f64) -> Option<usize> {
        if !self.short_moment() || self.resume_age_s > RESUME_MAX_S {
            return None;
        }
        let quiet = self.level - SHORT_RISE_LU;
        let after = self
            .hist_sb
            .newest(0, RECENT + 2)
            .take_while(|&v| v <= quiet)
            .count();
        if after < SHORT_AFTER_BLOCKS {
            return None;
        }
        // The newest of them only: a chime's decaying tail lies under the estimate too, but
        // over the voice.
        let now = gated_mean(
            self.hist_sb.newest_with_energy(0, SHORT_AFTER_BLOCKS),
            gate,
            SHORT_AFTER_BLOCKS,
        )?;
        (now >= self.resume_level - SHORT_RESUME_UNDER_LU
            && now <= self.resume_level + RESUME_OVER_LU)
            .then_some(after)
    }

    /// Gated loudness of the last [`RECENT`] sub-blocks (at least two with sound).
    fn recent_level(&self, gate: f64) -> Option<f64> {
        gated_mean(self.hist_sb.newest_with_energy(0, RECENT), gate, 2)
    }

    /// While speech-like programme plays (sound with pauses), its noise floor is the level
    /// of its pauses: the third-quietest 100 ms of the last 3 s, when that lies well under
    /// the programme and the quietest two are within 3 dB of it (a floor the sound keeps
    /// returning to, not one quiet moment of music). Only pauses the programme came back
    /// from count: the quiet sub-blocks after its newest loud one may be something else
    /// starting (noise after the speech ended, which the momentary readings still hold for
    /// 0.4 s) — counted, they made that noise the floor or not depending on where the
    /// 100 ms grid fell.
    fn learn_floor(&mut self) {
        if self.spread(20) < SPEECH_LU {
            return;
        }
        let quiet = self.level - FLOOR_UNDER_LU;
        let trailing = self
            .hist_sb
            .newest(0, HISTORY_LEN)
            .take_while(|&x| x < quiet)
            .count();
        let mut low = [f64::INFINITY; 3];
        for x in self.hist_sb.newest(trailing, HISTORY_LEN - trailing) {
            let x = x.max(LUFS_FLOOR);
            if x < low[2] {
                low[2] = x;
                low.sort_unstable_by(|a, b| a.total_cmp(b));
            }
        }
        let third = low[2];
        if third.is_finite() && third < quiet && third - low[0] <= 3.0 {
            self.floor = third;
        }
    }

    /// Spread of the 100 ms loudness of the sound since the last silent reading (its first
    /// sub-block left out: it may be partly silent) over the newest `min` … 20 sub-blocks;
    /// `None` while fewer than `min` are there.
    fn sound_spread(&self, min: usize) -> Option<f64> {
        let blocks = self.sound_blocks();
        (blocks >= min).then(|| self.spread_of(blocks.min(20), min))
    }

    /// Full sub-blocks of sound since the last silent reading (the first one left out).
    fn sound_blocks(&self) -> usize {
        ((self.active_s / self.reading_dt).round() as usize).saturating_sub(1)
    }

    /// Spread of the 100 ms loudness (90th − 10th percentile, sub-blocks under the silence
    /// gate counted at the gate: noise hovering about the gate is not modulated) over the
    /// newest `count` sub-blocks (at most 20); 0 for fewer than 5.
    fn spread(&self, count: usize) -> f64 {
        self.spread_of(count, 5)
    }

    /// Whether the newest `count` sub-blocks hold a dip: one at least [`SPEECH_LU`] under a
    /// louder one on each side of it within [`DIP_SPAN`] sub-blocks (syllables and the
    /// pauses between them; under the silence gate counted at it; a music bed's slow swell
    /// and ebb over two seconds made one, depending on where the 100 ms grid fell). A crescendo or a fade spreads as far and has none. The
    /// oldest of them is left out (it may still hold the end of the sound before), and so
    /// is the newest: the programme coming back after a pause is no syllable of the sound
    /// in it (its first sub-block, still under the programme, made a dip of the pause and
    /// had the music bed in it adopted just as the voice came back).
    fn has_dip(&self, count: usize) -> bool {
        self.has_dip_of(count, SPEECH_LU)
    }

    /// Whether the newest `count` sub-blocks (the newest and the oldest left out, as for
    /// [`has_dip`](Self::has_dip)) step up and step down by [`MOVES_LU`] or more from one
    /// to the next, each at least `times` times: syllables, not a swell or a fade.
    fn moves_both_ways(&self, count: usize, times: usize) -> bool {
        let (v, n) = self.gated_levels(1, count.saturating_sub(2));
        let v = v.get(..n).unwrap_or(&[]);
        let steps = || v.windows(2).map(|w| w[0] - w[1]);
        steps().filter(|&d| d >= MOVES_LU).count() >= times
            && steps().filter(|&d| d <= -MOVES_LU).count() >= times
    }

    /// [`Self::has_dip`] with dips `depth` deep.
    fn has_dip_of(&self, count: usize, depth: f64) -> bool {
        let (v, n) = self.gated_levels(1, count.saturating_sub(2));
        let v = v.get(..n).unwrap_or(&[]);
        let loudest = |from: usize, to: usize| {
            v.get(from..to.min(v.len()))
                .unwrap_or(&[])
                .iter()
                .fold(f64::NEG_INFINITY, |a, &b| a.max(b))
        };
        (0..v.len()).any(|k| {
            let x = v.get(k).copied().unwrap_or(f64::NEG_INFINITY);
            loudest(k.saturating_sub(DIP_SPAN), k) - x >= depth
                && loudest(k + 1, k + 1 + DIP_SPAN) - x >= depth
        })
    }

    /// The newest `count` sub-blocks' loudness after the newest `skip` (newest first, at most
    /// [`HISTORY_LEN`]), each counted at the silence gate when under it, and how many there
    /// are.
    fn gated_levels(&self, skip: usize, count: usize) -> ([f64; HISTORY_LEN], usize) {
        let mut v = [0.0f64; HISTORY_LEN];
        let mut n = 0usize;
        for x in self.hist_sb.newest(skip, count.min(HISTORY_LEN)) {
            if let Some(slot) = v.get_mut(n) {
                *slot = x.max(self.gate);
                n += 1;
            }
        }
        (v, n)
    }

    /// Whether the sound of the last `n` sub-blocks falls steadily: all of them read since
    /// the programme started (the fall from a loud programme into the next one adopted is
    /// no fade of the next one), none of them silent,
    /// the line fitted through them falling more than `min_slope` per sub-block, and the
    /// fall over them at least twice as large as their scatter about the line (music's
    /// beats and a voice's syllables scatter far more than a fade's or a decaying chord's
    /// sub-blocks). `None` if it does not; `Some(true)` if the fall is a ramp (no single
    /// step down), a fade's. Real-time safe.
    fn falls_steadily(&self, n: usize, min_slope: f64) -> Option<bool> {
        if n > self.since_start {
            return None;
        }
        let (mut sx, mut sy, mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0, 0.0, 0.0);
        // The values, oldest first, for the ramp test below.
        let mut vals = [0.0f64; HISTORY_LEN];
        for k in 0..n {
            let v = self.hist_sb.back(k).filter(|&v| v > LUFS_FLOOR)?;
            // Oldest first: x grows with time.
            let x = (n - 1 - k) as f64;
            if let Some(slot) = vals.get_mut(n - 1 - k) {
                *slot = v;
            }
            sx += x;
            sy += v;
            sxx += x * x;
            sxy += x * v;
            syy += v * v;
        }
        let nf = n as f64;
        let den = nf * sxx - sx * sx;
        if den <= 0.0 {
            return None;
        }
        let slope = (nf * sxy - sx * sy) / den;
        if slope > -min_slope {
            return None;
        }
        // The squared residuals about the fitted line, from the same sums.
        let icept = (sy - slope * sx) / nf;
        let ss = (syy - icept * sy - slope * sxy).max(0.0);
        let scatter = (ss / nf).sqrt();
        if -slope * (nf - 1.0) < 2.0 * scatter {
            return None;
        }
        // A ramp, not a step: the line leaves at most twice the squared residuals of the
        // best single step between two levels (a ramp's are about the same, a step's many
        // times them). A loud scene giving way to a voice whose first words are its
        // loudest falls as steadily over 1.5 s, and the voice is no fade.
        let vals = vals.get(..n).unwrap_or(&[]);
        let (mut left, mut left_sq) = (0.0, 0.0);
        let mut best_step = f64::INFINITY;
        for (m, &v) in vals.iter().enumerate().take(n.saturating_sub(1)) {
            left += v;
            left_sq += v * v;
            let (a, b) = ((m + 1) as f64, (n - m - 1) as f64);
            let (right, right_sq) = (sy - left, syy - left_sq);
            let step = (left_sq - left * left / a) + (right_sq - right * right / b);
            best_step = best_step.min(step);
        }
        Some(ss <= 2.0 * best_step)
    }

    /// Whether sound whose 100 ms loudness over the newest `count` sub-blocks spreads
    /// `spread` LU holds still: under [`STATIONARY_LU`] (a tone, a steady hiss), or under
    /// [`NOISE_SPREAD_LU`] with a spectrum like noise's over those sub-blocks
    /// ([`Self::noise_like`]: room tone, rumble, a drifting hiss — quiet music spreads as
    /// little, but its spectrum is made of partials).
    fn steady_over(&self, spread: f64, count: usize) -> bool {
        spread < STATIONARY_LU
            || (spread < NOISE_SPREAD_LU && count >= NOISE_JUDGE_BLOCKS && self.noise_like(count))
    }

    /// Judges the sound since the last silence, whose 100 ms loudness spreads `spread`,
    /// stationary or not (`steady_only`). Sound like noise that spreads more than a tone but
    /// less than [`NOISE_SPREAD_LU`] is held (`noise_pending`: the gain neither rises for it
    /// nor falls to the stationary cap) until [`NOISE_JUDGE_BLOCKS`] of it decide
    /// (`judge_pending` stays set): a swell of wind spreads little over 0.3 s.
    ///
    /// Held back so, sound that then turns out modulated (a whisper: as noise-like as its
    /// breath) is met as an adopted programme: the gain catches up at once instead of rising
    /// from where it was held at `rise_db_per_s`.
    fn judge_sound(&mut self, spread: f64) {
        let steady = self.steady_over(spread, self.sound_blocks());
        let undecided = !steady && !self.modulated(spread);
        if self.noise_pending && !steady && !undecided {
            self.adopted_rise = true;
        }
        self.steady_only = steady;
        self.noise_pending = undecided;
        self.judge_pending = undecided;
    }

    /// Whether the sound since the last silence, whose 100 ms loudness spreads `spread`,
    /// is modulated: neither stationary nor sound like noise still too short to be judged by
    /// [`NOISE_SPREAD_LU`] (fewer than [`NOISE_JUDGE_BLOCKS`] sub-blocks of it).
    fn modulated(&self, spread: f64) -> bool {
        let n = self.sound_blocks();
        let too_short_to_tell =
            spread < NOISE_SPREAD_LU && n < NOISE_JUDGE_BLOCKS && self.noise_like(n);
        !(self.steady_over(spread, n) || too_short_to_tell)
    }

    /// Whether the newest `count` sub-blocks (1 … 20) all have a flatness reading and its
    /// mean is over [`NOISE_FLATNESS_DB`].
    fn noise_like(&self, count: usize) -> bool {
        let n = count.clamp(1, 20);
        let mut sum = 0.0;
        let mut k = 0usize;
        for v in self.hist_flat.newest(0, n) {
            if !v.is_finite() {
                return false;
            }
            sum += v;
            k += 1;
        }
        // Noise with gaps in it (bursts 200 ms on, 100 ms off) is modulated sound whatever its
        // spectrum: where the gaps straddled the 100 ms grid, no sub-block was quiet and its
        // loudness spread only 4 LU, and it was capped as stationary noise, 3.6 LU under
        // the target, while one grid phase away it was levelled.
        let gapped = self
            .hist_fast_min
            .newest(0, n)
            .zip(self.hist_sb.newest(0, n))
            .any(|(fast, sb)| sb > LUFS_FLOOR && fast < sb - NOISE_GAP_LU);
        k == n && sum / k as f64 > NOISE_FLATNESS_DB && !gapped
    }

    /// [`Self::spread`] over the newest `count` sub-blocks, 0 for fewer than `min_n`.
    fn spread_of(&self, count: usize, min_n: usize) -> f64 {
        self.percentiles(count, min_n)
            .map_or(0.0, |(lo, hi)| hi - lo)
    }

    /// The 10th percentile of the 100 ms loudness over the newest `count` sub-blocks (at
    /// most 20; counted as in [`Self::spread`]), `None` for fewer than 5.
    fn quiet_of(&self, count: usize) -> Option<f64> {
        self.percentiles(count, 5).map(|(lo, _)| lo)
    }

    /// The 10th and 90th percentiles of the 100 ms loudness over the newest `count`
    /// sub-blocks (at most 20; under the silence gate counted at it), `None` for fewer than
    /// `min_n` (at least 2).
    fn percentiles(&self, count: usize, min_n: usize) -> Option<(f64, f64)> {
        let (mut v, n) = self.gated_levels(0, count.min(20));
        if n < min_n.max(2) {
            return None;
        }
        let s = v.get_mut(..n).unwrap_or(&mut []);
        s.sort_unstable_by(|a, b| a.total_cmp(b));
        let lo = s.get(n / 10).copied().unwrap_or(0.0);
        let hi = s.get(n - 1 - n / 10).copied().unwrap_or(0.0);
        Some((lo, hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives the control law with a fresh reading every 100 ms for `secs`.
    fn drive(a: &mut Agc, m: f64, secs: f64) {
        let steps = (secs * 48_000.0 / STEP as f64) as usize;
        for k in 0..steps {
            let fresh = (k * STEP) % 4800 < STEP;
            a.control(m, m, fresh);
        }
    }

    #[test]
    fn reaches_target_and_freezes_in_silence() {
        let mut a = Agc::new(48_000, 2, &AgcParams::default());
        drive(&mut a, -30.0, 6.0);
        // Steady (unmodulated) readings: boosted by at most STEADY_MAX_BOOST_DB.
        assert!(
            (a.gain_db() as f64 - STEADY_MAX_BOOST_DB).abs() < 0.2,
            "{}",
            a.gain_db()
        );
        let g = a.gain_db();
        drive(&mut a, LUFS_FLOOR, 10.0);
        assert_eq!(a.gain_db(), g);
        // Louder programme: followed by the energy average (onsets are caught by the fast
        // level, which these bare readings do not carry).
        drive(&mut a, -6.0, 3.0);
        assert!((a.gain_db() + 10.0).abs() < 0.5, "{}", a.gain_db());
    }

    #[test]
    fn respects_limits_and_disable() {
        let p = AgcParams {
            max_boost_db: 4.0,
            ..Default::default()
        };
        let mut a = Agc::new(48_000, 2, &p);
        drive(&mut a, -40.0, 10.0);
        assert!((a.gain_db() - 4.0).abs() < 1e-3);
        a.set_params(&AgcParams {
            enabled: false,
            ..p
        });
        drive(&mut a, -40.0, 5.0);
        assert!(a.gain_db().abs() < 1e-3);
    }

    #[test]
    fn gated_mean_ignores_silence_and_pauses() {
        let v = [-20.0, -20.0, -45.0, LUFS_FLOOR, -20.0];
        let g = gated_mean(v.iter().map(|&v| (v, energy_of(v))), -60.0, 3).unwrap();
        assert!((g + 20.0).abs() < 1e-9, "{g}");
        assert!(gated_mean(
            [LUFS_FLOOR, -30.0].iter().map(|&v| (v, energy_of(v))),
            -60.0,
            2
        )
        .is_none());
    }
}
