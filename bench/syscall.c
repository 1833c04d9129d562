/* syscall.c - the cost of bracketing a cheap system call (getppid) with
 * gort_entersyscall / gort_exitsyscall, ns per call, next to the bare call
 * (syscall(2), so that libc cannot cache it). Peer: bench/go/syscall
 * (syscall.Getppid, which does entersyscall/exitsyscall, and RawSyscall). */
#include <gort.h>
#include "bench_util.h"

#include <sys/syscall.h>
#include <unistd.h>

int gort_main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        gort_entersyscall();
        syscall(SYS_getppid);
        gort_exitsyscall();
    }
    double t1 = now_ns();
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid);
    double t2 = now_ns();
    RESULT("syscall_ns_per_call", (t1 - t0) / n, "ns");
    RESULT("syscall_raw_ns_per_call", (t2 - t1) / n, "ns");
    return 0;
}
