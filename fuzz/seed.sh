#!/usr/bin/env bash
# Rebuilds the seed corpus (fuzz/corpus/<target>/) from the repository's own files: fixtures,
# presets, docs examples, and small run directories made by the examples. Run from anywhere;
# the corpus is committed, so this is only needed when the fixtures change.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
c=fuzz/corpus
sep=$'\n%%%%\n'
mkdir -p "$c"/{test_file,nemesis_file,nodes_file,campaign_file,history_jsonl,history_edn,history_any,report,serve_index}

seed() { # seed TARGET NAME < content: a file named after its content's hash, so reruns are stable
  local tmp; tmp=$(mktemp)
  cat >"$tmp"
  mv "$tmp" "$c/$1/$2-$(sha1sum <"$tmp" | cut -c1-12)"
}

for f in workloads/*.yaml tests/fixtures/config/{valid,invalid-two-node-sources,invalid-nemesis-field}.yaml tests/fixtures/vm/*.yaml; do
  seed test_file "$(basename "$f" .yaml)" <"$f"
done
for f in nemeses/*.yaml; do seed nemesis_file "$(basename "$f" .yaml)" <"$f"; done
for f in tests/fixtures/config/{nodes,invalid-nodes-unknown-host}.yaml; do seed nodes_file "$(basename "$f" .yaml)" <"$f"; done
for f in campaigns/*.yaml; do seed campaign_file "$(basename "$f" .yaml)" <"$f"; done
for f in tests/histories/*.edn; do
  seed history_edn "$(basename "$f" .edn)" <"$f"
  seed history_any "$(basename "$f" .edn)" <"$f"
done
for f in tests/histories/*.json tests/histories/*.jsonl; do
  [ -e "$f" ] && seed history_any "$(basename "$f")" <"$f"
done

# Histories and run directories from the examples (small, so each input runs fast).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cargo run -q --example gen_history -- 40 "$tmp/h.jsonl" >/dev/null
cargo run -q --example gen_history -- 30 "$tmp/h2.jsonl" 2 3 3 7 >/dev/null
for h in "$tmp"/h.jsonl "$tmp"/h2.jsonl; do
  seed history_jsonl gen <"$h"
  seed history_any gen <"$h"
  head -c -7 "$h" | seed history_jsonl cut   # a last line cut mid-write
done
cargo run -q --example report_run_dir -- 40 "$tmp/run" >/dev/null
seed history_jsonl run <"$tmp/run/history.jsonl"
{ cat "$tmp/run/results.json"; printf '%s' "$sep"; cat "$tmp/run/history.jsonl"; printf '%s' "$sep";
  cat "$tmp/run/test.yaml"; printf '%s' "$sep"; cat "$tmp/run/run.json"; } | seed report run
{ cat "$tmp/run/results.json"; printf '%s' "$sep"; head -n 3 "$tmp/run/history.jsonl"; } | seed report short
{ cat "$tmp/run/run.json"; printf '%s' "$sep"; cat "$tmp/run/results.json"; printf '%s' "$sep";
  printf '{"exit_code":1,"runs":[{}, {}]}'; } | seed serve_index run
seed serve_index incomplete <"$tmp/run/run.json"
echo "seeded $(find "$c" -type f | wc -l) files under $root/$c"
