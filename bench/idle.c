/* idle.c - what an idle program costs: gort_main sleeps for N seconds
 * (default 10) while nothing else runs; prints the process's CPU time over
 * that period as a percentage of one core (sysmon, timers, idle Ms all
 * included). Peer: bench/go/idle (time.Sleep). */
#include <gort.h>
#include "bench_util.h"

#include <sys/resource.h>

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

int gort_main(int argc, char **argv)
{
    int secs = argc > 1 ? atoi(argv[1]) : 10;
    gort_sleep(100 * 1000 * 1000); /* start-up work (topology discovery) out of the way */
    double c0 = cpu_s(), t0 = now_ns();
    gort_sleep((int64_t)secs * 1000 * 1000 * 1000);
    double c1 = cpu_s(), t1 = now_ns();
    printf("RESULT idle_cpu_percent %.4f %%\n", (c1 - c0) / ((t1 - t0) / 1e9) * 100);
    return 0;
}
