#!/usr/bin/env bash
# Runs every test: unit tests (ctest) and black-box tests (pytest against the real binary on
# loopback) on a release build, then both again on an ASan/UBSan build.
# Set SIGHTLINE_SKIP_SANITIZE=1 to skip the sanitizer pass locally.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
py="$root/.venv/bin/python"

run_suite() {  # $1 = build dir, $2 = label
  local build="$1"
  echo "== [$2] unit tests"
  SIGHTLINE_IMAGE_FIXTURES="$root/build/fixtures/images" SIGHTLINE_TOKENIZER_FIXTURES="$root/build/fixtures/tokenizers" \
    SIGHTLINE_FIXTURES="$root/build/fixtures/models" SIGHTLINE_VIDEO_FIXTURES="$root/build/fixtures/videos" ctest --test-dir "$build" --output-on-failure -j2
  echo "== [$2] fuzz corpus replay"
  for t in "$build"/tests/fuzz_*; do
    name="$(basename "$t" | sed 's/^fuzz_//')"
    seeds=(); [[ -d tests/fuzz/corpus/$name ]] && seeds+=("tests/fuzz/corpus/$name")
    [[ $name == image_decoder ]] && seeds+=("$root/build/fixtures/images")  # generated, not committed
    "$t" "${seeds[@]}"
  done
  echo "== [$2] black-box tests"
  SIGHTLINE_BIN="$build/sightline" SIGHTLINE_FIXTURES="$root/build/fixtures/models" \
    SIGHTLINE_IMAGE_FIXTURES="$root/build/fixtures/images" SIGHTLINE_MODELS="$root/models" \
    SIGHTLINE_PHOTOS="$root/build/fixtures/photos" SIGHTLINE_TOKENIZER_FIXTURES="$root/build/fixtures/tokenizers" \
    SIGHTLINE_VIDEO_FIXTURES="$root/build/fixtures/videos" "$py" -m pytest -q --timeout 120 tests/integration
}

BUILD_DIR="$root/build" scripts/build.sh
scripts/gen_all_fixtures.sh
run_suite "$root/build" release

if [[ "${SIGHTLINE_SKIP_SANITIZE:-0}" != "1" ]]; then
  BUILD_DIR="$root/build-asan" BUILD_TYPE=Debug scripts/build.sh -DSIGHTLINE_SANITIZE=ON -DSIGHTLINE_BUILD_BENCH=OFF
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0"
  export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  SIGHTLINE_SANITIZED=1 run_suite "$root/build-asan" asan
fi
# A short real fuzzing pass per parser (coverage-guided, instrumented libraries) where clang is
# installed (scripts/setup.sh installs it); scripts/fuzz.sh SECONDS runs longer passes.
if command -v clang++ >/dev/null 2>&1 && [[ "${SIGHTLINE_SKIP_FUZZ:-0}" != "1" ]]; then
  echo "== fuzzing each parser for ${SIGHTLINE_FUZZ_SECONDS:-30} s"
  scripts/fuzz.sh "${SIGHTLINE_FUZZ_SECONDS:-30}"
fi
echo "== all test suites passed"
