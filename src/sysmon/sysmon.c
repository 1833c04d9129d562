/* sysmon.c - the system monitor (Go: proc.go sysmon).
 *
 * sysmon runs on its own M without a P, so it works even when every P is
 * busy or stuck. It sleeps 20 us, doubling after 50 idle rounds up to
 * 10 ms, as Go's. When every P is idle it sleeps on sched.sysmonnote until
 * a P leaves idle (pidleget, startm, starttheworld wake it), bounded by 1 s
 * while it still has background work, like stack scavenging, left to do.
 *
 * Once, at start: the hwloc topology discovery (1-1.5 ms on 2 CPUs, more
 * on large machines; off the program's start-up path).
 * Each round, with a documented work bound:
 *   - stacks: every ~100 ms, return the pages of pooled stacks that sat
 *     idle for a whole period, and of stacks a deep call chain dirtied, to
 *     the OS (<= 256 madvise calls per round; rt_stack_scavenge);
 *   - heap, same period: return entirely free spans to the page heap
 *     (<= 256 spans examined, rt_mcentral_reclaim) and pages free for a
 *     whole period to the OS (<= 1024 pages = 8 MiB, rt_mheap_scavenge).
 *   - retake (proc.c): a P left in a system call for a whole tick (>= 20
 *     us) is handed to another M when goroutines wait for it (or after 10
 *     ms anyway); a goroutine that has run for 10 ms is asked to yield.
 *   - GORTDEBUG=schedtrace=N: a SCHED line every N ms (scheddetail=1: every
 *     P, M and G too), in Go's format; sysmon then never sleeps deeply.
 *   - the network: if nobody polled for 10 ms, a non-blocking poll, whose
 *     goroutines go to the global queue (Go's sysmon does the same).
 * The forced GC duty of Go's sysmon arrives with the collector.
 *
 * sysmon never holds a P, never parks a goroutine, and takes sched.lock
 * only to decide whether to sleep. */
#include "sysmon.h"
#include "../sched/sched.h"
#include "../boot/boot.h"
#include "../stack/stack.h"
#include "../debug/debug.h"
#include "../alloc/malloc.h"
#include "../netpoll/netpoll.h"
#include "../gc/gc.h"

#include <time.h>
#include <unistd.h>

static rt_m *sysmon_m;

#define STACK_PERIOD_NS (100 * 1000 * 1000)

void rt_sysmon_start(void)
{
    if (sysmon_m != NULL)
        return;
    sysmon_m = rt_newm(NULL, false, true);
}

void rt_sysmon_wake_locked(void)
{
    if (rt_load(&rt_sched_.sysmonwait)) {
        rt_store(&rt_sched_.sysmonwait, 0);
        rt_notewakeup(&rt_sched_.sysmonnote);
    }
}

void rt_sysmon_wake(void)
{
    rt_lock_acquire(&rt_sched_.lock);
    rt_sysmon_wake_locked();
    rt_lock_release(&rt_sched_.lock);
}

static void usleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    nanosleep(&ts, NULL);
}

