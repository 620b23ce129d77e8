//! `ralph-hook completions SHELL` and `ralph-hook man`: shell completion scripts and man
//! pages, generated from the same clap definition as the command line itself, so they
//! never fall behind a flag.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::engine::files;
use crate::error::{Error, Result};
use crate::messages;

/// `ralph-hook completions SHELL`: the completion script on stdout.
pub(crate) fn completions(args: &CompletionsArgs) -> Result<i32> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "ralph-hook", &mut out);
    write_stdout(&out)?;
    Ok(0)
}

/// `ralph-hook man`: the main page on stdout, or with `--dir` one page per command
/// (`ralph-hook.1`, `ralph-hook-start.1` …) written into that folder.
pub(crate) fn man(args: &ManArgs) -> Result<i32> {
    let command = Cli::command();
    match &args.dir {
        Some(dir) => write_pages(command, dir),
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut out)
                .map_err(|err| Error::io("render the man page", "stdout", err))?;
            write_stdout(&out)?;
            Ok(0)
        }
    }
}

/// Writes one page per command into `dir`. Each page is a temp file renamed into place
/// ([`crate::engine::files::Dir::write_atomic`]): a link or FIFO planted at a page's
/// name is replaced, never written through or waited on.
fn write_pages(command: clap::Command, dir: &Path) -> Result<i32> {
    std::fs::create_dir_all(dir).map_err(|err| Error::io("create the man folder", dir, err))?;
    let real =
        std::fs::canonicalize(dir).map_err(|err| Error::io("open the man folder", dir, err))?;
    let folder = files::Dir::open(&real)
        .map_err(|err| Error::io("open the man folder", dir, std::io::Error::from(err)))?;
    let mut command = command.disable_help_subcommand(true);
    command.build();
    let mut pages = Vec::new();
    render_pages(command, &mut pages).map_err(|err| Error::io("render the man pages", dir, err))?;
    for (name, page) in pages {
        folder
            .write_atomic(&name, &page, 0o644, None)
            .map_err(|err| Error::io("write the man page", dir.join(&name), err))?;
    }
    messages::say(format!(
        "wrote the ralph-hook man pages to {}",
        dir.display()
    ));
    Ok(0)
}

/// Every visible command's page (file name and text), subcommands first, as
/// `clap_mangen::generate_to` names them.
fn render_pages(command: clap::Command, pages: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
    for sub in command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .cloned()
    {
        render_pages(sub, pages)?;
    }
    let man = clap_mangen::Man::new(command);
    let mut page = Vec::new();
    man.render(&mut page)?;
    pages.push((man.get_filename(), page));
    Ok(())
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        // A reader that went away (`ralph-hook man | head`) is not a failure.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|err| Error::io("write the output", "stdout", err)),
    }
}
