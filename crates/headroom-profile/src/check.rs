//! Validation of a whole profile: every range of the schema and the ordering rules between
//! settings.

use crate::error::{key_path, Invalid};
use crate::profile::Profile;
use crate::rules::empty_match;
use crate::schema::{self, format_number, SettingValue};
use crate::{ErrorKind, ProfileError};

impl Profile {
    /// Checks every range and ordering rule.
    pub fn validate(&self) -> Result<(), ProfileError> {
        self.check().map_err(Invalid::into_error)
    }

    pub(crate) fn check(&self) -> Result<(), Invalid> {
        for f in schema::FIELDS {
            if let (Some(range), SettingValue::Number(v)) = (f.range, (f.get)(self)) {
                if !range.contains(v) {
                    return Err(Invalid::at(
                        ErrorKind::OutOfRange,
                        f.key,
                        format!(
                            "{} = {} is out of range (must be {range})",
                            f.key,
                            format_number(v)
                        ),
                    ));
                }
            }
        }
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
        for (i, r) in self.route.rules.iter().enumerate() {
            if r.matches.is_empty() {
                return Err(empty_match(i));
            }
        }
        Ok(())
    }
}
