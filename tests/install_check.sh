#!/bin/sh
# install_check.sh <build-dir> <source-dir> <work-dir>
# The contract checked from outside: after `cmake --install`, programs build
# with `cc prog.c $(pkg-config --cflags --libs gort)` and with
# find_package(gort), and run.
set -eu
build=$1; src=$2; work=$3
rm -rf "$work"; mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(ls -d "$prefix"/lib*/pkgconfig | head -n1); libdir=${libdir%/pkgconfig}
export PKG_CONFIG_PATH=$libdir/pkgconfig
# the usage requirement users' code gets (docs/stacks.md)
pkg-config --cflags gort | grep -q -- "-fstack-clash-protection" || { echo "gort.pc lacks -fstack-clash-protection"; exit 1; }
# runtime plumbing stays out of the public headers
if grep -rq "gort__rt0_go" "$prefix/include"; then echo "gort__rt0_go is in the installed headers"; exit 1; fi
export LD_LIBRARY_PATH=$libdir
cc=${CC:-cc}
$cc "$src/tests/install/prog_main.c" -o "$work/prog_main" $(pkg-config --cflags --libs gort)
$cc "$src/tests/install/prog_run.c" -o "$work/prog_run" $(pkg-config --cflags --libs gort)
set +e
"$work/prog_main" a b; st=$?
set -e
[ "$st" -eq 3 ] || { echo "prog_main exited $st, want 3"; exit 1; }
"$work/prog_run"
# libgort.a works too (its dependencies linked dynamically)
$cc "$src/tests/install/prog_main.c" -o "$work/prog_main_static" \
    $(pkg-config --cflags gort) -L"$libdir" -Wl,-Bstatic -lgort_main -lgort -Wl,-Bdynamic \
    $(pkg-config --libs hwloc liburing) -lpthread -lgcc_s
set +e
"$work/prog_main_static"; st=$?
set -e
[ "$st" -eq 3 ] || { echo "static prog_main exited $st, want 3"; exit 1; }
# find_package(gort)
cmake -S "$src/tests/install" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/consumer" >/dev/null
set +e
"$work/consumer/consumer_main"; st=$?
set -e
[ "$st" -eq 3 ] || { echo "consumer_main exited $st, want 3"; exit 1; }
"$work/consumer/consumer_run"
grep -rqs -- "-fstack-clash-protection" "$work/consumer/CMakeFiles" || { echo "find_package(gort) consumer lacks -fstack-clash-protection"; exit 1; }
echo "install contract ok"
