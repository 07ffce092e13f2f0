#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ (see fuzz/README.md) for N seconds each, default
# 300, from its committed corpus, and fails on the first crash, hang or leak: the input is
# left in fuzz/artifacts/<target>/ with the command that reproduces it.
#   scripts/fuzz.sh          # 5 minutes per target
#   scripts/fuzz.sh 20       # the smoke run scripts/test.sh does
#   scripts/fuzz.sh 3600 config   # one target, an hour
# New inputs the fuzzer finds go to a scratch folder (or FUZZ_FINDS/<target> to keep them),
# not the committed corpus: fold them in on purpose with `cargo fuzz cmin` (fuzz/README.md).
# Builds with stable Rust and no sanitizer (why: fuzz/README.md), cached in
# /var/tmp/kefu-fuzz-target (FUZZ_TARGET_DIR to change) so reruns only relink.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-300}"
shift || true
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-/var/tmp/kefu-fuzz-target}"
if ! command -v cargo-fuzz >/dev/null; then
  echo "cargo-fuzz is missing: run scripts/setup.sh (cargo install cargo-fuzz --locked)" >&2
  exit 1
fi
targets=("$@")
((${#targets[@]})) || mapfile -t targets < <(cargo fuzz list)
# Build first, so a compile error shows as one and each run's time is fuzzing only.
cargo fuzz build --sanitizer none

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=0
finds="${FUZZ_FINDS:-$scratch}"
for t in "${targets[@]}"; do
  mkdir -p "$finds/$t"
  log="$scratch/$t.log"
  # -timeout: one input taking 30 s is a hang (message_handling waits 15 s for a frame).
  if cargo fuzz run --sanitizer none "$t" "$finds/$t" "corpus/$t" -- \
    -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
    >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz $t: ${runs:-?} runs in ${took:-?} s ($(( ${runs:-0} / (${took:-1} > 0 ? ${took:-1} : 1) ))/s), ${cov:-cov: ?}, no crash"
  else
    failed=1
    echo "fuzz $t: FAILED — the fuzzer's report:" >&2
    grep -v '^#[0-9]' "$log" | tail -60 >&2
  fi
done
exit "$failed"
