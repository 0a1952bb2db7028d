//! The lexical layer: lines, words, quoting and normal forms.

use std::borrow::Cow;

use super::CliError;

/// One word of a line: its text without quotes, and whether any of it was
/// quoted (quoted words keep their case in openers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Token {
    pub text: String,
    pub quoted: bool,
}

/// A `"` that is never closed.
#[derive(Debug)]
pub(super) struct Unterminated;

/// Splits text into words at whitespace outside double quotes. Quoted and
/// bare parts touching each other form one word, as in a shell (`a"b c"` is
/// `ab c`), so no word ever contains a `"`.
pub(super) fn tokenize(text: &str) -> Result<Vec<Token>, Unterminated> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(tokens);
        }
        let mut token = Token {
            text: String::new(),
            quoted: false,
        };
        while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
            if c != '"' {
                token.text.push(c);
                continue;
            }
            token.quoted = true;
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(c) => token.text.push(c),
                    None => return Err(Unterminated),
                }
            }
        }
        tokens.push(token);
    }
}

/// What a significant line says.
#[derive(Debug)]
pub(super) enum Kind {
    Exit,
    Activate,
    /// `no <target>`, target normalised.
    No(String),
    /// Anything else: a setting or an opener (never empty).
    Cmd(Vec<Token>),
}

/// A significant line (not blank, not a comment).
#[derive(Debug)]
pub(super) struct Line {
    /// 1-based line number in the text.
    pub no: usize,
    /// Leading whitespace characters.
    pub indent: usize,
    pub kind: Kind,
}

/// Splits text into significant lines. Line ends are `\n`, `\r\n` or a lone
/// `\r`; a line whose first non-blank character is `#` is a comment.
pub(super) fn lex(text: &str) -> Result<Vec<Line>, CliError> {
    let mut lines = Vec::new();
    let text = text.replace("\r\n", "\n");
    for (i, raw) in text.split(['\n', '\r']).enumerate() {
        let no = i + 1;
        let body = raw.trim();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = raw.chars().take_while(|c| c.is_whitespace()).count();
        let tokens = tokenize(body).map_err(|_| CliError::UnterminatedQuote { line: no })?;
        let Some(first) = tokens.first() else {
            // `body` has a non-blank character, so there is a word; skipping
            // keeps this total without an unwrap.
            continue;
        };
        let bare = |keyword: &'static str| {
            if tokens.len() > 1 {
                Err(CliError::UnexpectedArguments { line: no, keyword })
            } else {
                Ok(())
            }
        };
        let kind = match first.text.to_ascii_lowercase().as_str() {
            "exit" => bare("exit").map(|()| Kind::Exit)?,
            "activate" => bare("activate").map(|()| Kind::Activate)?,
            "no" if tokens.len() == 1 => return Err(CliError::MissingNoTarget { line: no }),
            "no" => Kind::No(words(&tokens[1..])),
            _ => Kind::Cmd(tokens),
        };
        lines.push(Line { no, indent, kind });
    }
    Ok(lines)
}

/// Keywords that cannot start a setting or an entry.
pub(super) fn is_reserved(word: &str) -> bool {
    ["exit", "activate", "no"]
        .iter()
        .any(|r| word.eq_ignore_ascii_case(r))
}

/// The normal form of an opener or `no` target: the first word (a keyword)
/// and every unquoted word lower-case, quoted words as written; words joined
/// by one space, quoted where needed to read back the same.
pub(super) fn words(tokens: &[Token]) -> String {
    let mut out = String::new();
    for (i, token) in tokens.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if i == 0 || !token.quoted {
            out.push_str(&quote_word(&token.text.to_ascii_lowercase()));
        } else {
            out.push_str(&quote_word(&token.text));
        }
    }
    out
}

/// [`words`] of a string as a user would type it; text with an unterminated
/// quote is taken as if the quote were closed at its end.
pub(super) fn normalise(text: &str) -> String {
    let closed;
    let tokens = match tokenize(text) {
        Ok(tokens) => tokens,
        Err(Unterminated) => {
            closed = format!("{text}\"");
            tokenize(&closed).unwrap_or_default()
        }
    };
    words(&tokens)
}

/// The normalised words of an opener or target, one string each.
pub(super) fn split_words(normalised: &str) -> Vec<String> {
    match tokenize(normalised) {
        Ok(tokens) => tokens
            .iter()
            .map(|t| words(std::slice::from_ref(t)))
            .collect(),
        // Hand-built text that does not tokenize still compares as a whole.
        Err(Unterminated) => vec![normalised.to_owned()],
    }
}

/// The first word of a normalised opener or target: the key a `no` resets.
pub(super) fn first_word(normalised: &str) -> String {
    match tokenize(normalised) {
        Ok(tokens) => tokens
            .first()
            .map(|t| t.text.to_ascii_lowercase())
            .unwrap_or_default(),
        Err(Unterminated) => normalised.to_owned(),
    }
}

/// A word as written in an opener or key: quoted when empty, starting with
/// `#` (it would read as a comment), holding whitespace, or holding upper
/// case (which an unquoted word would lose).
pub(super) fn quote_word(word: &str) -> Cow<'_, str> {
    let needs = word.is_empty()
        || word.starts_with('#')
        || word
            .chars()
            .any(|c| c.is_whitespace() || c.is_ascii_uppercase());
    if needs {
        Cow::Owned(format!("\"{word}\""))
    } else {
        Cow::Borrowed(word)
    }
}

/// A setting's value as written: quoted when empty or holding whitespace.
pub(super) fn quote_value(value: &str) -> Cow<'_, str> {
    if value.is_empty() || value.chars().any(char::is_whitespace) {
        Cow::Owned(format!("\"{value}\""))
    } else {
        Cow::Borrowed(value)
    }
}

/// Whether a word is a table index: digits, or digits separated by `/`
/// (`0`, `12`, `0/1`).
pub(super) fn is_index(word: &str) -> bool {
    !word.is_empty()
        && word
            .split('/')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        tokenize(s).unwrap().into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn tokenizes_quotes_like_a_shell() {
        assert_eq!(texts(r#"name "Voice""#), ["name", "Voice"]);
        assert_eq!(
            texts(r#"underlying-dev "vlan 1""#),
            ["underlying-dev", "vlan 1"]
        );
        assert_eq!(texts(r#"a"b c"d  e"#), ["ab cd", "e"]);
        assert_eq!(texts(r#"x """#), ["x", ""]);
        assert!(tokenize(r#"name "Voice"#).is_err());
    }

    #[test]
    fn normal_forms_read_back_the_same() {
        for s in [
            r#"SIP-Interface 0"#,
            r#"user "Admin""#,
            r#"x "a b" """#,
            "proxy-ip 0/1",
        ] {
            let once = normalise(s);
            assert_eq!(normalise(&once), once, "{s}");
        }
        assert_eq!(normalise(r#"User "Admin" Bob"#), r#"user "Admin" bob"#);
        assert_eq!(normalise(r#""SBC" Routing"#), "sbc routing");
    }

    #[test]
    fn knows_an_index_when_it_sees_one() {
        assert!(is_index("0") && is_index("12") && is_index("0/1") && is_index("1/2/3"));
        assert!(
            !is_index("")
                && !is_index("/")
                && !is_index("0/")
                && !is_index("a1")
                && !is_index("-1")
        );
    }
}
