//! Validation of a whole profile: every range of the schema and the ordering rules between
//! settings.

use crate::error::{key_path, Invalid};
use crate::profile::Profile;
use crate::rules::empty_match;
use crate::schema::{self, format_number, SettingValue};
use crate::{ErrorKind, ProfileError};

/// Loudness of the loudest programme a profile is expected to bring down to its target,
/// LUFS: full-scale, limited music masters measure −5 to −8.
pub const LOUDEST_PROGRAMME_LUFS: f64 = -5.0;

/// Least room from `agc.target_lufs` up to `limiter.ceiling_dbtp` that programme reaches the
/// target under the ceiling with, LU: speech and music stand 9–20 dB from their true peaks
/// to their loudness, and what the limiter has to take off beyond that comes off the
/// loudness (rendered: 9 LU of room left `make eval`'s tv-evening 1 LU under the target,
/// 7 LU left it 2 LU under; 1 LU of room left dialogue with adverts 8 LU under).
pub const MIN_TARGET_ROOM_LU: f64 = 10.0;

impl Profile {
    /// Settings that are valid but will not do what the rest of the profile asks, one
    /// sentence each (empty when there are none): `agc.max_cut_db` short of what
    /// [`LOUDEST_PROGRAMME_LUFS`] needs to reach `agc.target_lufs` (a profile copied from
    /// `default` with a lower target keeps `default`'s cut, and loud programme then comes
    /// out over the target); a target less than [`MIN_TARGET_ROOM_LU`] under the
    /// limiter's ceiling (programme comes out under the target).
    pub fn advice(&self) -> Vec<String> {
        let mut out = Vec::new();
        let agc = &self.chain.agc;
        if agc.enabled {
            let target = f64::from(agc.target_lufs);
            let cut = f64::from(agc.max_cut_db);
            let needed = (LOUDEST_PROGRAMME_LUFS - target).ceil();
            if cut < needed {
                out.push(format!(
                    "agc.max_cut_db = {} is too small for agc.target_lufs = {}: anything \
                     louder than {} LUFS (loud music and adverts reach {} LUFS) comes out \
                     over the target; set agc.max_cut_db to {} dB or more",
                    format_number(cut),
                    format_number(target),
                    format_number(target + cut),
                    format_number(LOUDEST_PROGRAMME_LUFS),
                    format_number(needed)
                ));
            }
            let ceiling = f64::from(self.chain.limiter.ceiling_dbtp);
            if self.chain.limiter.enabled && ceiling - target < MIN_TARGET_ROOM_LU {
                out.push(format!(
                    "agc.target_lufs = {} is only {} LU under limiter.ceiling_dbtp = {}: \
                     speech and music peak 9–20 dB over their loudness, so most programme \
                     comes out under the target; keep the target {} LU or more under the \
                     ceiling",
                    format_number(target),
                    format_number(((ceiling - target) * 10.0).round() / 10.0),
                    format_number(ceiling),
                    format_number(MIN_TARGET_ROOM_LU)
                ));
            }
        }
        out
    }

    /// Checks every range and ordering rule.
    pub fn validate(&self) -> Result<(), ProfileError> {
        self.check().map_err(Invalid::into_error)
    }

    pub(crate) fn check(&self) -> Result<(), Invalid> {
        match self.check_all(true).into_iter().next() {
            Some(inv) => Err(inv),
            None => Ok(()),
        }
    }

    /// Every range error and every empty rule match; then, with `ordering` and when there are
    /// none, the first ordering rule broken.
    pub(crate) fn check_all(&self, ordering: bool) -> Vec<Invalid> {
        let mut out = Vec::new();
        for f in schema::FIELDS {
            out.extend(out_of_range(f, &(f.get)(self)));
        }
        for (i, r) in self.route.rules.iter().enumerate() {
            if r.matches.is_empty() {
                out.push(empty_match(i));
            }
        }
        if ordering && out.is_empty() {
            out.extend(self.check_ordering().err());
        }
        out
    }

    fn check_ordering(&self) -> Result<(), Invalid> {
        let agc = &self.chain.agc;
        if agc.silence_gate_lufs >= agc.target_lufs {
            let mut inv = Invalid::at(
                ErrorKind::Ordering,
                "agc.silence_gate_lufs",
                format!(
                    "agc.silence_gate_lufs = {} must be below agc.target_lufs = {}",
                    format_number(schema::widen(agc.silence_gate_lufs)),
                    format_number(schema::widen(agc.target_lufs))
                ),
            );
            inv.fallback = Some(key_path("agc.target_lufs"));
            return Err(inv);
        }
        let ceiling = self.chain.limiter.ceiling_dbtp;
        if agc.target_lufs >= ceiling {
            let mut inv = Invalid::at(
                ErrorKind::Ordering,
                "agc.target_lufs",
                format!(
                    "agc.target_lufs = {} must be below limiter.ceiling_dbtp = {} \
                     (the limiter would hold every signal under the target)",
                    format_number(schema::widen(agc.target_lufs)),
                    format_number(schema::widen(ceiling))
                ),
            );
            inv.fallback = Some(key_path("limiter.ceiling_dbtp"));
            return Err(inv);
        }
        Ok(())
    }
}

/// The range error of `value` for setting `f`, if it is a number outside the setting's range
/// or text holding a control character (a sink name or description with a NUL, an escape
/// sequence or a line break in it is nothing a sink is called, and breaks the one-line
/// displays and logs that show it). Called on a value as given too, before it is narrowed to
/// the setting's `f32`: a value too large for an `f32` is reported as written, not as the
/// infinity it would become, and one inside the range that the narrowing would take out of
/// it (`1e-300` for a setting that must be > 0 becomes 0) as written too, with what it would
/// become.
pub(crate) fn out_of_range(f: &schema::Field, value: &SettingValue) -> Option<Invalid> {
    if let SettingValue::String(s) = value {
        let c = s.chars().find(|c| c.is_control())?;
        return Some(Invalid::at(
            ErrorKind::OutOfRange,
            f.key,
            format!(
                "{} holds the control character U+{:04X}; text settings take none",
                f.key,
                u32::from(c)
            ),
        ));
    }
    let (Some(range), SettingValue::Number(v)) = (f.range, value) else {
        return None;
    };
    if !range.contains(*v) {
        // Shown in full where the short form would read as inside the range (-40.0000000000001
        // is no -40).
        let short = format_number(*v);
        let shown = if short.parse::<f64>().is_ok_and(|x| range.contains(x)) {
            format!("{v}")
        } else {
            short
        };
        return Some(Invalid::at(
            ErrorKind::OutOfRange,
            f.key,
            format!("{} = {shown} is out of range (must be {range})", f.key),
        ));
    }
    // Inside the range as given, but not once stored: the value as written, and what it
    // would become.
    let stored = schema::widen(*v as f32);
    (!range.contains(stored)).then(|| {
        let shown = format_number(*v);
        let message = if stored == 0.0 {
            format!(
                "{} = {shown} is too small to represent (it would be 0; must be {range})",
                f.key
            )
        } else {
            format!(
                "{} = {shown} cannot be represented (it would be {}; must be {range})",
                f.key,
                format_number(stored)
            )
        };
        Invalid::at(ErrorKind::OutOfRange, f.key, message)
    })
}
