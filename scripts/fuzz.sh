#!/usr/bin/env bash
# Fuzzes the GGUF reader with libFuzzer for a bounded time.
#
#   scripts/fuzz.sh [SECONDS]     (default 60)
#
# Configures the `fuzz` preset (clang, libFuzzer + ASan/UBSan) into build/fuzz,
# builds only the fuzz target and its seed generator, seeds a corpus with the
# shared models (if present) and small files made with GgufWriter, then runs.
# Exits non-zero if the fuzzer finds a crash, a leak or a timeout; the
# reproducer is left in build/fuzz/gguf_artifacts/.
# Environment: ARKV_SHARED_DIR (default ../shared), JOBS (build jobs, default 2).
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || (( seconds < 1 )); then
  echo "usage: $0 [SECONDS]" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build/fuzz"
shared="${ARKV_SHARED_DIR:-$root/../shared}"

cd "$root"
cmake --preset fuzz -DARKV_SHARED_DIR="$shared" >/dev/null
cmake --build "$build" --target gguf_reader_fuzz gguf_fuzz_seeds -j "${JOBS:-2}"

corpus="$build/gguf_corpus"
artifacts="$build/gguf_artifacts"
mkdir -p "$corpus" "$artifacts"

models=()
for m in "$shared"/models/*.gguf "$shared"/models/*/*.gguf; do
  [[ -f "$m" ]] && models+=("$m")
done
for m in "${models[@]}"; do
  cp -f "$m" "$corpus/real_$(basename "$m")"
done
"$build/tests/fuzz/gguf_fuzz_seeds" "$corpus" "${models[@]}"
echo "fuzz.sh: $(ls "$corpus" | wc -l) corpus files, ${#models[@]} shared models, ${seconds}s"

# -max_len keeps mutations on the header and metadata: the real models are
# mostly tensor bytes and are cut to their first 64 KiB when loaded.
"$build/tests/fuzz/gguf_reader_fuzz" \
  -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus"
