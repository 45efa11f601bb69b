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
tag=serve
source scripts/default_model.sh
exec "$arkv" serve "${model_args[@]}" "$@"
