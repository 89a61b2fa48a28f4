//! Names that pages show amid their own words: which invisible characters they may hold.
//!
//! A format character (general category Cf) or a line or paragraph separator (Zl, Zp) shows nothing itself
//! but changes what is around it: a bidi control reorders the page's text, and a zero-width one lets
//! "G\u{200B}oogle" pass for "Google". They are all refused except the two joiners where a script or an
//! emoji sequence needs them (RFC 5892 Appendix A.1 and A.2, "ContextJ"): ZERO WIDTH NON-JOINER keeps
//! Persian "می‌خواهم" from joining where it must not, and ZERO WIDTH JOINER builds "👨‍👩‍👧" from three
//! emoji. Between Latin letters either one would only hide.
//!
//! What people type is also brought to one form here: the same text may be encoded composed ("é", U+00E9) or
//! decomposed ("e" then U+0301), as keyboards and systems differ, and [`nfc`] makes either the composed one.
//!
//! The Unicode properties come from `icu_properties`' compiled data, normalization from `icu_normalizer`'s.

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::props::{
    CanonicalCombiningClass, EmojiModifier, ExtendedPictographic, GeneralCategory, JoiningType,
};
use icu_properties::{CodePointMapData, CodePointSetData};
use std::borrow::Cow;

/// ZERO WIDTH NON-JOINER.
const ZWNJ: char = '\u{200C}';
/// ZERO WIDTH JOINER.
const ZWJ: char = '\u{200D}';
/// VARIATION SELECTOR-16, which asks for an emoji's colour form and may stand between it and a ZWJ.
const EMOJI_PRESENTATION: char = '\u{FE0F}';

/// Whether `c` is invisible in itself: general category Cf (format: bidi controls, zero-width characters,
/// soft hyphen, tags), Zl or Zp. `char::is_control` (Cc) leaves these out.
pub fn is_invisible(c: char) -> bool {
    matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        GeneralCategory::Format | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
    )
}

/// `text` in Normalization Form C (canonical composition, UAX #15), as RFC 8265 (PRECIS) prepares usernames and
/// passwords: borrowed when it already is.
pub fn nfc(text: &str) -> Cow<'_, str> {
    ComposingNormalizerBorrowed::new_nfc().normalize(text)
}

/// Whether `text` holds an invisible character ([`is_invisible`]) other than a joiner in joining context
/// ([`joins`]).
pub fn has_hidden_character(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars.iter().enumerate().any(|(i, &c)| is_invisible(c) && !joins(&chars, i))
}

