//! Outside text made safe to print: a feed, a venue or a config may hold anything, and a
//! newline or a terminal escape printed as it is could forge log lines or take over a terminal;
//! a megabyte of it would bury the message.

/// The most characters of outside text a log line quotes.
pub const QUOTED_CHARS: usize = 300;

/// The most characters of a value an error message quotes.
pub const QUOTED_VALUE_CHARS: usize = 200;

/// Returns `text` in double quotes for an error message, escaped like Rust's `{:?}`, cut after
/// [`QUOTED_VALUE_CHARS`] characters with how many more there were.
pub fn quoted(text: &str) -> String {
    let count = text.chars().count();
    if count <= QUOTED_VALUE_CHARS {
        return format!("{text:?}");
    }
    let cut: String = text.chars().take(QUOTED_VALUE_CHARS).collect();
    format!(
        "{cut:?}... ({} more characters)",
        count - QUOTED_VALUE_CHARS
    )
}

/// Returns `text` with control characters escaped (`\n`, `\u{1b}`) and cut after `limit`
/// characters, saying how many more there were.
pub fn printable(text: &str, limit: usize) -> String {
    let mut out = String::with_capacity(text.len().min(limit) + 16);
    for (count, c) in text.chars().enumerate() {
        if count == limit {
            let rest = text.chars().count() - limit;
            out.push_str(&format!("... ({rest} more characters)"));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// Returns "; did you mean `a` or `b`?" with the up to three `known` names closest to `name`
/// (edit distance, ignoring case, within a third of the longer name), or "" when none is close.
pub fn did_you_mean<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> String {
    let lower = name.to_lowercase();
    let mut scored: Vec<(usize, &str)> = known
        .map(|k| (strsim::damerau_levenshtein(&lower, &k.to_lowercase()), k))
        .filter(|(d, k)| *d <= (name.len().max(k.len()) / 3).max(1))
        .collect();
    scored.sort();
    scored.dedup();
    let names: Vec<String> = scored
        .iter()
        .take(3)
        .map(|(_, k)| format!("`{k}`"))
        .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", names.join(" or "))
    }
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn quoted_values_are_escaped_and_cut() {
        assert_eq!(super::quoted("a\"b\n"), "\"a\\\"b\\n\"");
        let long = "x".repeat(1000);
        let q = super::quoted(&long);
        assert!(
            q.ends_with("... (800 more characters)") && q.len() < 240,
            "{q}"
        );
    }

    #[test]
    fn control_characters_are_escaped_and_long_text_cut() {
        assert_eq!(
            printable("a\nb\u{1b}[31mred\r\t", 100),
            "a\\nb\\u{1b}[31mred\\r\\t"
        );
        assert_eq!(printable("héllo", 100), "héllo");
        assert_eq!(printable("abcdef", 3), "abc... (3 more characters)");
        assert_eq!(printable("", 3), "");
    }
}
