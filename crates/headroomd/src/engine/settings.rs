//! `setting.set`, `setting.reset`, the entries of `setting.get` and `setting.list`, and how a
//! changed effective profile (a setting, a reset, another profile, an edited file) is put in
//! force: chain parameters, Layer A, routing rules, the preferred sink.

use headroom_ipc::{ErrorCode, Event, IpcError, Response, SettingEntry, SettingValue, Settings};
use headroom_profile::{Profile, ProfileDiff, ProfileError};

use super::pipewire::preferred_sink_note;
use super::{Engine, Output};
use crate::control::convert::{store_error, value_from_wire, value_to_wire};
use crate::pw::PwCommand;

/// `setting.set`: a runtime override (checked against the schema and the whole profile),
/// persisted, then put in force.
pub(super) fn set(
    e: &mut Engine,
    key: String,
    value: SettingValue,
    out: &mut Vec<Output>,
) -> Result<Response, IpcError> {
    let before = e.store.effective().advice();
    let diff = e
        .store
        .set_override(&key, value_from_wire(&value))
        .map_err(store_error)?;
    e.after_store_change(diff, std::slice::from_ref(&key), out);
    e.warn_if_unsaved(out);
    e.warn_of_new_advice(&before, out);
    Ok(Response::Setting(e.setting(&key)?))
}

/// `setting.reset`: drops the override of `key`, or every override (`all`); answers with the
/// settings reset, in their new state.
pub(super) fn reset(
    e: &mut Engine,
    key: Option<String>,
    all: bool,
    out: &mut Vec<Output>,
) -> Result<Response, IpcError> {
    let keys: Vec<String> = if all {
        e.store
            .overrides()
            .iter()
            .map(|(k, _)| k.to_string())
            .collect()
    } else {
        key.iter().cloned().collect()
    };
    let before = e.store.effective().advice();
    let diff = if all {
        e.store.reset_all()
    } else {
        e.store.reset(key.as_deref().unwrap_or_default())
    }
    .map_err(store_error)?;
    e.after_store_change(diff, &keys, out);
    e.warn_if_unsaved(out);
    e.warn_of_new_advice(&before, out);
    let settings = keys.iter().filter_map(|k| e.setting(k).ok()).collect();
    Ok(Response::Settings(Settings { settings }))
}

impl Engine {
    /// After a change of the overrides: when they could not be saved, the reply says so
    /// (the change is in force all the same; the store has logged it).
    pub(super) fn warn_if_unsaved(&self, out: &mut Vec<Output>) {
        if let Some(w) = self.store.save_error() {
            out.push(Output::Warning(w));
        }
    }

    /// After a change of the overrides: what the profile in force now asks that its settings
    /// will not do (`Profile::advice`) and did not before — `set agc.target_lufs -30` with
    /// `default`'s cut of 24 dB — is the reply's warning, and logged.
    pub(super) fn warn_of_new_advice(&self, before: &[String], out: &mut Vec<Output>) {
        let name = self.store.active_name();
        for a in self.store.effective().advice() {
            if !before.contains(&a) {
                tracing::warn!("profile `{name}` with its settings: {a}");
                out.push(Output::Warning(a));
            }
        }
    }

    /// Every setting: value in force, the active profile's value (`default`), whether
    /// overridden.
    pub(super) fn settings(&self) -> Settings {
        let effective = self.store.effective();
        let active = self.store.active();
        Settings {
            settings: Profile::keys()
                .into_iter()
                .filter_map(|info| {
                    let value = effective.get(info.key).ok()?;
                    let default = active.get(info.key).unwrap_or(info.default);
                    Some(SettingEntry {
                        key: info.key.to_string(),
                        value: value_to_wire(&value),
                        default: value_to_wire(&default),
                        overridden: self.store.is_overridden(info.key),
                    })
                })
                .collect(),
        }
    }