/// Whether the ZWNJ or ZWJ at `chars[i]` stands where a script or an emoji sequence needs it. Never at either
/// end, never next to another joiner, never next to a space; then
/// - either one right after a virama (canonical combining class 9), where it picks a conjunct's form;
/// - ZWNJ between a letter that joins to its left and one that joins to its right, transparent marks
///   allowed in between (the regular expression of RFC 5892 A.1 over the Joining_Type property: Arabic,
///   Syriac, N'Ko, Mongolian and the other cursive scripts);
/// - ZWJ between two emoji (Extended_Pictographic), the first optionally followed by VS16 or a skin tone.
fn joins(chars: &[char], i: usize) -> bool {
    let (Some(&joiner), Some(&before), Some(&after)) =
        (chars.get(i), i.checked_sub(1).and_then(|b| chars.get(b)), chars.get(i + 1))
    else {
        return false;
    };
    let fits = |c: char| c != ZWNJ && c != ZWJ && !c.is_whitespace();
    if !fits(before) || !fits(after) {
        return false;
    }
    if CodePointMapData::<CanonicalCombiningClass>::new().get(before) == CanonicalCombiningClass::Virama {
        return true;
    }
    match joiner {
        ZWNJ => {
            let joining = CodePointMapData::<JoiningType>::new();
            let not_transparent = |c: &&char| joining.get(**c) != JoiningType::Transparent;
            let left = chars.get(..i).and_then(|b| b.iter().rev().find(not_transparent));
            let right = chars.get(i + 1..).and_then(|a| a.iter().find(not_transparent));
            matches!(left.map(|&c| joining.get(c)), Some(JoiningType::LeftJoining | JoiningType::DualJoining))
                && matches!(right.map(|&c| joining.get(c)), Some(JoiningType::RightJoining | JoiningType::DualJoining))
        }
        ZWJ => {
            let pictographic = CodePointSetData::new::<ExtendedPictographic>();
            let emoji = if before == EMOJI_PRESENTATION || CodePointSetData::new::<EmojiModifier>().contains(before) {
                i.checked_sub(2).and_then(|b| chars.get(b)).copied()
            } else {
                Some(before)
            };
            emoji.is_some_and(|c| pictographic.contains(c)) && pictographic.contains(after)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfc_composes_and_borrows_what_already_is() {
        assert_eq!(nfc("Jose\u{301}"), "Jos\u{e9}");
        // Marks in canonical order first: dot below (class 220) before the caron (230), which composes with j.
        assert_eq!(nfc("j\u{30c}\u{323}"), "\u{1f0}\u{323}");
        // Singletons go to their canonical character: the Kelvin and Angstrom signs.
        assert_eq!(nfc("\u{212a}\u{212b}"), "K\u{c5}");
        assert!(matches!(nfc("Jos\u{e9}"), Cow::Borrowed("Jos\u{e9}")));
        assert!(matches!(nfc("alice"), Cow::Borrowed("alice")));
    }

    #[test]
    fn joiners_pass_where_a_script_or_an_emoji_sequence_needs_them() {
        for fine in [
            // Persian "I want": ZWNJ between two dual-joining letters.
            "می\u{200C}خواهم",
            // Persian plural suffix after a letter with a mark: the mark is transparent.
            "کتاب\u{064E}\u{200C}ها",
            // Syriac, N'Ko and Mongolian letters that join on both sides.
            "\u{0712}\u{200C}\u{0712}",
            "\u{07CA}\u{200C}\u{07CA}",
            "\u{1820}\u{200C}\u{1821}",
            // Devanagari: KA, virama, ZWNJ/ZWJ, SSA (the half or explicit-virama forms of a conjunct).
            "\u{0915}\u{094D}\u{200C}\u{0937}",
            "\u{0915}\u{094D}\u{200D}\u{0937}",
            // Emoji ZWJ sequences: a family, a rainbow flag (VS16 before the ZWJ), a dark-skinned cook.
            "Family 👨\u{200D}👩\u{200D}👧",
            "🏳\u{FE0F}\u{200D}🌈",
            "🧑\u{1F3FF}\u{200D}🍳",
        ] {
            assert!(!has_hidden_character(fine), "{fine:?}");
        }
    }

    #[test]
    fn joiners_are_refused_out_of_context() {
        for bad in [
            // Between Latin letters they only hide: "Goo‍gle" would pass for "Google".
            "Goo\u{200D}gle",
            "Goo\u{200C}gle",
            // At either end, doubled, or next to a space.
            "\u{200C}می",
            "می\u{200C}",
            "\u{200D}👨",
            "👨\u{200D}",
            "می\u{200C}\u{200C}خواهم",
            "می\u{200C}\u{200D}خواهم",
            "👨\u{200D}\u{200D}👩",
            "می \u{200C}خواهم",
            "می\u{200C} خواهم",
            "👨\u{200D} 👩",
            // ZWNJ after a letter that does not join to its left (ALEF), or before one that does not join to
            // its right; ZWJ between emoji and a letter, or between two Arabic letters.
            "ا\u{200C}ب",
            "ب\u{200C}a",
            "👨\u{200D}a",
            "a\u{200D}👨",
            "ب\u{200D}ب",
            // A ZWNJ between two emoji is not how a sequence is made.
            "👨\u{200C}👩",
            // Other format characters stay refused even beside a joiner in context.
            "می\u{200C}خواهم\u{200B}",
        ] {
            assert!(has_hidden_character(bad), "{bad:?}");
        }
    }

    #[test]
    fn every_other_format_or_separator_character_is_invisible() {
        for c in ['\u{00AD}', '\u{061C}', '\u{200B}', '\u{200E}', '\u{202E}', '\u{2028}', '\u{2029}', '\u{2066}'] {
            assert!(is_invisible(c), "U+{:04X}", c as u32);
        }
        for c in ['a', ' ', '\u{00A0}', '\u{064E}', '\u{FE0F}', '👨'] {
            assert!(!is_invisible(c), "U+{:04X}", c as u32);
        }
    }
}
