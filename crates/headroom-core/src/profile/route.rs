//! Routing rules: which streams go through the processed sink and which bypass it.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::glob::Glob;

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
        self.matches.iter().all(|(key, glob)| match key {
            MatchKey::App => [
                MatchKey::ApplicationName,
                MatchKey::ApplicationProcessBinary,
            ]
            .iter()
            .any(|k| props(k.as_str()).is_some_and(|v| glob.matches(v))),
            other => props(other.as_str()).is_some_and(|v| glob.matches(v)),
        })
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
