#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer on the stable toolchain and runs each for COUNT inputs.
#
#   fuzz/run.sh COUNT [TARGET...]      (no TARGET: all of them)
#
# Per target it prints the inputs run, crashes (panics), timeouts, out-of-memory cases and the
# peak RSS, and exits 1 if any target failed (crash inputs land in fuzz/artifacts/TARGET/).
# Each input is bounded: FUZZ_TIMEOUT seconds (default 10), FUZZ_RSS_MB of memory (default
# 1024; one allocation past it counts as out-of-memory too), FUZZ_MAX_LEN bytes (default 65536).
# New interesting inputs go to fuzz/corpus-run/TARGET/ (not committed); the seeds in
# fuzz/corpus/TARGET/ are only read. Needs only cargo and a C++ compiler (libfuzzer-sys builds
# libFuzzer from source), not the brawl binary and not nightly: see docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")"

if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
  echo "usage: fuzz/run.sh COUNT [TARGET...]" >&2
  exit 254
fi
count=$1
shift
all=(test_file nemesis_file nodes_file campaign_file history_jsonl history_edn history_any txn_scan report serve_index)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [ -f "fuzz_targets/$t.rs" ] || { echo "error: no fuzz target $t (have: ${all[*]})" >&2; exit 254; }
done

# What cargo-fuzz passes, minus -Zsanitizer (nightly only): SanitizerCoverage is an LLVM pass
# that stable rustc runs with -Cpasses. An explicit --target keeps the flags off build scripts
# and proc macros, which are not linked with libFuzzer.
triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="${RUSTFLAGS:-} -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
cargo build --release --locked --target "$triple" "${bins[@]}"

timeout_s=${FUZZ_TIMEOUT:-10}
rss_mb=${FUZZ_RSS_MB:-1024}
max_len=${FUZZ_MAX_LEN:-65536}
mkdir -p logs
failed=0
printf '%-14s %12s %8s %9s %5s %9s %8s\n' target inputs crashes timeouts ooms peak-rss seconds
for t in "${targets[@]}"; do
  mkdir -p "corpus-run/$t" "artifacts/$t" "corpus/$t"
  log="logs/$t.log"
  case $t in
    *_file) dict=yaml.dict ;; # YAML keys and values
    *) dict=history.dict ;;   # EDN and JSON tokens
  esac
  start=$(date +%s)
  set +e
  "target/$triple/release/$t" "corpus-run/$t" "corpus/$t" -runs="$count" -timeout="$timeout_s" \
    -rss_limit_mb="$rss_mb" -malloc_limit_mb="$rss_mb" -max_len="$max_len" -dict="$dict" -print_final_stats=1 \
    -artifact_prefix="artifacts/$t/" >"$log" 2>&1
  rc=$?
  set -e
  secs=$(($(date +%s) - start))
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
  inputs=$(stat number_of_executed_units)
  rss=$(stat peak_rss_mb)
  crashes=$(grep -cE 'ERROR: libFuzzer: (deadly signal|fuzz target exited)' "$log" || true)
  timeouts=$(grep -c 'ERROR: libFuzzer: timeout' "$log" || true)
  ooms=$(grep -cE 'ERROR: libFuzzer: (out-of-memory|malloc)' "$log" || true)
  printf '%-14s %12s %8s %9s %5s %9s %8s\n' "$t" "${inputs:-?}" "$crashes" "$timeouts" "$ooms" "${rss:-?}MB" "$secs"
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ] || [ "$timeouts" -ne 0 ] || [ "$ooms" -ne 0 ]; then
    failed=1
    echo "  $t failed (exit $rc): see fuzz/$log; inputs in fuzz/artifacts/$t/:" >&2
    ls "artifacts/$t" >&2 || true
    grep -m 5 -E 'panicked at|ERROR: libFuzzer' "$log" >&2 || true
  fi
done
exit "$failed"
