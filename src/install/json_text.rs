//! Reading and writing a user's JSON config file while keeping its look: the key order
//! (serde_json's `preserve_order`), the indentation, the line endings and the final
//! newline.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// The UTF-8 byte order mark, as a character.
pub(super) const BOM: char = '\u{feff}';

/// How a JSON file is laid out, so a rewritten file looks like the user's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct JsonStyle {
    /// One level of indentation (two spaces, four spaces, a tab…).
    pub indent: String,
    /// Whether lines end with CRLF.
    pub crlf: bool,
    /// Whether the file ends with a newline.
    pub final_newline: bool,
    /// Whether the file starts with a UTF-8 byte order mark (some Windows editors add one).
    pub bom: bool,
}

impl Default for JsonStyle {
    fn default() -> Self {
        JsonStyle {
            indent: "  ".into(),
            crlf: false,
            final_newline: true,
            bom: false,
        }
    }
}

/// Parses a JSON config file. An empty file counts as `{}`; malformed text is an input
/// error naming the file, line and column.
pub(super) fn parse(path: &Path, text: &str) -> Result<Value> {
    let body = text.strip_prefix(BOM).unwrap_or(text);
    if body.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_str(body).map_err(|err| {
        Error::input(
            format!("{}:{}:{}", path.display(), err.line(), err.column()),
            format!("malformed JSON: {err}; fix the file (nothing was changed)"),
        )
    })
}

/// Guesses the layout of an existing file; a file without indented lines gets the default.
pub(super) fn detect_style(text: &str) -> JsonStyle {
    let default = JsonStyle::default();
    let indent = text
        .lines()
        .skip(1)
        .map(|line| {
            let trimmed = line.trim_start_matches([' ', '\t']);
            &line[..line.len() - trimmed.len()]
        })
        .find(|lead| !lead.is_empty())
        .map(str::to_owned)
        .unwrap_or(default.indent);
    JsonStyle {
        indent,
        crlf: text.contains("\r\n"),
        final_newline: text.trim().is_empty() || text.ends_with('\n'),
        bom: text.starts_with(BOM),
    }
}

/// Renders a value in the given layout.
pub(super) fn render(value: &Value, style: &JsonStyle) -> Result<String> {
    let mut buffer = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(style.indent.as_bytes());
    let mut serializer = serde_json::Serializer::with_formatter(&mut buffer, formatter);
    value
        .serialize(&mut serializer)
        .map_err(|err| Error::Failed(format!("could not render JSON: {err}")))?;
    let mut text = String::from_utf8(buffer)
        .map_err(|err| Error::Failed(format!("could not render JSON: {err}")))?;
    if style.final_newline {
        text.push('\n');
    }
    if style.crlf {
        text = text.replace('\n', "\r\n");
    }
    if style.bom {
        text.insert(0, BOM);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error;

    #[test]
    fn a_malformed_file_is_named_with_line_and_column() {
        let err = parse(Path::new("/h/hooks.json"), "{\n  \"hooks\": {,\n}").unwrap_err();
        assert_eq!(err.code(), error::EXIT_DATA);
        assert!(
            err.to_string()
                .starts_with("/h/hooks.json:2:13: malformed JSON"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_file_is_an_empty_object() {
        assert_eq!(parse(Path::new("x"), " \n").unwrap(), serde_json::json!({}));
    }

    #[test]
    fn style_is_detected_and_kept() {
        let text = "{\r\n\t\"b\": 1,\r\n\t\"a\": [\r\n\t\t2\r\n\t]\r\n}";
        let style = detect_style(text);
        assert_eq!(
            style,
            JsonStyle {
                indent: "\t".into(),
                crlf: true,
                final_newline: false,
                bom: false,
            }
        );
        let value = parse(Path::new("x"), text).unwrap();
        assert_eq!(render(&value, &style).unwrap(), text);
    }

    #[test]
    fn a_byte_order_mark_is_kept() {
        let text = "\u{feff}{\n  \"a\": 1\n}\n";
        let value = parse(Path::new("x"), text).unwrap();
        assert_eq!(render(&value, &detect_style(text)).unwrap(), text);
    }

    #[test]
    fn four_space_files_stay_four_space() {
        let text = "{\n    \"z\": {\n        \"y\": true\n    },\n    \"a\": null\n}\n";
        let value = parse(Path::new("x"), text).unwrap();
        assert_eq!(render(&value, &detect_style(text)).unwrap(), text);
    }
}
