//! `ralph-hook logs`: the raw output of the client `run` launched for a workspace's loop,
//! printed, or followed (`-f`) until the loop ends and its supervisor returns.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::thread;
use std::time::Duration;

use crate::cli::LogsArgs;
use crate::clock;
use crate::engine::supervision::{CLIENT_LOG, Supervision, Timings};
use crate::error::{Error, Result};

/// How often a followed log is looked at.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

/// `ralph-hook logs`.
pub(crate) fn logs(args: &LogsArgs) -> Result<i32> {
    let found = super::target(&args.target)?;
    let path = found.store.loop_dir().join(CLIENT_LOG);
    let mut file = match File::open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Failed(format!(
                "no client log in {}: only loops started with `ralph-hook run` have one",
                found.store.workspace().display()
            )));
        }
        Err(err) => return Err(Error::io("read the client's log", &path, err)),
    };
    let mut out = std::io::stdout().lock();
    let mut offset = copy_from(&mut file, 0, &mut out)?;
    if !args.follow {
        return Ok(0);
    }
    let timings = Timings::from_env();
    loop {
        thread::sleep(FOLLOW_POLL);
        // A rotated log is a new file at the same path: start it from its beginning.
        if let Ok(now) = File::open(&path)
            && now.metadata().map(|m| m.len()).unwrap_or(0) < offset
        {
            file = now;
            offset = 0;
        }
        offset = copy_from(&mut file, offset, &mut out)?;
        let running = Supervision::read(found.store.loop_dir())
            .is_some_and(|sup| sup.alive(clock::now(), &timings));
        if !running {
            copy_from(&mut file, offset, &mut out)?;
            return Ok(0);
        }
    }
}

/// Copies what `file` holds from `offset` on; returns the new offset.
fn copy_from(file: &mut File, offset: u64, out: &mut impl Write) -> Result<u64> {
    let fail = |err| Error::io("read the client's log", "client.log", err);
    file.seek(SeekFrom::Start(offset)).map_err(fail)?;
    let mut buf = Vec::new();
    file.read_to_end(&mut buf).map_err(fail)?;
    match out.write_all(&buf).and_then(|()| out.flush()) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.map_err(|err| Error::io("write the output", "stdout", err))?,
    }
    Ok(offset + buf.len() as u64)
}
