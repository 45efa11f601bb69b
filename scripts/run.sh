#!/usr/bin/env bash
# The main job: set up, build, and generate text. Online it downloads a small
# public GGUF (Qwen3-0.6B, Q8_0, about 640 MB, from the Qwen team's official
# repository: a real instruction-tuned model of a supported architecture that
# runs at interactive speed on two cores). Offline it says so and generates
# with the small real model in ../shared/models/ when it is there
# (stories260K, a TinyStories model), else with a synthetic model of random
# weights.
# Usage: scripts/run.sh ["prompt"] [extra arkv generate flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
prompt="${1:-Once upon a time}"
shift || true
tag=run
source scripts/default_model.sh
exec "$arkv" generate "${model_args[@]}" -p "$prompt" -n 64 "$@"
