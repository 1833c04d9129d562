#!/bin/sh
# netpoll_backend.sh - GORTDEBUG=inittrace=1 must name the poller in use:
# io_uring where io_uring_setup works on this machine (e2e_netpoll
# probe_uring), else epoll.
#   netpoll_backend.sh path/to/e2e_netpoll
set -u
prog=$1
if "$prog" probe_uring; then want=io_uring; else want=epoll; fi
out=$(GORTDEBUG=inittrace=1 "$prog" thread_wakes 2>&1)
status=$?
echo "$out"
echo "(status $status, want 0 and a line naming netpoll and $want)"
[ "$status" -eq 0 ] || exit 1
echo "$out" | grep -Eq "netpoll.*$want|$want.*netpoll"
