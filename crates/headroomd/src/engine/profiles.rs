//! `profile.list`, `profile.show`, `profile.use`, `profile.reload`, and the profile files
//! changing on disk (hot reload).

use headroom_ipc::{
    ErrorCode, Event, IpcError, ProfileActive, ProfileEntry, ProfileList, ProfileShow,
    ProfileSource as WireSource, Request, Response,
};

use super::{Engine, Output};
use crate::control::convert::{source_to_wire, store_error};
use crate::profiles::{ProfileEvent, ProfileSource};

/// Answers a `profile.*` request.
pub(super) fn handle(
    e: &mut Engine,
    req: Request,
    out: &mut Vec<Output>,
) -> Result<Response, IpcError> {
    match req {
        Request::ProfileList => Ok(Response::ProfileList(e.profile_list())),
        Request::ProfileShow { name } => {
            let name = name.unwrap_or_else(|| e.store.active_name());
            let profile = e.store.load(&name).map_err(store_error)?;
            let info = e.store.list().into_iter().find(|p| p.name == name);
            let (source, path) = match info.map(|i| i.source) {
                Some(ProfileSource::User { path, .. }) | Some(ProfileSource::Path(path)) => {
                    (WireSource::User, path.display().to_string())
                }
                _ => (
                    WireSource::Shipped,
                    format!("(built in) profiles/{name}.toml"),
                ),
            };
            let toml = match &source {
                WireSource::User => {
                    std::fs::read_to_string(&path).unwrap_or_else(|_| profile.to_toml())
                }
                WireSource::Shipped => headroom_profile::shipped_profiles()
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, t)| t.to_string())
                    .unwrap_or_else(|| profile.to_toml()),
            };
            Ok(Response::ProfileShow(ProfileShow {
                name,
                source,
                path,
                toml,
            }))
        }
        Request::ProfileUse { name } => {
            let diff = e.store.use_profile(&name).map_err(store_error)?;
            e.after_store_change(diff, &[], out);
            let active = e.store.active_name();
            out.push(Output::Publish(Event::profile_changed(
                active.clone(),
                e.profile_source(),
            )));
            Ok(Response::ProfileActive(ProfileActive { name: active }))
        }
        Request::ProfileReload => {
            match e.store.reload() {
                Some(ProfileEvent::Error {
                    file,
                    line,
                    column,
                    message,
                }) => {
                    let msg = format!("{}:{line}:{column}: {message}", file.display());
                    e.on_profile_event(
                        ProfileEvent::Error {
                            file,
                            line,
                            column,
                            message,
                        },
                        out,
                    );
                    return Err(IpcError::new(
                        ErrorCode::InvalidValue,
                        format!("{msg} (the last good profile stays active)"),
                    ));
                }
                Some(ev) => e.on_profile_event(ev, out),
                None => {}
            }
            Ok(Response::ProfileActive(ProfileActive {
                name: e.store.active_name(),
            }))
        }
        other => Err(IpcError::internal(format!(
            "`{}` is not a profile request",
            other.method()
        ))),
    }
}

impl Engine {
    /// A profile file changed: the new effective profile goes in force, or the error is
    /// reported (the last good profile stays).
    pub(super) fn on_profile_event(&mut self, ev: ProfileEvent, out: &mut Vec<Output>) {
        match ev {
            ProfileEvent::Changed {
                profile, detail, ..
            } => {
                tracing::info!("profile `{}` (re)loaded", profile.name);
                self.apply(&profile, detail, out);
                out.push(Output::Publish(Event::profile_changed(
                    self.store.active_name(),
                    self.profile_source(),
                )));
            }
            ProfileEvent::Error {
                file,
                line,
                column,
                message,
            } => {
                tracing::warn!(
                    "{}:{line}:{column}: {message} (keeping the last good profile)",
                    file.display()
                );
                out.push(Output::Publish(Event::ProfileError(
                    headroom_ipc::event::ProfileError {
                        file: file.display().to_string(),
                        line: (line > 0).then_some(line as u32),
                        column: (column > 0).then_some(column as u32),
                        message,
                    },
                )));
            }
        }
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
                })
                .collect(),
            active: self.store.active_name(),
        }
    }
}
