//! The `ralph-hook` executable: everything lives in the library; this only maps the
//! outcome to an exit code.

fn main() {
    std::process::exit(ralph_hook::run(std::env::args_os()));
}
