#!/usr/bin/env bash
# Runs every fuzz target of ralph-hook for a fixed time (default 60 s each).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# With a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`) it runs libFuzzer
# on fuzz/fuzz_targets/*. Each crash or hang is copied to fuzz/regressions/<target>/,
# which `cargo test --test it hardening::` replays on stable forever after: commit the file
# together with the fix. Without nightly it says so and runs the stable fallback: the
# same checks (fuzz/src/checks.rs) over random inputs for the same time, in
# `cargo test --test it -- --ignored hardening::fuzz_fallback`.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(stop_decision signal_matcher installer_edits)
fi

fixtures=tests/fixtures/hosts
seed() {
  local target=$1 dir=fuzz/corpus/$1
  mkdir -p "$dir"
  [ -n "$(ls -A "$dir" 2>/dev/null)" ] && return 0
  case $target in
    stop_decision)
      local state='{"active":true,"prompt":"fix it","iteration":2,"max_iterations":3,"completion_signal":"<promise>DONE</promise>","continue_signal":"<ralph-continue>GO</ralph-continue>","created_at":"2026-03-21T10:00:00Z","state_version":2,"loop_id":"L","session_id":"S","no_progress":3,"verify":"true","max_duration_secs":3600}'
      for payload in "$fixtures"/codex-0.169.0/stop-*.json "$fixtures"/claude-2.1.328/stop-*.json; do
        [ -f "$payload" ] || continue
        { printf '%s\0' "$state"; cat "$payload"; } > "$dir/$(basename "$(dirname "$payload")")-$(basename "$payload")"
        if [ -f "$fixtures/legacy-v1-state.json" ]; then
          { cat "$fixtures/legacy-v1-state.json"; printf '\0'; cat "$payload"; } > "$dir/legacy-$(basename "$payload")"
        fi
      done
      { printf '%s\0' "$state"; printf '{"cwd":"/w","last_assistant_message":"ok\\n<promise> DONE </promise>"}'; } > "$dir/promise"
      ;;
    signal_matcher)
      printf '<promise>DONE</promise>\0All green.\n\n<promise>DONE</promise>' > "$dir/plain"
      printf '<promise>ALL  DONE</promise>\0```\n<promise>ALL DONE</promise>\n```\n`x` <promise> ALL\nDONE </promise>' > "$dir/fences"
      printf '<promise>DONE</promise>\0~~~~\n<promise>DONE</promise>\n~~~\n`` ` `` <ralph-continue>RALPH_AUTO_CONTINUE</ralph-continue>' > "$dir/tildes"
      ;;
    installer_edits)
      local inst=tests/fixtures/install n=0
      for hooks in "$inst"/hooks-json/*/in.json ""; do
        for toml in "$inst"/config-toml/*/in.toml; do
          n=$((n + 1))
          { [ -n "$hooks" ] && cat "$hooks"; printf '\0'; cat "$inst"/settings-json/*/in.json; printf '\0'; cat "$toml"; } > "$dir/seed-$n"
        done
      done
      ;;
  esac
}

if cargo +nightly --version >/dev/null 2>&1 && cargo fuzz --version >/dev/null 2>&1; then
  for target in "${targets[@]}"; do
    seed "$target"
    echo "== fuzzing $target for ${seconds}s"
    status=0
    (cd fuzz && cargo +nightly fuzz run -O "$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1) || status=$?
    if ls fuzz/artifacts/"$target"/* >/dev/null 2>&1; then
      mkdir -p fuzz/regressions/"$target"
      cp fuzz/artifacts/"$target"/* fuzz/regressions/"$target"/
      echo "!! $target found inputs that fail; copied to fuzz/regressions/$target/" >&2
      status=1
    fi
    [ "$status" -eq 0 ] || exit "$status"
  done
else
  echo "fuzz.sh: no nightly toolchain or cargo-fuzz here; running the stable fallback" \
       "(same checks over random inputs, ${seconds}s per target)" >&2
  RALPH_FUZZ_SECONDS="$seconds" RALPH_FUZZ_TARGETS="${targets[*]}" \
    cargo test --release --test it -- --ignored --nocapture hardening::fuzz_fallback
fi
