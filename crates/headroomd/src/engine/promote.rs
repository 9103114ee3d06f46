//! Auto-promote (`route.promote_default`, `--promote-default`) as the engine sees it: whether
//! it is in force, and the user's sink persisted in `$XDG_STATE_HOME/headroom/promote.json`
//! (`{"user_sink":"alsa_output…"}`), the sink the configured default is given back to. The
//! PipeWire thread does the promoting (`crate::pw`, `promote`); it reports the user's sink
//! whenever it changes and the engine writes it down, atomically, so that a daemon killed
//! while promoted still knows on its next start which sink was the user's.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Engine;
use crate::state_file::write_atomic;

/// File name of the persisted user's sink, in the state directory.
pub const PROMOTE_FILE_NAME: &str = "promote.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct PromoteFile {
    user_sink: Option<String>,
}

/// The user's sink persisted in `path` (`None` when there is none or the file is
/// unreadable; a file that is not what headroomd writes is moved aside to
/// `promote.json.corrupt-<unix seconds>`, as a corrupt state file is), with what went wrong
/// (logged here, once, and meant for `status`'s `file_warnings`).
pub fn load_user_sink(path: &Path) -> (Option<String>, Option<String>) {
    let text = match crate::files::read_regular_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (None, None),
        Err(e) => {
            let w = format!(
                "cannot read {}: {e}; the user's sink is not known",
                path.display()
            );
            tracing::warn!("{w}");
            return (None, Some(w));
        }
    };
    match serde_json::from_str::<PromoteFile>(&text) {
        Ok(f) => (f.user_sink.filter(|s| !s.is_empty()), None),
        Err(e) => {
            let kept = crate::state_file::move_aside_note(path);
            let w = format!(
                "{} is corrupt ({e}); {kept}; the user's sink is not known",
                path.display()
            );
            tracing::warn!("{w}");
            (None, Some(w))
        }
    }
}

impl Engine {
    /// Whether auto-promote is in force: `--promote-default`, else the effective profile's
    /// `route.promote_default`.
    pub(super) fn promote_default(&self) -> bool {
        self.cli_promote || self.store.effective().promote_default
    }

    /// Persists the user's sink reported by the PipeWire thread.
    pub(super) fn remember_user_sink(&mut self, name: Option<&str>) {
        self.user_sink = name.map(str::to_string);
        let file = PromoteFile {
            user_sink: self.user_sink.clone(),
        };
        let text = serde_json::to_string(&file).unwrap_or_default();
        if let Err(e) = write_atomic(&self.promote_file, text.as_bytes()) {
            tracing::warn!(
                "cannot save the user's sink to {}: {e}",
                self.promote_file.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_sink_round_trips_and_bad_files_give_none() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(PROMOTE_FILE_NAME);
        assert_eq!(load_user_sink(&p), (None, None));
        write_atomic(&p, br#"{"user_sink":"speakers"}"#).unwrap();
        assert_eq!(load_user_sink(&p), (Some("speakers".into()), None));
        write_atomic(&p, b"{not json").unwrap();
        let (sink, warning) = load_user_sink(&p);
        assert_eq!(sink, None);
        // Reported, for `status`: what happened and where the file went.
        let warning = warning.expect("a corrupt file is reported");
        assert!(
            warning.contains("is corrupt") && warning.contains("promote.json.corrupt-"),
            "{warning}"
        );
        // Moved aside, as it was: nothing lost, and not read again on every start.
        assert!(!p.exists());
        let kept: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("promote.json.corrupt-")
            })
            .collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(std::fs::read(kept[0].path()).unwrap(), b"{not json");
        // A FIFO in its place is refused, not waited on.
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert_eq!(load_user_sink(&p).0, None);
    }
}
