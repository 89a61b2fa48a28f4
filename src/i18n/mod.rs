//! The languages of the pages and mails people read: [`Locale`], how a request's language is negotiated from OIDC
//! `ui_locales` and `Accept-Language` (pure functions on the values, no I/O), and the compile-time checked message
//! catalog ([`Texts`]), one constant per language. Both the HTTP layer (pages) and the protocol layer (mails, and
//! `ui_locales` kept with a pending sign-in) use it, so it sits beside them, as `domain` does.
//!
//! To add a language: a variant of [`Locale`] with its tag in [`Locale::ALL`] and [`Locale::tag`], and a file with
//! its constant of [`Texts`], named in [`Locale::texts`]. The compiler then asks for every sentence.
mod de;
mod en;
mod fr;
mod texts;

pub use texts::*;

use serde::{Deserialize, Serialize};

/// A language the pages and mails are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    /// English, the default.
    En,
    /// German.
    De,
    /// French.
    Fr,
}

/// The query parameter of a page that says the user's choice of language: the language switcher's links, and the
/// links mailed in a language (Keycloak's `kc_locale`).
pub const CHOICE_PARAM: &str = "lang";

/// The most language tags of a header or parameter looked at: a browser sends a handful.
const MAX_TAGS: usize = 32;
/// The longest language tag or range taken (RFC 5646 §4.4.1 advises 35 characters).
const MAX_TAG_LEN: usize = 35;

impl Locale {
    /// Every language, in the order discovery lists them (`ui_locales_supported`).
    pub const ALL: [Locale; 3] = [Locale::En, Locale::De, Locale::Fr];

    /// Its BCP 47 tag: `en`, `de`, `fr`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::De => "de",
            Self::Fr => "fr",
        }
    }

    /// Its name in itself (the language switcher): English, Deutsch, Français.
    pub fn name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::De => "Deutsch",
            Self::Fr => "Français",
        }
    }

    /// Every sentence in this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Self::En => &en::EN,
            Self::De => &de::DE,
            Self::Fr => &fr::FR,
        }
    }

    /// The language a BCP 47 tag asks for, by its primary subtag in any letter case: `de-CH` and `DE` are German.
    /// `None` for a language we do not have, or text that is no language tag.
    pub fn of_tag(tag: &str) -> Option<Locale> {
        let primary = tag.split('-').next().filter(|_| well_formed(tag))?;
        Self::ALL.into_iter().find(|l| l.tag().eq_ignore_ascii_case(primary))
    }

    /// The language of the OIDC `ui_locales` parameter (OIDC Core §3.1.2.1): space-separated tags in order of
    /// preference, the first we have wins. `None` when none is ours: the browser's then decides.
    pub fn of_ui_locales(value: &str) -> Option<Locale> {
        value.split(' ').filter(|t| !t.is_empty()).take(MAX_TAGS).find_map(Self::of_tag)
    }

    /// The language `Accept-Language` (RFC 9110 §12.5.4) prefers among ours: the highest `q` above 0, the first
    /// named on a tie. A malformed header (a range or `q` that is not one, too many ranges) says nothing: `None`,
    /// as for a header that names none of ours, or only `*`.
    pub fn of_accept_language(header: &str) -> Option<Locale> {
        let mut best: Option<(u16, Locale)> = None;
        for (n, item) in header.split(',').map(str::trim).enumerate() {
            if n == MAX_TAGS {
                return None;
            }
            // An empty element of the list (`en, , de`), which RFC 9110 §5.6.1 lets recipients skip.
            if item.is_empty() {
                continue;
            }
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or_default().trim();
            let mut q = 1000;
            for param in parts {
                let (name, value) = param.split_once('=')?;
                if name.trim().eq_ignore_ascii_case("q") {
                    q = quality(value.trim())?;
                }
            }
            if range != "*" && !well_formed(range) {
                return None;
            }
            let Some(locale) = Self::of_tag(range).filter(|_| q > 0) else { continue };
            if best.is_none_or(|(b, _)| q > b) {
                best = Some((q, locale));
            }
        }
        best.map(|(_, locale)| locale)
    }
}

