//! `route.set`, `route.unset`, the rules and streams of `route.list`: the runtime rules (kept in
//! the router, persisted in `routes.json`), and the `routing` events that tell subscribers what
//! changed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use headroom_ipc::{
    page_streams, Event, IpcError, LayerAAttached, LayerADetached, Response, Route as WireRoute,
    RouteRule, Routes, RuleSource, StreamInfo, StreamRemoved, MAX_PATTERN_BYTES, MAX_USER_RULES,
    ROUTES_PAGE_BYTES,
};
use headroom_profile::{UserRule, UserRules};

use super::{Engine, Output};
use crate::control::convert::{route_from_wire, route_to_wire, stream_info};

/// `route.set`: a runtime rule for the glob `app` (it replaces the rule for the same pattern
/// and becomes the newest), persisted, then put in force.
pub(super) fn set(
    e: &mut Engine,
    app: String,
    route: WireRoute,
    out: &mut Vec<Output>,
) -> Result<Response, IpcError> {
    let rule = UserRule::new(&app, route_from_wire(route))
        .map_err(|err| IpcError::invalid_params(format!("`{app}` is not a valid glob: {err}")))?;
    let mut rules = e.routing.router().user_rules().clone();
    // A rule written differently for the same pattern (`a**` for `a*`, `Firefox` for
    // `firefox`) replaces it: said, since `route list` then shows the new text only.
    let replaced: Vec<String> = rules
        .iter()
        .filter(|r| r.app.same_pattern(&rule.app) && r.app.as_str() != rule.app.as_str())
        .map(|r| format!("`{}`", r.app.as_str()))
        .collect();
    rules.set(rule);
    if rules.len() > MAX_USER_RULES {
        return Err(IpcError::invalid_params(format!(
            "there are already {MAX_USER_RULES} route rules, the most headroom keeps; remove \
             one with `route.unset` first"
        )));
    }
    e.set_user_rules(rules, out);
    if !replaced.is_empty() {
        out.push(Output::Warning(format!(
            "`{app}` is the same pattern as the rule {}, which it replaces",
            replaced.join(", ")
        )));
    }
    out.push(Output::Publish(Event::rule_changed(
        app,
        Some(route),
        RuleSource::User,
    )));
    e.publish_routing_deltas(out);
    Ok(Response::Ok)
}

/// `route.unset`: removes the runtime rule for the pattern `app` (`not_found` without one).
pub(super) fn unset(
    e: &mut Engine,
    app: String,
    out: &mut Vec<Output>,
) -> Result<Response, IpcError> {
    let mut rules = e.routing.router().user_rules().clone();
    if !rules.unset(&app) {
        let have: Vec<String> = rules.iter().map(|r| format!("`{}`", r.app)).collect();
        let valid = if have.is_empty() {
            "there are no user rules".to_string()
        } else {
            // At most MAX_USER_RULES patterns of at most MAX_PATTERN_BYTES: well within a
            // reply.
            format!("user rules: {}", have.join(", "))
        };
        return Err(IpcError::not_found(format!(
            "no user rule for `{app}` ({valid})"
        )));
    }
    e.set_user_rules(rules, out);
    out.push(Output::Publish(Event::rule_changed(
        app,
        None,
        RuleSource::User,
    )));
    e.publish_routing_deltas(out);
    Ok(Response::Ok)
}

