#!/usr/bin/env bash
# Fails when a module includes a module above it. The order is CMakeLists.txt's
# ARKV_MODULES (a module may use only those listed before it); besides, the KV
# library (src/kv) uses src/core only, and the public headers (include/arkv)
# only each other, so that another engine can embed the library alone.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a modules <<<"$(sed -n 's/^set(ARKV_MODULES \(.*\))$/\1/p' CMakeLists.txt)"
[ "${#modules[@]}" -gt 0 ] || { echo "check_includes: no ARKV_MODULES in CMakeLists.txt" >&2; exit 1; }
declare -A rank
for i in "${!modules[@]}"; do rank[${modules[$i]}]=$i; done
status=0
# allowed FILE_MODULE INCLUDED_MODULE: whether src/FILE_MODULE may include it.
allowed() {
  local from=$1 to=$2
  [ -z "${rank[$to]+x}" ] && return 0  # not a module (a system or third-party path)
  if [ "$from" = kv ]; then [ "$to" = core ] || [ "$to" = kv ]; return; fi
  [ "${rank[$to]}" -le "${rank[$from]}" ]
}
while IFS= read -r line; do
  file=${line%%:*}
  included=$(sed -n 's/.*#include "\([^"]*\)".*/\1/p' <<<"${line#*:}")
  top=${included%%/*}
  [ "$top" = "$included" ] && continue  # same-folder include
  case "$file" in
    include/arkv/*)
      if [ "$top" != arkv ]; then
        echo "check_includes: $file includes \"$included\": public headers include only arkv/" >&2
        status=1
      fi ;;
    src/*)
      from=${file#src/}
      from=${from%%/*}
      if ! allowed "$from" "$top"; then
        echo "check_includes: $file includes \"$included\": $from may not use $top" >&2
        status=1
      fi ;;
  esac
done < <(grep -rHE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' src include --include='*.h' --include='*.cc')
[ "$status" -eq 0 ] && echo "check_includes: every module includes only modules below it"
exit "$status"
