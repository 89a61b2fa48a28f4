//! Key ring states and the staged rotation schedule, as pure functions of the keys' times and `now`.
//!
//! A key's state is derived from time, so every instance agrees without coordination: `next` until its
//! `activates_at`, then `current` while it is the newest active key, then `retired` once a newer key
//! activates. Retired keys stay published until everything they signed has expired.
use crate::domain::UnixTime;

/// When keys change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// How long a key signs before the next one takes over.
    pub rotation_interval: i64,
    /// How long a new key is published before it signs: at least one JWKS cache lifetime.
    pub publish_ahead: i64,
    /// How long a retired key stays published after it stopped signing: the longest token lifetime.
    pub retain_retired: i64,
}

/// A key's place in the ring at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not signing yet.
    Next,
    /// Signs new tokens.
    Current,
    /// Published so tokens it signed still verify; no longer signs.
    Retired {
        /// When a newer key took over.
        since: UnixTime,
    },
}

impl KeyState {
    /// The operator-facing name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Current => "current",
            Self::Retired { .. } => "retired",
        }
    }
}

/// The times of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTimes {
    /// Key id.
    pub kid: String,
    /// Creation time; breaks ties between keys activating together.
    pub created_at: UnixTime,
    /// When it starts signing.
    pub activates_at: UnixTime,
}

/// Each key with its state at `now`, newest activation first.
pub fn states(keys: &[KeyTimes], now: UnixTime) -> Vec<(KeyTimes, KeyState)> {
    let mut sorted: Vec<KeyTimes> = keys.to_vec();
    sorted.sort_by(|a, b| (b.activates_at, b.created_at, &b.kid).cmp(&(a.activates_at, a.created_at, &a.kid)));
    let mut out = Vec::with_capacity(sorted.len());
    // The activation time of the newest key already active, seen so far in the walk: when it activated,
    // every older key was retired.
    let mut superseded_by: Option<UnixTime> = None;
    for k in sorted {
        let state = if k.activates_at > now {
            KeyState::Next
        } else if let Some(since) = superseded_by {
            KeyState::Retired { since }
        } else {
            KeyState::Current
        };
        if k.activates_at <= now {
            superseded_by = Some(k.activates_at);
        }
        out.push((k, state));
    }
    out
}

/// What the ring needs at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Add a key that activates at this time.
    pub add_activating_at: Option<UnixTime>,
    /// Remove these retired keys: nothing they signed can still be valid.
    pub remove: Vec<String>,
}

impl Plan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.add_activating_at.is_none() && self.remove.is_empty()
    }
}

/// Whether no key signs now or is staged to: the ring needs a key that signs at once, whatever the schedule.
pub fn needs_signing_key(keys: &[KeyTimes], now: UnixTime) -> bool {
    !states(keys, now).iter().any(|(_, s)| matches!(s, KeyState::Current | KeyState::Next))
}

/// The automatic schedule: an empty ring gets a key that signs at once (nothing can have cached a JWKS
/// yet); a current key nearing the end of its interval gets a successor published `publish_ahead` before
/// it takes over; retired keys go once their retention has passed.
pub fn plan(keys: &[KeyTimes], now: UnixTime, policy: &RotationPolicy) -> Plan {
    let st = states(keys, now);
    let mut plan = Plan::default();
    let current = st.iter().find(|(_, s)| *s == KeyState::Current);
    let has_next = st.iter().any(|(_, s)| *s == KeyState::Next);
    match current {
        None if !has_next => plan.add_activating_at = Some(now),
        Some((cur, _)) if !has_next => {
            let due = cur.activates_at + policy.rotation_interval;
            if now >= due - policy.publish_ahead {
                plan.add_activating_at = Some(due.max(now + policy.publish_ahead));
            }
        }
        _ => {}
    }
    for (k, s) in &st {
        if let KeyState::Retired { since } = s {
            if now >= since + policy.retain_retired {
                plan.remove.push(k.kid.clone());
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: RotationPolicy = RotationPolicy { rotation_interval: 1000, publish_ahead: 100, retain_retired: 50 };

    fn k(kid: &str, activates_at: UnixTime) -> KeyTimes {
        KeyTimes { kid: kid.into(), created_at: activates_at, activates_at }
    }

    fn names(keys: &[KeyTimes], now: UnixTime) -> Vec<(String, &'static str)> {
        states(keys, now).into_iter().map(|(k, s)| (k.kid, s.name())).collect()
    }

    #[test]
    fn empty_ring_gets_a_key_that_signs_now() {
        assert_eq!(plan(&[], 5, &P), Plan { add_activating_at: Some(5), remove: vec![] });
    }

    #[test]
    fn successor_is_published_ahead_then_takes_over_then_old_key_retires_and_goes() {
        let a = k("a", 0);
        // Mid-interval: nothing to do.
        assert!(plan(std::slice::from_ref(&a), 500, &P).is_empty());
        // Publish-ahead window reached: the successor activates exactly at the end of the interval.
        assert_eq!(plan(std::slice::from_ref(&a), 900, &P).add_activating_at, Some(1000));
        // Late (the server was down): still published a full publish_ahead before it signs.
        assert_eq!(plan(std::slice::from_ref(&a), 950, &P).add_activating_at, Some(1050));
        let b = k("b", 1000);
        let ring = vec![a.clone(), b.clone()];
        assert_eq!(names(&ring, 950), vec![("b".into(), "next"), ("a".into(), "current")]);
        assert!(plan(&ring, 950, &P).is_empty());
        assert_eq!(names(&ring, 1000), vec![("b".into(), "current"), ("a".into(), "retired")]);
        assert!(plan(&ring, 1049, &P).remove.is_empty());
        assert_eq!(plan(&ring, 1050, &P).remove, vec!["a".to_string()]);
    }

    #[test]
    fn several_retired_keys_each_retire_from_their_successor() {
        let ring = vec![k("a", 0), k("b", 1000), k("c", 2000)];
        let st = states(&ring, 2010);
        assert_eq!(st[0].1, KeyState::Current);
        assert_eq!(st[1].1, KeyState::Retired { since: 2000 });
        assert_eq!(st[2].1, KeyState::Retired { since: 1000 });
        assert_eq!(plan(&ring, 2010, &P).remove, vec!["a".to_string()]);
    }

    #[test]
    fn only_future_keys_means_no_current_and_no_new_key() {
        let ring = vec![k("x", 100)];
        assert_eq!(names(&ring, 0), vec![("x".into(), "next")]);
        assert!(plan(&ring, 0, &P).is_empty());
    }
}