/// Loads the persisted runtime route rules (newest first), with what went wrong (each
/// message logged once here, and meant for `status`'s `file_warnings`). A file that is not a
/// JSON list (not UTF-8 or over the size limit included) is reported, kept aside as
/// `routes.json.corrupt-<unix seconds>` (never overwriting an earlier backup) and ignored. In a
/// list, a rule that cannot be read (not an `[app, route]` pair, an unknown route, an empty
/// pattern, a pattern that is not a valid glob or longer than [`MAX_PATTERN_BYTES`]) is
/// reported and skipped, the others load; when any was skipped the file as it was is kept
/// aside the same way and the rules that load are saved in its place, so nothing is lost and
/// the next start reads a clean file. At most [`MAX_USER_RULES`] rules are kept (the newest).
pub(super) fn load_user_rules(path: &Path) -> (UserRules, Vec<String>) {
    let mut warnings = Vec::new();
    let mut warn = |w: String| {
        tracing::warn!("{w}");
        warnings.push(w);
    };
    let corrupt = |why: &dyn std::fmt::Display| {
        let note = crate::state_file::move_aside_note(path);
        format!(
            "{} is corrupt ({why}); {note}; starting without user rules",
            path.display()
        )
    };
    let bytes = match crate::files::read_regular(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (UserRules::new(), warnings),
        // Too large: kept aside like a file that does not parse (the next `route.set`
        // would otherwise write over it).
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            warn(corrupt(&e));
            return (UserRules::new(), warnings);
        }
        Err(e) => {
            warn(format!(
                "cannot read {}: {e}; starting without user rules",
                path.display()
            ));
            return (UserRules::new(), warnings);
        }
    };
    // Not UTF-8 is a parse error like any other: the file is kept aside.
    let entries = match serde_json::from_slice::<Vec<serde_json::Value>>(&bytes) {
        Ok(entries) => entries,
        Err(e) => {
            warn(corrupt(&e));
            return (UserRules::new(), warnings);
        }
    };
    if entries.len() > MAX_USER_RULES {
        warn(format!(
            "{}: {} rules, keeping the newest {MAX_USER_RULES}",
            path.display(),
            entries.len()
        ));
    }
    let mut skipped: Vec<String> = Vec::new();
    let kept: Vec<UserRule> = entries
        .into_iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let rule = serde_json::from_value::<(String, WireRoute)>(v)
                .map_err(|e| format!("rule {} is not an [app, route] pair: {e}", i + 1))
                .and_then(|(app, r)| {
                    if app.trim().is_empty() {
                        // As `route.set` refuses it (`Request::validate`).
                        Err(format!("rule {} has an empty pattern", i + 1))
                    } else if app.chars().any(char::is_control) {
                        // As `route.set` refuses it: no command line could remove it.
                        Err(format!("rule {} holds a control character", i + 1))
                    } else if app.len() > MAX_PATTERN_BYTES {
                        Err(format!(
                            "rule {} is {} bytes long (at most {MAX_PATTERN_BYTES})",
                            i + 1,
                            app.len()
                        ))
                    } else {
                        UserRule::new(&app, route_from_wire(r))
                            .map_err(|e| format!("the rule `{app}`: {e}"))
                    }
                });
            match rule {
                Ok(rule) => Some(rule),
                Err(why) => {
                    skipped.push(why);
                    None
                }
            }
        })
        .take(MAX_USER_RULES)
        .collect();
    let rules: UserRules = kept.into_iter().collect();
    if let Some(first) = skipped.first() {
        let more = match skipped.len() {
            1 => String::new(),
            n => format!(" and {} more", n - 1),
        };
        let kept = match crate::state_file::move_aside(path) {
            Ok(backup) => {
                let saved = match save_user_rules(path, &rules) {
                    Ok(()) => String::new(),
                    Err(e) => format!(" (cannot save the rules that loaded: {e})"),
                };
                format!("the file as it was is kept as {}{saved}", backup.display())
            }
            Err(e) => format!("could not keep a copy: {e}"),
        };
        for why in &skipped {
            tracing::warn!("{}: skipping {why}", path.display());
        }
        warn(format!("{}: skipped {first}{more}; {kept}", path.display()));
    }
    (rules, warnings)
}

/// Writes `rules` to `path` (atomically, creating its directory).
fn save_user_rules(path: &Path, rules: &UserRules) -> std::io::Result<()> {
    let rules: Vec<(String, WireRoute)> = rules
        .iter()
        .map(|r| (r.app.to_string(), route_to_wire(r.route)))
        .collect();
    let json = serde_json::to_vec_pretty(&rules).map_err(std::io::Error::other)?;
    crate::state_file::write_atomic(path, &json)
}

