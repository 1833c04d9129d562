#!/bin/sh
# expect.sh - run a program and check its exit status and output.
#   expect.sh <status> [-e ENV=VAL]... [-m REGEX]... [-n REGEX]... -- prog args...
# -m: output (stdout+stderr) must match the extended regex; -n: must not.
# On failure prints the program's output, so ctest --output-on-failure shows it.
set -u
want=$1; shift
envs=""; out=$(mktemp); pats=$(mktemp); trap 'rm -f "$out" "$pats"' EXIT
while [ $# -gt 0 ]; do
  case $1 in
    -e) export "$2"; envs="$envs '$2'"; shift 2 ;;
    -m) printf 'm %s\n' "$2" >>"$pats"; shift 2 ;;
    -n) printf 'n %s\n' "$2" >>"$pats"; shift 2 ;;
    --) shift; break ;;
    *) echo "expect.sh: bad argument $1"; exit 2 ;;
  esac
done
"$@" >"$out" 2>&1
got=$?
fail=0
if [ "$got" != "$want" ]; then echo "FAIL: exit status $got, want $want"; fail=1; fi
while IFS= read -r line; do
  kind=${line%% *}; re=${line#* }
  if [ "$kind" = m ] && ! grep -Eq -- "$re" "$out"; then echo "FAIL: output does not match: $re"; fail=1; fi
  if [ "$kind" = n ] && grep -Eq -- "$re" "$out"; then echo "FAIL: output matches (must not): $re"; fail=1; fi
done <"$pats"
if [ $fail -ne 0 ]; then echo "---- output of: $envs $*"; cat "$out"; echo "----"; exit 1; fi
exit 0
