//! The words of T-SQL text outside comments and string literals: keywords and
//! identifiers as written, `[quoted]` and `"quoted"` identifiers without their quotes.
//! Enough for checks that look for a statement or a name in a module's text; not a
//! parser.

/// Words in order of appearance.
pub fn words(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '-' && next == Some('-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i = after_block_comment(&chars, i);
        } else if c == '\'' {
            i = after_quoted(&chars, i, '\'').1;
        } else if c == '[' || c == '"' {
            let close = if c == '[' { ']' } else { '"' };
            let (word, after) = after_quoted(&chars, i, close);
            words.push(word);
            i = after;
        } else if is_word_char(c) {
            let start = i;
            while i < chars.len() && is_word_char(chars[i]) {
                i += 1;
            }
            // N'...' is a Unicode literal, not the word N.
            if !(i - start == 1 && c.eq_ignore_ascii_case(&'N') && chars.get(i) == Some(&'\'')) {
                words.push(chars[start..i].iter().collect());
            }
        } else {
            i += 1;
        }
    }
    words
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '@' | '#' | '$')
}

/// T-SQL block comments nest.
fn after_block_comment(chars: &[char], start: usize) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('/', Some('*')) => {
                depth += 1;
                i += 2;
            }
            ('*', Some('/')) => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    i
}

/// The text between the quote at `start` and its closing `close` (doubled means
/// itself), and the index after it.
fn after_quoted(chars: &[char], start: usize, close: char) -> (String, usize) {
    let mut text = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == close {
            if chars.get(i + 1) == Some(&close) {
                text.push(close);
                i += 2;
                continue;
            }
            return (text, i + 1);
        }
        text.push(chars[i]);
        i += 1;
    }
    (text, i)
}

/// Whether `words` has `sequence` in a row, without regard to case.
pub fn has_sequence(words: &[String], sequence: &[&[&str]]) -> bool {
    words.windows(sequence.len()).any(|window| {
        window
            .iter()
            .zip(sequence)
            .all(|(word, choices)| choices.iter().any(|c| word.eq_ignore_ascii_case(c)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_strings_are_not_words() {
        let text = "CREATE PROC [ops].[Post It] AS -- BEGIN DISTRIBUTED TRAN
            /* outer /* nested */ still comment */ SELECT N'it''s', \"q\"\"x\" FROM HQ.Central..T";
        assert_eq!(
            words(text),
            [
                "CREATE", "PROC", "ops", "Post It", "AS", "SELECT", "q\"x", "FROM", "HQ",
                "Central", "T"
            ]
        );
    }

    #[test]
    fn sequences_match_without_case() {
        let w = words("begin  distributed\n tran;");
        let begin: &[&[&str]] = &[&["BEGIN"], &["DISTRIBUTED"], &["TRAN", "TRANSACTION"]];
        assert!(has_sequence(&w, begin));
        assert!(!has_sequence(&words("BEGIN TRAN"), begin));
    }
}
