//! Text the requester wrote, made safe to show as plain text: without the
//! invisible characters that reorder or hide what is shown, and quoted so that
//! it cannot pass for the email's own lines.

/// Unicode's format characters (general category Cf, Unicode 15): bidi
/// controls that reorder text (`U+202E` turns `fdp.exe` around), zero-width
/// characters that hide in a word or a link, the soft hyphen, tags. They show
/// nothing themselves, so removing them loses no visible text.
const FORMAT_CHARACTERS: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// Every character a mail client or browser may break a line at.
const LINE_BREAKS: [char; 7] = [
    '\n', '\r', '\u{0B}', '\u{0C}', '\u{85}', '\u{2028}', '\u{2029}',
];

/// Whether `c` is a Unicode format character (category Cf).
pub(crate) fn is_format_character(c: char) -> bool {
    FORMAT_CHARACTERS
        .binary_search_by(|&(first, last)| {
            if last < c {
                std::cmp::Ordering::Less
            } else if first > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// `text` without its format characters.
pub(crate) fn without_format_characters(text: &str) -> String {
    text.chars().filter(|&c| !is_format_character(c)).collect()
}

/// `text` quoted line by line with `> `, as mail quotes what someone else
/// wrote; every kind of line break starts a new quoted line, so no line of it
/// can stand unquoted. Ends with a line break.
pub(crate) fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 16);
    let text = text.replace("\r\n", "\n");
    for line in text.split(LINE_BREAKS) {
        quoted.push('>');
        if !line.is_empty() {
            quoted.push(' ');
            quoted.push_str(line);
        }
        quoted.push('\n');
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_controls_and_zero_width_characters_are_removed() {
        assert_eq!(
            without_format_characters(
                "Invoice\u{202E}fdp.exe\u{202C} \u{2066}x\u{2069}\u{200B}\u{FEFF}"
            ),
            "Invoicefdp.exe x"
        );
    }

    #[test]
    fn visible_text_in_any_script_is_kept() {
        let text = "Déploiement n°42 — 你好 مرحبا שלום 👍 \t";
        assert_eq!(without_format_characters(text), text);
    }

    #[test]
    fn every_listed_range_is_format_and_its_neighbours_are_not() {
        for pair in FORMAT_CHARACTERS.windows(2) {
            assert!(pair[0].1 < pair[1].0, "sorted and apart: {pair:?}");
        }
        for &(first, last) in FORMAT_CHARACTERS {
            assert!(is_format_character(first) && is_format_character(last));
            let before = char::from_u32(u32::from(first) - 1).unwrap();
            let after = char::from_u32(u32::from(last) + 1).unwrap();
            assert!(!is_format_character(before), "{before:?}");
            assert!(!is_format_character(after), "{after:?}");
        }
    }

    #[test]
    fn each_line_is_quoted_whatever_breaks_it() {
        assert_eq!(
            quote("a\r\nb\rc\u{2028}d\n\ne"),
            "> a\n> b\n> c\n> d\n>\n> e\n"
        );
    }
}
