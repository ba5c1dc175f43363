#!/usr/bin/env bash
# Fuzzes every parser of untrusted bytes with libFuzzer, SECONDS per target (default 60):
#
#   scripts/fuzz.sh [SECONDS]
#
# Builds build-fuzz/ with clang, AddressSanitizer + UBSan, and coverage instrumentation on the
# code under test (-fsanitize=fuzzer-no-link everywhere, CMakeLists.txt), then runs each
# tests/fuzz/<target>_fuzz.cc from its committed seeds (tests/fuzz/corpus/<target>) with its
# dictionary (tests/fuzz/dict), growing a working corpus in build-fuzz/corpus/<target>. Prints
# executions and coverage per target; a crash stops the run and leaves the reproducer in
# build-fuzz/ (replay it with build/tests/fuzz_<target> FILE). scripts/test.sh runs a short pass
# when clang is installed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-60}"
build="$root/build-fuzz"
if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz: clang++ not found (scripts/setup.sh installs clang)" >&2
  exit 1
fi
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSIGHTLINE_FUZZ=ON -DSIGHTLINE_SANITIZE=ON -DSIGHTLINE_BUILD_BENCH=OFF >/dev/null
declare -A dict=([kserve_codec]=json [model_config]=json [v1_codec]=json [image_request]=multipart
  [image_decoder]=image [tokenizer]=tokenizer [onnx_graph]=onnx_graph
  [video_decoder]=video [video_request]=multipart [content_encoding]=gzip)
targets=(kserve_codec model_config image_decoder image_request tokenizer v1_codec onnx_graph video_decoder
  video_request content_encoding)
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"
# Process-lifetime allocations of the image libraries are suppressed by exact frame (lsan.supp).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  mkdir -p "$work"
  seeds=()
  [[ -d $root/tests/fuzz/corpus/$t ]] && seeds+=("$root/tests/fuzz/corpus/$t")
  log="$build/fuzz_$t.log"
  if ! (cd "$build" && "$build/tests/fuzz_$t" "$work" "${seeds[@]}" -dict="$root/tests/fuzz/dict/${dict[$t]}.dict" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 -max_len=65536 -print_final_stats=1) \
        >"$log" 2>&1; then
    tail -60 "$log"
    echo "fuzz_$t: FAILED (log: $log)" >&2
    exit 1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
  echo "fuzz_$t: $execs executions in ${seconds}s, $cov edges covered, corpus $(ls "$work" | wc -l) inputs"
done
