#!/usr/bin/env bash
# The bounded load test of `arkv serve` (tests/e2e/load/load.mjs; ctest
# e2e_load, label slow): 64 concurrent streaming clients, 500 requests with
# random disconnects, on 127.0.0.1 with ../shared/models/stories260K.gguf.
# Stops by itself (15 minutes at most).
# Usage: [LOAD_SEED=N] [LOAD_CLIENTS=64] [LOAD_TOTAL=500] scripts/load-serve.sh [ARKV_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
exec tests/e2e/run.sh "${1:-build/release/apps/arkv/arkv}" ../shared load
