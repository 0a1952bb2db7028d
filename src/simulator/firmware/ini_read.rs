//! The device's own reading of INI text, by the AudioCodes manuals' "ini
//! File Format" rules and nothing of our client's parser:
//!
//! - "Lines beginning with a semi-colon ";" are ignored." (comments;
//!   `;<name> is hidden but has non-default value` lines are collected, for
//!   seeding a device from its own dump);
//! - "The number of spaces before and after the equals sign "=" is irrelevant.";
//! - "Subsection names for grouping parameters are optional." (a `[ … ]`
//!   title not followed by a `FORMAT` line or an end mark is a subsection);
//! - a table is a title `[ Name ]`, a `FORMAT Name_Index = Name_A, …;` line,
//!   data lines `Name 0 = a, …;` and the end mark `[ \Name ]`; "Data lines
//!   must match the Format line, i.e., it must contain exactly the same
//!   number of Indices and Data fields"; "The double dollar sign ($$) in a
//!   Data line indicates the default value for the parameter."
//!
//! (Mediant 800 MSBG SIP User's Manual v6.2, "Format of ini File Table
//! Parameters" and "General ini File Formatting Rules".) The reader only
//! tokenises; [`super::ini_load`] decides what each line means to the device.

use super::config::{Quoting, RowKey};

/// A line the device cannot read at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReadError {
    /// 1-based line.
    pub(crate) line: usize,
    /// What is wrong.
    pub(crate) message: String,
}

/// A value token: `$$` or a value with its quoting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    /// `$$`: the column's default.
    Default,
    /// A value, unquoted, and how it was quoted.
    Value(String, Quoting),
}

/// `Name = value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ScalarLine {
    pub(crate) line: usize,
    /// The subsection it was under, if any.
    pub(crate) section: Option<String>,
    pub(crate) name: String,
    pub(crate) value: String,
    pub(crate) quoting: Quoting,
}

/// `Name 3 = a, b;`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DataLine {
    pub(crate) line: usize,
    pub(crate) key: RowKey,
    pub(crate) cells: Vec<Token>,
}

/// One table block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TableBlock {
    /// Line of the title.
    pub(crate) line: usize,
    pub(crate) name: String,
    /// Index field names of the `FORMAT` line (empty when it has none).
    pub(crate) index_fields: Vec<String>,
    /// Column names as written in the `FORMAT` line (full names).
    pub(crate) columns: Vec<String>,
    pub(crate) rows: Vec<DataLine>,
    /// Whether the block had a `FORMAT` line.
    pub(crate) has_format: bool,
}

/// A hidden parameter's comment line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HiddenLine {
    pub(crate) section: Option<String>,
    pub(crate) name: String,
}

/// Everything read from one text, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct IniText {
    pub(crate) scalars: Vec<ScalarLine>,
    pub(crate) tables: Vec<TableBlock>,
    pub(crate) hidden: Vec<HiddenLine>,
    /// Subsection names in the order they appear.
    pub(crate) sections: Vec<String>,
}

/// A value with its quoting: one quoted string loses its quotes; anything
/// else (bare words, lists like `'pvc', 'dr'`) is kept as written.
pub(crate) fn unquote(raw: &str) -> (String, Quoting) {
    let raw = raw.trim();
    for (q, quoting) in [('\'', Quoting::Single), ('"', Quoting::Double)] {
        if raw.len() >= 2 && raw.starts_with(q) && raw.ends_with(q) {
            let inner = &raw[1..raw.len() - 1];
            if !inner.contains(q) {
                return (inner.to_string(), quoting);
            }
        }
    }
    (raw.to_string(), Quoting::Bare)
}

/// Splits a data line's fields on commas outside quotes.
fn split_fields(text: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                current.push(c);
            }
            Some(_) => current.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                current.push(c);
            }
            None if c == ',' => fields.push(std::mem::take(&mut current)),
            None => current.push(c),
        }
    }
    if quote.is_some() {
        return Err("a quoted value is not closed".to_string());
    }
    fields.push(current);
    Ok(fields)
}

/// A field as a token.
fn token(field: &str) -> Token {
    let field = field.trim();
    if field == "$$" {
        return Token::Default;
    }
    let (value, quoting) = unquote(field);
    Token::Value(value, quoting)
}

