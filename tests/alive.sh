#!/bin/sh
# alive.sh - run a program that must not end by itself: after SECONDS it
# must still be running; then it is killed.
#   alive.sh SECONDS prog args...
# Prints "alive after SECONDS s" if it was (and its output); exit 0 always,
# so that the caller (expect.sh) judges the output.
set -u
secs=$1; shift
"$@" &
pid=$!
sleep "$secs"
if kill -0 "$pid" 2>/dev/null; then
  echo "alive after $secs s"
  kill -KILL "$pid"
fi
wait "$pid"
echo "ended with status $?"
exit 0
