//! `profile.show`, `profile.use`, `profile.reload`, the list of `profile.list`, and the
//! profile files changing on disk (hot reload).

use headroom_ipc::{
    ErrorCode, Event, IpcError, ProfileActive, ProfileEntry, ProfileList, ProfileShow,
    ProfileSource as WireSource, Response,
};

use super::{Engine, Output};
use crate::control::convert::{
    file_error_to_wire, profile_file_error, source_to_wire, store_error,
};
use crate::profiles::{ProfileEvent, ProfileSource, StoreError};

/// `profile.show`: a profile's TOML (the active one without `name`): the user's file as
/// written, a shipped profile as shipped; for the active profile, the settings changed at
/// run time that are in force over it. A user file that does not parse is shown as it is,
/// with its errors — one named by path only when it is a profile file, a regular file whose
/// name (past any symlinks) ends in `.toml`: anything else that does not load as a profile
/// (`/etc/passwd`, `/proc/self/environ`) is refused, none of it shown.
pub(super) fn show(e: &Engine, name: Option<String>) -> Result<Response, IpcError> {
    let name = name.unwrap_or_else(|| e.store.active_name());
    let info = e.store.list().into_iter().find(|p| p.name == name);
    let (profile, error) = match e.store.load(&name) {
        Ok(p) => (p, None),
        Err(StoreError::Profile(pe)) => {
            let path = match info.as_ref().map(|i| &i.source) {
                Some(ProfileSource::User { path, .. }) | Some(ProfileSource::Path(path)) => {
                    path.clone()
                }
                // A file given by its path is shown with its errors, as one in the profiles
                // folder is (it was refused, with `unknown_key` for a misspelt key).
                _ if crate::profiles::is_path(&name) => e.store.profile_path(&name),
                _ => return Err(profile_file_error(StoreError::Profile(pe))),
            };
            if crate::profiles::is_path(&name) && !is_profile_file(&path) {
                return Err(IpcError::new(
                    ErrorCode::InvalidValue,
                    format!(
                        "{} is not a profile: it does not load as one, and a file shown with \
                         its errors is a regular file named *.toml (give a profile's name or \
                         the path of a .toml file)",
                        path.display()
                    ),
                ));
            }
            // Every error of the file, not only the first (read as the loader reads it).
            let text = crate::files::read_regular_to_string(&path).unwrap_or_default();
            let shown = path.display().to_string();
            let errors = match headroom_profile::Profile::parse_all(&text, &shown) {
                Err(errs) => errs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
                Ok(_) => pe.to_string(),
            };
            (headroom_profile::Profile::default(), Some(errors))
        }
        Err(other) => return Err(store_error(other)),
    };
    let by_path =
        (info.is_none() && crate::profiles::is_path(&name)).then(|| e.store.profile_path(&name));
    let (source, path) = match (info.map(|i| i.source), by_path) {
        (Some(ProfileSource::User { path, .. }), _)
        | (Some(ProfileSource::Path(path)), _)
        | (_, Some(path)) => (WireSource::User, path.display().to_string()),
        _ => (
            WireSource::Shipped,
            format!("(built in) profiles/{name}.toml"),
        ),
    };
    let toml = match &source {
        WireSource::User => crate::files::read_regular_to_string(std::path::Path::new(&path))
            .unwrap_or_else(|_| profile.to_toml()),
        WireSource::Shipped => headroom_profile::shipped_profiles()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.to_string())
            .unwrap_or_else(|| profile.to_toml()),
    };
    let overrides = if name == e.store.active_name() {
        e.settings()
            .settings
            .into_iter()
            .filter(|s| s.overridden)
            .collect()
    } else {
        Vec::new()
    };
    Ok(Response::ProfileShow(ProfileShow {
        name,
        source,
        path,
        toml,
        error,
        overrides,
    }))
}

/// Whether `path` leads (through any symlinks) to a regular file whose name ends in `.toml`.
fn is_profile_file(path: &std::path::Path) -> bool {
    std::fs::canonicalize(path).is_ok_and(|real| {
        real.extension().is_some_and(|x| x == "toml")
            && std::fs::metadata(&real).is_ok_and(|m| m.is_file())
    })
}

