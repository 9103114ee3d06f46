//! The monitor's keys: [`on_key`] turns a key press into a change of the view (help,
//! selection) or an [`Action`] for the daemon; [`perform`] carries an action out through a
//! [`Control`] (the daemon's existing requests: `bypass.set`, `profile.use`, `route.set`,
//! `setting.get`/`setting.set` of `layer_a.enabled`) and says what happened in the banner.
//! Both are free of I/O of their own, so the key handling is tested with a fake [`Control`].

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use headroom_ipc::Route;

use super::state::{Banner, MonitorState};

/// What a key asks of the daemon (or of the monitor: quit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Leave the monitor.
    Quit,
    /// Flip the bypass.
    ToggleBypass,
    /// Activate the next profile.
    NextProfile,
    /// Give `app` a routing rule.
    SetRoute {
        /// The application name the rule matches (exactly: glob characters escaped).
        app: String,
        /// Where its streams go.
        route: Route,
    },
    /// Turn Layer A (per-stream levelling) on or off.
    ToggleLayerA,
}

/// The daemon requests the monitor's keys use. Each returns a message for the user on error.
pub trait Control {
    /// `bypass.set toggle`; the bypass now.
    fn toggle_bypass(&mut self) -> Result<bool, String>;
    /// Activates the profile after the active one; its name.
    fn next_profile(&mut self) -> Result<String, String>;
    /// `route.set app route`.
    fn set_route(&mut self, app: &str, route: Route) -> Result<(), String>;
    /// Reads `layer_a.enabled` and sets the opposite; the value now.
    fn toggle_layer_a(&mut self) -> Result<bool, String>;
    /// The warning the last successful request's reply carried (the request was carried
    /// out, but, e.g., the change could not be saved), once.
    fn take_warning(&mut self) -> Option<String>;
}

/// `name` as a glob that matches only itself (`*`, `?`, `[` and `\` escaped).
pub fn literal_glob(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Applies a key press to the view; returns what it asks of the daemon, if anything.
///
/// Keys: `q`/`Esc`/Ctrl-C quit, `?`/`h` help, `↑`/`↓` (`k`/`j`) select a stream, `r` re-route
/// the selected stream (processed ↔ bypass), `a` toggle Layer A, `b` bypass, `p` next profile.
pub fn on_key(state: &mut MonitorState, key: KeyEvent, now_ms: u64) -> Option<Action> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    match key.code {
        KeyCode::Char('q') | KeyCode::Esc => Some(Action::Quit),
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => Some(Action::Quit),
        KeyCode::Char('?') | KeyCode::Char('h') => {
            state.show_help = !state.show_help;
            None
        }
        KeyCode::Up | KeyCode::Char('k') => {
            state.move_selection(-1);
            None
        }
        KeyCode::Down | KeyCode::Char('j') => {
            state.move_selection(1);
            None
        }
        KeyCode::Char('b') => Some(Action::ToggleBypass),
        KeyCode::Char('p') => Some(Action::NextProfile),
        KeyCode::Char('a') => Some(Action::ToggleLayerA),
        KeyCode::Char('r') => {
            let Some(row) = state.selected_row() else {
                state.set_banner(Banner::Error("no stream selected".into()), now_ms);
                return None;
            };
            let Some(app) = row.rule_app.clone() else {
                let msg = format!("{} has no application name a rule could match", row.app);
                state.set_banner(Banner::Error(msg), now_ms);
                return None;
            };
            let route = if row.route == "bypass" {
                Route::Processed
            } else {
                Route::Bypass
            };
            Some(Action::SetRoute {
                app: literal_glob(&app),
                route,
            })
        }
        _ => None,
    }
}

/// Carries out `action` through `ctl` and reports the outcome in the banner. Returns `true`
/// when the monitor should quit.
pub fn perform(
    state: &mut MonitorState,
    action: Action,
    ctl: &mut dyn Control,
    now_ms: u64,
) -> bool {
    let outcome = match action {
        Action::Quit => return true,
        Action::ToggleBypass => ctl
            .toggle_bypass()
            .map(|on| format!("bypass {}", if on { "on" } else { "off" })),
        Action::NextProfile => ctl.next_profile().map(|name| {
            state.set_profile(&name);
            format!("profile {name}")
        }),
        Action::SetRoute { app, route } => {
            let to = match route {
                Route::Processed => "processed",
                Route::Bypass => "bypass",
            };
            ctl.set_route(&app, route)
                .map(|()| format!("rule set: {app} → {to} (`headroom route unset` removes it)"))
        }
        Action::ToggleLayerA => ctl
            .toggle_layer_a()
            .map(|on| format!("Layer A {}", if on { "on" } else { "off" })),
    };
    // A reply's warning is shown as an error: what was done may not last.
    let banner = match (outcome, ctl.take_warning()) {
        (Ok(msg), None) => Banner::Info(msg),
        (Ok(msg), Some(w)) => Banner::Error(format!("{msg}; warning: {w}")),
        (Err(e), _) => Banner::Error(e),
    };
    state.set_banner(banner, now_ms);
    false
}
