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
scripts/setup.sh
scripts/build.sh release
arkv=build/release/apps/arkv/arkv
hf="Qwen/Qwen3-0.6B-GGUF:Qwen3-0.6B-Q8_0.gguf"
endpoint="${HF_ENDPOINT:-https://huggingface.co}"
if curl -fsS -o /dev/null --max-time 10 -I "$endpoint"; then
  echo "run: online: using $hf from $endpoint" >&2
  exec "$arkv" generate --hf "$hf" -p "$prompt" -n 64 "$@"
fi
shared_model=../shared/models/stories260K.gguf
if [ -f "$shared_model" ]; then
  echo "run: OFFLINE ($endpoint unreachable): generating with $shared_model, a tiny" >&2
  echo "run: model trained on children's stories. Online, this command uses $hf." >&2
  exec "$arkv" generate -m "$shared_model" -p "$prompt" -n 64 "$@"
fi
echo "run: OFFLINE ($endpoint unreachable) and no $shared_model: generating with a" >&2
echo "run: synthetic model of RANDOM WEIGHTS; its text is meaningless. Online, this command" >&2
echo "run: uses $hf." >&2
model=build/synthetic-tiny.gguf
[ -f "$model" ] || "$arkv" make-model --preset tiny --type q8_0 -o "$model"
exec "$arkv" generate -m "$model" -p "$prompt" -n 64 "$@"
