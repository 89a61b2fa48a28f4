//! `passwords.history`: a password a user chooses may not be one of their last N, the current one included. The
//! store records the hash of every password set, by any way ([`crate::storage::UserStore::password_history`]); a
//! new password is verified against the current hash and the newest others, at most N argon2 verifications, on
//! the password pool in the same trip that hashes it. Operators' passwords are recorded but not checked.
use super::error::OAuthError;
use super::provider::Provider;
use crate::domain::password::{Password, PasswordChecker, NO_PASSWORD};
use crate::domain::password_policy::PasswordRule;
use crate::domain::UserId;

/// What a new password is checked against, fetched before the trip to the pool. No `Debug`: it holds hashes.
#[derive(Default)]
pub(super) struct Earlier {
    /// The current password's hash, when it is to be checked here.
    current: Option<String>,
    /// Hashes of the passwords before it, newest first: with the current one, `passwords.history` at most.
    before: Vec<String>,
    /// `passwords.history`, for the refusal's words.
    history: usize,
}

impl Earlier {
    /// Why `new` may not follow, if it may not: it is the current password, or one of the earlier ones. Runs
    /// on the password pool: one argon2 verification per hash.
    pub(super) fn refusal(&self, checker: &PasswordChecker, new: &Password) -> Option<PasswordRule> {
        if self.current.as_deref().is_some_and(|hash| checker.verify(new, Some(hash)).is_accepted()) {
            return Some(PasswordRule::SameAsCurrent);
        }
        let reused = self.before.iter().any(|hash| checker.verify(new, Some(hash)).is_accepted());
        reused.then_some(PasswordRule::Reused(self.history))
    }
}

impl Provider {
    /// The passwords a new one of user `id`, whose stored hash is `stored`, is checked against. With
    /// `check_current`, the current one too; without, the caller knows the new one is not it (the account page
    /// compares it with the current password it just verified), and it still counts as one of the N. Nothing
    /// while `passwords.history` is 0.
    pub(super) async fn earlier_passwords(
        &self,
        id: &UserId,
        stored: &str,
        check_current: bool,
    ) -> Result<Earlier, OAuthError> {
        let history = self.password_policy.history;
        if history == 0 {
            return Ok(Earlier::default());
        }
        let has_one = stored != NO_PASSWORD;
        // The store keeps N: the current hash among them (unless set before the history was kept), and others.
        let recorded = self.users.password_history(id, history).await?;
        let others = history.saturating_sub(usize::from(has_one));
        let before = recorded.into_iter().filter(|hash| hash != stored).take(others).collect();
        let current = (has_one && check_current).then(|| stored.to_owned());
        Ok(Earlier { current, before, history })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::password::{hash_password, PasswordCost};

    fn cheap() -> PasswordCost {
        PasswordCost { memory_kib: 64, iterations: 1, parallelism: 1 }
    }

    #[test]
    fn a_new_password_is_refused_when_it_is_the_current_or_an_earlier_one() {
        let checker = PasswordChecker::new(cheap(), 1).unwrap();
        let hash = |p: &str| hash_password(&Password::new(p), cheap()).unwrap();
        let earlier = Earlier {
            current: Some(hash("current one")),
            before: vec![hash("the one before"), hash("the first one")],
            history: 3,
        };
        let refusal = |p: &str| earlier.refusal(&checker, &Password::new(p));
        assert_eq!(refusal("current one"), Some(PasswordRule::SameAsCurrent));
        assert_eq!(refusal("the one before"), Some(PasswordRule::Reused(3)));
        assert_eq!(refusal("the first one"), Some(PasswordRule::Reused(3)));
        assert_eq!(refusal("a fresh one"), None);
        // Without the current hash (the caller compared it already), only the earlier ones are refused.
        let earlier = Earlier { current: None, ..earlier };
        assert_eq!(earlier.refusal(&checker, &Password::new("current one")), None);
        assert_eq!(Earlier::default().refusal(&checker, &Password::new("the first one")), None);
    }
}
