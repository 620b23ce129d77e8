#!/usr/bin/env bash
# The Debian packages the tests and benches use beyond Rust: tmux (the real-terminal test
# of `ralph-hook top`, tests/it/top.rs) and hyperfine (the `statusline` timing row, see
# README "Development"). Installs only what is missing; as root on a fresh Debian machine,
# else through sudo when there is one.
set -euo pipefail

missing=()
for tool in tmux hyperfine; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "ci-packages: ${missing[*]} missing and not root (no sudo): install them with apt-get" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
