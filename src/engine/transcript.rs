//! The fallback for a Stop payload without `last_assistant_message`: the last assistant
//! text in the session's transcript (JSON lines), read backwards from the end so a
//! 100 MB transcript costs no more than a small one.
//!
//! The path comes from the host, but the file is still opened the careful way: a FIFO
//! or a device there never blocks the hook, and no more than 16 MiB from the end is
//! read. Each byte is read and copied at most twice, so a 16 MiB line without a final
//! newline costs linear time.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde_json::Value;

use crate::regular_file::{self, Links};

/// Read the file backwards in blocks of this size.
const BLOCK: u64 = 64 * 1024;
/// Give up after scanning this much from the end.
const SCAN_LIMIT: u64 = 16 * 1024 * 1024;

/// The last assistant text in the transcript at `path`, if one can be found near its end.
pub fn last_assistant_text(path: &Path) -> Option<String> {
    let mut file = open_regular(path)?;
    let len = file.metadata().ok()?.len();
    let floor = len.saturating_sub(SCAN_LIMIT);
    let mut end = len;
    // The line being assembled, as the blocks it spans, nearest the end first.
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    while end > floor {
        let start = end.saturating_sub(BLOCK).max(floor);
        let mut block = vec![0; usize::try_from(end - start).ok()?];
        file.seek(SeekFrom::Start(start)).ok()?;
        file.read_exact(&mut block).ok()?;
        let mut line_end = block.len();
        for newline in memchr::memrchr_iter(b'\n', &block) {
            let found = if pieces.is_empty() {
                assistant_text(&block[newline + 1..line_end])
            } else {
                assistant_text(&joined(&block[newline + 1..line_end], &mut pieces))
            };
            if found.is_some() {
                return found;
            }
            line_end = newline;
        }
        pieces.push(block[..line_end].to_vec());
        end = start;
    }
    // What is left is the file's first line, whole only when the scan reached the start.
    if floor == 0 && !pieces.is_empty() {
        let first = pieces.pop().unwrap_or_default();
        return assistant_text(&joined(&first, &mut pieces));
    }
    None
}

/// `head` followed by the pieces (stored nearest the end first), emptying them.
fn joined(head: &[u8], pieces: &mut Vec<Vec<u8>>) -> Vec<u8> {
    let total = head.len() + pieces.iter().map(Vec::len).sum::<usize>();
    let mut line = Vec::with_capacity(total);
    line.extend_from_slice(head);
    for piece in pieces.drain(..).rev() {
        line.extend_from_slice(&piece);
    }
    line
}

/// Opens `path` read-only without blocking (a FIFO returns at once), only if it is a
/// regular file and not a symbolic link: the same rule as the token reader's.
fn open_regular(path: &Path) -> Option<File> {
    regular_file::open(path, Links::Refuse)
        .ok()
        .map(|(file, _)| file)
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
    fn a_sixteen_mib_last_line_without_a_newline_is_read_in_linear_time() {
        // Before: every block re-copied the growing partial line (quadratic, 4.6 s).
        // Each byte is now copied at most twice; a wall-clock bound would be flaky, so
        // the line is checked to be found whole instead (the bench measures the time).
        let text = "z".repeat(16 * 1024 * 1024 - 200);
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(
            file,
            r#"{{"type":"assistant","message":{{"content":[{{"type":"text","text":"{text}"}}]}}}}"#
        )
        .unwrap();
        assert_eq!(
            last_assistant_text(file.path()).map(|t| t.len()),
            Some(text.len())
        );
    }

    #[test]
    fn the_first_line_counts_and_blank_lines_do_not_matter() {
        let file = transcript(&[
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"first"}]}}"#.into(),
            String::new(),
            String::new(),
        ]);
        assert_eq!(last_assistant_text(file.path()).as_deref(), Some("first"));
    }

    #[test]
    #[cfg(unix)]
    fn a_fifo_as_the_transcript_gives_nothing_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("t.jsonl");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo only creates a file at a valid, NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        assert_eq!(last_assistant_text(&fifo), None);
    }

    #[test]
    fn a_missing_or_empty_transcript_gives_nothing() {
        assert_eq!(last_assistant_text(Path::new("/nonexistent/t.jsonl")), None);
        assert_eq!(last_assistant_text(transcript(&[]).path()), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_transcript_is_not_read() {
        let temp = tempfile::tempdir().unwrap();
        let real = temp.path().join("real.jsonl");
        fs_err::write(
            &real,
            "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}}\n",
        )
        .unwrap();
        let link = temp.path().join("link.jsonl");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(last_assistant_text(&real).as_deref(), Some("hi"));
        assert_eq!(last_assistant_text(&link), None);
    }
}
