//! Parser for INI text as Mediant devices write and accept it.
//!
//! One pass over the lines, no backtracking, time linear in the input (columns
//! are found by hash). A `[ Name ]` header is a section or a table: it is a
//! table when the first significant line after it is a `FORMAT` line or its
//! own end marker `[ \Name ]`; one holding only comments is a table the
//! device hides (a secret table).
//!
//! Lines end with CRLF, LF or a lone CR (all three are accepted, so a
//! CR-only file is never read as one empty line). NUL bytes and, through
//! [`parse_bytes`], invalid UTF-8 are refused with their line and column.

use super::model::{IniDocument, RowIndex, Table, key_of};
use super::{CELL_DEFAULT, IniError};

/// What the parser is inside of.
enum State {
    /// Parameters, under a section or none.
    Params { section: Option<String> },
    /// A `[ Name ]` header whose kind the next line decides; `comments`
    /// says whether comment lines followed it.
    Header {
        name: String,
        line: usize,
        comments: bool,
    },
    /// Inside a table block after its `FORMAT` line; `format` holds the
    /// positions of its columns in the model table.
    Table {
        name: String,
        key: String,
        line: usize,
        format: Vec<usize>,
    },
}

/// The lines of a text, whatever their endings (CRLF, LF, CR), without them.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            Some(at) => {
                let ending = if current[at..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[at + ending..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// Where a byte offset lies: (1-based line, 1-based column in bytes).
fn position_of(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let mut line = 1;
    let mut line_start = 0;
    let mut i = 0;
    while i < before.len() {
        match before[i] {
            b'\r' => {
                if before.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                line += 1;
                line_start = i + 1;
            }
            b'\n' => {
                line += 1;
                line_start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    (line, offset - line_start + 1)
}

/// Parses INI bytes (as downloaded from a device or read from a file):
/// invalid UTF-8 is refused with its line and column, then [`parse`].
pub fn parse_bytes(bytes: &[u8]) -> Result<IniDocument, IniError> {
    parse(decode(bytes)?)
}

/// The bytes as text, or an error naming where they stop being UTF-8.
pub fn decode(bytes: &[u8]) -> Result<&str, IniError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = position_of(bytes, e.valid_up_to());
        IniError::new(
            line,
            format!("column {column}: the text is not valid UTF-8; save the file as UTF-8"),
        )
    })
}

/// Parses INI text into a document; errors name the line and the reason.
/// Reasons name keys and positions, never values from the line: a
/// malformed line may hold a password.
pub fn parse(text: &str) -> Result<IniDocument, IniError> {
    parse_with(text, false)
}

/// [`parse`] for desired state (what a user wrote): a parameter set twice
/// or a table row written twice is an error naming it and both lines, not
/// "the last one wins". Device dumps never repeat either (checked on the
/// real exports in `shared/fixtures/real-devices`), but [`parse`] keeps
/// tolerating it for what a device sends.
pub fn parse_strict(text: &str) -> Result<IniDocument, IniError> {
    parse_with(text, true)
}

fn parse_with(text: &str, strict: bool) -> Result<IniDocument, IniError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Strict only: the line each parameter and row was first seen on.
    let mut first_param: std::collections::HashMap<String, usize> = Default::default();
    let mut first_row: std::collections::HashMap<(String, String), usize> = Default::default();
    if let Some(at) = text.find('\0') {
        let (line, column) = position_of(text.as_bytes(), at);
        return Err(IniError::new(
            line,
            format!("column {column}: a NUL byte; INI text cannot contain one"),
        ));
    }
    let mut doc = IniDocument::new();
    let mut state = State::Params { section: None };
    let mut in_header = true;
    // One buffer of borrowed cells, reused by every row line.
    let mut cells: Vec<Option<&str>> = Vec::with_capacity(64);

    for (i, raw) in lines(text).enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix(';') {
            if let State::Header { comments, .. } = &mut state {
                *comments = true;
            }
            if let Some(name) = comment
                .trim()
                .strip_suffix(" is hidden but has non-default value")
                .filter(|n| !n.is_empty() && !n.contains(char::is_whitespace))
            {
                doc.add_hidden_param(name);
            } else if in_header {
                doc.header.push(comment.to_string());
            }
            continue;
        }
        in_header = false;
        let err = |reason: String| IniError::new(line_no, reason);

        if line.starts_with('[') {
            let inner = line
                .strip_suffix(']')
                .and_then(|l| l.strip_prefix('['))
                .ok_or_else(|| err("a `[` header is missing its closing `]`".into()))?
                .trim();
            if let Some(closing) = inner.strip_prefix('\\') {
                let closing = closing.trim();
                state = close_table(&mut doc, state, closing, line_no)?;
                continue;
            }
            if inner.is_empty() {
                return Err(err("empty `[ ]` header".into()));
            }
            if let State::Table { name, line, .. } = &state {
                return Err(err(format!(
                    "table `{name}` opened on line {line} is not closed before `[{inner}]` (expected `[ \\{name} ]`)"
                )));
            }
            state = State::Header {
                name: inner.to_string(),
                line: line_no,
                comments: false,
            };
            continue;
        }

        // `FORMAT = 1` would be a parameter named FORMAT, not a FORMAT line.
        if let Some(rest) =
            strip_keyword(line, "FORMAT").filter(|rest| !rest.trim_start().starts_with('='))
        {
            state = match state {
                State::Header { name, line, .. } => {
                    let format = read_format(&mut doc, &name, rest, line_no)?;
                    State::Table {
                        key: key_of(&name),
                        name,
                        line,
                        format,
                    }
                }
                State::Table { name, .. } => {
                    return Err(err(format!("second FORMAT line in table `{name}`")));
                }
                State::Params { .. } => {
                    return Err(err("FORMAT line outside a table".into()));
                }
            };
            continue;
        }

        let Some((left, right)) = line.split_once('=') else {
            return Err(err(
                "expected `Name = value`, a `[Section]`, a table row or a `;` comment".into(),
            ));
        };
        let left = left.trim();
        if left.is_empty() {
            return Err(err("missing name before `=`".into()));
        }

        if let State::Header { name, .. } = &state {
            if is_row_of(left, name).is_some() {
                return Err(err(format!("row of table `{name}` before its FORMAT line")));
            }
            state = State::Params {
                section: Some(name.clone()),
            };
        }

        match &state {
            State::Params { section } => {
                if left.contains(char::is_whitespace) {
                    return Err(err(
                        "a table row outside a table (a parameter name has no spaces)".into(),
                    ));
                }
                let value = read_scalar(right)
                    .map_err(|reason| err(format!("parameter `{left}`: {reason}")))?;
                if strict && let Some(first) = first_param.insert(key_of(left), line_no) {
                    return Err(err(format!(
                        "parameter `{left}` is set twice (first on line {first}); keep one"
                    )));
                }
                doc.set_param_in(section.as_deref(), left, value);
            }
            State::Table {
                name, key, format, ..
            } => {
                let Some(index) = is_row_of(left, name) else {
                    return Err(err(format!(
                        "a line inside table `{name}` that is not one of its rows (expected `{name} <index> = …`)"
                    )));
                };
                let positions = format;
                read_cells(right, &mut cells)
                    .map_err(|reason| err(format!("row `{name} {index}`: {reason}")))?;
                if cells.len() != positions.len() {
                    return Err(err(format!(
                        "row has {} cells but the FORMAT line of `{name}` lists {} columns",
                        cells.len(),
                        positions.len()
                    )));
                }
                if strict
                    && let Some(first) =
                        first_row.insert((key.clone(), index.as_str().to_owned()), line_no)
                {
                    return Err(err(format!(
                        "row `{name} {index}` is written twice (first on line {first}); keep one"
                    )));
                }
                // The FORMAT line created the table; look it up without re-keying the name.
                let table = match doc.tables.get_mut(key) {
                    Some(t) => t,
                    None => doc.ensure_table(name),
                };
                // `$$` is the column's default; a row written twice keeps
                // the columns only its first line listed.
                table.put_row(index, positions, &cells);
            }
            // Replaced by `Params` just above.
            State::Header { .. } => {}
        }
    }

    match state {
        State::Table { name, line, .. } => Err(IniError::new(
            line,
            format!("table `{name}` is never closed (expected `[ \\{name} ]`)"),
        )),
        _ => Ok(doc),
    }
}

