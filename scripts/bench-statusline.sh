#!/usr/bin/env bash
# `ralph-hook statusline` against `cat` (a process that only reads its stdin) with
# hyperfine, both fed Claude Code's statusLine JSON for a workspace with a loop; the
# target is under 1.5x cat. Needs hyperfine (install/ci-packages.sh) and builds release.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
cargo build --release --quiet
bin=${RALPH_HOOK_BIN:-$repo/target/release/ralph-hook}
# Not under /tmp: ralph-hook refuses a state folder there.
tmp=$(mktemp -d "${BENCH_DIR:-/var/tmp}/ralph-statusline.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/ws/.git/objects" "$tmp/state"
chmod 700 "$tmp" "$tmp/state"
echo 'ref: refs/heads/main' > "$tmp/ws/.git/HEAD"
export RALPH_HOOK_STATE_DIR=$tmp/state HOME=$tmp
"$bin" start --workspace "$tmp/ws" --session S --prompt bench --max-iterations 20 >/dev/null
printf '{"session_id":"S","cwd":"%s","workspace":{"current_dir":"%s"}}' "$tmp/ws" "$tmp/ws" > "$tmp/in.json"
"$bin" statusline < "$tmp/in.json"
cd "$tmp/ws"
runs=${BENCH_RUNS:-500}
# Without a shell (hyperfine gives both /dev/null on stdin): the loop found from the
# current folder, the way a shell prompt runs it.
hyperfine -N --warmup 50 --runs "$runs" "cat" "$bin statusline" "$@"
# Claude Code's way: its JSON on stdin (hyperfine 1.15 has no --input, so through sh,
# which both rows pay alike).
hyperfine --shell=sh --warmup 50 --runs "$runs" \
  "cat < $tmp/in.json" "$bin statusline < $tmp/in.json" "$@"
