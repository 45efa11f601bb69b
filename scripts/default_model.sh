# Sourced by scripts/run.sh and scripts/serve.sh: sets up, builds, and picks
# the default model. Online: Qwen3-0.6B (Q8_0, about 640 MB, from the Qwen
# team's official repository, downloaded once into the cache). Offline: the
# tiny real model ../shared/models/stories260K.gguf (TinyStories) when it is
# there, else a synthetic model of random weights (meaningless text); either
# way it says so on stderr.
# Sets: arkv (the binary), model_args (the model flags for arkv).
# Needs: tag (the prefix of its messages), run from the repository root.
scripts/setup.sh
scripts/build.sh release
arkv=build/release/apps/arkv/arkv
hf="Qwen/Qwen3-0.6B-GGUF:Qwen3-0.6B-Q8_0.gguf"
endpoint="${HF_ENDPOINT:-https://huggingface.co}"
shared_model=../shared/models/stories260K.gguf
if curl -fsS -o /dev/null --max-time 10 -I "$endpoint"; then
  echo "$tag: online: using $hf from $endpoint" >&2
  model_args=(--hf "$hf")
elif [ -f "$shared_model" ]; then
  echo "$tag: OFFLINE ($endpoint unreachable): using $shared_model, a tiny model" >&2
  echo "$tag: trained on children's stories (it continues text, it does not chat)." >&2
  echo "$tag: Online, this command uses $hf." >&2
  model_args=(-m "$shared_model")
else
  echo "$tag: OFFLINE ($endpoint unreachable) and no $shared_model: using a synthetic" >&2
  echo "$tag: model of RANDOM WEIGHTS; its text is meaningless. Online, this command uses $hf." >&2
  model=build/synthetic-tiny.gguf
  [ -f "$model" ] || "$arkv" make-model --preset tiny --type q8_0 -o "$model"
  model_args=(-m "$model")
fi