/// Handles `[ \Name ]`: closes the open table (or a header that turns out to
/// be a comment-only table).
fn close_table(
    doc: &mut IniDocument,
    state: State,
    closing: &str,
    line_no: usize,
) -> Result<State, IniError> {
    let (open, hidden) = match &state {
        State::Table { name, .. } => (name.as_str(), false),
        State::Header { name, comments, .. } => (name.as_str(), *comments),
        State::Params { .. } => {
            return Err(IniError::new(
                line_no,
                format!("end marker `[\\{closing}]` without an open table"),
            ));
        }
    };
    if closing.is_empty() {
        return Err(IniError::new(line_no, "end marker names no table".into()));
    }
    if !open.eq_ignore_ascii_case(closing) {
        return Err(IniError::new(
            line_no,
            format!("end marker `[\\{closing}]` does not close table `{open}`"),
        ));
    }
    // A table with only comments is how the device shows a secret table:
    // "there is a commented title that states that the secret table exists
    // in the device, but is not to be revealed" (AudioCodes SIP User's
    // Manual, "Format of ini File Table Parameters").
    let table = doc.ensure_table(open);
    if hidden {
        table.set_hidden(true);
    }
    Ok(State::Params { section: None })
}

/// Strips a leading keyword (case-insensitive) followed by whitespace.
fn strip_keyword<'a>(line: &'a str, keyword: &str) -> Option<&'a str> {
    let head = line.get(..keyword.len())?;
    let rest = &line[keyword.len()..];
    (head.eq_ignore_ascii_case(keyword) && rest.starts_with(char::is_whitespace)).then_some(rest)
}

