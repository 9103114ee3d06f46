//! The parts of `headroom-core` the offline commands use beyond the [`headroom_core::Chain`]:
//! file analysis, profiles and dotted-key settings. Kept in one place so the rest of the
//! command line does not depend on their exact shapes.

use std::path::{Path, PathBuf};

use headroom_core::ChainParams;

use crate::error::{CliError, CliResult};
use crate::offline::AnalysisReport;

/// Measures interleaved audio (see [`AnalysisReport`]).
pub fn analyze(samples: &[f32], rate: u32, channels: usize) -> Result<AnalysisReport, String> {
    let _ = (samples, rate, channels);
    Err("file analysis is not available in this build".to_string())
}

/// Where user profiles live: `$XDG_CONFIG_HOME/headroom/profiles` (or `~/.config/…`).
pub fn user_profile_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("headroom").join("profiles"))
}

/// Checks a profile file; on error the message reads `file:line:col: message`.
pub fn validate_profile(path: &Path) -> CliResult<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::failed(format!("{}: cannot read: {e}", path.display())))?;
    let _ = text;
    Err(CliError::failed(
        "profile validation is not available in this build",
    ))
}

/// Resolves `--profile NAME|PATH` to chain parameters.
pub fn profile_params(spec: &str) -> CliResult<ChainParams> {
    let _ = spec;
    Err(CliError::failed("profiles are not available in this build"))
}

/// Applies one `key=value` override (dotted key, e.g. `agc.target_lufs=-20`) to `params`.
/// Numbers, `true`/`false` are accepted; the key must name an existing parameter and the value
/// must have its type.
pub fn apply_setting(params: &mut ChainParams, assignment: &str) -> CliResult {
    let (key, value) = assignment
        .split_once('=')
        .ok_or_else(|| CliError::usage(format!("--set `{assignment}`: expected KEY=VALUE")))?;
    let (key, value) = (key.trim(), value.trim());
    let mut tree = serde_json::to_value(*params).map_err(|e| CliError::failed(e.to_string()))?;
    let mut node = &mut tree;
    for part in key.split('.') {
        node = node
            .get_mut(part)
            .ok_or_else(|| CliError::failed(format!("unknown setting `{key}`")))?;
    }
    let new = match node {
        serde_json::Value::Bool(_) => match value {
            "true" | "on" | "yes" | "1" => serde_json::Value::Bool(true),
            "false" | "off" | "no" | "0" => serde_json::Value::Bool(false),
            _ => {
                return Err(CliError::failed(format!(
                    "setting `{key}` takes true or false, not `{value}`"
                )))
            }
        },
        serde_json::Value::Number(_) => {
            let v: f64 = value
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| {
                    CliError::failed(format!("setting `{key}` takes a number, not `{value}`"))
                })?;
            serde_json::Number::from_f64(v)
                .map(serde_json::Value::Number)
                .ok_or_else(|| CliError::failed(format!("setting `{key}`: bad number `{value}`")))?
        }
        _ => {
            return Err(CliError::failed(format!(
                "`{key}` is a group of settings, not a setting"
            )))
        }
    };
    *node = new;
    *params = serde_json::from_value(tree)
        .map_err(|e| CliError::failed(format!("setting `{key}`: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_settings_apply() {
        let mut p = ChainParams::default();
        apply_setting(&mut p, "agc.target_lufs=-20").unwrap();
        assert_eq!(p.agc.target_lufs, -20.0);
        apply_setting(&mut p, "limiter.enabled=false").unwrap();
        assert!(!p.limiter.enabled);
        apply_setting(&mut p, "bypass=true").unwrap();
        assert!(p.bypass);
    }

    #[test]
    fn bad_settings_are_rejected_without_change() {
        let mut p = ChainParams::default();
        let before = p;
        assert!(apply_setting(&mut p, "agc.nope=1").is_err());
        assert!(apply_setting(&mut p, "agc=1").is_err());
        assert!(apply_setting(&mut p, "agc.target_lufs=loud").is_err());
        assert!(apply_setting(&mut p, "agc.enabled=maybe").is_err());
        assert_eq!(
            apply_setting(&mut p, "agc.target_lufs").unwrap_err().code,
            2
        );
        assert_eq!(p, before);
    }
}
