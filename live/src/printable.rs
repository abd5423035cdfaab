//! Outside text made safe to print: a feed or a venue may send anything, and a newline or a
//! terminal escape in a message printed as it is could forge log lines or take over a terminal.

/// The most characters of outside text a log line quotes.
pub const QUOTED_CHARS: usize = 300;

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

#[cfg(test)]
mod tests {
    use super::printable;

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