/// When `left` is `<table> <index…>`, the row index.
fn is_row_of(left: &str, table: &str) -> Option<RowIndex> {
    let (first, rest) = left.split_once(char::is_whitespace)?;
    let index = RowIndex::new(rest);
    (first.eq_ignore_ascii_case(table) && !index.as_str().is_empty()).then_some(index)
}

/// Reads `X_Index = X_A, X_B;` and returns the model positions of the columns.
fn read_format(
    doc: &mut IniDocument,
    table: &str,
    rest: &str,
    line_no: usize,
) -> Result<Vec<usize>, IniError> {
    let err = |reason: String| IniError::new(line_no, reason);
    let (index_part, columns_part) = rest
        .split_once('=')
        .ok_or_else(|| err(format!("FORMAT line of `{table}` has no `=`")))?;
    let index_columns: Vec<String> = split_names(index_part);
    if index_columns.is_empty() {
        return Err(err(format!(
            "FORMAT line of `{table}` names no index column"
        )));
    }
    let columns_part = columns_part.trim();
    let columns_part = columns_part.strip_suffix(';').unwrap_or(columns_part);
    let columns = split_names(columns_part);
    let t: &mut Table = doc.ensure_table(table);
    t.index_columns = index_columns;
    let mut positions = Vec::with_capacity(columns.len());
    // Positions already listed on this line: a bitmap, not a scan, so a
    // FORMAT line of n columns costs O(n).
    let mut listed: Vec<bool> = Vec::new();
    for column in &columns {
        if column.contains(char::is_whitespace) {
            return Err(err(format!(
                "column {} of the FORMAT line of `{table}` has a space in its name",
                positions.len() + 1
            )));
        }
        let pos = t.ensure_column(column);
        if listed.len() <= pos {
            listed.resize(pos + 1, false);
        }
        if listed[pos] {
            return Err(err(format!("column `{column}` is listed twice")));
        }
        listed[pos] = true;
        positions.push(pos);
    }
    Ok(positions)
}

