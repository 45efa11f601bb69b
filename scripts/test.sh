#!/usr/bin/env bash
# The whole test suite: set up, check the layering (scripts/check_includes.sh)
# and the formatting (scripts/check_format.sh), build (release), run every
# default test; then the same unit suite under ASan+UBSan. `--quick` skips the
# sanitizer pass; `--slow` also runs the tests labelled slow; `--tidy` also
# runs clang-tidy (.clang-tidy) over every source file (minutes on two cores).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
slow=0
tidy=0
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    --slow) slow=1 ;;
    --tidy) tidy=1 ;;
    *) echo "usage: scripts/test.sh [--quick] [--slow] [--tidy]" >&2; exit 2 ;;
  esac
done
scripts/setup.sh
[ -d ../shared ] || echo "test: ../shared is absent: golden and real-model tests will be skipped"
scripts/check_includes.sh
scripts/check_format.sh
scripts/build.sh release
if [ "$tidy" -eq 1 ]; then
  git ls-files 'src/*.cc' 'apps/*.cc' | xargs -P"$(nproc)" -n4 clang-tidy -p build/release --quiet \
    --warnings-as-errors='*'
fi
label_filter=(-LE slow)
[ "$slow" -eq 1 ] && label_filter=()
ctest --test-dir build/release --output-on-failure -j"$(nproc)" "${label_filter[@]}"
if [ "$quick" -eq 0 ]; then
  scripts/build.sh asan
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build/asan --output-on-failure -j"$(nproc)" -LE slow
fi
echo "test: all passed"