/// What the reader makes of `text` as one field of a data line: `None`
/// when it is not one field (a comma outside quotes, an unclosed quote).
/// The renderer checks its writing of a cell with it.
pub(crate) fn read_field(text: &str) -> Option<Token> {
    let fields = split_fields(text).ok()?;
    match fields.as_slice() {
        [field] => Some(token(field)),
        _ => None,
    }
}

/// The inner text of a `[ … ]` line.
fn title(line: &str) -> Option<&str> {
    line.strip_prefix('[')?.strip_suffix(']').map(str::trim)
}

/// The name of a `;X is hidden but has non-default value` comment.
fn hidden_name(comment: &str) -> Option<&str> {
    let name = comment
        .trim()
        .strip_suffix("is hidden but has non-default value")?
        .trim();
    (!name.is_empty() && !name.contains(char::is_whitespace)).then_some(name)
}

/// What the reader is inside.
enum State {
    /// Parameters, under a subsection or none.
    Params,
    /// A `[ … ]` title waiting for its next line to tell table from subsection.
    Title(usize, String),
    /// Inside a table.
    Table(TableBlock),
}

/// Reads INI text.
pub(crate) fn read(text: &str) -> Result<IniText, ReadError> {
    let mut out = IniText::default();
    let mut section: Option<String> = None;
    let mut state = State::Params;
    let fail = |line: usize, message: String| ReadError { line, message };
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches('\r').trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix(';') {
            if let Some(name) = hidden_name(comment) {
                let under = match &state {
                    State::Params => Some(section.clone()),
                    // A comment right after a subsection title.
                    State::Title(_, title) => Some(Some(title.clone())),
                    State::Table(_) => None,
                };
                if let Some(section) = under {
                    out.hidden.push(HiddenLine {
                        section,
                        name: name.to_string(),
                    });
                }
            }
            continue;
        }
        // A title whose kind the line after it decides.
        if let State::Title(at, name) = &state {
            let (at, name) = (*at, name.clone());
            let ends_it = title(line)
                .and_then(|t| t.strip_prefix('\\'))
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(&name));
            let is_format = line
                .split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("FORMAT"));
            if ends_it || is_format {
                state = State::Table(TableBlock {
                    line: at,
                    name,
                    index_fields: Vec::new(),
                    columns: Vec::new(),
                    rows: Vec::new(),
                    has_format: false,
                });
                if ends_it {
                    if let State::Table(block) = std::mem::replace(&mut state, State::Params) {
                        out.tables.push(block);
                    }
                    continue;
                }
            } else {
                out.sections.push(name.clone());
                section = Some(name);
                state = State::Params;
            }
        }
        if let Some(inner) = title(line) {
            if let Some(end) = inner.strip_prefix('\\') {
                let end = end.trim();
                match std::mem::replace(&mut state, State::Params) {
                    State::Table(block) if block.name.eq_ignore_ascii_case(end) => {
                        out.tables.push(block);
                    }
                    State::Table(block) => {
                        return Err(fail(
                            line_no,
                            format!("end of table {end} inside table {}", block.name),
                        ));
                    }
                    _ => {
                        return Err(fail(
                            line_no,
                            format!("end of table {end} without its title"),
                        ));
                    }
                }
                continue;
            }
            if let State::Table(block) = &state {
                return Err(fail(
                    line_no,
                    format!(
                        "table {} is not closed (no [ \\{} ] before this title)",
                        block.name, block.name
                    ),
                ));
            }
            state = State::Title(line_no, inner.to_string());
            continue;
        }
        match &mut state {
            State::Table(block) => {
                let first = line.split_whitespace().next().unwrap_or_default();
                if first.eq_ignore_ascii_case("FORMAT") {
                    if block.has_format {
                        return Err(fail(
                            line_no,
                            format!("table {} has a second FORMAT line", block.name),
                        ));
                    }
                    let rest = line[first.len()..].trim();
                    let Some((left, right)) = rest.split_once('=') else {
                        return Err(fail(line_no, "FORMAT line without '='".to_string()));
                    };
                    block.index_fields = left
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect();
                    let right = right.trim().trim_end_matches(';');
                    block.columns = right
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect();
                    block.has_format = true;
                    continue;
                }
                if !block.has_format {
                    return Err(fail(
                        line_no,
                        format!("data line before the FORMAT line of table {}", block.name),
                    ));
                }
                let Some((left, right)) = line.split_once('=') else {
                    return Err(fail(line_no, "data line without '='".to_string()));
                };
                let mut words = left.split_whitespace();
                let name = words.next().unwrap_or_default();
                if !name.eq_ignore_ascii_case(&block.name) {
                    return Err(fail(
                        line_no,
                        format!("data line of {name} inside table {}", block.name),
                    ));
                }
                let indices: Vec<&str> = words
                    .flat_map(|w| w.split(','))
                    .filter(|w| !w.is_empty())
                    .collect();
                if indices.len() != block.index_fields.len().max(1) {
                    return Err(fail(
                        line_no,
                        format!(
                            "table {}: the data line has {} indices, the FORMAT line {}",
                            block.name,
                            indices.len(),
                            block.index_fields.len()
                        ),
                    ));
                }
                let body = right.trim();
                let body = body.strip_suffix(';').unwrap_or(body);
                let fields = split_fields(body).map_err(|m| fail(line_no, m))?;
                let fields =
                    if block.columns.is_empty() && fields.len() == 1 && fields[0].trim().is_empty()
                    {
                        Vec::new()
                    } else {
                        fields
                    };
                if fields.len() != block.columns.len() {
                    return Err(fail(
                        line_no,
                        format!(
                            "table {}: the data line has {} fields, the FORMAT line {} (data lines must match the Format line)",
                            block.name,
                            fields.len(),
                            block.columns.len()
                        ),
                    ));
                }
                block.rows.push(DataLine {
                    line: line_no,
                    key: RowKey::new(&indices.join(",")),
                    cells: fields.iter().map(|f| token(f)).collect(),
                });
            }
            State::Params | State::Title(..) => {
                let Some((name, value)) = line.split_once('=') else {
                    return Err(fail(
                        line_no,
                        format!("'{line}' is neither a parameter, a comment nor a title"),
                    ));
                };
                let (value, quoting) = unquote(value);
                out.scalars.push(ScalarLine {
                    line: line_no,
                    section: section.clone(),
                    name: name.trim().to_string(),
                    value,
                    quoting,
                });
            }
        }
    }
    match state {
        State::Table(block) => Err(fail(
            block.line,
            format!(
                "table {} is not closed (no [ \\{} ])",
                block.name, block.name
            ),
        )),
        State::Title(_, name) => {
            out.sections.push(name);
            Ok(out)
        }
        State::Params => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_parameters_tables_and_hidden_tables() {
        let text = "[SYSTEM Params]\r\n;X is hidden but has non-default value\r\nA = 1\r\nB = 'x'\r\nL = 'a', 'b'\r\n\r\n[ T ]\r\nFORMAT T_Index = T_A, T_B;\r\nT 0 = \"q, r\", $$;\r\nT 2 = 5, '';\r\n[ \\T ]\r\n[ H ]\r\n; hidden\r\n[ \\H ]\r\n[Empty Params]\r\n";
        let read = read(text).expect("reads");
        assert_eq!(read.scalars.len(), 3);
        assert_eq!(read.scalars[1].value, "x");
        assert_eq!(read.scalars[2].value, "'a', 'b'");
        assert_eq!(read.hidden[0].name, "X");
        assert_eq!(read.tables.len(), 2);
        assert_eq!(
            read.tables[0].rows[0].cells,
            vec![
                Token::Value("q, r".to_string(), Quoting::Double),
                Token::Default
            ]
        );
        assert!(!read.tables[1].has_format);
        assert_eq!(read.sections, ["SYSTEM Params", "Empty Params"]);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let e = read("[ T ]\nFORMAT T_Index = T_A;\nT 0 = 1, 2;\n[ \\T ]\n").expect_err("count");
        assert_eq!(e.line, 3);
        let e = read("[ T ]\nFORMAT T_Index = T_A;\nT 0 = 1;\n[ U ]\n").expect_err("open");
        assert_eq!(e.line, 4);
        assert!(read("nonsense\n").is_err());
    }
}
