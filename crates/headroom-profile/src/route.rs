//! Routing rules: which streams go through the processed sink and which bypass it — the
//! profile's rules ([`RouteConfig`]) and the runtime rules of `headroom route set`
//! ([`UserRules`]). Both match with the one [`Glob`] (case-insensitive).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::glob::{Glob, GlobError};

/// Where a stream is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// Through the `headroom-processed` sink (levelled).
    #[default]
    Processed,
    /// Straight to the real sink, untouched.
    Bypass,
}

impl Route {
    /// Every route, in the order they are documented.
    pub const ALL: [Route; 2] = [Route::Processed, Route::Bypass];

    /// The name used in profiles and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Processed => "processed",
            Route::Bypass => "bypass",
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Route {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Route::ALL.into_iter().find(|r| r.as_str() == s).ok_or(())
    }
}

/// A stream property a routing rule may match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchKey {
    /// `app`: matches when either `application.name` or `application.process.binary`
    /// matches.
    App,
    /// `application.name`, e.g. `Firefox`.
    ApplicationName,
    /// `application.process.binary`, e.g. `firefox`.
    ApplicationProcessBinary,
    /// `media.role`, e.g. `Music`, `Game`, `Communication`.
    MediaRole,
    /// `media.name`, e.g. a track or tab title.
    MediaName,
    /// `node.name` of the stream node.
    NodeName,
}

impl MatchKey {
    /// Every match key.
    pub const ALL: [MatchKey; 6] = [
        MatchKey::App,
        MatchKey::ApplicationName,
        MatchKey::ApplicationProcessBinary,
        MatchKey::MediaRole,
        MatchKey::MediaName,
        MatchKey::NodeName,
    ];

    /// The key as written in profiles.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKey::App => "app",
            MatchKey::ApplicationName => "application.name",
            MatchKey::ApplicationProcessBinary => "application.process.binary",
            MatchKey::MediaRole => "media.role",
            MatchKey::MediaName => "media.name",
            MatchKey::NodeName => "node.name",
        }
    }
}

impl MatchKey {
    /// Whether the stream property this key names matches `glob`; for [`MatchKey::App`],
    /// `application.name` or `application.process.binary`. A missing property never matches.
    pub fn matches<'p>(self, glob: &Glob, props: impl Fn(&str) -> Option<&'p str>) -> bool {
        let one = |k: MatchKey| props(k.as_str()).is_some_and(|v| glob.matches(v));
        match self {
            MatchKey::App => {
                one(MatchKey::ApplicationName) || one(MatchKey::ApplicationProcessBinary)
            }
            other => one(other),
        }
    }
}

impl fmt::Display for MatchKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MatchKey {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MatchKey::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(())
    }
}

/// One routing rule: when every given property matches its glob, the stream takes `route`.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteRule {
    /// Property → glob pattern. Never empty in a validated profile.
    pub matches: BTreeMap<MatchKey, Glob>,
    /// Route for matching streams.
    pub route: Route,
}

impl RouteRule {
    /// Whether a stream with the given properties matches every key of this rule. `props`
    /// looks up a PipeWire property by name (e.g. `"application.name"`); a missing property
    /// never matches. Allocates a little (control thread only).
    pub fn matches<'p>(&self, props: impl Fn(&str) -> Option<&'p str>) -> bool {
        self.matches
            .iter()
            .all(|(key, glob)| key.matches(glob, &props))
    }
}

/// A runtime rule (`headroom route set APP ROUTE`): `app` is a glob on `application.name` or
/// `application.process.binary` — the profile rules' `app` key.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRule {
    /// The glob on the application name or binary.
    pub app: Glob,
    /// Route for matching streams.
    pub route: Route,
}

impl UserRule {
    /// A rule for the glob `app`. Allocates.
    pub fn new(app: &str, route: Route) -> Result<Self, GlobError> {
        Ok(UserRule {
            app: Glob::new(app)?,
            route,
        })
    }

    /// Whether a stream with these properties matches (see [`RouteRule::matches`]).
    pub fn matches<'p>(&self, props: impl Fn(&str) -> Option<&'p str>) -> bool {
        MatchKey::App.matches(&self.app, props)
    }
}

/// The runtime rules, newest first. The newest matching rule wins; a rule for a pattern that
/// already has one (the same ignoring case) replaces it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserRules {
    rules: Vec<UserRule>,
}

impl UserRules {
    /// No rules.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `rule` as the newest, replacing the rule for the same pattern if there is one.
    pub fn set(&mut self, rule: UserRule) {
        self.rules.retain(|r| !r.app.same_pattern(&rule.app));
        self.rules.insert(0, rule);
    }

    /// Removes the rule for the pattern `app` (compared ignoring case). Returns whether there
    /// was one.
    pub fn unset(&mut self, app: &str) -> bool {
        let Ok(glob) = Glob::new(app) else {
            return false;
        };
        let before = self.rules.len();
        self.rules.retain(|r| !r.app.same_pattern(&glob));
        self.rules.len() != before
    }

    /// The rules, newest first.
    pub fn iter(&self) -> impl Iterator<Item = &UserRule> {
        self.rules.iter()
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The newest rule matching the stream, with its index (0 = newest).
    pub fn first_match<'p>(
        &self,
        props: impl Fn(&str) -> Option<&'p str>,
    ) -> Option<(usize, &UserRule)> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.matches(&props))
    }
}