void rt_sysmon_main(void)
{
    rt_topology_init(); /* slow, so here rather than on the start-up path */
    int64_t delay = 0; /* us */
    int idle = 0;
    int64_t laststack = rt_nanotime();
    bool stackwork = false;
    int64_t lasttrace = 0;
    int64_t nextcheck = INT64_MAX; /* from retake: a running G's 10 ms are up */
    int64_t nextforcegc = 0;
    for (;;) {
        if (idle == 0)
            delay = 20;
        else if (idle > 50)
            delay *= 2;
        if (delay > 10 * 1000)
            delay = 10 * 1000;
        /* While goroutines run, look often enough to notice a new one within
         * 1 ms and to preempt one whose 10 ms are up on time: a spinning
         * goroutine then waits ~10-12 ms for its turn to end, not up to 30. */
        int64_t sleepns = delay * 1000;
        if (nextcheck != INT64_MAX) {
            int64_t until = nextcheck - rt_nanotime();
            if (sleepns > 1000 * 1000)
                sleepns = 1000 * 1000;
            if (until > 0 && until < sleepns)
                sleepns = until;
        }
        usleep_ns(sleepns);
        int64_t now = rt_nanotime();

        /* With schedtrace on, sysmon never sleeps deeply (as Go's). */
        if (rt_debug.schedtrace <= 0 &&
            (rt_load(&rt_sched_.gcwaiting) || rt_load(&rt_sched_.npidle) == (uint32_t)rt_procs())) {
            rt_lock_acquire(&rt_sched_.lock);
            if (rt_load(&rt_sched_.gcwaiting) ||
                rt_load(&rt_sched_.npidle) == (uint32_t)rt_procs()) {
                rt_store(&rt_sched_.sysmonwait, 1);
                rt_noteclear(&rt_sched_.sysmonnote);
                rt_lock_release(&rt_sched_.lock);
                /* Finish background work first (bounded sleep), then sleep
                 * until the scheduler wakes us. Stacks freed since the
                 * last pass count as work: a program that goes idle right
                 * after its deep goroutines exit gets their pages back. */
                if (!stackwork && rt_debug.stackscavenge)
                    stackwork = rt_stack_scavenge_pending();
                int64_t slept = rt_nanotime();
                /* at most half the forced-GC period, as Go's sysmon */
                rt_notetsleep(&rt_sched_.sysmonnote, stackwork ? 1000 * 1000 * 1000 : (int64_t)60 * 1000000000);
                rt_lock_acquire(&rt_sched_.lock);
                rt_store(&rt_sched_.sysmonwait, 0);
                rt_noteclear(&rt_sched_.sysmonnote);
                rt_lock_release(&rt_sched_.lock);
                now = rt_nanotime();
                /* A long idle spell ends: look often again (20 us). A
                 * short one is the churn of a program whose Ps all go
                 * idle between bursts (a server waiting on I/O): keep
                 * the backed-off delay, or sysmon's own wake-ups, 50 in
                 * the first millisecond after each, cost more than the
                 * work (measured: 6% of an echo server's CPU). */
                if (now - slept > 10 * 1000 * 1000) {
                    idle = 0;
                    delay = 20;
                }
                if (stackwork)
                    laststack = 0; /* do the pending work now */
            } else {
                rt_lock_release(&rt_sched_.lock);
            }
        }

        if (rt_debug.schedtrace > 0 && (lasttrace == 0 || now - lasttrace >= (int64_t)rt_debug.schedtrace * 1000000)) {
            lasttrace = now;
            rt_schedtrace(rt_debug.scheddetail > 0);
        }

        /* Poll the network if nobody has for 10 ms (Go's sysmon does): Ps
         * that never run out of goroutines never reach findrunnable's
         * poll. What it finds goes to the global queue; idle Ps start. */
        if (rt_netpoll_active() && now - rt_netpoll_lastpoll() > 10 * 1000 * 1000) {
            rt_g *list;
            if (rt_netpoll(0, &list) > 0) {
                rt_injectglist(list);
                idle = 0;
            }
        }

        /* Ps stuck in system calls, goroutines running too long. */
        if (rt_retake(now, rt_preemptone, &nextcheck) != 0)
            idle = 0;

        /* A collection at least every 2 minutes (Go's forcegcperiod). */
        if (now >= nextforcegc)
            nextforcegc = rt_gc_sysmon_force(now);

        if (rt_debug.stackscavenge && now - laststack >= STACK_PERIOD_NS) {
            laststack = now;
            stackwork = rt_stack_scavenge() > 0;
            /* the heap: empty spans back to the page heap, then pages that
             * stayed free for a whole period back to the OS */
            if (rt_gc_sysmon_begin()) { /* not while a collection sweeps */
                if (rt_mcentral_reclaim(256) > 0)
                    stackwork = true;
                rt_gc_sysmon_end();
            }
            if (rt_mheap_scavenge(1024, false) > 0)
                stackwork = true;
        }
        idle++;
    }
}
