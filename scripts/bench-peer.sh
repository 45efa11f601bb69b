#!/usr/bin/env bash
# arkv against llama.cpp on the same GGUF files and thread counts.
#
# Runs `arkv bench` and, when LLAMA_CPP_BIN names a llama.cpp build's bin
# directory, `llama-bench` on each model, one run of each in turn, ROUNDS
# times, so that both see the same machine load. Prints per row the median
# (min-max) tokens/s of each and the ratio arkv / llama.cpp of the medians,
# with the range of the per-round ratios. llama.cpp is never built here: see
# docs/PERFORMANCE.md for how to build one.
#
# Usage: [LLAMA_CPP_BIN=/path/to/llama.cpp/build/bin] scripts/bench-peer.sh MODEL.gguf...
# Environment (defaults in brackets):
#   THREADS   thread counts                               ["1 2"]
#   ROUNDS    alternating rounds per row                  [5]
#   TESTS     rows: decode@D (decode after a D-token prompt), prefill@P (P-token prompt)
#             ["decode@16 prefill@512"]
#   DECODE_N  tokens per decode measurement               [32]
#   ARKV_EXTRA  extra arkv rows "label:flags", separated by ";", against the same llama.cpp
#             number, e.g. "budget2048:--policies arkv --kv-budget 2048"  [none]
#   ARKV      arkv binary                                 [build/release/apps/arkv/arkv]
#   OUT       folder for the raw JSON and the table       [a new folder under /tmp]
# On a machine shared with other work, llama.cpp's OpenMP threads spin at
# every barrier while the other thread is descheduled; OMP_WAIT_POLICY=passive
# (passed through to llama-bench) makes them sleep instead. Say which you used.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 1
fi
threads="${THREADS:-1 2}"
rounds="${ROUNDS:-5}"
tests="${TESTS:-decode@16 prefill@512}"
decode_n="${DECODE_N:-32}"
arkv="${ARKV:-build/release/apps/arkv/arkv}"
out="${OUT:-$(mktemp -d /tmp/bench-peer.XXXXXX)}"
mkdir -p "$out"
[ -x "$arkv" ] || { echo "bench-peer: no arkv binary at $arkv (scripts/build.sh release)" >&2; exit 1; }
llama_bench=""
if [ -n "${LLAMA_CPP_BIN:-}" ]; then
  llama_bench="$LLAMA_CPP_BIN/llama-bench"
  [ -x "$llama_bench" ] || { echo "bench-peer: no llama-bench in $LLAMA_CPP_BIN" >&2; exit 1; }
fi
for m in "$@"; do [ -f "$m" ] || { echo "bench-peer: no model file $m" >&2; exit 1; }; done
for t in $tests; do
  case "$t" in
    decode@[0-9]* | prefill@[0-9]*) ;;
    *) echo "bench-peer: bad test '$t' (decode@D or prefill@P)" >&2; exit 1 ;;
  esac
done

# One arkv measurement: prints tokens/s. $1 model, $2 threads, $3 test, $4 extra flags.
run_arkv() {
  local kind="${3%@*}" n="${3#*@}" json="$out/arkv.$$.json"
  # shellcheck disable=SC2086  # $4 holds several flags
  "$arkv" bench -m "$1" -t "$2" --ctx "$n" -n "$decode_n" -r 1 $4 \
    --json "$json" >/dev/null 2>>"$out/arkv.log"
  python3 - "$json" "$kind" <<'EOF'
import json, sys
point = json.load(open(sys.argv[1]))["points"][0]
key = "decode_tokens_per_s" if sys.argv[2] == "decode" else "prefill_tokens_per_s"
print(point[key]["median"])
EOF
}

# One llama-bench measurement (flash attention on, f16 KV cache): prints tokens/s.
run_llama() {
  local kind="${3%@*}" n="${3#*@}" args
  if [ "$kind" = decode ]; then args=(-p 0 -n "$decode_n" -d "$n"); else args=(-p "$n" -n 0); fi
  "$llama_bench" -m "$1" -t "$2" -fa 1 -r 1 "${args[@]}" -o json 2>>"$out/llama.log" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["avg_ts"])'
}

summary() {  # stdin: one number per line -> "median (min-max)"
  python3 -c '
import statistics, sys
v = [float(x) for x in sys.stdin.read().split()]
print(f"{statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})" if v else "-")'
}

table="$out/table.md"
{
  echo "| model | test | threads | arkv tok/s | llama.cpp tok/s | arkv / llama.cpp (per-round range) |"
  echo "|---|---|---:|---:|---:|---:|"
} >"$table"
echo "bench-peer: $(lscpu | sed -n 's/^Model name: *//p'), load average $(cut -d' ' -f1-3 /proc/loadavg)," \
  "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}, $rounds rounds, raw data in $out" >&2
for model in "$@"; do
  for t in $threads; do
    for test in $tests; do
      rows=("full:--policies full")
      if [ -n "${ARKV_EXTRA:-}" ]; then
        IFS=';' read -r -a extra <<<"$ARKV_EXTRA"
        rows+=("${extra[@]}")
      fi
      for row in "${rows[@]}"; do
        label="${row%%:*}" flags="${row#*:}"
        a_file="$out/a.$$" l_file="$out/l.$$" r_file="$out/r.$$"
        : >"$a_file"; : >"$l_file"; : >"$r_file"
        for ((i = 0; i < rounds; ++i)); do
          a=$(run_arkv "$model" "$t" "$test" "$flags")
          echo "$a" >>"$a_file"
          if [ -n "$llama_bench" ]; then
            l=$(run_llama "$model" "$t" "$test")
            echo "$l" >>"$l_file"
            python3 -c "print($a / $l)" >>"$r_file"
          fi
        done
        a_sum=$(summary <"$a_file")
        l_sum="-" ratio="-"
        if [ -n "$llama_bench" ]; then
          l_sum=$(summary <"$l_file")
          ratio=$(python3 - "$a_file" "$l_file" "$r_file" <<'EOF'
import statistics, sys
a, l, r = ([float(x) for x in open(p).read().split()] for p in sys.argv[1:])
print(f"{statistics.median(a) / statistics.median(l):.2f} ({min(r):.2f}-{max(r):.2f})")
EOF
)
        fi
        name="$test"
        [ "$label" = full ] || name="$test $label"
        line="| $(basename "$model") | $name | $t | $a_sum | $l_sum | $ratio |"
        echo "$line" >>"$table"
        echo "$line" >&2
      done
    done
  done
done
cat "$table"