impl FromIterator<UserRule> for UserRules {
    /// Rules given newest first (as [`UserRules::iter`] returns them).
    fn from_iter<I: IntoIterator<Item = UserRule>>(iter: I) -> Self {
        let mut rules = UserRules::new();
        let all: Vec<UserRule> = iter.into_iter().collect();
        for r in all.into_iter().rev() {
            rules.set(r);
        }
        rules
    }
}

/// The routing section of a profile.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RouteConfig {
    /// Route for streams no rule matches.
    pub default: Route,
    /// Rules, tried in order; the first match wins.
    pub rules: Vec<RouteRule>,
}

impl RouteConfig {
    /// Index of the first rule matching the stream, if any.
    pub fn matching_rule<'p>(&self, props: impl Fn(&str) -> Option<&'p str>) -> Option<usize> {
        self.rules.iter().position(|r| r.matches(&props))
    }

    /// The route for a stream with these properties: the first matching rule's, else the
    /// default.
    pub fn route_for<'p>(&self, props: impl Fn(&str) -> Option<&'p str>) -> Route {
        match self.matching_rule(props) {
            Some(i) => self.rules.get(i).map_or(self.default, |r| r.route),
            None => self.default,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn rule(pairs: &[(MatchKey, &str)], route: Route) -> RouteRule {
        RouteRule {
            matches: pairs
                .iter()
                .map(|(k, g)| (*k, Glob::new(g).unwrap()))
                .collect(),
            route,
        }
    }

    #[test]
    fn first_match_wins_and_all_keys_must_match() {
        let cfg = RouteConfig {
            default: Route::Processed,
            rules: vec![
                rule(
                    &[(MatchKey::App, "mpv"), (MatchKey::MediaRole, "Music")],
                    Route::Bypass,
                ),
                rule(&[(MatchKey::App, "mpv")], Route::Processed),
                rule(&[(MatchKey::ApplicationName, "Firefox*")], Route::Bypass),
            ],
        };
        let p1: HashMap<&str, &str> = [
            ("application.process.binary", "mpv"),
            ("media.role", "Music"),
        ]
        .into();
        assert_eq!(cfg.matching_rule(|k| p1.get(k).copied()), Some(0));
        assert_eq!(cfg.route_for(|k| p1.get(k).copied()), Route::Bypass);
        let p2: HashMap<&str, &str> = [("application.name", "mpv")].into();
        assert_eq!(cfg.matching_rule(|k| p2.get(k).copied()), Some(1));
        let p3: HashMap<&str, &str> = [("application.name", "Firefox Nightly")].into();
        assert_eq!(cfg.route_for(|k| p3.get(k).copied()), Route::Bypass);
        let p4: HashMap<&str, &str> = [("application.name", "Chromium")].into();
        assert_eq!(cfg.matching_rule(|k| p4.get(k).copied()), None);
        assert_eq!(cfg.route_for(|k| p4.get(k).copied()), Route::Processed);
        // A missing property never matches, not even `*`.
        let r = rule(&[(MatchKey::MediaRole, "*")], Route::Bypass);
        assert!(!r.matches(|k| p4.get(k).copied()));
    }

    #[test]
    fn user_rules_newest_first_and_replaced_ignoring_case() {
        let mut u = UserRules::new();
        u.set(UserRule::new("mpv", Route::Processed).unwrap());
        u.set(UserRule::new("m*", Route::Bypass).unwrap());
        let mpv: HashMap<&str, &str> = [("application.name", "MPV")].into();
        let (i, r) = u.first_match(|k| mpv.get(k).copied()).unwrap();
        assert_eq!((i, r.route), (0, Route::Bypass));
        // Re-setting "MPV" replaces "mpv" and makes it the newest.
        u.set(UserRule::new("MPV", Route::Processed).unwrap());
        assert_eq!(u.len(), 2);
        let (i, r) = u.first_match(|k| mpv.get(k).copied()).unwrap();
        assert_eq!((i, r.route, r.app.as_str()), (0, Route::Processed, "MPV"));
        // The binary counts too.
        let bin: HashMap<&str, &str> = [("application.process.binary", "mpv")].into();
        assert!(u.first_match(|k| bin.get(k).copied()).is_some());
        assert!(u.unset("Mpv"));
        assert!(!u.unset("mpv"));
        assert!(!u.unset("[broken"));
        let (_, r) = u.first_match(|k| mpv.get(k).copied()).unwrap();
        assert_eq!(r.app.as_str(), "m*");
        // Collected newest first.
        let c: UserRules = [
            UserRule::new("a", Route::Bypass).unwrap(),
            UserRule::new("b", Route::Processed).unwrap(),
        ]
        .into_iter()
        .collect();
        let order: Vec<&str> = c.iter().map(|r| r.app.as_str()).collect();
        assert_eq!(order, ["a", "b"]);
        assert!(UserRule::new("fire[fox", Route::Bypass).is_err());
    }

    #[test]
    fn names_round_trip() {
        for k in MatchKey::ALL {
            assert_eq!(k.as_str().parse::<MatchKey>(), Ok(k));
        }
        for r in Route::ALL {
            assert_eq!(r.as_str().parse::<Route>(), Ok(r));
        }
        assert!("Bypass".parse::<Route>().is_err());
    }
}
