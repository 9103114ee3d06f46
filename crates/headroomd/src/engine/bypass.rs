//! `bypass.set`: on, off or toggle — a runtime override of the `bypass` setting, so it
//! persists like any other and `setting reset bypass` undoes it. Back to the active profile's
//! own value (`off` after `on`, for the shipped profiles) it is no override any more: a
//! toggle there and back leaves nothing in force over the next profile. Like any override it
//! is put in force even when it cannot be saved (the reply then carries a warning).

use headroom_ipc::{BypassMode, BypassState, IpcError, Response};
use headroom_profile::SettingValue;

use super::{Engine, Output};
use crate::control::convert::store_error;

/// Answers `bypass.set`.
pub(super) fn set(
    e: &mut Engine,
    mode: BypassMode,
    out: &mut Vec<Output>,
) -> Result<Response, IpcError> {
    let current = e.store.effective().chain.bypass;
    let want = match mode {
        BypassMode::On => true,
        BypassMode::Off => false,
        BypassMode::Toggle => !current,
    };
    let diff = if want == e.store.active().chain.bypass {
        e.store.reset("bypass")
    } else {
        e.store.set_override("bypass", SettingValue::Bool(want))
    }
    .map_err(store_error)?;
    e.after_store_change(diff, &["bypass".to_string()], out);
    e.warn_if_unsaved(out);
    Ok(Response::Bypass(BypassState {
        bypass: e.params.bypass,
    }))
}
