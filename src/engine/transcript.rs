//! The fallback for a Stop payload without `last_assistant_message`: the last assistant
//! text in the session's transcript (JSON lines), read backwards from the end so a
//! 100 MB transcript costs no more than a small one.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde_json::Value;

/// Read the file backwards in blocks of this size.
const BLOCK: u64 = 64 * 1024;
/// Give up after scanning this much from the end.
const SCAN_LIMIT: u64 = 16 * 1024 * 1024;

/// The last assistant text in the transcript at `path`, if one can be found near its end.
pub fn last_assistant_text(path: &Path) -> Option<String> {
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let floor = len.saturating_sub(SCAN_LIMIT);
    let mut end = len;
    let mut carry: Vec<u8> = Vec::new();
    while end > floor {
        let start = end.saturating_sub(BLOCK).max(floor);
        let mut block = vec![0; (end - start) as usize];
        file.seek(SeekFrom::Start(start)).ok()?;
        file.read_exact(&mut block).ok()?;
        block.extend_from_slice(&carry);
        let mut lines: Vec<&[u8]> = block.split(|b| *b == b'\n').collect();
        // The first piece may be the tail of a line that starts in an earlier block.
        let first = if start > floor {
            lines.remove(0)
        } else {
            &[][..]
        };
        for line in lines.iter().rev() {
            if let Some(text) = assistant_text(line) {
                return Some(text);
            }
        }
        carry = first.to_vec();
        end = start;
    }
    None
}

/// The assistant text in one transcript line, in either host's format.
fn assistant_text(line: &[u8]) -> Option<String> {
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() || !trimmed.starts_with(b"{") {
        return None;
    }
    let value: Value = serde_json::from_slice(trimmed).ok()?;
    // Claude Code: {"type":"assistant","message":{"role":"assistant","content":[{"type":"text",…}]}}
    if value.get("type").and_then(Value::as_str) == Some("assistant") {
        return joined_text(value.get("message")?.get("content")?);
    }
    // Codex rollout: {"type":"response_item","payload":{"type":"message","role":"assistant",…}}
    // or {"type":"event_msg","payload":{"type":"agent_message","message":"…"}}
    let payload = value.get("payload")?;
    match payload.get("type").and_then(Value::as_str) {
        Some("message") if payload.get("role").and_then(Value::as_str) == Some("assistant") => {
            joined_text(payload.get("content")?)
        }
        Some("agent_message") => payload
            .get("message")
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
            .map(str::to_string),
        _ => None,
    }
}

fn joined_text(content: &Value) -> Option<String> {
    if let Some(text) = content.as_str() {
        return (!text.is_empty()).then(|| text.to_string());
    }
    let parts: Vec<&str> = content
        .as_array()?
        .iter()
        .filter(|item| {
            matches!(
                item.get("type").and_then(Value::as_str),
                Some("text" | "output_text")
            )
        })
        .filter_map(|item| item.get("text").and_then(Value::as_str))
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn transcript(lines: &[String]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        for line in lines {
            writeln!(file, "{line}").unwrap();
        }
        file
    }

    #[test]
    fn the_last_claude_assistant_text_is_found() {
        let file = transcript(&[
            r#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"old"}]}}"#.into(),
            r#"{"type":"user","message":{"role":"user","content":"hi"}}"#.into(),
            r#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"new <promise>DONE</promise>"}]}}"#.into(),
            r#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"tool_use","name":"Bash","input":{}}]}}"#.into(),
        ]);
        assert_eq!(
            last_assistant_text(file.path()).as_deref(),
            Some("new <promise>DONE</promise>")
        );
    }

    #[test]
    fn the_last_codex_assistant_message_is_found() {
        let file = transcript(&[
            r#"{"type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"codex says"}]}}"#.into(),
            r#"{"type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"user"}]}}"#.into(),
        ]);
        assert_eq!(
            last_assistant_text(file.path()).as_deref(),
            Some("codex says")
        );
    }

    #[test]
    fn a_line_longer_than_a_block_is_read_whole() {
        let long = "y".repeat(200_000);
        let file = transcript(&[
            format!(
                r#"{{"type":"assistant","message":{{"content":[{{"type":"text","text":"{long}"}}]}}}}"#
            ),
            "not json at all".into(),
        ]);
        assert_eq!(
            last_assistant_text(file.path()).map(|t| t.len()),
            Some(200_000)
        );
    }

    #[test]
    fn a_missing_or_empty_transcript_gives_nothing() {
        assert_eq!(last_assistant_text(Path::new("/nonexistent/t.jsonl")), None);
        assert_eq!(last_assistant_text(transcript(&[]).path()), None);
    }
}
