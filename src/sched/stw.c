/* stw.c - stopping and starting the world, and changing GOMAXPROCS (Go:
 * proc.go stopTheWorldWithSema, startTheWorldWithSema, procresize).
 *
 * The collector stops the world several times per cycle, and GOMAXPROCS
 * changes need it too; everything about a stop lives here.
 *
 * Stopping (rt_stoptheworld, from a goroutine):
 *   1. take worldsema: one stop at a time;
 *   2. under sched.lock: set sched.gcwaiting, count the Ps still to stop
 *      (stopwait), stop our own P, Ps in system calls (their Ms find the P
 *      gone when the call returns) and idle Ps;
 *   3. preemptall: the preempt flag and the preemption signal for the G on
 *      every other running P, again every 100 us until all have stopped. A
 *      loop that calls nothing is stopped by the signal at an async-safe
 *      point; a G inside gort_preempt_off, or in a build without async
 *      preemption, stops at its next cooperative point;
 *   4. each M parks its P in _Pgcstop (gcstopm from findrunnable, or
 *      handoffp) and the last one wakes us (stopnote).
 * The caller keeps m->locks raised until starttheworld, so it is neither
 * preempted nor parked while the world is stopped.
 *
 * Starting (rt_starttheworld): procresize to the (possibly new) number of
 * Ps, clear gcwaiting, give every P with work an M, release worldsema.
 *
 * procresize: new Ps get an mcache and start in _Pgcstop; Ps that go away
 * hand their run queue to the global one, their timers to P0, their free
 * Gs to the global list and their caches back. The caller keeps its P if
 * it survives, else takes allp[0].
 *
 * Debug tier 2 (GORT_DEBUG=2): while the world is stopped, rt_debug_checkall
 * runs every consistency check (the heap, spans, stacks, run queues).
 *
 * Invariants while stopped: sched.stopwait == 0 and every P is _Pgcstop,
 * except ours, which stays ours. */
#include "sched.h"
#include "../boot/boot.h"
#include "../debug/debug.h"
#include "../stack/stack.h"
#include "../sysmon/sysmon.h"
#include "../alloc/malloc.h"

#include <stdlib.h>
#include <string.h>

#define sched rt_sched_

static uint32_t worldsema = 1; /* serialises stop-the-world (Go: worldsema) */

/* gcstopm: the world is being stopped; give up our P (it stops in
 * _Pgcstop) and sleep until starttheworld hands us one. */
void rt_gcstopm(void)
{
    rt_m *mp = rt_getg()->m;
    if (!rt_load(&sched.gcwaiting))
        rt_throw("rt_gcstopm: not waiting for gc");
    if (mp->spinning) {
        mp->spinning = false;
        if ((int32_t)rt_xadd(&sched.nmspinning, (uint32_t)-1) < 0)
            rt_throw("rt_gcstopm: negative nmspinning");
    }
    rt_p *pp = rt_releasep();
    rt_lock_acquire(&sched.lock);
    rt_setpstatus(pp, P_GCSTOP);
    if (--sched.stopwait == 0)
        rt_notewakeup(&sched.stopnote);
    rt_lock_release(&sched.lock);
    rt_stopm();
}

/* preemptall: ask the goroutine on every running P but ours to yield, with
 * the flag (seen at its next cooperative point) and the preemption signal
 * (a goroutine in a loop that calls nothing sees only that; Go's preemptall
 * -> preemptone -> preemptM). The handler may find the point unsafe (not
 * user code, a runtime lock held, gort_preempt_off): the caller then asks
 * again, as Go's stopTheWorld loop does every 100 us. Reads P and M racily:
 * a stale read signals a thread that is no longer running that G, and the
 * handler checks everything again. Called without sched.lock: tgkill is a
 * system call. */
