#!/usr/bin/env bash
# Fuzzes arkv's parsers of outside input with libFuzzer, each for a bounded time.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (default 60 seconds each, every target)
#
# Targets: gguf_reader_fuzz (GGUF files), api_request_fuzz (the server's JSON
# request bodies), chat_template_fuzz (chat templates and conversations).
# Configures the `fuzz` preset (clang, libFuzzer + ASan/UBSan) into build/fuzz,
# builds only the targets asked for, seeds each one's corpus and runs them one
# after the other. The GGUF corpus holds the shared models (if present) and
# small files made with GgufWriter; the others start from tests/fuzz/corpus/.
# Exits non-zero if a fuzzer finds a crash, a leak or a timeout; the
# reproducer is left in build/fuzz/<target>_artifacts/.
# Environment: ARKV_SHARED_DIR (default ../shared), JOBS (build jobs, default 2).
set -euo pipefail

all_targets=(gguf_reader_fuzz api_request_fuzz chat_template_fuzz)
seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || (( seconds < 1 )); then
  echo "usage: $0 [SECONDS] [TARGET...]  (targets: ${all_targets[*]})" >&2
  exit 2
fi
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  if [[ " ${all_targets[*]} " != *" $t "* ]]; then
    echo "fuzz.sh: unknown target '$t' (targets: ${all_targets[*]})" >&2
    exit 2
  fi
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build/fuzz"
shared="${ARKV_SHARED_DIR:-$root/../shared}"

cd "$root"
cmake --preset fuzz -DARKV_SHARED_DIR="$shared" >/dev/null
build_targets=("${targets[@]}")
[[ " ${targets[*]} " == *" gguf_reader_fuzz "* ]] && build_targets+=(gguf_fuzz_seeds)
cmake --build "$build" --target "${build_targets[@]}" -j "${JOBS:-2}"

# Seeds the corpus of target $1 in folder $2.
seed_corpus() {
  local target=$1 corpus=$2
  case "$target" in
    gguf_reader_fuzz)
      local models=()
      for m in "$shared"/models/*.gguf "$shared"/models/*/*.gguf; do
        [[ -f "$m" ]] && models+=("$m")
      done
      for m in "${models[@]}"; do
        cp -f "$m" "$corpus/real_$(basename "$m")"
      done
      "$build/tests/fuzz/gguf_fuzz_seeds" "$corpus" "${models[@]}"
      ;;
    *)
      local seeds="$root/tests/fuzz/corpus/${target%_fuzz}"
      [[ -d "$seeds" ]] && cp -f "$seeds"/* "$corpus/"
      ;;
  esac
}

for target in "${targets[@]}"; do
  corpus="$build/${target%_fuzz}_corpus"
  artifacts="$build/${target%_fuzz}_artifacts"
  mkdir -p "$corpus" "$artifacts"
  seed_corpus "$target" "$corpus"
  # gguf: -max_len keeps mutations on the header and metadata (the real models
  # are mostly tensor bytes and are cut to their first 64 KiB when loaded).
  max_len=65536
  [[ "$target" == gguf_reader_fuzz ]] || max_len=8192
  echo "fuzz.sh: $target: $(ls "$corpus" | wc -l) corpus files, ${seconds}s"
  "$build/tests/fuzz/$target" \
    -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus"
done