/// `profile.use`: makes a profile active (recorded in the config file) and puts it in force.
pub(super) fn activate(
    e: &mut Engine,
    name: String,
    out: &mut Vec<Output>,
) -> Result<Response, IpcError> {
    // Only what this change finds is reported with it.
    let _ = e.store.take_warnings();
    let diff = e.store.use_profile(&name).map_err(profile_file_error)?;
    // Overrides the new profile leaves out of force (logged by the store): the reply says so,
    // and what the profile in force asks that its settings will not do (`Profile::advice`).
    let mut warnings = e.store.take_warnings();
    for a in e.store.effective().advice() {
        tracing::warn!("profile `{name}`: {a}");
        warnings.push(a);
    }
    // The config file this choice is written into: what is wrong in it, as `status` says.
    warnings.extend(e.store.config_warnings());
    // Settings changed with `headroom set` stay in force over the new profile: said, so that
    // a profile whose target does not come out is not taken for a broken one.
    let kept: Vec<String> = e
        .store
        .overrides()
        .iter()
        .filter(|(k, _)| e.store.is_overridden(k))
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    if !kept.is_empty() {
        warnings.push(format!(
            "your settings stay in force over the profile: {} (`headroom setting reset --all` \
             drops them)",
            kept.join(", ")
        ));
    }
    if !warnings.is_empty() {
        out.push(Output::Warning(warnings.join("; ")));
    }
    e.after_store_change(diff, &[], out);
    e.selection_loaded(out);
    e.publish_settings(out);
    let active = e.store.active_name();
    out.push(Output::Publish(Event::profile_changed(
        active.clone(),
        e.profile_source(),
    )));
    Ok(Response::ProfileActive(ProfileActive { name: active }))
}

/// `profile.reload`: re-reads the config file and the active profile now, through the same
/// [`crate::profiles::ProfileStore::reload`] as the file watcher, and applies what it reports
/// the same way ([`Engine::on_profile_event`]): the profile, `[alerts] notify`. A broken file is
/// an `invalid_value` error (and a `profile/error` event) that says what stays in force (the
/// last good profile, or the start-up fallback). Unknown keys of the config file are the
/// reply's warning.
pub(super) fn reload(e: &mut Engine, out: &mut Vec<Output>) -> Result<Response, IpcError> {
    let events = e.store.reload();
    let error = events.iter().find_map(ProfileEvent::error_text);
    for ev in events {
        e.on_profile_event(ev, out);
    }
    if let Some(msg) = error {
        // What is in force: the last good version, or a start-up fallback still in force.
        let in_force = match e.store.fallback() {
            None => "the last good profile stays active",
            Some(crate::profiles::Fallback::Shipped) => {
                "the shipped profile of that name stays in force"
            }
            Some(crate::profiles::Fallback::Default) => "the `default` profile stays in force",
            Some(crate::profiles::Fallback::BuiltIn) => "the built-in defaults stay in force",
        };
        return Err(IpcError::new(
            ErrorCode::InvalidValue,
            format!("{msg} ({in_force})"),
        ));
    }
    // The files load: an error reported before (of another file, too) is over.
    e.profile_verdict(None, out);
    let typos = e.store.config_warnings();
    if !typos.is_empty() {
        out.push(Output::Warning(typos.join("; ")));
    }
    // What the profile in force asks that its settings will not do, as `profile.use` says.
    for a in e.store.effective().advice() {
        out.push(Output::Warning(a));
    }
    Ok(Response::ProfileActive(ProfileActive {
        name: e.store.active_name(),
    }))
}

/// Most errors of other profiles' files kept while another error is shown.
pub(super) const MAX_WAITING_ERRORS: usize = 32;