static void preemptall(void)
{
    rt_m *self = rt_getg()->m;
    for (int32_t i = 0; i < rt_procs(); i++) {
        rt_p *pp = rt_allp[i];
        if (rt_load_relaxed(&pp->status) != P_RUNNING)
            continue;
        rt_m *mp = rt_load_acq(&pp->m);
        if (mp == NULL || mp == self)
            continue;
        rt_g *gp = rt_load_acq(&mp->curg);
        if (gp != NULL)
            rt_preemptone(mp, gp);
    }
}

/* Ps left in system calls stop where they are (their M finds the P gone
 * when the call returns). sched.lock held. */
static void stopsyscallps(void)
{
    for (int32_t i = 0; i < rt_procs(); i++) {
        rt_p *pp = rt_allp[i];
        if (rt_load(&pp->status) == P_SYSCALL && rt_cas(&pp->status, P_SYSCALL, P_GCSTOP)) {
            rt_syscalltick_inc(pp);
            sched.stopwait--;
        }
    }
}

void rt_stoptheworld(const char *reason)
{
    (void)reason;
    rt_semacquire(&worldsema, false, WR_SEMACQUIRE);
    rt_m *mp = rt_getg()->m;
    mp->locks++; /* this G must not be preempted or parked now */
    rt_lock_acquire(&sched.lock);
    sched.stopwait = rt_procs();
    rt_store(&sched.gcwaiting, 1);
    rt_setpstatus(mp->p, P_GCSTOP);
    sched.stopwait--;
    rt_p *pp;
    stopsyscallps();
    while ((pp = rt_pidleget()) != NULL) {
        rt_setpstatus(pp, P_GCSTOP);
        sched.stopwait--;
    }
    bool wait = sched.stopwait > 0;
    rt_noteclear(&sched.stopnote);
    rt_lock_release(&sched.lock);
    if (wait) {
        preemptall();
        for (;;) {
            if (rt_notetsleep(&sched.stopnote, 100 * 1000))
                break;
            rt_lock_acquire(&sched.lock);
            stopsyscallps();
            bool done = sched.stopwait == 0;
            rt_lock_release(&sched.lock);
            if (done)
                break;
            preemptall();
        }
        rt_noteclear(&sched.stopnote);
    }
    if (sched.stopwait != 0)
        rt_throw("stoptheworld: not stopped");
    for (int32_t i = 0; i < rt_procs(); i++)
        if (rt_load_relaxed(&rt_allp[i]->status) != P_GCSTOP)
            rt_throw("stoptheworld: not stopped (status != _Pgcstop)");
#if RT_DEBUG_CHECKS
    rt_debug_checkall();
#endif
}

static int32_t newprocs; /* set by gort_maxprocs while the world is stopped */

void rt_starttheworld(void)
{
    rt_m *mp = rt_getg()->m;
    rt_lock_acquire(&sched.lock);
    int32_t procs = rt_procs();
    if (newprocs != 0) {
        procs = newprocs;
        newprocs = 0;
    }
    int32_t runnable = rt_procresize(procs);
    (void)runnable;
    rt_store(&sched.gcwaiting, 0);
    /* Ps with work get an M; the list was built by procresize in allp. */
    rt_p *list[GORT_MAXPROCS_LIMIT];
    int32_t nl = 0;
    for (int32_t i = 0; i < rt_procs(); i++) {
        rt_p *pp = rt_allp[i];
        if (rt_load_relaxed(&pp->status) == P_GCSTOP && pp != mp->p) {
            rt_setpstatus(pp, P_IDLE);
            if (rt_runqempty(pp))
                rt_pidleput(pp);
            else
                list[nl++] = pp;
        }
    }
    rt_lock_release(&sched.lock);
    if (rt_load_relaxed(&sched.sysmonwait))
        rt_sysmon_wake();
    for (int32_t i = 0; i < nl; i++)
        rt_startm(list[i], false);
    rt_wakep();
    mp->locks--;
    rt_semrelease(&worldsema, false);
}

/* procresize: change the number of Ps (sched.lock held, world stopped).
 * The current M keeps its P if it survives, else takes allp[0]. New Ps and
 * surviving Ps are left in _Pgcstop for starttheworld to distribute;
 * destroyed Ps give their Gs, timers, free Gs and stacks away. */