/// Whether `tag` has a language tag's syntax: alphanumeric subtags of 1 to 8 characters separated by `-`.
fn well_formed(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= MAX_TAG_LEN
        && tag.split('-').all(|sub| (1..=8).contains(&sub.len()) && sub.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A `q` value in thousandths (RFC 9110 §12.4.2: `0` to `1` with at most three decimals); `None` if it is not one.
fn quality(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

impl std::str::FromStr for Locale {
    type Err = String;

    /// A language by its exact tag, in any letter case (`ui.default_locale`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|l| l.tag().eq_ignore_ascii_case(s)).ok_or_else(|| {
            let tags: Vec<&str> = Self::ALL.iter().map(|l| l.tag()).collect();
            format!("must be one of {}, not {s:?}", tags.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Locale::{self, De, En, Fr};

    #[test]
    fn no_sentence_names_a_duration_of_its_own() {
        // A duration comes from the constant that enforces it, put into `Common::minutes` and the like, so the text
        // cannot drift from the behaviour. "1 second" is the singular of those words, not a duration of a rule.
        for locale in Locale::ALL {
            let all = format!("{:?}", locale.texts());
            for unit in ["second", "minute", "hour", "day", "Sekunde", "Minute", "Stunde", "Tag", "heure", "jour"] {
                for (at, _) in all.match_indices(unit) {
                    let before = all[..at].trim_end();
                    let named = before.ends_with(|c: char| c.is_ascii_digit()) && !before.ends_with("\"1");
                    assert!(!named, "{}: {}", locale.tag(), &all[at.saturating_sub(60)..at + unit.len()]);
                }
            }
        }
    }

    #[test]
    fn a_tag_is_matched_by_its_primary_subtag_in_any_case() {
        assert_eq!(Locale::of_tag("de"), Some(De));
        assert_eq!(Locale::of_tag("de-CH"), Some(De));
        assert_eq!(Locale::of_tag("FR-ca"), Some(Fr));
        assert_eq!(Locale::of_tag("en-Latn-GB"), Some(En));
        for other in ["", "es", "deu", "d", "de_CH", "de-", "-de", "de CH", "de-toolongsubtag", "*", "dé"] {
            assert_eq!(Locale::of_tag(other), None, "{other:?}");
        }
    }

    #[test]
    fn ui_locales_takes_the_first_supported_tag_in_order() {
        assert_eq!(Locale::of_ui_locales("de"), Some(De));
        assert_eq!(Locale::of_ui_locales("fr-CA de en"), Some(Fr));
        assert_eq!(Locale::of_ui_locales("es it de-CH fr"), Some(De));
        assert_eq!(Locale::of_ui_locales("  es   fr "), Some(Fr));
        assert_eq!(Locale::of_ui_locales("x-garbage <b> de"), Some(De));
        assert_eq!(Locale::of_ui_locales("es it"), None);
        assert_eq!(Locale::of_ui_locales(""), None);
        // Only the first tags are looked at.
        assert_eq!(Locale::of_ui_locales(&format!("{}de", "es ".repeat(40))), None);
    }

    #[test]
    fn accept_language_takes_the_highest_quality_of_ours() {
        assert_eq!(Locale::of_accept_language("fr"), Some(Fr));
        assert_eq!(Locale::of_accept_language("de-CH, de;q=0.9, en;q=0.8"), Some(De));
        assert_eq!(Locale::of_accept_language("es, fr;q=0.5, de;q=0.7"), Some(De));
        assert_eq!(Locale::of_accept_language("en;q=0.8, fr;q=0.9"), Some(Fr));
        // A tie goes to the first named; q=0 is "not acceptable".
        assert_eq!(Locale::of_accept_language("fr;q=0.5, de;q=0.5"), Some(Fr));
        assert_eq!(Locale::of_accept_language("fr;q=0, de;q=0.001"), Some(De));
        assert_eq!(Locale::of_accept_language("fr;q=0"), None);
        assert_eq!(Locale::of_accept_language("de;Q=1.000"), Some(De));
        assert_eq!(Locale::of_accept_language("es, *;q=0.5"), None);
        assert_eq!(Locale::of_accept_language("en-US,en;q=0.9"), Some(En));
        assert_eq!(Locale::of_accept_language("es, , fr"), Some(Fr));
    }

    #[test]
    fn a_malformed_accept_language_says_nothing() {
        for garbage in [
            "fr;q=2",
            "fr;q=1.5",
            "fr;q=0.1234",
            "fr;q=abc",
            "fr;q=",
            "fr;q",
            "de, fr;q=-1",
            "<script>, de",
            "de CH",
            "de-toolongsubtag",
            "fr;q=.5",
        ] {
            assert_eq!(Locale::of_accept_language(garbage), None, "{garbage:?}");
        }
        assert_eq!(Locale::of_accept_language(&"es, ".repeat(40)), None);
        assert_eq!(Locale::of_accept_language(&format!("{}de", "es, ".repeat(40))), None);
    }

    #[test]
    fn config_tags_are_exact() {
        assert_eq!("de".parse::<Locale>(), Ok(De));
        assert_eq!("FR".parse::<Locale>(), Ok(Fr));
        let e = "de-CH".parse::<Locale>().unwrap_err();
        assert!(e.contains("en, de, fr"), "{e}");
        assert!("".parse::<Locale>().is_err());
    }

    #[test]
    fn every_catalog_says_its_own_tag() {
        for locale in Locale::ALL {
            assert_eq!(locale.texts().lang, locale.tag());
        }
    }
}
