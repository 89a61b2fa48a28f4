//! `[ui]`: the pages people see. `default_locale` is their language when neither the sign-in's `ui_locales` nor the
//! browser's `Accept-Language` names one of ours ([`crate::i18n`]).
use super::{invalid, ConfigError};
use crate::i18n::Locale;
use serde::{Deserialize, Serialize};

/// `[ui]` as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawUi {
    pub default_locale: String,
}

impl Default for RawUi {
    fn default() -> Self {
        Self { default_locale: Locale::En.tag().to_owned() }
    }
}

/// Validated `[ui]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UiSettings {
    /// The pages' and mails' language when nothing else decides.
    pub default_locale: Locale,
}

impl RawUi {
    /// Refuses a language the pages are not written in.
    pub fn validate(&self) -> Result<UiSettings, ConfigError> {
        let default_locale = self.default_locale.parse().map_err(|why| invalid("ui.default_locale", why))?;
        Ok(UiSettings { default_locale })
    }
}