int32_t rt_procresize(int32_t nprocs)
{
    int32_t old = rt_procs();
    if (nprocs <= 0 || nprocs > GORT_MAXPROCS_LIMIT)
        rt_throw("procresize: invalid arg");
    for (int32_t i = old; i < nprocs; i++) {
        rt_p *pp = rt_allp[i];
        if (pp == NULL) {
            if (posix_memalign((void **)&pp, RT_CACHELINE, sizeof(rt_p)) != 0)
                rt_throw("out of memory allocating a P");
            memset(pp, 0, sizeof(*pp));
            pp->id = i;
            rt_lock_init(&pp->timerslock, RT_RANK_TIMERS);
            pp->mcache = rt_mcache_new();
            rt_store_rel(&rt_allp[i], pp);
        }
        rt_setpstatus(pp, P_GCSTOP);
    }
    rt_g *cur = rt_getg();
    rt_m *mp = cur != NULL ? cur->m : NULL;
    /* Destroy Ps that go away. */
    for (int32_t i = nprocs; i < old; i++) {
        rt_p *pp = rt_allp[i];
        bool inh;
        rt_g *gp;
        while ((gp = rt_runqget(pp, &inh)) != NULL) {
            gp->schedlink = sched.runqhead;
            sched.runqhead = gp;
            if (sched.runqtail == NULL)
                sched.runqtail = gp;
            rt_store_relaxed(&sched.runqsize, sched.runqsize + 1);
        }
        rt_timers_move(rt_allp[0], pp);
        if (pp->gfree != NULL) {
            rt_lock_acquire(&sched.gflock);
            rt_gfree_pushbatch(pp->gfree, pp->gfreecnt);
            rt_lock_release(&sched.gflock);
            pp->gfree = NULL;
            pp->gfreecnt = 0;
        }
        rt_stackcache_flush(&pp->stackcache);
        rt_mcache_release(pp->mcache); /* its spans go back to mcentral */
        /* keep created/exited counts: fold them into P0 */
        rt_store_relaxed(&rt_allp[0]->ngo_created, rt_allp[0]->ngo_created + pp->ngo_created);
        rt_store_relaxed(&rt_allp[0]->ngo_exited, rt_allp[0]->ngo_exited + pp->ngo_exited);
        rt_store_relaxed(&pp->ngo_created, 0);
        rt_store_relaxed(&pp->ngo_exited, 0);
        if (pp->m != NULL && pp->m != mp)
            rt_throw("procresize: destroying a P that is in use");
        rt_setpstatus(pp, P_DEAD);
    }
    rt_store(&rt_gomaxprocs, nprocs);
    if (mp != NULL && mp->p != NULL && mp->p->id < nprocs) {
        rt_setpstatus(mp->p, P_RUNNING);
    } else if (mp != NULL && mp->curg != NULL) {
        /* The calling goroutine's P went away: move to allp[0]. */
        if (mp->p != NULL) {
            rt_setpm(mp->p, NULL);
            rt_setpstatus(mp->p, P_DEAD);
            mp->p = NULL;
            rt_arch_setmcache(NULL);
        }
        rt_p *pp = rt_allp[0];
        rt_setpm(pp, NULL);
        rt_setpstatus(pp, P_IDLE);
        rt_acquirep(pp);
    }
    return nprocs;
}

GORT_API int gort_maxprocs(int n)
{
    if (!rt_load_relaxed(&rt_booted))
        return 0;
    int ret = rt_load(&rt_gomaxprocs);
    if (n <= 0 || n == ret)
        return ret;
    if (n > GORT_MAXPROCS_LIMIT)
        n = GORT_MAXPROCS_LIMIT;
    if (rt_curg() == NULL)
        rt_throw("gort_maxprocs(n > 0) must be called from a goroutine");
    rt_stoptheworld("GOMAXPROCS");
    newprocs = n;
    rt_starttheworld();
    return ret;
}

