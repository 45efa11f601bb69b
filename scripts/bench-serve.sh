#!/usr/bin/env bash
# Serving throughput and latency: `arkv serve` against llama.cpp's
# `llama-server` on the same GGUF, threads and parallel slots.
#
# For each number of concurrent streams S in LEVELS, starts `arkv serve
# --parallel S` and, when LLAMA_CPP_BIN names a llama.cpp build's bin
# directory, `llama-server --parallel S` (flash attention, f16 KV cache), one
# after the other, ROUNDS times (the order swapped every round), and drives
# each with S closed-loop clients (scripts/bench-serve.mjs) sending
# REQUESTS_PER_STREAM * S streamed greedy /v1/completions, every one with its
# own prompt. Measures aggregate completion tokens/s (all tokens / wall time)
# and the p50 and p99 time to first token; prints the medians over the rounds
# and the arkv / llama-server ratios per round. llama.cpp is never built
# here: see docs/PERFORMANCE.md.
#
# Usage: [LLAMA_CPP_BIN=/path/to/llama.cpp/build/bin] scripts/bench-serve.sh MODEL.gguf
# Environment (defaults in brackets):
#   THREADS              threads of each server                       [2]
#   LEVELS               concurrent streams                           ["1 4 16"]
#   ROUNDS               alternating rounds                           [3]
#   REQUESTS_PER_STREAM  requests per client at each level            [2]
#   MAX_TOKENS           tokens generated per request                 [64]
#   PROMPT_WORDS         words per prompt (text from ../shared/text)  [96]
#   SLOT_CTX             context per stream (arkv --ctx-size; llama-server -c SLOT_CTX*S) [1024]
#   ARKV_FLAGS           extra arkv serve flags                       ["--kv-policy full"]
#   LLAMA_FLAGS          extra llama-server flags                     [""]
#   ARKV                 arkv binary                      [build/release/apps/arkv/arkv]
#   OUT                  folder for logs and results.jsonl            [a new folder under /tmp]
# llama-server runs with OMP_WAIT_POLICY=passive unless set otherwise: on a
# shared machine its OpenMP threads otherwise spin at every barrier while
# their partner thread is descheduled (scripts/bench-peer.sh).
# The machine's load average is logged before every measurement (load.log):
# quote it with the numbers.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 1 ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 1
fi
model="$1"
threads="${THREADS:-2}"
levels="${LEVELS:-1 4 16}"
rounds="${ROUNDS:-3}"
per_stream="${REQUESTS_PER_STREAM:-2}"
max_tokens="${MAX_TOKENS:-64}"
words="${PROMPT_WORDS:-96}"
slot_ctx="${SLOT_CTX:-1024}"
arkv_flags="${ARKV_FLAGS---kv-policy full}"
llama_flags="${LLAMA_FLAGS:-}"
arkv="${ARKV:-build/release/apps/arkv/arkv}"
out="${OUT:-$(mktemp -d /tmp/bench-serve.XXXXXX)}"
mkdir -p "$out"
text=../shared/text/tinystories_val.txt
[ -f "$text" ] || text=""
[ -f "$model" ] || { echo "bench-serve: no model file $model" >&2; exit 1; }
[ -x "$arkv" ] || { echo "bench-serve: no arkv binary at $arkv (scripts/build.sh release)" >&2; exit 1; }
command -v node >/dev/null || { echo "bench-serve: needs node (scripts/setup.sh)" >&2; exit 1; }
llama_server=""
if [ -n "${LLAMA_CPP_BIN:-}" ]; then
  llama_server="$LLAMA_CPP_BIN/llama-server"
  [ -x "$llama_server" ] || { echo "bench-serve: no llama-server in $LLAMA_CPP_BIN" >&2; exit 1; }
fi
model_id="$(basename "$model" .gguf)"
results="$out/results.jsonl"
: >"$results"
server_pid=""
client_pid=""
cleanup() {
  for p in $client_pid $server_pid; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

# Waits until $1/health answers 200 (llama-server answers 503 while loading).
wait_healthy() {
  for _ in $(seq 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/health" || true)" = 200 ] && return 0
    kill -0 "$server_pid" 2>/dev/null || { echo "bench-serve: the server exited; see $out/*.log" >&2; exit 1; }
    sleep 0.2
  done
  echo "bench-serve: $1 not healthy after 120 s" >&2
  exit 1
}

start_arkv() {  # $1 streams; sets url
  local stdout="$out/arkv.stdout"
  : >"$stdout"
  # shellcheck disable=SC2086  # ARKV_FLAGS holds several flags
  "$arkv" serve -m "$model" --host 127.0.0.1 --port 0 -t "$threads" --parallel "$1" \
    --ctx-size "$slot_ctx" $arkv_flags >"$stdout" 2>>"$out/arkv.log" &
  server_pid=$!
  for _ in $(seq 600); do
    url="$(sed -n 's|^arkv serve: listening on \(http://.*\)$|\1|p' "$stdout")"
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || { echo "bench-serve: arkv serve exited; see $out/arkv.log" >&2; exit 1; }
    sleep 0.2
  done
  [ -n "$url" ] || { echo "bench-serve: arkv serve did not listen within 120 s" >&2; exit 1; }
  wait_healthy "$url"
}

start_llama() {  # $1 streams; sets url
  local port
  port="$(free_port)"
  # shellcheck disable=SC2086  # LLAMA_FLAGS holds several flags
  OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}" "$llama_server" -m "$model" --host 127.0.0.1 --port "$port" -t "$threads" -tb "$threads" \
    --parallel "$1" -c $(($1 * slot_ctx)) -fa on --alias "$model_id" $llama_flags \
    >>"$out/llama.log" 2>&1 &
  server_pid=$!
  url="http://127.0.0.1:$port"
  wait_healthy "$url"
}

stop_server() {
  kill "$server_pid"
  wait "$server_pid" || true
  server_pid=""
}

measure() {  # $1 server name, $2 streams
  local line
  echo "$(date -u +%FT%TZ) $1 streams=$2 load: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/load.log"
  # In the background, so that a signal to this script stops it at once.
  node scripts/bench-serve.mjs run "$url" "$model_id" "$2" $(($2 * per_stream)) "$max_tokens" \
    "$words" $text >"$out/last.json" &
  client_pid=$!
  wait "$client_pid"
  client_pid=""
  line="$(cat "$out/last.json")"
  echo "${line%\}},\"server\":\"$1\"}" >>"$results"
  echo "bench-serve: $1 x$2: $line"
}

one() {  # $1 server name, $2 streams
  "start_$1" "$2"
  measure "$([ "$1" = llama ] && echo llama-server || echo arkv)" "$2"
  stop_server
}

echo "bench-serve: $model, $threads threads, levels $levels, $rounds rounds; logs in $out"
for r in $(seq "$rounds"); do
  for s in $levels; do
    if [ -z "$llama_server" ]; then
      one arkv "$s"
    elif [ $((r % 2)) -eq 1 ]; then
      one arkv "$s"
      one llama "$s"
    else
      one llama "$s"
      one arkv "$s"
    fi
  done
done
node scripts/bench-serve.mjs summary "$results" | tee "$out/table.md"
echo "bench-serve: load averages during the runs:"
cat "$out/load.log"