fn split_names(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Reads a scalar value: bare (the rest of the line), quoted with `'` or `"`,
/// or a list of quoted items (`'pvc', 'afl'`), kept in canonical list form.
fn read_scalar(text: &str) -> Result<String, String> {
    let text = text.trim();
    if !text.starts_with(['\'', '"']) {
        return Ok(text.to_string());
    }
    let (items, after) = read_quoted_items(text)?;
    if !after.is_empty() && !after.starts_with(';') {
        return Err("unexpected text after the quoted value".into());
    }
    Ok(match items.as_slice() {
        [one] => one.clone(),
        _ => canonical_list(&items),
    })
}

/// Reads `'a'` or `'a', "b", 'c'` from the start of `text`; returns the items
/// and what follows the last one.
fn read_quoted_items(text: &str) -> Result<(Vec<String>, &str), String> {
    let mut items = Vec::new();
    let mut rest = text;
    loop {
        let Some(quote) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') else {
            return Err("expected a quoted item after `,`".into());
        };
        let body = &rest[1..];
        let end = body
            .find(quote)
            .ok_or_else(|| format!("unterminated quote {quote} in value"))?;
        items.push(body[..end].to_string());
        rest = body[end + 1..].trim_start();
        match rest.strip_prefix(',') {
            Some(next) => rest = next.trim_start(),
            None => return Ok((items, rest.trim_end())),
        }
    }
}

/// The canonical text of a list value: items single-quoted (double-quoted
/// when they hold a `'`), separated by `, `.
pub(crate) fn canonical_list(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|i| {
            if i.contains('\'') {
                format!("\"{i}\"")
            } else {
                format!("'{i}'")
            }
        })
        .collect();
    quoted.join(", ")
}

/// Whether a value is a list in canonical form, to be written unquoted.
pub(crate) fn is_canonical_list(value: &str) -> bool {
    match read_quoted_items(value) {
        Ok((items, rest)) => items.len() > 1 && rest.is_empty() && canonical_list(&items) == value,
        Err(_) => false,
    }
}

/// Reads the cells of a row: `0, "a,b", , 10.1.1.1, $$;`. Byte-level: this
/// is the inner loop of parsing a device dump, and every delimiter is ASCII,
/// so byte positions are always character boundaries.
fn read_cells<'t>(text: &'t str, cells: &mut Vec<Option<&'t str>>) -> Result<(), String> {
    let bytes = text.as_bytes();
    let skip_blanks = |mut i: usize| {
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        i
    };
    cells.clear();
    let mut i = skip_blanks(0);
    if i == bytes.len() || bytes[i] == b';' {
        return Ok(());
    }
    loop {
        i = skip_blanks(i);
        let cell = match bytes.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let start = i + 1;
                let len = bytes[start..].iter().position(|&b| b == q).ok_or_else(|| {
                    format!(
                        "unterminated quote {} in cell {}",
                        q as char,
                        cells.len() + 1
                    )
                })?;
                i = skip_blanks(start + len + 1);
                Some(&text[start..start + len])
            }
            _ => {
                let start = i;
                while i < bytes.len() && !matches!(bytes[i], b',' | b';') {
                    i += 1;
                }
                let bare = text[start..i].trim_end();
                if bare.contains(['"', '\'']) {
                    return Err(format!("stray quote in cell {}", cells.len() + 1));
                }
                (bare != CELL_DEFAULT).then_some(bare)
            }
        };
        cells.push(cell);
        match bytes.get(i) {
            Some(b',') => i += 1,
            Some(b';') => {
                let tail = text[i + 1..].trim();
                if !tail.is_empty() && !tail.starts_with(';') {
                    return Err("unexpected text after the end of the row".into());
                }
                return Ok(());
            }
            None => return Ok(()),
            Some(_) => {
                return Err(format!("expected `,` or `;` after cell {}", cells.len()));
            }
        }
    }
}