impl Engine {
    /// What a reload of the files reported (the watcher's, or `profile.reload`'s): the new
    /// effective profile goes in force, or the error is reported (the last good profile
    /// stays), or desktop notifications are turned on or off.
    pub(super) fn on_profile_event(&mut self, ev: ProfileEvent, out: &mut Vec<Output>) {
        match ev {
            ProfileEvent::Changed {
                profile, detail, ..
            } => {
                tracing::info!("profile `{}` (re)loaded", profile.name);
                // What it asks that its settings will not do (`Profile::advice`): logged at
                // every load (an edited file has no reply to carry it; `profile.reload`'s
                // reply has it as its warning too).
                for a in self.store.effective().advice() {
                    tracing::warn!("profile `{}`: {a}", profile.name);
                }
                self.apply(&profile, detail, out);
                self.selection_loaded(out);
                self.publish_settings(out);
                out.push(Output::Publish(Event::profile_changed(
                    self.store.active_name(),
                    self.profile_source(),
                )));
            }
            ProfileEvent::Error(e) => {
                let text = e.to_string();
                let selected = self.concerns_selection(&e.file);
                let message = alert_message(&text, selected, self.store.fallback());
                // The error in force again (an editor's save seen as two changes, the same
                // mistake saved twice): said once.
                if self.profile_error.as_deref() == Some(text.as_str()) {
                    tracing::debug!("{message}");
                } else {
                    tracing::warn!("{message}");
                }
                // An error of what the config file selects is the one status reports while it
                // lasts: another profile's error does not hide it.
                let selection_in_error = self
                    .profile_error_file
                    .as_deref()
                    .is_some_and(|f| self.profile_error.is_some() && self.concerns_selection(f));
                // The alert in force speaks of another profile's file ("not the active
                // profile: it is not affected"): the active one's error takes its place, the
                // alert cleared and raised again with its message (it kept the other's).
                let replaces_other =
                    selected && self.profile_error.is_some() && !selection_in_error;
                if selected || !selection_in_error {
                    // The error it replaces waits, if it is another profile's.
                    if let (Some(old), Some(file)) =
                        (self.profile_error.take(), self.profile_error_file.take())
                    {
                        if !same_file(&file, &e.file) && !self.concerns_selection(&file) {
                            self.wait_error(file, old);
                        }
                    }
                    self.forget_waiting(&e.file);
                    self.profile_error = Some(text);
                    self.profile_error_file = Some(e.file.clone());
                    self.profile_error_selected = selected;
                } else {
                    self.wait_error(e.file.clone(), text);
                }
                if replaces_other {
                    self.profile_verdict(None, out);
                }
                self.profile_verdict(Some(message), out);
                out.push(Output::Publish(Event::ProfileError(file_error_to_wire(e))));
            }
            // Desktop notifications are the run loop's (`notify::Notifications`): it is told.
            ProfileEvent::AlertsNotify(on) => out.push(Output::AlertsNotify(on)),
            ProfileEvent::Fixed(file) => {
                self.forget_waiting(&file);
                // Only the error in force is about that file: another one stays.
                if self.profile_error.is_some()
                    && self
                        .profile_error_file
                        .as_deref()
                        .is_some_and(|f| same_file(f, &file))
                {
                    if file.exists() {
                        tracing::info!("{}: loads again", file.display());
                    } else {
                        tracing::info!("{}: removed; its error is over", file.display());
                    }
                    self.profile_error = None;
                    self.profile_error_file = None;
                    self.show_waiting_error(out);
                }
            }
        }
    }

    /// What the config file selects has loaded (a reload, `profile.use`): an error of the
    /// file that loaded is over, whether it was shown as the selection's or as another
    /// profile's (the config file and a profile repaired in one reload select and fix it at
    /// once, and the watcher sends no `Fixed` for the active file). Another profile's error
    /// that is shown stays (its file is still as it was). The error of a profile that was
    /// selected and no longer is stays as another profile's while its file still does not
    /// load (checked now: nothing else would say so until it is edited). With no error
    /// left shown, one waiting is shown in its place.
    fn selection_loaded(&mut self, out: &mut Vec<Output>) {
        let active = self.store.active_path();
        let loaded = |f: &std::path::Path| active.as_deref().is_some_and(|a| same_file(a, f));
        if let Some(a) = &active {
            self.forget_waiting(a);
        }
        let shown = self.profile_error_file.clone();
        if self.profile_error.is_some()
            && !self.profile_error_selected
            && !shown.as_deref().is_some_and(loaded)
        {
            return;
        }
        let was_selected = self.profile_error.is_some() && self.profile_error_selected;
        self.profile_error = None;
        self.profile_error_file = None;
        if let Some(file) = shown.filter(|f| was_selected && !loaded(f)) {
            let config = self.store.paths().config_file;
            // A file that is gone is no profile in error (selecting a missing file by path).
            if !same_file(&file, &config) && file.exists() {
                if let Err(e) = crate::profiles::check_profile_file(&file) {
                    self.wait_error(file, e.to_string());
                }
            }
        }
        self.show_waiting_error(out);
    }

