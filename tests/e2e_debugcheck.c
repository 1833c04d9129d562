/* e2e_debugcheck.c - the debug tier's consistency checks (GORT_DEBUG=2)
 * run at every stop-the-world and catch a broken invariant. Built against
 * the runtime's internals; the failing cases are registered only for
 * tier-2 builds.
 *
 *   ok          goroutines parked, runnable and running while GOMAXPROCS
 *               changes 20 times: every check passes
 *   runqsize    the global run queue's count is off by one
 *   stack_twice a live goroutine's stack slot is also in a P's stack cache */
#include "../src/sched/sched.h"
#include "../src/alloc/malloc.h"

#include <stdio.h>
#include <string.h>

static const char *mode;
static gort_waitgroup_t wg;
static gort_chan_t *ch;

static void parked(void *arg)
{
    (void)arg;
    int v;
    gort_chan_recv(ch, &v);
    gort_wg_done(&wg);
}

static void busy(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++)
        gort_yield();
    gort_wg_done(&wg);
}

static void run(void *arg)
{
    (void)arg;
    ch = gort_chan_make(sizeof(int), 0);
    gort_wg_add(&wg, 20);
    for (int i = 0; i < 10; i++) {
        gort_go(parked, NULL);
        gort_go(busy, NULL);
    }
    gort_yield();
    if (!strcmp(mode, "runqsize")) {
        rt_lock_acquire(&rt_sched_.lock);
        rt_sched_.runqsize++;
        rt_lock_release(&rt_sched_.lock);
    } else if (!strcmp(mode, "stack_twice")) {
        rt_g *gp = rt_curg();
        rt_stackcache *c = &gp->m->p->stackcache;
        int o = gp->stk.order < RT_STACK_CACHED_ORDERS ? gp->stk.order : 0;
        if (c->n[o] < RT_STACK_CACHE_MAX)
            c->slot[o][c->n[o]++] = (gp->stk.lo - 4096) | gp->stk.guard;
    }
    int n = gort_maxprocs(0);
    for (int i = 0; i < 20; i++)
        gort_maxprocs(i % 2 == 0 ? n + 1 : n);
    for (int i = 0; i < 10; i++) {
        int v = i;
        gort_chan_send(ch, &v);
    }
    gort_wg_wait(&wg);
}

int main(int argc, char **argv)
{
    mode = argc > 1 ? argv[1] : "";
    gort_run(run, NULL);
    printf("%s ok\n", mode);
    return 0;
}
