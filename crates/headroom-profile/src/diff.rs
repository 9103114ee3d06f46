//! What changes between two profiles, and what that means for the running daemon.

use crate::profile::Profile;

impl Profile {
    /// What changed between `self` (old) and `new`.
    pub fn diff(&self, new: &Profile) -> ProfileDiff {
        let (a, b) = (&self.chain, &new.chain);
        let mut a_no_la = *a;
        a_no_la.limiter.lookahead_ms = b.limiter.lookahead_ms;
        ProfileDiff {
            metadata: self.name != new.name || self.description != new.description,
            chain: a_no_la != *b,
            latency: a.limiter.lookahead_ms != b.limiter.lookahead_ms,
            layer_a: self.layer_a != new.layer_a,
            layer_a_toggled: self.layer_a.enabled != new.layer_a.enabled,
            routing: self.route != new.route,
            sink: self.preferred_real_sink != new.preferred_real_sink,
            promote: self.promote_default != new.promote_default,
        }
    }
}

/// How a new profile differs from the running one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProfileDiff {
    /// Name or description changed (nothing to do for the audio).
    pub metadata: bool,
    /// Chain parameters other than the lookahead changed (including bypass).
    pub chain: bool,
    /// The limiter lookahead, hence the latency, changed.
    pub latency: bool,
    /// Any Layer A parameter changed.
    pub layer_a: bool,
    /// Layer A was switched on or off (taps must be created or removed).
    pub layer_a_toggled: bool,
    /// Routing default or rules changed: re-evaluate the routes of existing streams.
    pub routing: bool,
    /// The preferred real sink changed: re-link the output.
    pub sink: bool,
    /// `route.promote_default` changed: promote `headroom-processed` to the default sink, or
    /// give the default back.
    pub promote: bool,
}

/// CamillaDSP-style summary of a [`ProfileDiff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// New parameter values for the running graph: hand them to the audio thread.
    ParamsOnly,
    /// The graph must be rebuilt (latency, real sink or Layer A taps changed).
    Rebuild,
}

impl ProfileDiff {
    /// Whether nothing at all changed.
    pub fn is_empty(&self) -> bool {
        *self == ProfileDiff::default()
    }

    /// `None` when nothing changed; [`ChangeKind::Rebuild`] when the lookahead, real sink or
    /// Layer A on/off changed; otherwise [`ChangeKind::ParamsOnly`] (including routing-only
    /// changes, which re-route streams without touching the graph).
    pub fn kind(&self) -> Option<ChangeKind> {
        if self.is_empty() {
            None
        } else if self.latency || self.sink || self.layer_a_toggled {
            Some(ChangeKind::Rebuild)
        } else {
            Some(ChangeKind::ParamsOnly)
        }
    }
}
