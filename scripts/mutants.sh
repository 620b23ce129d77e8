#!/usr/bin/env bash
# Mutation testing of the loop core with cargo-mutants: every decision, signal-matching,
# flag-parsing, trust and fingerprint function is mutated, and the fast tests must notice.
# Too slow for CI (2–3 hours for the whole core on 2 shared cores, 5–45 min a file): run
# it before landing a change to these files, and read the table it prints last (killed /
# viable per file).
#
# cargo-mutants is installed from crates.io into a private root (.tools/mutants, or
# $RALPH_MUTANTS_ROOT) the first time. Extra arguments go to cargo-mutants, e.g.
#   scripts/mutants.sh --file src/engine/decide.rs     # one file only
#   scripts/mutants.sh --list                           # list the mutants, test nothing
#   scripts/mutants.sh --file src/engine/signal.rs --iterate   # after adding tests: retest
#                                                      # only what was missed; the table
#                                                      # keeps the earlier runs' results
# The output goes to target/mutants (or $RALPH_MUTANTS_OUT); missed mutants are listed in
# its mutants.out/missed.txt, with a diff and log each. A mutant whose tests run longer
# than $RALPH_MUTANTS_TIMEOUT seconds (60) counts as killed: it hangs the hook.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
version=27.1.0
root=${RALPH_MUTANTS_ROOT:-$repo/.tools/mutants}
bin="$root/bin/cargo-mutants"
if ! [ -x "$bin" ] || ! "$bin" mutants --version 2>/dev/null | grep -q "$version"; then
  echo "mutants: installing cargo-mutants $version into $root" >&2
  cargo install --locked --quiet --root "$root" --version "$version" cargo-mutants
fi

# The loop core. Each file is named on purpose: a new core file is added here.
core=(
  src/engine/decide.rs
  src/engine/tasks.rs
  src/engine/prices.rs
  src/engine/signal.rs
  src/engine/settings.rs
  src/engine/digest.rs
  src/engine/fingerprint.rs
  src/engine/ownership.rs
  src/engine/workspace.rs
  src/hook/loop_command.rs
)
files=()
for file in "${core[@]}"; do
  [ -f "$file" ] && files+=(--file "$file")
done
if [ "$#" -gt 0 ] && printf '%s\n' "$@" | grep -q -- '^--file'; then
  files=()
fi

out=${RALPH_MUTANTS_OUT:-$repo/target/mutants}
mkdir -p "$out"
# --iterate skips what an earlier run caught, so that run's outcomes are kept aside and
# merged into the table; a run without it starts the table afresh.
earlier="$out/earlier-outcomes.json"
if printf '%s\n' "$@" | grep -qx -- '--iterate'; then
  python3 - "$out/mutants.out/outcomes.json" "$earlier" <<'PY'
import json, os, sys
current, earlier = sys.argv[1], sys.argv[2]
kept = json.load(open(earlier)) if os.path.exists(earlier) else {}
if os.path.exists(current):
    for outcome in json.load(open(current)).get("outcomes", []):
        mutant = (outcome.get("scenario") or {}).get("Mutant") if isinstance(outcome.get("scenario"), dict) else None
        if mutant:
            kept[mutant["name"]] = {"file": mutant["file"], "summary": outcome["summary"]}
json.dump(kept, open(earlier, "w"))
PY
else
  rm -f "$earlier"
fi
# A mutant can drop the test's own state folder (say, `user_state_dir` ignoring
# RALPH_HOOK_STATE_DIR) and then write wherever the real home says: the tests run with a
# throwaway home and XDG folders, and cargo and rustup keep their real ones.
export CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}
export RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
sandbox_home=$(mktemp -d "${TMPDIR:-/tmp}/ralph-mutants-home.XXXXXX")
trap 'rm -rf "$sandbox_home"' EXIT
export HOME=$sandbox_home
export XDG_STATE_HOME=$sandbox_home/.local/state XDG_CONFIG_HOME=$sandbox_home/.config \
  XDG_DATA_HOME=$sandbox_home/.local/share XDG_CACHE_HOME=$sandbox_home/.cache
unset CODEX_HOME CLAUDE_CONFIG_DIR RALPH_HOOK_STATE_DIR RALPH_HOOK_CONFIG
# The fast tests: the library's own and the integration binary without the real clients,
# the installer and the multi-second process and disk-fault tests. Each filter is a
# substring of real test names in tests/it (`cargo test --test it -- --list` shows them);
# a filter that matches nothing would silently run a slow test for every mutant.
status=0
"$bin" mutants --jobs 1 --timeout "${RALPH_MUTANTS_TIMEOUT:-60}" --output "$out" "${files[@]}" "$@" \
  -- --lib --test it -- \
  --skip e2e:: --skip install:: --skip hardening::install_then_uninstall \
  --skip hardening::sixty_four_hooks --skip hardening::a_hook_killed \
  --skip hardening::hooks_killed --skip hardening::a_full_disk \
  --skip hardening::a_read_only_state_folder --skip hardening::writes_beyond_the_file_size_limit \
  --skip hardening::fuzz_fallback || status=$?

outcomes="$out/mutants.out/outcomes.json"
if [ -f "$outcomes" ]; then
  python3 - "$outcomes" "$earlier" <<'PY'
import json, os, sys, collections
data = json.load(open(sys.argv[1]))
results = json.load(open(sys.argv[2])) if os.path.exists(sys.argv[2]) else {}
carried = len(results)
for outcome in data.get("outcomes", []):
    scenario = outcome.get("scenario")
    if not isinstance(scenario, dict) or "Mutant" not in scenario:
        continue
    mutant = scenario["Mutant"]
    if mutant["name"] in results:
        carried -= 1
    results[mutant["name"]] = {"file": mutant["file"], "summary": outcome["summary"]}
per = collections.defaultdict(collections.Counter)
for result in results.values():
    per[result["file"]][result["summary"]] += 1
if carried:
    print(f"({carried} results carried over from earlier runs of this --iterate series)")
print(f"{'file':<28} {'caught':>6} {'missed':>6} {'timeout':>7} {'unviable':>8} {'score':>6}")
total = collections.Counter()
for file in sorted(per):
    c = per[file]
    total.update(c)
    killed = c["CaughtMutant"] + c["Timeout"]
    viable = killed + c["MissedMutant"]
    score = f"{100 * killed / viable:.0f}%" if viable else "-"
    print(f"{file:<28} {c['CaughtMutant']:>6} {c['MissedMutant']:>6} {c['Timeout']:>7} {c['Unviable']:>8} {score:>6}")
killed = total["CaughtMutant"] + total["Timeout"]
viable = killed + total["MissedMutant"]
if viable:
    print(f"{'all':<28} {total['CaughtMutant']:>6} {total['MissedMutant']:>6} {total['Timeout']:>7} {total['Unviable']:>8} {100 * killed / viable:>5.0f}%")
print(f"missed mutants: {sys.argv[1].rsplit('/', 1)[0]}/missed.txt")
PY
fi
# cargo-mutants exits 2 when mutants were missed, 3 on timeouts: this script reports and
# passes that code on, so a caller can tell.
exit "$status"