    /// One setting (`default`: the active profile's value), or `unknown_key`.
    pub(super) fn setting(&self, key: &str) -> Result<SettingEntry, IpcError> {
        let unknown = |e: ProfileError| IpcError::new(ErrorCode::UnknownKey, e.message);
        let info = Profile::key_info(key).map_err(unknown)?;
        let value = self.store.effective().get(key).map_err(unknown)?;
        let default = self.store.active().get(key).unwrap_or(info.default);
        Ok(SettingEntry {
            key: key.to_string(),
            value: value_to_wire(&value),
            default: value_to_wire(&default),
            overridden: self.store.is_overridden(key),
        })
    }

    /// After the store changed the effective profile: puts it in force and publishes the new
    /// values of `changed_keys`, each with whether it is overridden now (as `setting.get`
    /// says: `true` after a set, `false` after a reset).
    pub(super) fn after_store_change(
        &mut self,
        diff: ProfileDiff,
        changed_keys: &[String],
        out: &mut Vec<Output>,
    ) {
        let profile = self.store.effective();
        self.apply(&profile, diff, out);
        for key in changed_keys {
            if let Ok(v) = profile.get(key) {
                out.push(Output::Publish(Event::setting_changed(
                    key.clone(),
                    value_to_wire(&v),
                    self.store.is_overridden(key),
                )));
            }
        }
    }

    /// Puts an effective profile in force: chain parameters (smoothed by the chain), Layer A,
    /// routing rules, preferred sink, auto-promote.
    pub(super) fn apply(&mut self, profile: &Profile, diff: ProfileDiff, out: &mut Vec<Output>) {
        self.params = Self::chain_params(profile, self.force_bypass);
        self.watch.set_bypass(self.params.bypass);
        out.push(Output::Params(self.params));
        self.routing.set_bus_target(profile.chain.agc.target_lufs);
        let mut cmds = Vec::new();
        if diff.layer_a || diff.layer_a_toggled {
            cmds.extend(self.routing.set_layer_a(profile.layer_a));
        }
        if diff.routing {
            cmds.extend(self.routing.set_profile_rules(profile.route.clone()));
        }
        // Bypass lifts Layer A's volumes too (a no-op when it did not change).
        cmds.extend(self.routing.set_bypass(self.params.bypass));
        if diff.sink && self.cli_real_sink.is_none() {
            if let Some(p) = profile.preferred_real_sink.as_deref() {
                let graph = self.bus.graph();
                let present = graph
                    .read()
                    .real_sinks()
                    .any(|n| n.name.as_deref() == Some(p));
                if !present {
                    if let Some(note) = preferred_sink_note(Some(p), self.real_sink.as_deref()) {
                        tracing::warn!("{note}");
                        // `set preferred_real_sink NAME` with a typo: said in the reply too.
                        out.push(Output::Warning(note));
                    }
                }
            }
            cmds.push(PwCommand::SetPreferredSink(
                profile.preferred_real_sink.clone(),
            ));
        } else if diff.sink {
            let note = format!(
                "preferred_real_sink = {:?} is not applied: `--real-sink {}` is in force",
                profile.preferred_real_sink.as_deref().unwrap_or(""),
                self.cli_real_sink.as_deref().unwrap_or_default()
            );
            tracing::warn!("{note}");
            out.push(Output::Warning(note));
        }
        if diff.promote && self.cli_promote {
            tracing::warn!(
                "route.promote_default = {} is not applied: `--promote-default` is in force",
                profile.promote_default
            );
        } else if diff.promote {
            cmds.push(PwCommand::SetPromote(profile.promote_default));
        }
        out.extend(cmds.into_iter().map(Output::Pw));
        self.publish_routing_deltas(out);
    }

    /// The preferred real sink in force: `--real-sink`, else the effective profile's.
    pub(super) fn preferred_real_sink(&self) -> Option<String> {
        self.cli_real_sink
            .clone()
            .or_else(|| self.store.effective().preferred_real_sink.clone())
    }
}
