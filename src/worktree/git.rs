//! git, run on a repository that is hostile input. A repository's own files name
//! commands git would run: hooks (`post-checkout` on `worktree add`), `core.fsmonitor`,
//! filter drivers (`filter.<name>.smudge`/`clean`/`process`, picked by
//! `.gitattributes`), an external diff, a pager, a transport's `core.sshCommand` (a
//! partial clone fetches missing objects on checkout). Every run here switches each of
//! them off from the command line, which wins over every config file, and never lets a
//! repository's config name a program ralph-hook runs.
//!
//! git itself comes from an absolute PATH entry ([`program::find`]), with a clean `GIT_*`
//! environment, no stdin, no terminal prompt and no repository above the folder it runs in.

use std::ffi::OsStr;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::clock;
use crate::error::{Error, Result};
use crate::program::{self, GroupGuard};

/// Config that keeps git from running what a repository names, set on every run (through
/// `GIT_CONFIG_COUNT`, so no key is parsed from an argument).
pub(crate) const HARDENING: [(&str, &str); 13] = [
    ("core.fsmonitor", "false"),
    ("core.hooksPath", "/dev/null"),
    ("core.pager", "cat"),
    ("core.sshCommand", "false"),
    ("core.gitProxy", ""),
    ("core.alternateRefsCommand", ""),
    ("diff.external", ""),
    ("submodule.recurse", "false"),
    ("protocol.allow", "never"),
    ("credential.helper", ""),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("core.untrackedCache", "false"),
];

/// The values that switch one filter driver off: git runs no `clean`, `smudge` or
/// `process` command whose value is empty, and `required=false` lets content pass as is.
const FILTER_OFF: [(&str, &str); 4] = [
    ("clean", ""),
    ("smudge", ""),
    ("process", ""),
    ("required", "false"),
];

/// How long a query (rev-parse, status …) may take.
pub(crate) const QUERY_DEADLINE: Duration = Duration::from_secs(60);
/// How long `worktree add` (a whole checkout) may take.
pub(crate) const CHECKOUT_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// What one git run printed and whether it succeeded.
#[derive(Debug)]
pub(crate) struct Output {
    /// It exited 0.
    pub(crate) success: bool,
    /// Its standard output.
    pub(crate) stdout: Vec<u8>,
    /// Its standard error, as text (for the message when it failed).
    pub(crate) stderr: String,
}

impl Output {
    /// Standard output as text, trimmed.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim().to_string()
    }
}

/// git, hardened for one repository: the fixed switches above plus every filter driver
/// the repository's config (any scope) names, switched off.
#[derive(Debug, Clone)]
pub(crate) struct Git {
    program: PathBuf,
    config: Vec<(String, String)>,
}

impl Git {
    /// git for the repository at `dir`. `None` when no absolute PATH entry holds git.
    pub(crate) fn for_repo(dir: &Path) -> Option<Git> {
        Git::for_repo_within(dir, QUERY_DEADLINE)
    }

    /// [`Git::for_repo`], reading the repository's filter drivers within `deadline` (a
    /// hook's git runs have a short one; a config that never answers, a FIFO, names none).
    pub(crate) fn for_repo_within(dir: &Path, deadline: Duration) -> Option<Git> {
        let mut git = Git {
            program: program::find("git")?,
            config: HARDENING
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let names = git.filter_names(dir, deadline);
        for name in names {
            for (var, value) in FILTER_OFF {
                git.config
                    .push((format!("filter.{name}.{var}"), value.to_string()));
            }
        }
        Some(git)
    }

    /// The filter drivers the config seen from `dir` defines. Reading config runs
    /// nothing (includes are files, not commands).
    fn filter_names(&self, dir: &Path, deadline: Duration) -> Vec<String> {
        let Ok(out) = self.run(
            dir,
            &["config", "-z", "--get-regexp", r"^filter\."],
            deadline,
        ) else {
            return Vec::new();
        };
        filter_names(&out.stdout)
    }

    /// The hardened command, to run in `dir`.
    pub(crate) fn command(&self, dir: &Path) -> Command {
        let mut command = Command::new(&self.program);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("GIT_") {
                command.env_remove(key);
            }
        }
        command
            .args(["--no-pager", "--no-optional-locks"])
            .current_dir(dir)
            .env("GIT_CONFIG_COUNT", self.config.len().to_string())
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_OPTIONAL_LOCKS", "0")
            .env("GIT_CEILING_DIRECTORIES", dir.parent().unwrap_or(dir))
            .env("GIT_PAGER", "cat")
            .env("PAGER", "cat")
            .stdin(Stdio::null());
        for (index, (key, value)) in self.config.iter().enumerate() {
            command
                .env(format!("GIT_CONFIG_KEY_{index}"), key)
                .env(format!("GIT_CONFIG_VALUE_{index}"), value);
        }
        command
    }

