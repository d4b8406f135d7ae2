#!/usr/bin/env bash
# Coverage-guided fuzzing of the frame decoders and the socket reader with
# AFL++ through cargo-afl, on the stable toolchain.
#   scripts/fuzz.sh                 # every target, 5 minutes each
#   MINUTES=60 scripts/fuzz.sh socket_reader
# Needs cargo-afl (`cargo install cargo-afl`; it builds AFL++ on first use).
# Seeds: fuzz/corpus/<target>/ (in the repository); findings: fuzz/out/<target>/.
# Exits 1 when a target found a crash or a hang (reproduce with
#   fuzz/target/release/<target> < fuzz/out/<target>/default/crashes/<file>).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

MINUTES=${MINUTES:-5}
TARGETS=("$@")
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=(client_frame server_frame socket_reader)
command -v cargo-afl >/dev/null || { echo "needs cargo-afl: cargo install cargo-afl" >&2; exit 2; }

CARGO_INCREMENTAL=0 cargo afl build --release -q
export AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
found=0
for target in "${TARGETS[@]}"; do
  echo "== $target for $MINUTES min"
  mkdir -p "out/$target"
  cargo afl fuzz -i "corpus/$target" -o "out/$target" -V "$((MINUTES * 60))" \
    "target/release/$target" > "out/$target/log.txt" 2>&1 || true
  stats="out/$target/default/fuzzer_stats"
  if [ -f "$stats" ]; then
    grep -E "^(execs_done|execs_per_sec|corpus_count|edges_found|total_edges|saved_crashes|saved_hangs) " "$stats" | sed 's/^/  /'
  else
    tail -20 "out/$target/log.txt"; found=1; continue
  fi
  crashes=$(find "out/$target/default/crashes" "out/$target/default/hangs" -type f ! -name README.txt 2>/dev/null | wc -l)
  if [ "$crashes" -gt 0 ]; then
    echo "  $crashes finding(s) in out/$target/default/{crashes,hangs}"; found=1
  fi
done
exit "$found"
