#!/usr/bin/env bash
# The sibling of scripts/run.sh for serving: set up, build, and start
# `arkv serve` (an OpenAI-compatible HTTP API) on the default model. Online it
# serves Qwen3-0.6B (Q8_0, about 640 MB, from the Qwen team's official
# repository, downloaded once into the cache). Offline it says so and serves
# the tiny real model ../shared/models/stories260K.gguf (TinyStories; it
# continues children's stories, it does not chat) when it is there, else a
# synthetic model of random weights (meaningless text).
# Usage: scripts/serve.sh [extra arkv serve flags...]   (e.g. --port 8080 --api-key KEY)
# Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
arkv=build/release/apps/arkv/arkv
hf="Qwen/Qwen3-0.6B-GGUF:Qwen3-0.6B-Q8_0.gguf"
endpoint="${HF_ENDPOINT:-https://huggingface.co}"
if curl -fsS -o /dev/null --max-time 10 -I "$endpoint"; then
  echo "serve: online: serving $hf from $endpoint" >&2
  exec "$arkv" serve --hf "$hf" "$@"
fi
shared_model=../shared/models/stories260K.gguf
if [ -f "$shared_model" ]; then
  echo "serve: OFFLINE ($endpoint unreachable): serving $shared_model, a tiny model" >&2
  echo "serve: trained on children's stories (it continues text; chat answers are stories)." >&2
  echo "serve: Online, this command serves $hf." >&2
  exec "$arkv" serve -m "$shared_model" "$@"
fi
echo "serve: OFFLINE ($endpoint unreachable) and no $shared_model: serving a synthetic" >&2
echo "serve: model of RANDOM WEIGHTS; its text is meaningless. Online, this command serves $hf." >&2
model=build/synthetic-tiny.gguf
[ -f "$model" ] || "$arkv" make-model --preset tiny --type q8_0 -o "$model"
exec "$arkv" serve -m "$model" "$@"