    /// Runs `git ARGS` in `dir` for at most `deadline` (then its whole process group is
    /// killed). An error only when git could not run at all or ran out of time.
    pub(crate) fn run<S: AsRef<OsStr>>(
        &self,
        dir: &Path,
        args: &[S],
        deadline: Duration,
    ) -> Result<Output> {
        let mut command = self.command(dir);
        command.args(args);
        let failed = |what: &str, err: std::io::Error| Error::io(what, &self.program, err);
        let mut out = tempfile::tempfile().map_err(|e| failed("make a temp file for git", e))?;
        let mut err = tempfile::tempfile().map_err(|e| failed("make a temp file for git", e))?;
        command
            .stdout(out.try_clone().map_err(|e| failed("run git", e))?)
            .stderr(err.try_clone().map_err(|e| failed("run git", e))?);
        program::own_group(&mut command);
        let mut child = command.spawn().map_err(|e| failed("run git", e))?;
        let group = GroupGuard(child.id());
        let started = Instant::now();
        let status = program::wait_until(&mut child, started + deadline);
        drop(group);
        let Ok(Some(status)) = status else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Failed(format!(
                "git {} in {} did not finish within {}",
                shown_args(args),
                dir.display(),
                clock::human(deadline)
            )));
        };
        let read = |file: &mut std::fs::File| -> Vec<u8> {
            let mut bytes = Vec::new();
            let _ = file.seek(SeekFrom::Start(0));
            let _ = file.read_to_end(&mut bytes);
            bytes
        };
        Ok(Output {
            success: status.success(),
            stdout: read(&mut out),
            stderr: String::from_utf8_lossy(&read(&mut err)).trim().to_string(),
        })
    }

    /// [`Git::run`] that must succeed: else the error says what `doing` was and what
    /// git said.
    pub(crate) fn ok<S: AsRef<OsStr>>(
        &self,
        dir: &Path,
        args: &[S],
        doing: &str,
    ) -> Result<Output> {
        let out = self.run(dir, args, QUERY_DEADLINE)?;
        if out.success {
            Ok(out)
        } else {
            Err(Error::Failed(format!(
                "could not {doing} in {}: git {} said: {}",
                dir.display(),
                shown_args(args),
                out.stderr
            )))
        }
    }
}

/// The arguments of a git run, for a message.
fn shown_args<S: AsRef<OsStr>>(args: &[S]) -> String {
    args.iter()
        .map(|arg| arg.as_ref().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The driver names in `git config -z --get-regexp ^filter\.` output: records
/// `filter.<name>.<var>\n<value>\0`, where `<name>` may hold dots.
fn filter_names(output: &[u8]) -> Vec<String> {
    let mut names: Vec<String> = output
        .split(|b| *b == 0)
        .filter_map(|record| {
            let key = record.split(|b| *b == b'\n').next()?;
            let key = std::str::from_utf8(key).ok()?;
            let rest = key.strip_prefix("filter.")?;
            let (name, _var) = rest.rsplit_once('.')?;
            Some(name.to_string())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_names_are_read_whole_with_dots_and_spaces() {
        let out = b"filter.lfs.clean\ngit-lfs clean -- %f\0filter.lfs.smudge\nx\0filter.a.b c.process\nevil\0";
        assert_eq!(
            filter_names(out),
            vec!["a.b c".to_string(), "lfs".to_string()]
        );
        assert!(filter_names(b"").is_empty());
    }
}