/* ---- debug tier 2: consistency checks while the world is stopped ------------ */

static int cmpptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static void checkqueued(rt_g *gp, const char *where, int32_t id)
{
    uint32_t st = rt_readgstatus(gp);
    if (st != G_RUNNABLE)
        rt_throwf("schedcheck: goroutine %lld in %s of P%d has status %u, not runnable", (long long)gp->goid,
                  where, id, st);
}

/* The run queues: each P's ring holds at most RT_RUNQ_SIZE runnable Gs,
 * runnext is runnable, the global queue has runqsize runnable Gs and ends
 * at runqtail, every other P is stopped, no idle P is listed (all were
 * taken), and no G is in two queues. World stopped. */
static void schedcheck(void)
{
    rt_m *self = rt_getg()->m;
    size_t cap = (size_t)rt_procs() * (RT_RUNQ_SIZE + 1) + (size_t)sched.runqsize + 1, n = 0;
    uintptr_t *seen = malloc(cap * sizeof(*seen));
    if (seen == NULL)
        rt_throw("schedcheck: out of memory");
    for (int32_t i = 0; i < rt_procs(); i++) {
        rt_p *pp = rt_allp[i];
        uint32_t st = rt_load_relaxed(&pp->status);
        if (pp != self->p && st != P_GCSTOP)
            rt_throwf("schedcheck: P%d has status %u while the world is stopped", i, st);
        if (pp->id != i)
            rt_throwf("schedcheck: allp[%d] has id %d", i, pp->id);
        uint32_t h = rt_load(&pp->runqhead), t = rt_load(&pp->runqtail);
        if (t - h > RT_RUNQ_SIZE)
            rt_throwf("schedcheck: P%d run queue holds %u > %d", i, t - h, RT_RUNQ_SIZE);
        for (uint32_t k = h; k != t; k++) {
            rt_g *gp = rt_load_relaxed(&pp->runq[k % RT_RUNQ_SIZE]);
            checkqueued(gp, "the run queue", i);
            seen[n++] = (uintptr_t)gp;
        }
        rt_g *next = rt_load(&pp->runnext);
        if (next != NULL) {
            checkqueued(next, "runnext", i);
            seen[n++] = (uintptr_t)next;
        }
    }
    rt_lock_acquire(&sched.lock);
    int32_t count = 0;
    rt_g *last = NULL;
    for (rt_g *gp = sched.runqhead; gp != NULL; gp = gp->schedlink) {
        checkqueued(gp, "the global run queue", -1);
        if (n < cap)
            seen[n++] = (uintptr_t)gp;
        last = gp;
        if (++count > sched.runqsize)
            break;
    }
    if (count != sched.runqsize || last != sched.runqtail)
        rt_throwf("schedcheck: global run queue has %d Gs, runqsize says %d", count, sched.runqsize);
    if (sched.pidle != NULL || rt_load(&sched.npidle) != 0)
        rt_throwf("schedcheck: %u idle Ps while the world is stopped", rt_load(&sched.npidle));
    rt_lock_release(&sched.lock);
    qsort(seen, n, sizeof(*seen), cmpptr);
    for (size_t i = 1; i < n; i++)
        if (seen[i] == seen[i - 1])
            rt_throwf("schedcheck: goroutine %lld is in two run queues", (long long)((rt_g *)seen[i])->goid);
    free(seen);
}

/* Every consistency check of the debug tier (GORT_DEBUG=2): the run
 * queues, the stacks and the heap. The world is stopped, so each sees a
 * still picture; each throws with what it found. */
void rt_debug_checkall(void)
{
    schedcheck();
    rt_stackcache *caches[GORT_MAXPROCS_LIMIT];
    for (int32_t i = 0; i < rt_procs(); i++)
        caches[i] = &rt_allp[i]->stackcache;
    rt_stack_check(caches, rt_procs());
    rt_mheap_check();
}