impl Engine {
    /// Puts `rules` in force and saves them. A failed save does not undo the change: it is
    /// logged and the reply warns of it (the rules in force would be lost when the daemon
    /// stops).
    fn set_user_rules(&mut self, rules: UserRules, out: &mut Vec<Output>) {
        let save_error = save_user_rules(&self.routes_file, &rules).err().map(|e| {
            let msg = format!(
                "cannot save the route rules to {}: {e} (they are in force, but will be \
                 lost when headroomd stops)",
                self.routes_file.display()
            );
            tracing::warn!("{msg}");
            msg
        });
        let cmds = self.routing.set_user_rules(rules);
        out.extend(cmds.into_iter().map(Output::Pw));
        if let Some(w) = save_error {
            out.push(Output::Warning(w));
        }
    }

    /// Every rule (the user's first, newest first, then the active profile's) and every
    /// stream.
    pub(super) fn routes(&self) -> Routes {
        let mut rules: Vec<RouteRule> = self
            .routing
            .router()
            .user_rules()
            .iter()
            .map(|r| RouteRule {
                app: r.app.to_string(),
                route: route_to_wire(r.route),
                source: RuleSource::User,
            })
            .collect();
        let profile = self.store.effective();
        rules.extend(profile.route.rules.iter().map(|r| {
            RouteRule {
                app: r
                    .matches
                    .iter()
                    .map(|(k, g)| format!("{k}={g}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                route: route_to_wire(r.route),
                source: RuleSource::Profile,
            }
        }));
        Routes {
            rules,
            streams: self.streams().into_values().collect(),
            next_cursor: None,
        }
    }

    /// One page of `route.list`: the rules with the first streams (no cursor), or the streams
    /// from node id `cursor` on; as many streams as fit [`ROUTES_PAGE_BYTES`], with the
    /// cursor of the next page when more follow. Streams are ordered by node id, so a page
    /// boundary stays put while streams come and go.
    pub(super) fn routes_page(&self, cursor: Option<u64>) -> Routes {
        let all = self.routes();
        let from = cursor.unwrap_or(0);
        let (streams, rest) = page_streams(
            all.streams.iter().filter(|s| u64::from(s.node_id) >= from),
            ROUTES_PAGE_BYTES,
        );
        Routes {
            rules: if cursor.is_none() {
                all.rules
            } else {
                Vec::new()
            },
            streams,
            next_cursor: rest.first().map(|s| u64::from(s.node_id)),
        }
    }

    /// Every stream the router tracks, with its Layer A reduction.
    pub(super) fn streams(&self) -> BTreeMap<u32, StreamInfo> {
        let reductions: BTreeMap<u32, f32> = self
            .routing
            .layer_a_state()
            .into_iter()
            .map(|s| (s.node_id, s.reduction_db))
            .collect();
        self.routing
            .state()
            .iter()
            .map(|s| {
                (
                    s.node_id,
                    stream_info(s, reductions.get(&s.node_id).copied()),
                )
            })
            .collect()
    }

    /// Publishes `stream_routed` / `stream_removed` / `layer_a_*` for what changed since the
    /// last call.
    pub(super) fn publish_routing_deltas(&mut self, out: &mut Vec<Output>) {
        let now = self.streams();
        for (id, info) in &now {
            let changed = self.last_streams.get(id).is_none_or(|old| {
                old.route != info.route || old.target != info.target || old.app != info.app
            });
            if changed {
                out.push(Output::Publish(Event::StreamRouted(info.clone())));
            }
        }
        for id in self.last_streams.keys() {
            if !now.contains_key(id) {
                out.push(Output::Publish(Event::StreamRemoved(StreamRemoved {
                    node_id: *id,
                })));
            }
        }
        let taps: BTreeSet<u32> = self
            .routing
            .layer_a_state()
            .iter()
            .map(|s| s.node_id)
            .collect();
        for id in taps.difference(&self.last_taps) {
            let app = now.get(id).map(|s| s.app.clone()).unwrap_or_default();
            out.push(Output::Publish(Event::LayerAAttached(LayerAAttached {
                node_id: *id,
                app,
            })));
        }
        for id in self.last_taps.difference(&taps) {
            out.push(Output::Publish(Event::LayerADetached(LayerADetached {
                node_id: *id,
            })));
        }
        self.last_streams = now;
        self.last_taps = taps;
    }
}
