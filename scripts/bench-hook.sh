#!/usr/bin/env bash
# Whole-process benchmark of the Stop hook as Codex and Claude Code run it: the release
# binary, a new process per stop, the payload on stdin. Prints a Markdown table (median,
# 95th percentile, minimum, peak RSS) for each scenario of issue 6, then the stripped
# binary's size. Reports only; asserts no time.
#
#   scripts/bench-hook.sh            # 300 timed runs per scenario after 20 warm-up runs
#   BENCH_RUNS=1000 scripts/bench-hook.sh
#   scripts/bench-hook.sh "1 MB"     # only scenarios whose name contains this
#
# Needs: cargo, git (for the git-workspace scenario), GNU time at /usr/bin/time for
# peak memory (the column says n/a without it). Everything happens in a temp dir;
# RALPH_HOOK_STATE_DIR and HOME point there, never at the real home.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
bin=target/release/ralph-hook
echo "machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)"
RALPH_HOOK_BIN="$PWD/$bin" cargo bench --quiet --bench hook_process -- "${1:-}"
echo
echo "release binary: $(stat -c %s "$bin") bytes ($(file -b "$bin" | grep -o 'stripped\|not stripped'))"