    /// With no error shown: the newest waiting one, if any, is shown (and its alert raised),
    /// else the alert is cleared.
    fn show_waiting_error(&mut self, out: &mut Vec<Output>) {
        match self.waiting_profile_errors.pop() {
            Some((file, text)) => {
                let selected = self.concerns_selection(&file);
                let message = alert_message(&text, selected, self.store.fallback());
                self.profile_error = Some(text);
                self.profile_error_file = Some(file);
                self.profile_error_selected = selected;
                // The alert in force changes its message only when it was cleared first.
                self.profile_verdict(None, out);
                self.profile_verdict(Some(message), out);
            }
            None => self.profile_verdict(None, out),
        }
    }

    /// Keeps another profile's error to be shown later (the newest of each file).
    fn wait_error(&mut self, file: std::path::PathBuf, text: String) {
        self.forget_waiting(&file);
        if self.waiting_profile_errors.len() >= MAX_WAITING_ERRORS {
            self.waiting_profile_errors.remove(0);
        }
        self.waiting_profile_errors.push((file, text));
    }

    /// Drops the waiting error of `file` (it loads again, or is shown).
    fn forget_waiting(&mut self, file: &std::path::Path) {
        self.waiting_profile_errors
            .retain(|(f, _)| !same_file(f, file));
    }

    /// Another profile (or the active one reloaded): every setting's value and default may
    /// have changed at once, so subscribers get them all as a `settings/snapshot`.
    fn publish_settings(&self, out: &mut Vec<Output>) {
        out.push(Output::Publish(Event::SettingsSnapshot(self.settings())));
    }

    /// Whether an error of `file` concerns what the config file selects (the config file, or
    /// the profile it names, whose last good version then stays in force), rather than a
    /// profile that is not selected (the active profile is then not affected).
    pub(super) fn concerns_selection(&self, file: &std::path::Path) -> bool {
        self.store
            .error_file()
            .is_some_and(|selected| same_file(&selected, file))
    }

    /// Raises (`Some(message)`, see [`alert_message`]) or clears (`None`: a profile loaded)
    /// the profile-error alert.
    fn profile_verdict(&mut self, error: Option<String>, out: &mut Vec<Output>) {
        let events = self.watch.profile(error, crate::history::now_unix_ms());
        self.publish_alerts(events, out);
    }

    pub(super) fn profile_source(&self) -> WireSource {
        source_to_wire(&self.store.active_source())
    }

    /// Every profile, the active one marked.
    pub(super) fn profile_list(&self) -> ProfileList {
        ProfileList {
            profiles: self
                .store
                .list()
                .into_iter()
                .map(|p| ProfileEntry {
                    active: p.active,
                    source: source_to_wire(&p.source),
                    name: p.name,
                    // Cut as names are on the wire: six profiles with descriptions of 900 kB
                    // (a file may hold 1 MiB) made the answer too large to send, and a
                    // `profile` subscriber got an error in place of its snapshot.
                    description: headroom_ipc::truncate_name(
                        &p.description,
                        headroom_ipc::MAX_NAME_BYTES,
                    )
                    .to_owned(),
                    error: p.error,
                })
                .collect(),
            active: self.store.active_name(),
        }
    }
}

/// The profile-error alert's message (and log line) for the error `text`: what it means for
/// the profile in force, as `selected` ([`Engine::concerns_selection`]) and the start-up
/// `fallback` still in force, if any, say.
pub(super) fn alert_message(
    text: &str,
    selected: bool,
    fallback: Option<crate::profiles::Fallback>,
) -> String {
    use crate::profiles::Fallback;
    if !selected {
        return format!("{text} (not the active profile: it is not affected)");
    }
    match fallback {
        None => format!("{text} (keeping the last good profile)"),
        Some(Fallback::Shipped) => format!("{text} (the shipped profile of that name is in force)"),
        Some(Fallback::Default) => format!("{text} (the `default` profile is in force)"),
        Some(Fallback::BuiltIn) => format!("{text} (the built-in defaults are in force)"),
    }
}

/// Whether `a` and `b` name the same file (canonical paths where they exist; the watcher may
/// report either form).
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    let canon = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    a == b || canon(a) == canon(b)
}
