//! Whether the session that owns a loop still looks alive, so that a session that
//! crashed or was killed never blocks the user's next `$ralph-loop`.
//!
//! A loop's last sign of life is the newest of: when it started, when its record last
//! changed (every stop it decides writes `updated_at`), and when the bound session's
//! transcript was last written. The transcript path comes from the host's own payloads
//! (the prompt that started the loop, the stops it decided) and is kept in the user's
//! record, never read from the workspace. An agent mid-turn keeps appending to its
//! transcript, so a live session looks live even during a turn that lasts an hour.
//!
//! The transcript is only stat'ed, never opened, and a symlink is not followed: the
//! mtime read is the link's own. A sign of life that is wrong can only make a loop look
//! live, which refuses the new loop with the exact words to replace it anyway; it can
//! never make a live loop look dead.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::clock;
use crate::engine::ownership::LoopRecord;

/// How long another session's loop must show no sign of life before a new
/// `$ralph-loop` from another session replaces it without being asked to. Long enough
/// that a model thinking between transcript writes is not taken for dead; short enough
/// that a user whose session crashed is not kept waiting.
pub(crate) const IDLE_AFTER: Duration = Duration::from_secs(10 * 60);

/// The newest sign of life of the loop in `record` (`None` when it has none that
/// parses, which counts as long idle).
pub(crate) fn last_sign_of_life(record: &LoopRecord) -> Option<SystemTime> {
    let state = &record.state;
    let stamps = [
        Some(state.created_at.as_str()),
        Some(state.updated_at.as_str()),
        state.last_decision.as_ref().map(|d| d.at.as_str()),
    ];
    stamps
        .into_iter()
        .flatten()
        .filter_map(clock::parse)
        .chain(record.transcript.as_deref().and_then(written_at))
        .max()
}

/// How long the loop in `record` has shown no sign of life at `now`.
pub(crate) fn idle_for(record: &LoopRecord, now: SystemTime) -> Duration {
    match last_sign_of_life(record) {
        None => Duration::MAX,
        // A sign of life in the future (the clock moved back) is live.
        Some(at) => now.duration_since(at).unwrap_or(Duration::ZERO),
    }
}

/// When the file at `path` was last written: one `lstat`, no link followed, nothing
/// opened. Only a regular file at an absolute path counts.
fn written_at(path: &Path) -> Option<SystemTime> {
    if !path.is_absolute() {
        return None;
    }
    let meta = path.symlink_metadata().ok()?;
    meta.file_type().is_file().then(|| meta.modified().ok())?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::Agent;
    use crate::engine::sample::SampleLoop;
    use std::time::UNIX_EPOCH;

    fn record(started: SystemTime) -> LoopRecord {
        let state = SampleLoop::default()
            .task("task")
            .session(Some("A"))
            .at(started)
            .build();
        LoopRecord::new(state, Agent::Codex, Path::new("/w"))
    }

    #[test]
    fn a_loop_is_idle_from_its_last_record_change() {
        let start = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let record = record(start);
        let later = start + Duration::from_secs(700);
        assert_eq!(idle_for(&record, later), Duration::from_secs(700));
        assert_eq!(
            idle_for(&record, start - Duration::from_secs(5)),
            Duration::ZERO
        );
    }

    #[test]
    fn a_transcript_written_since_makes_the_loop_live() {
        let dir = tempfile::tempdir().unwrap();
        let transcript = dir.path().join("rollout.jsonl");
        std::fs::write(&transcript, "{}\n").unwrap();
        let written = transcript.metadata().unwrap().modified().unwrap();
        let mut record = record(written - Duration::from_secs(3_600));
        let now = written + Duration::from_secs(60);
        assert!(idle_for(&record, now) > IDLE_AFTER);
        record.transcript = Some(transcript);
        assert_eq!(idle_for(&record, now), Duration::from_secs(60));
    }

    #[test]
    fn a_symlinked_or_relative_transcript_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("fresh");
        std::fs::write(&target, "x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(written_at(&link), None);
        assert_eq!(written_at(Path::new("relative.jsonl")), None);
        assert_eq!(written_at(dir.path()), None);
        assert!(written_at(&target).is_some());
    }
}
