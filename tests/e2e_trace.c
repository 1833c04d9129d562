/* e2e_trace.c - Go-format debug output: GORTDEBUG=schedtrace/scheddetail
 * lines, and the goroutine dump on SIGQUIT. tests/CMakeLists.txt matches
 * the output against regular expressions derived from Go 1.19's formats
 * (../shared/reference/go119-debug-output.txt).
 *
 *   busy     goroutines blocked in several ways for ~350 ms, then exit 0
 *            (run with GORTDEBUG=schedtrace=100[,scheddetail=1])
 *   sigquit  the same goroutines, then SIGQUIT to the process: the dump
 *            lists each with its wait reason, exit status 2
 *   bind     with GORTDEBUG=bindps=1: the thread running goroutine 1 ends up
 *            bound to one CPU
 *   steal    spinners spawned on goroutine 1's P must also run on another
 *            thread: run with HWLOC_SYNTHETIC giving each CPU its own NUMA
 *            node, so the only other P is in the farthest steal tier
 *   gdb      the same goroutines, then gdb_stop_here() for a breakpoint
 *            (tests/gdb_check.sh drives gdb with src/debug/gort-gdb.py) */
#define _GNU_SOURCE
#include <gort.h>

#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static gort_chan_t *never;
static int spin_tids[64];
static gort_waitgroup_t spun;

static void spinner(void *arg)
{
    int64_t end = gort_nanotime() + 2 * 1000 * 1000;
    while (gort_nanotime() < end) {
    }
    spin_tids[(intptr_t)arg] = (int)gettid();
    gort_wg_done(&spun);
}
static gort_waitgroup_t gate;

static void chan_waiter(void *arg)
{
    (void)arg;
    int v;
    gort_chan_recv(never, &v);
}

static void sleeper(void *arg)
{
    (void)arg;
    gort_sleep(60LL * 1000 * 1000 * 1000);
}

static void wg_waiter(void *arg)
{
    (void)arg;
    gort_wg_wait(&gate);
}

static void select_waiter(void *arg)
{
    (void)arg;
    int v;
    gort_select_case_t cs[2] = {{.chan = never, .dir = GORT_SELECT_RECV, .elem = &v},
                                {.chan = never, .dir = GORT_SELECT_RECV, .elem = &v}};
    gort_select(cs, 2, true);
}

/* gdb test: a breakpoint goes here once every goroutine is parked. */
void gdb_stop_here(void);
__attribute__((noinline)) void gdb_stop_here(void) { __asm__ volatile("" ::: "memory"); }

int gort_main(int argc, char **argv)
{
    const char *c = argc > 1 ? argv[1] : "";
    never = gort_chan_make(sizeof(int), 0);
    gort_wg_add(&gate, 1);
    gort_go(chan_waiter, NULL);
    gort_go(sleeper, NULL);
    gort_go(wg_waiter, NULL);
    gort_go(select_waiter, NULL);
    gort_sleep(50 * 1000 * 1000); /* all of them parked */
    if (!strcmp(c, "busy")) {
        gort_sleep(300 * 1000 * 1000);
        printf("done\n");
        fflush(stdout);
        return 0;
    }
    if (!strcmp(c, "bind")) {
        /* GORTDEBUG=bindps=1: once the topology is known (sysmon, a few ms
         * after start) an M that takes a P is bound to the P's home CPU. */
        for (int i = 0; i < 500; i++) { /* hwloc's load can take seconds on a loaded machine */
            gort_sleep(10 * 1000 * 1000); /* parks this M; it binds when it takes a P again */
            cpu_set_t set;
            CPU_ZERO(&set);
            if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) == 1) {
                printf("bound to 1 cpu\n");
                return 0;
            }
        }
        printf("not bound\n");
        return 0;
    }
    if (!strcmp(c, "steal")) {
        gort_sleep(100 * 1000 * 1000); /* sysmon has loaded the topology */
        for (int round = 0; round < 20; round++) {
            int n = 8;
            gort_wg_add(&spun, n);
            for (intptr_t i = 0; i < n; i++)
                gort_go(spinner, (void *)i);
            gort_wg_wait(&spun);
            for (int i = 1; i < n; i++)
                if (spin_tids[i] != spin_tids[0]) {
                    printf("steal ok\n");
                    return 0;
                }
        }
        printf("steal failed: every spinner ran on one thread\n");
        return 1;
    }
    if (!strcmp(c, "gdb")) {
        gdb_stop_here();
        printf("done\n");
        return 0;
    }
    if (!strcmp(c, "sigquit")) {
        kill(getpid(), SIGQUIT);
        gort_sleep(10LL * 1000 * 1000 * 1000);
        printf("SIGQUIT did not stop the program\n");
        return 0;
    }
    fprintf(stderr, "unknown case %s\n", c);
    return 100;
}
