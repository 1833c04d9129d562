/* proc.c - the G/M/P scheduler (Go: proc.go; the types are in runtime2.h,
 * stopping the world and procresize in stw.c).
 *
 * The structures
 * --------------
 *   G  a goroutine: a saved stack pointer, a stack, a status. Gs are never
 *      freed; a dead G goes to a free list (gfput), its stack to the P's
 *      stack cache, and both are reused by the next gort_go (gfget), so
 *      spawning is a few stores.
 *   M  an OS thread. Each M has a g0: the thread's own stack, on which the
 *      scheduler runs. mcall() switches from a G to g0 (schedule, park,
 *      exit); gogo() switches from g0 to a G.
 *   P  a processor: the right to run goroutines, plus per-P caches that
 *      need no locks because only the M holding the P touches them: a
 *      256-entry lock-free run queue and runnext, the free-G list, the stack
 *      cache and the timer heap. There are exactly GOMAXPROCS Ps.
 *
 * An M must hold a P to run Gs. An M without work releases its P to the
 * idle list (pidle) and sleeps on its note (midle). The number of Ms is
 * not bounded by GOMAXPROCS: Ms wired to a G (lockOSThread) and Ms in
 * blocking calls hold no P.
 *
 * Scheduling a G (schedule -> findrunnable -> execute)
 * ------------------------------------------------------
 *   1. every 61st tick, one G from the global queue (fairness);
 *   2. runnext, then the local run queue (lock-free pop);
 *   3. the global run queue (sched.lock), taking a batch into the local one;
 *   4. become a spinning M and steal half of another P's queue (random
 *      victim order, Go's randomOrder), running other Ps' due timers on the
 *      last round; keep spinning for at most GORTDEBUG spinus microseconds;
 *   5. release the P, re-check every queue once more (the spinning ->
 *      non-spinning transition must not lose a wakeup: see below), sleep
 *      until the earliest timer if this M is the one to watch timers, else
 *      sleep until woken by rt_startm.
 *
 * Spinning (Go's "Worker thread parking/unparking"): an M is spinning when
 * it has a P and is looking for work. Readying a G calls wakep(), which
 * starts an M only if there is an idle P and no spinning M. So while one
 * M spins, new work costs no system call; a spinning M that finds work
 * calls wakep() again (resetspinning) so parallelism ramps up one M at a
 * time. An M that stops spinning must re-check all run queues after
 * decrementing nmspinning, because a G readied in between saw a spinner
 * and did not wake anyone.
 *
 * Why spin longer than Go: here a futex wake costs ~1-2 us (DESIGN 5), more
 * than a whole channel round trip, so an M keeps spinning (with PAUSE, no
 * syscalls) for up to GORTDEBUG=spinus (default 50 us) before it parks.
 *
 * Run queues (runqput/rt_runqget/runqgrab/runqsteal) follow Go exactly: the
 * owner is the only writer of runqtail; stealers and the owner CAS
 * runqhead. Slots are read and written with relaxed atomics so that a
 * stealer's read of a slot being recycled is not a data race in C.
 *
 * Parking (rt_park): the G publishes itself on some wait queue under a lock
 * and calls rt_park(unlockf, lock). We mcall to g0, set the G _Gwaiting,
 * and only then call unlockf to release the lock. So a waker that takes
 * the lock always finds a fully parked G whose stack nobody is running on.
 *
 * Waking an idle M: an M asleep on its park note (rt_stopm, stopm_timers,
 * stoplockedm) has exactly one waker per sleep, the one that took it off
 * its role under sched.lock: rt_startm off the idle list (handing it a P
 * in nextp), rt_timerm_wake_locked off the timer watch (and off the idle
 * list too), startlockedm by handing its locked G's M a P. A second
 * waker's wakeup could land after the sleeper cleared its note and wake
 * its next sleep without a P, so park notes are woken with
 * rt_notewakeup_once, which throws on a second.
 *
 * Stopping the world (rt_stoptheworld): set sched.gcwaiting, take idle Ps
 * and Ps in system calls, ask every running G to yield (preemptall: the
 * preempt flag and the preemption signal, again every 100 us until all
 * have stopped), and wait until every other M parks its P in _Pgcstop
 * (rt_gcstopm in findrunnable, or handoffp). A goroutine in a loop that calls
 * nothing stops at the signal; one inside gort_preempt_off, or in a build
 * or setting without async preemption, at its next cooperative point.
 *
 * Lock order: src/sched/lock.h, the one place it is written down.
 *
 * Invariants:
 *   npidle == length(sched.pidle)
 *   nmidle == length(sched.midle)
 *   for each P: status == P_RUNNING <=> p->m != NULL
 *   a G is on at most one queue (runq, runnext, global runq, free list,
 *   a wait queue) and is then not _Grunning.
 *   nmspinning == number of Ms with m->spinning set.
 *
 * Rejected: switching directly G->G without g0 (saves one 5 ns switch but
 * a G's stack would still be in use after it is published on a queue);
 * ucontext (a sigprocmask system call per switch). */
#include "sched.h"
#include "../boot/boot.h"
#include "../debug/debug.h"
#include "../stack/stack.h"
#include "../sysmon/sysmon.h"
#include "../alloc/malloc.h"
#include "../os/os.h"
#include "../netpoll/netpoll.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(GORT_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(GORT_TSAN)
#include <sanitizer/tsan_interface.h>
#endif
#if defined(GORT_VALGRIND)
#include <valgrind/valgrind.h>
#endif

__thread void *rt_tls_g __attribute__((tls_model("initial-exec")));
__thread void *rt_tls_mcache __attribute__((tls_model("initial-exec"))); /* == m->p->mcache */

rt_sched rt_sched_;
rt_m rt_m0;
static rt_g g0_m0;
rt_m *rt_allm;
rt_p **rt_allp;
int32_t rt_gomaxprocs;
int32_t rt_ncpu = 1;
uint32_t rt_started;

#define sched rt_sched_

const char *const rt_waitreason_names[WR_COUNT] = {
#define RT_WR_STR(name, str) str,
    RT_WAITREASONS(RT_WR_STR)
#undef RT_WR_STR
};


/* The global free list is a stack of batches (linked through the head G's
 * gfreebatch, each a schedlink list of gfreen Gs), so moving Gs between a
 * P and the global list is O(1) under sched.gflock. */
void rt_gfree_pushbatch(rt_g *head, int32_t n)
{
    head->gfreen = n;
    head->gfreebatch = sched.gfree;
    sched.gfree = head;
    rt_store_relaxed(&sched.ngfree, sched.ngfree + n);
}

static rt_g *gfree_popbatch(int32_t *n)
{
    rt_g *head = sched.gfree;
    if (head == NULL) {
        *n = 0;
        return NULL;
    }
    sched.gfree = head->gfreebatch;
    *n = (int32_t)head->gfreen;
    rt_store_relaxed(&sched.ngfree, sched.ngfree - *n);
    return head;
}

/* ---- allg: every G ever created, in chunks (Go: allgs) ------------------ */

#define GCHUNK_N 64
typedef struct gchunk {
    struct gchunk *next;
    int32_t n;
    rt_g g[GCHUNK_N];
} gchunk;

static rt_lock allglock = {0, RT_RANK_ALLG};
static gchunk *allgchunks;

/* Per-P chunk cursor: a P hands out Gs from its own chunk without a lock. */
typedef struct pgalloc {
    gchunk *chunk;
} pgalloc;
static pgalloc pgallocs[GORT_MAXPROCS_LIMIT];

static gchunk *newgchunk(void)
{
    gchunk *c = calloc(1, sizeof(gchunk));
    if (c == NULL)
        rt_throw("out of memory allocating goroutines");
    rt_lock_acquire(&allglock);
    c->next = allgchunks;
    rt_store_rel(&allgchunks, c);
    rt_lock_release(&allglock);
    return c;
}

static void ginit(rt_g *gp)
{
#if defined(GORT_TSAN)
    gp->tsan_fiber = __tsan_create_fiber(0);
#endif
    rt_store(&gp->status, G_DEAD);
}

/* Take the next G of the chunk *cur, starting a new chunk when it is full.
 * The caller owns *cur (a P, or the foreign lock). */
static rt_g *chunktake(gchunk **cur)
{
    gchunk *c = *cur;
    if (c == NULL || c->n == GCHUNK_N)
        c = *cur = newgchunk();
    rt_g *gp = &c->g[c->n];
    ginit(gp);
    rt_store_rel(&c->n, c->n + 1); /* rt_foreachg may now see it */
    return gp;
}

/* malg: a brand-new G, without a stack (assigned on first run). */
static rt_g *malg(rt_p *pp)
{
    if (pp != NULL)
        return chunktake(&pgallocs[pp->id].chunk);
    static rt_lock foreignlock = {0, RT_RANK_MALG};
    static gchunk *fc;
    rt_lock_acquire(&foreignlock);
    rt_g *gp = chunktake(&fc);
    rt_lock_release(&foreignlock);
    return gp;
}

bool rt_foreachg(bool (*fn)(rt_g *gp, void *arg), void *arg)
{
    for (gchunk *c = rt_load_acq(&allgchunks); c != NULL; c = c->next) {
        int32_t n = rt_load_acq(&c->n);
        for (int32_t i = 0; i < n; i++)
            if (!fn(&c->g[i], arg))
                return false;
    }
    return true;
}

/* ---- status ------------------------------------------------------------- */

__attribute__((noreturn, noinline, cold)) static void badgstatus(rt_g *gp, uint32_t old, uint32_t new_)
{
    rt_throwf("casgstatus: bad transition for goroutine %lld: %u -> %u (status %u)", (long long)gp->goid,
              old, new_, rt_readgstatus(gp));
}

/* Every status transition has a single writer (the M running the G, the
 * M that dequeued it, or the one waker the wait-queue protocol allows), so
 * a checked store does what Go's CAS does without a locked instruction;
 * Go needs the CAS for its GC's _Gscan bits, which gort does not have. */
static inline void casgstatus(rt_g *gp, uint32_t old, uint32_t new_)
{
    if (rt_unlikely(rt_load_relaxed(&gp->status) != old))
        badgstatus(gp, old, new_);
    rt_store_rel(&gp->status, new_);
}

/* ---- fastrand (Go: wyrand per M) ---------------------------------------- */

uint32_t rt_fastrand(void)
{
    rt_g *g = rt_getg();
    uint64_t *s;
    static __thread uint64_t foreign_state;
    if (g != NULL && g->m != NULL) {
        s = &g->m->fastrand;
    } else {
        s = &foreign_state;
        if (*s == 0)
            *s = rt_arch_cputicks() | 1;
    }
    *s += 0xa0761d6478bd642full;
    __uint128_t t = (__uint128_t)(*s) * (*s ^ 0xe7037ed1a0b428dbull);
    return (uint32_t)((uint64_t)(t >> 64) ^ (uint64_t)t);
}

uint32_t rt_fastrandn(uint32_t n) { return (uint32_t)(((uint64_t)rt_fastrand() * n) >> 32); }

/* ---- the context switch, with sanitizer and valgrind hooks -------------- */

static void mcall0(void *arg);

/* Deferred publish for direct switches (see switchto): run, on the
 * incoming side, the action the outgoing G left for its M. */
static inline void run_after(void)
{
    rt_m *mp = rt_getg()->m;
    void (*f)(rt_m *, rt_g *) = mp->afterfn;
    if (f != NULL) {
        mp->afterfn = NULL;
        f(mp, mp->afterg);
    }
}

#if defined(GORT_TSAN)
/* g0 never returns from schedule(): every mcall starts afresh at g0_sp.
 * TSan would see an ever-deeper call stack on one fiber, so after each
 * switch away from g0 the M gets a fresh g0 fiber (ordering is carried by
 * the fiber switches themselves). */
static void tsan_renew_g0(rt_m *mp)
{
    void *old = mp->tsan_g0_fiber;
    mp->tsan_g0_fiber = __tsan_create_fiber(0);
    if (old != mp->tsan_thread_fiber) /* the thread's own one must stay */
        __tsan_destroy_fiber(old);
}
#endif

/* mcall: switch from the current G to its M's g0 and run fn(g) there.
 * fn must not return (it ends in schedule() or gogo()). Returns when the
 * G is resumed, possibly on another M. dying: the G will never resume
 * (its fiber state may be discarded). */
static void rt_mcall(void (*fn)(rt_g *), bool dying)
{
    rt_g *gp = rt_getg();
    rt_m *mp = gp->m;
    mp->mcallfn = fn;
    uintptr_t sp = rt_arch_getsp();
    if (sp < gp->sp_min)
        gp->sp_min = sp;
    if (rt_unlikely(gp->stk.guard == RT_GUARD_CANARY) && !rt_stack_canary_ok(&gp->stk))
        rt_stack_overflow_canary(gp);
#if defined(GORT_ASAN)
    __sanitizer_start_switch_fiber(dying ? NULL : &gp->asan_fake, (void *)mp->g0_lo,
                                   mp->g0_hi - mp->g0_lo);
#endif
#if defined(GORT_TSAN)
    __tsan_switch_to_fiber(mp->tsan_g0_fiber, 0);
#endif
    (void)dying;
    rt_mcall_asm(&gp->sp, mcall0, gp, mp->g0_sp);
#if defined(GORT_ASAN)
    __sanitizer_finish_switch_fiber(gp->asan_fake, NULL, NULL);
#endif
#if defined(GORT_TSAN)
    tsan_renew_g0(gp->m);
#endif
    run_after();
}

static void mcall0(void *arg)
{
    rt_g *gp = arg;
    rt_m *mp = gp->m;
    rt_setg(mp->g0);
#if defined(GORT_ASAN)
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    mp->mcallfn(gp);
    rt_throw("mcall function returned");
}

/* gogo: on g0, switch to gp (which has a saved context). */
__attribute__((noreturn)) static void gogo(rt_g *gp)
{
    rt_setg(gp);
#if defined(GORT_ASAN)
    __sanitizer_start_switch_fiber(NULL, (void *)gp->stk.lo, gp->stk.hi - gp->stk.lo);
#endif
#if defined(GORT_TSAN)
    __tsan_switch_to_fiber(gp->tsan_fiber, 0);
#endif
    rt_gogo_asm(gp->sp);
}

/* ---- run queues (Go: runqput, rt_runqget, runqgrab, runqsteal) ------------ */


static void globrunqput(rt_g *gp)
{
    gp->schedlink = NULL;
    if (sched.runqtail != NULL)
        sched.runqtail->schedlink = gp;
    else
        sched.runqhead = gp;
    sched.runqtail = gp;
    rt_store_relaxed(&sched.runqsize, sched.runqsize + 1);
}

static void globrunqputbatch(rt_g *head, rt_g *tail, int32_t n)
{
    tail->schedlink = NULL;
    if (sched.runqtail != NULL)
        sched.runqtail->schedlink = head;
    else
        sched.runqhead = head;
    sched.runqtail = tail;
    rt_store_relaxed(&sched.runqsize, sched.runqsize + n);
}

static rt_g *globrunqpop(void)
{
    rt_g *gp = sched.runqhead;
    if (gp == NULL)
        return NULL;
    sched.runqhead = gp->schedlink;
    if (sched.runqhead == NULL)
        sched.runqtail = NULL;
    rt_store_relaxed(&sched.runqsize, sched.runqsize - 1);
    return gp;
}

/* runqputslow: local queue full; move half of it and gp to the global
 * queue in one batch. Returns false if a stealer raced us. */
static bool runqputslow(rt_p *pp, rt_g *gp, uint32_t h, uint32_t t)
{
    rt_g *batch[RT_RUNQ_SIZE / 2 + 1];
    uint32_t n = (t - h) / 2;
    if (n != RT_RUNQ_SIZE / 2)
        rt_throw("runqputslow: queue is not full");
    for (uint32_t i = 0; i < n; i++)
        batch[i] = rt_load_relaxed(&pp->runq[(h + i) % RT_RUNQ_SIZE]);
    if (!rt_cas_rel(&pp->runqhead, h, h + n))
        return false;
    batch[n] = gp;
    for (uint32_t i = 0; i < n; i++)
        batch[i]->schedlink = batch[i + 1];
    rt_lock_acquire(&sched.lock);
    globrunqputbatch(batch[0], batch[n], (int32_t)(n + 1));
    rt_lock_release(&sched.lock);
    return true;
}

static void runqput(rt_p *pp, rt_g *gp, bool next)
{
    if (next) {
        rt_g *old = rt_load_relaxed(&pp->runnext);
        while (!__atomic_compare_exchange_n(&pp->runnext, &old, gp, false, __ATOMIC_SEQ_CST,
                                            __ATOMIC_RELAXED))
            ;
        if (old == NULL)
            return;
        gp = old; /* kick the old runnext out to the regular queue */
    }
    for (;;) {
        uint32_t h = rt_load_acq(&pp->runqhead);
        uint32_t t = pp->runqtail;
        if (t - h < RT_RUNQ_SIZE) {
            rt_store_relaxed(&pp->runq[t % RT_RUNQ_SIZE], gp);
            rt_store_rel(&pp->runqtail, t + 1);
            return;
        }
        if (runqputslow(pp, gp, h, t))
            return;
    }
}

rt_g *rt_runqget(rt_p *pp, bool *inherit)
{
    rt_g *next = rt_load_relaxed(&pp->runnext);
    /* Only the owner sets runnext non-NULL, so a failed CAS means a stealer
     * took it and there is no point retrying. */
    if (next != NULL && rt_cas(&pp->runnext, next, NULL)) {
        /* tells a stealer waiting for runnext that we are making progress */
        rt_store_relaxed(&pp->nexttick, pp->nexttick + 1);
        *inherit = true;
        return next;
    }
    for (;;) {
        uint32_t h = rt_load_acq(&pp->runqhead);
        uint32_t t = pp->runqtail;
        if (t == h)
            return NULL;
        rt_g *gp = rt_load_relaxed(&pp->runq[h % RT_RUNQ_SIZE]);
        if (rt_cas_rel(&pp->runqhead, h, h + 1)) {
            *inherit = false;
            return gp;
        }
    }
}

/* runqgrab: take half of pp's queue into batch[batchhead...]. May steal
 * runnext, but not from a P that is actively scheduling: the G that made
 * it runnable is usually about to block and runnext will run at once. */
static uint32_t runqgrab(rt_p *pp, rt_g **batch, uint32_t batchhead, bool stealnext)
{
    for (;;) {
        uint32_t h = rt_load_acq(&pp->runqhead);
        uint32_t t = rt_load_acq(&pp->runqtail);
        uint32_t n = t - h;
        n = n - n / 2;
        if (n == 0) {
            if (stealnext) {
                rt_g *next = rt_load(&pp->runnext);
                if (next != NULL) {
                    if (rt_load_relaxed(&pp->status) == P_RUNNING) {
                        /* Go sleeps 3 us here; we spin about as long,
                         * without a system call, and give up if the
                         * owner scheduled in the meantime (a new tick, or
                         * it took a runnext: in a ping-pong runnext is
                         * refilled at once, so only the tick tells). */
                        uint32_t tick = rt_load_relaxed(&pp->schedtick);
                        uint32_t ntick = rt_load_relaxed(&pp->nexttick);
                        uint64_t until = rt_arch_cputicks() + 6000;
                        while (rt_arch_cputicks() < until) {
                            rt_procyield(25);
                            if (rt_load_relaxed(&pp->schedtick) != tick ||
                                rt_load_relaxed(&pp->nexttick) != ntick)
                                return 0;
                        }
                    }
                    if (!rt_cas(&pp->runnext, next, NULL))
                        continue;
                    rt_store_relaxed(&batch[batchhead % RT_RUNQ_SIZE], next);
                    return 1;
                }
            }
            return 0;
        }
        if (n > RT_RUNQ_SIZE / 2)
            continue; /* read inconsistent h and t */
        for (uint32_t i = 0; i < n; i++) {
            rt_g *g = rt_load_relaxed(&pp->runq[(h + i) % RT_RUNQ_SIZE]);
            rt_store_relaxed(&batch[(batchhead + i) % RT_RUNQ_SIZE], g);
        }
        if (rt_cas_rel(&pp->runqhead, h, h + n))
            return n;
    }
}

static rt_g *runqsteal(rt_p *pp, rt_p *p2, bool stealnext)
{
    uint32_t t = pp->runqtail;
    uint32_t n = runqgrab(p2, pp->runq, t, stealnext);
    if (n == 0)
        return NULL;
    n--;
    rt_g *gp = rt_load_relaxed(&pp->runq[(t + n) % RT_RUNQ_SIZE]);
    if (n == 0)
        return gp;
    uint32_t h = rt_load_acq(&pp->runqhead);
    if (t - h + n >= RT_RUNQ_SIZE)
        rt_throw("runqsteal: runq overflow");
    rt_store_rel(&pp->runqtail, t + n);
    return gp;
}

/* globrunqget: with sched.lock held, take a fair share of the global queue
 * into pp's local queue and return one G. max == 0: no limit. */
static rt_g *globrunqget(rt_p *pp, int32_t max)
{
    if (sched.runqsize == 0)
        return NULL;
    int32_t n = sched.runqsize / rt_procs() + 1;
    if (n > sched.runqsize)
        n = sched.runqsize;
    if (max > 0 && n > max)
        n = max;
    if (n > RT_RUNQ_SIZE / 2)
        n = RT_RUNQ_SIZE / 2;
    rt_g *gp = globrunqpop();
    for (n--; n > 0; n--)
        runqput(pp, globrunqpop(), false);
    return gp;
}

/* m->curg is read racily (preemptall, sysmon): written with a store. */
static inline void setcurg(rt_m *mp, rt_g *gp) { rt_store_rel(&mp->curg, gp); } /* release: plain mov on x86 */

/* ---- idle P and M lists (sched.lock held) ------------------------------- */

void rt_pidleput(rt_p *pp)
{
    if (!rt_runqempty(pp))
        rt_throw("rt_pidleput: P has non-empty run queue");
    rt_setpstatus(pp, P_IDLE);
    pp->link = sched.pidle;
    sched.pidle = pp;
    rt_xadd(&sched.npidle, 1);
}

/* A P leaving the idle list is about to run: wake sysmon if it sleeps
 * because every P was idle. Every path that takes an idle P comes through
 * here (rt_startm, exitsyscall, the timer watcher, a spinning M's re-check);
 * without it, a one-P program that had been idle never preempted a
 * goroutine that then spun. Not during a stop-the-world, which takes the
 * idle Ps to stop them. */
rt_p *rt_pidleget(void)
{
    rt_p *pp = sched.pidle;
    if (pp != NULL) {
        sched.pidle = pp->link;
        rt_xadd(&sched.npidle, (uint32_t)-1);
        if (rt_unlikely(rt_load_relaxed(&sched.sysmonwait)) && !rt_load_relaxed(&sched.gcwaiting))
            rt_sysmon_wake_locked();
    }
    return pp;
}

static void mput(rt_m *mp)
{
    mp->schedlink = sched.midle;
    sched.midle = mp;
    sched.nmidle++;
    rt_checkdead();
}

static rt_m *mget(void)
{
    rt_m *mp = sched.midle;
    if (mp != NULL) {
        sched.midle = mp->schedlink;
        sched.nmidle--;
    }
    return mp;
}

static void mremove(rt_m *mp)
{
    for (rt_m **pp = &sched.midle; *pp != NULL; pp = &(*pp)->schedlink) {
        if (*pp == mp) {
            *pp = mp->schedlink;
            sched.nmidle--;
            return;
        }
    }
    rt_throw("mremove: M not on the idle list");
}

/* ---- rt_acquirep / rt_releasep ------------------------------------------------ */

/* GORTDEBUG=bindps=1: run on the CPU pp is homed on (a system call, only
 * when this M's CPU changes; rt_acquirep runs on the M's own thread). */
static void bindm(rt_m *mp, rt_p *pp)
{
    int cpu = rt_p_homecpu(pp->id);
    if (cpu < 0 || mp->boundcpu == cpu + 1)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0)
        mp->boundcpu = cpu + 1;
}

void rt_acquirep(rt_p *pp)
{
    rt_m *mp = rt_getg()->m;
    if (mp->p != NULL || rt_load_relaxed(&pp->m) != NULL || rt_load_relaxed(&pp->status) != P_IDLE)
        rt_throwf("rt_acquirep: invalid P state (m->p=%p p->m=%p status=%u)", (void *)mp->p,
                  (void *)rt_load_relaxed(&pp->m), rt_load_relaxed(&pp->status));
    mp->p = pp;
    rt_arch_setmcache(pp->mcache);
    rt_setpm(pp, mp);
    rt_setpstatus(pp, P_RUNNING);
    if (rt_unlikely(rt_debug.bindps))
        bindm(mp, pp);
}

rt_p *rt_releasep(void)
{
    rt_m *mp = rt_getg()->m;
    rt_p *pp = mp->p;
    if (pp == NULL || rt_load_relaxed(&pp->m) != mp || rt_load_relaxed(&pp->status) != P_RUNNING)
        rt_throw("rt_releasep: invalid P state");
    mp->p = NULL;
    rt_arch_setmcache(NULL);
    rt_setpm(pp, NULL);
    rt_setpstatus(pp, P_IDLE);
    return pp;
}

/* ---- M creation and parking --------------------------------------------- */

static void *mstart_thread(void *arg);
static void schedule(void) __attribute__((noreturn));

static rt_m *allocm(void)
{
    rt_m *mp = calloc(1, sizeof(rt_m));
    rt_g *g0 = calloc(1, sizeof(rt_g));
    if (mp == NULL || g0 == NULL)
        rt_throw("out of memory allocating an M");
    g0->m = mp;
    g0->goid = -1;
    g0->status = G_RUNNING;
    mp->g0 = g0;
    mp->fastrand = rt_arch_cputicks() * 0x9e3779b97f4a7c15ull + (uint64_t)(uintptr_t)mp;
    return mp;
}

/* Link a new M into allm and give it an id (sched.lock held). */
static void mcommoninit(rt_m *mp)
{
    mp->id = sched.mnext++;
    mp->alllink = rt_allm;
    rt_store_rel(&rt_allm, mp);
}

static int32_t mcount(void) { return (int32_t)(sched.mnext - sched.nmfreed); }

static void newosproc(rt_m *mp)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* Block all signals in the new thread until it has its altstack. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &mp->sigmask);
    int err = pthread_create(&mp->thread, &attr, mstart_thread, mp);
    pthread_sigmask(SIG_SETMASK, &mp->sigmask, NULL);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        rt_printf("runtime: failed to create new OS thread (have %d already; errno=%d)\n",
                  (int)mcount(), err);
        rt_throw("newosproc");
    }
}

/* newm: create an M that will start with pp (may be NULL: sysmon). */
rt_m *rt_newm(rt_p *pp, bool spinning, bool sysmon)
{
    rt_m *mp = allocm();
    mp->nextp = pp;
    mp->spinning = spinning;
    mp->sysmon = sysmon;
    rt_lock_acquire(&sched.lock);
    mcommoninit(mp);
    if (sysmon)
        sched.nmsys++;
    rt_lock_release(&sched.lock);
    newosproc(mp);
    return mp;
}

/* rt_stopm: park the current M (no P) until rt_startm hands it one. */
void rt_stopm(void)
{
    rt_m *mp = rt_getg()->m;
    if (mp->locks != 0)
        rt_throw("rt_stopm holding locks");
    if (mp->p != NULL)
        rt_throw("rt_stopm holding p");
    if (mp->spinning)
        rt_throw("rt_stopm spinning");
    rt_lock_acquire(&sched.lock);
    mput(mp);
    rt_lock_release(&sched.lock);
    mp->blocked = true;
    rt_notesleep(&mp->park);
    mp->blocked = false;
    rt_noteclear(&mp->park);
    /* Only rt_startm wakes an M on the idle list, with a P (see "Waking
     * an idle M" above). */
    if (mp->nextp == NULL)
        rt_throw("rt_stopm: woken without a P");
    rt_acquirep(mp->nextp);
    mp->nextp = NULL;
}

/* With sched.lock held and sched.timerm set: make the timer watcher give
 * up its watch and re-arm (an earlier timer, or a new watcher). Clearing
 * timerm claims the watcher's wakeup; it is cleared before the poller is
 * broken, so a poller that has not blocked yet sees it
 * (rt_netpoll_stillwatcher) and does not. A watcher asleep on its note
 * leaves the idle list here, so that rt_startm cannot find it and wake the
 * same sleep a second time: that wakeup, unlocked, could land after the
 * watcher had cleared its note and wake its next rt_stopm without a P
 * (test_chan.test_ticker_churn crashed so now and then under ASan; two
 * wakeups of one sleep happened in every run). */
void rt_timerm_wake_locked(void)
{
    rt_m *mp = sched.timerm;
    rt_store(&sched.timerm, NULL);
    if (mp->inpoll) {
        rt_netpollbreak();
    } else {
        mremove(mp);
        rt_notewakeup_once(&mp->park);
    }
}

/* stopm_timers: like rt_stopm, but this M is the one that sleeps until the
 * earliest timer (when; INT64_MAX: none), in the poller if io (goroutines
 * wait on I/O: Go's blocking netpoll(delay)). Returns true with a P when
 * handed one or when the poll readied goroutines; false without a P when
 * the timer is due, an earlier timer was added or the poll found nothing. */
static bool stopm_timers(int64_t when, bool io)
{
    rt_m *mp = rt_getg()->m;
    rt_lock_acquire(&sched.lock);
    if (sched.timerm != NULL && sched.timerm_when <= when && (sched.timerm->inpoll || !io)) {
        rt_lock_release(&sched.lock);
        rt_stopm();
        return true;
    }
    /* We watch an earlier timer, or I/O the old watcher does not: it goes
     * back to sleeping without a deadline. */
    if (sched.timerm != NULL)
        rt_timerm_wake_locked();
    rt_store(&sched.timerm, mp);
    sched.timerm_when = when;
    mp->inpoll = io;
    if (!io)
        mput(mp);
    rt_lock_release(&sched.lock);

    if (io) {
        /* Not on the idle list: nobody hands us a P; we take one if the
         * poll readied goroutines. checkdead counts us as running, so
         * goroutines waiting on I/O are never a deadlock (as in Go). */
        int64_t delay = -1;
        if (when != INT64_MAX) {
            delay = when - rt_nanotime();
            if (delay < 0)
                delay = 0;
        }
        rt_g *list;
        int32_t n = rt_netpoll(delay, &list);
        rt_lock_acquire(&sched.lock);
        if (sched.timerm == mp)
            rt_store(&sched.timerm, NULL);
        mp->inpoll = false;
        rt_p *pp = n > 0 ? rt_pidleget() : NULL;
        rt_lock_release(&sched.lock);
        if (n == 0)
            return false;
        if (pp != NULL)
            rt_acquirep(pp);
        rt_injectglist(list);
        return pp != NULL;
    }

    mp->blocked = true;
    int64_t delay = when - rt_nanotime();
    if (delay > 0)
        rt_notetsleep(&mp->park, delay);
    mp->blocked = false;

    /* Who claimed us, under sched.lock, is who wakes us, at most once. */
    rt_lock_acquire(&sched.lock);
    if (mp->nextp != NULL) {
        /* rt_startm took us off the idle list and the watch; its wakeup
         * may still be on the way. */
        rt_lock_release(&sched.lock);
        rt_notesleep(&mp->park);
        rt_noteclear(&mp->park);
        rt_acquirep(mp->nextp);
        mp->nextp = NULL;
        return true;
    }
    if (sched.timerm == mp) {
        /* The timer is due and nobody claimed us: leave both ourselves. */
        rt_store(&sched.timerm, NULL);
        mremove(mp);
    }
    /* Else rt_timerm_wake_locked claimed us, and its wakeup, given under
     * the lock, has landed: clearing it here cannot miss one. */
    rt_noteclear(&mp->park);
    rt_lock_release(&sched.lock);
    return false;
}

bool rt_netpoll_stillwatcher(void) { return rt_load(&sched.timerm) == rt_getg()->m; }

/* rt_injectglist: make the goroutines of list (linked through schedlink,
 * _Gwaiting, from the poller) runnable (Go: injectglist). Without a P they
 * go to the global queue, and idle Ps are started for them; with one, as
 * many as there are idle Ps go global, the rest to our local queue. */
void rt_injectglist(rt_g *list)
{
    if (list == NULL)
        return;
    int32_t n = 0;
    for (rt_g *gp = list; gp != NULL; gp = gp->schedlink) {
        casgstatus(gp, G_WAITING, G_RUNNABLE);
        n++;
    }
    rt_m *mp = rt_getg()->m;
    rt_p *pp = mp != NULL ? mp->p : NULL;
    int32_t nglob = n;
    if (pp != NULL) {
        int32_t npidle = (int32_t)rt_load(&sched.npidle);
        nglob = npidle < n ? npidle : n;
    }
    if (nglob > 0) {
        rt_g *h = list, *t = list;
        for (int32_t i = 1; i < nglob; i++)
            t = t->schedlink;
        list = t->schedlink;
        rt_lock_acquire(&sched.lock);
        globrunqputbatch(h, t, nglob);
        rt_lock_release(&sched.lock);
        for (int32_t i = 0; i < nglob && rt_load(&sched.npidle) != 0; i++)
            rt_startm(NULL, false);
    }
    while (list != NULL) {
        rt_g *next = list->schedlink;
        runqput(pp, list, false);
        list = next;
    }
}

/* rt_startm: run pp (or an idle P) on an idle or new M. spinning: the caller
 * incremented nmspinning for the new M. */
void rt_startm(rt_p *pp, bool spinning)
{
    rt_lock_acquire(&sched.lock);
    if (pp == NULL) {
        pp = rt_pidleget();
        if (pp == NULL) {
            rt_lock_release(&sched.lock);
            if (spinning && (int32_t)rt_xadd(&sched.nmspinning, (uint32_t)-1) < 0)
                rt_throw("rt_startm: negative nmspinning");
            return;
        }
    }
    rt_m *nmp = mget();
    if (nmp == NULL) {
        rt_lock_release(&sched.lock);
        rt_newm(pp, spinning, false);
        return;
    }
    if (nmp->spinning)
        rt_throw("rt_startm: m is spinning");
    if (nmp->nextp != NULL)
        rt_throw("rt_startm: m has p");
    if (spinning && !rt_runqempty(pp))
        rt_throw("rt_startm: p has runnable gs");
    nmp->spinning = spinning;
    nmp->nextp = pp;
    if (sched.timerm == nmp)
        rt_store_relaxed(&sched.timerm, NULL);
    rt_lock_release(&sched.lock);
    rt_notewakeup_once(&nmp->park);
    if (rt_load_relaxed(&sched.sysmonwait))
        rt_sysmon_wake();
}

/* With sched.lock held: if the world is being stopped, park pp in
 * _Pgcstop (the last one wakes the stopper), release the lock and return
 * true; else keep the lock and return false. */
static bool gcstop_locked(rt_p *pp)
{
    if (!rt_load(&sched.gcwaiting))
        return false;
    rt_setpstatus(pp, P_GCSTOP);
    if (--sched.stopwait == 0)
        rt_notewakeup(&sched.stopnote);
    rt_lock_release(&sched.lock);
    return true;
}

/* handoffp: the M is giving up pp (blocking, wired to a G): start an M
 * for it if it has work, else make it idle. */
static void handoffp(rt_p *pp)
{
    /* Stopping the world: the P stops here, work or not (findrunnable
     * would stop too before running any of it). Starting an M only for it
     * to stop at once cost a futex wake, or a thread creation, on every
     * stop that preempted a spinner: asyncpreempt wires the G to its M, so
     * the M hands its P off through here. */
    if (rt_load(&sched.gcwaiting)) {
        rt_lock_acquire(&sched.lock);
        if (gcstop_locked(pp))
            return;
        rt_lock_release(&sched.lock);
    }
    if (!rt_runqempty(pp) || rt_load_relaxed(&sched.runqsize) != 0) {
        rt_startm(pp, false);
        return;
    }
    if (rt_load(&sched.nmspinning) + rt_load(&sched.npidle) == 0 &&
        rt_cas(&sched.nmspinning, 0, 1)) {
        rt_startm(pp, true);
        return;
    }
    rt_lock_acquire(&sched.lock);
    if (gcstop_locked(pp))
        return;
    if (sched.runqsize != 0) {
        rt_lock_release(&sched.lock);
        rt_startm(pp, false);
        return;
    }
    /* The last running P going idle with timers pending, or goroutines
     * waiting on I/O: someone must watch them, and the watcher sleeps
     * (or polls) only once it has no P. */
    bool timers = rt_load(&pp->timer0when) != 0 || rt_netpoll_active();
    rt_pidleput(pp);
    rt_lock_release(&sched.lock);
    if (timers && rt_load(&sched.npidle) == (uint32_t)rt_procs()) {
        if (rt_cas(&sched.nmspinning, 0, 1))
            rt_startm(NULL, true);
    }
}

void rt_wakep(void)
{
    if (rt_load(&sched.npidle) == 0)
        return;
    if (rt_load(&sched.nmspinning) != 0 || !rt_cas(&sched.nmspinning, 0, 1))
        return;
    rt_startm(NULL, true);
}

static void resetspinning(void)
{
    rt_m *mp = rt_getg()->m;
    if (!mp->spinning)
        rt_throw("resetspinning: not a spinning m");
    mp->spinning = false;
    if ((int32_t)rt_xadd(&sched.nmspinning, (uint32_t)-1) < 0)
        rt_throw("resetspinning: negative nmspinning");
    /* We found work: maybe there is more, wake another M to look. */
    rt_wakep();
}

/* ---- goroutine creation and exit ---------------------------------------- */


#define GFREE_LOCAL_MAX 64
#define GFREE_BATCH 32
#define GOID_BATCH 16

static void gfput(rt_p *pp, rt_g *gp)
{
    /* The stack goes back to the P's stack cache rather than staying with
     * the dead G (as Go keeps it): a burst of new Gs then reuses the few
     * warm stacks instead of faulting in fresh ones, and a stack a deep
     * call chain dirtied is released in the background (deep = the G was
     * seen more than two pages down at a switch). */
    if (gp->stk.hi != 0) {
        bool deep = gp->sp_min < gp->stk.hi - 2 * 4096;
        rt_stackfree(&pp->stackcache, &gp->stk, deep);
        gp->stk.lo = gp->stk.hi = 0;
    }
    gp->schedlink = pp->gfree;
    pp->gfree = gp;
    pp->gfreecnt++;
    if (pp->gfreecnt >= GFREE_LOCAL_MAX) {
        /* Move GFREE_BATCH of them to the global list as one batch: the
         * critical section is O(1) however cold the Gs are. */
        rt_g *head = pp->gfree, *tail = head;
        for (int32_t i = 1; i < GFREE_BATCH; i++)
            tail = tail->schedlink;
        pp->gfree = tail->schedlink;
        pp->gfreecnt -= GFREE_BATCH;
        tail->schedlink = NULL;
        rt_lock_acquire(&sched.gflock);
        rt_gfree_pushbatch(head, GFREE_BATCH);
        rt_lock_release(&sched.gflock);
    }
}

static rt_g *gfget(rt_p *pp)
{
    if (pp->gfree == NULL && rt_load_relaxed(&sched.ngfree) > 0) {
        rt_lock_acquire(&sched.gflock);
        int32_t n;
        rt_g *b = gfree_popbatch(&n);
        rt_lock_release(&sched.gflock);
        pp->gfree = b;
        pp->gfreecnt = n;
    }
    rt_g *gp = pp->gfree;
    if (gp == NULL)
        return NULL;
    pp->gfree = gp->schedlink;
    pp->gfreecnt--;
    return gp;
}

/* Free-G path for threads without a P: take one G, put the rest back. */
static rt_g *gfget_global(void)
{
    rt_lock_acquire(&sched.gflock);
    int32_t n;
    rt_g *g = gfree_popbatch(&n);
    if (g != NULL && n > 1)
        rt_gfree_pushbatch(g->schedlink, n - 1);
    rt_lock_release(&sched.gflock);
    return g;
}

static void gostart_body(rt_g *gp);

/* rt_gostart: first C code on a new goroutine's stack (from rt_gostart_asm). */
void rt_gostart(rt_g *gp) __attribute__((noreturn, used));
void rt_gostart(rt_g *gp)
{
#if defined(GORT_ASAN)
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
#if defined(GORT_TSAN)
    tsan_renew_g0(gp->m);
#endif
    run_after();
    gostart_body(gp);
    rt_goexit1();
}

static void gostart_body(rt_g *gp) { gp->fn(gp->arg); }

/* prepare: make gp the M's running G (it was taken off a queue by this M):
 * status, tick, and on its first run a stack and an initial frame. */
static inline void prepare(rt_m *mp, rt_g *gp, bool inherit)
{
    setcurg(mp, gp);
    gp->m = mp;
    casgstatus(gp, G_RUNNABLE, G_RUNNING);
    gp->waitsince = 0;
    rt_store_relaxed(&gp->preempt, false);
    if (!inherit)
        rt_store_relaxed(&mp->p->schedtick, mp->p->schedtick + 1);
    if (rt_unlikely(!gp->started)) {
        if (gp->stk.hi == 0)
            rt_stackalloc(&mp->p->stackcache, gp->stk.order, &gp->stk);
        gp->sp = rt_arch_initframe(gp->stk.hi, gp);
        gp->sp_min = gp->stk.hi;
        gp->started = true;
    }
}

static void execute(rt_g *gp, bool inherit) __attribute__((noreturn));
static void execute(rt_g *gp, bool inherit)
{
    prepare(rt_getg()->m, gp, inherit);
    gogo(gp);
}

/* switchto: from the running G, on its own stack, straight to next (taken
 * off this M's P's queue), one save and one restore instead of two trips
 * through g0. gp must not become visible to other Ms while its stack is in
 * use, so publishing it (after(mp, gp): queue it, release a wait lock) is
 * left to the incoming side, which runs it first thing (run_after). */
static void switchto(rt_g *gp, rt_g *next, bool inherit, void (*after)(rt_m *, rt_g *))
{
    rt_m *mp = gp->m;
    uintptr_t sp = rt_arch_getsp();
    if (sp < gp->sp_min)
        gp->sp_min = sp;
    if (rt_unlikely(gp->stk.guard == RT_GUARD_CANARY) && !rt_stack_canary_ok(&gp->stk))
        rt_stack_overflow_canary(gp);
    mp->afterfn = after;
    mp->afterg = gp;
    prepare(mp, next, inherit);
    gp->m = NULL;
    rt_setg(next);
#if defined(GORT_ASAN)
    __sanitizer_start_switch_fiber(&gp->asan_fake, (void *)next->stk.lo, next->stk.hi - next->stk.lo);
#endif
#if defined(GORT_TSAN)
    __tsan_switch_to_fiber(next->tsan_fiber, 0);
#endif
    rt_switch_asm(&gp->sp, next->sp);
#if defined(GORT_ASAN)
    __sanitizer_finish_switch_fiber(gp->asan_fake, NULL, NULL);
#endif
#if defined(GORT_TSAN)
    tsan_renew_g0(gp->m); /* we may have been resumed from g0 */
#endif
    run_after();
}

rt_g *rt_newproc(void (*fn)(void *), void *arg, uintptr_t callerpc, int order, bool sysg)
{
    rt_g *cur = rt_getg();
    rt_m *mp = cur != NULL ? cur->m : NULL;
    rt_p *pp = mp != NULL ? mp->p : NULL;
    rt_g *gp;
    if (pp != NULL) {
        mp->locks++;
        gp = gfget(pp);
        if (gp == NULL)
            gp = malg(pp);
        if (pp->goidcache == pp->goidcacheend) {
            pp->goidcache = rt_xadd(&sched.goidgen, GOID_BATCH) - GOID_BATCH + 1;
            pp->goidcacheend = pp->goidcache + GOID_BATCH;
        }
        gp->goid = pp->goidcache++;
        rt_store_relaxed(&pp->ngo_created, pp->ngo_created + 1);
    } else {
        rt_note_foreign_call();
        gp = gfget_global();
        if (gp == NULL)
            gp = malg(NULL);
        gp->goid = rt_xadd(&sched.goidgen, 1);
        rt_xadd(&sched.ngo_foreign, 1);
    }
    if (rt_readgstatus(gp) != G_DEAD)
        rt_throw("newproc1: new g is not Gdead");
    gp->stk.order = (uint8_t)(order >= 0 ? order : rt_stack_default_order);
    gp->fn = fn;
    gp->arg = arg;
    gp->gopc = callerpc;
    gp->parentgoid = (cur != NULL && mp != NULL && cur != mp->g0) ? cur->goid : 0;
    gp->started = false;
    gp->sp = NULL;
    gp->sysg = sysg;
    if (sysg)
        rt_xadd(&rt_sysg_count, 1);
    gp->waitreason = WR_ZERO;
    gp->param = NULL;
    casgstatus(gp, G_DEAD, G_RUNNABLE);
    if (pp != NULL) {
        runqput(pp, gp, true);
        mp->locks--;
        if (rt_load_relaxed(&rt_started))
            rt_wakep();
        /* Backpressure: a goroutine spawning faster than its Gs run would
         * grow the backlog without bound, each new G and stack costing
         * page faults (~12 us each here). With a full local queue, the
         * spawner yields and lets this P run what it made. */
        if (rt_unlikely(pp->runqtail - rt_load_relaxed(&pp->runqhead) >= RT_RUNQ_SIZE - 1) &&
            cur == mp->curg && mp->locks == 0)
            rt_gosched();
    } else {
        rt_lock_acquire(&sched.lock);
        globrunqput(gp);
        rt_lock_release(&sched.lock);
        rt_wakep();
    }
    return gp;
}

static void goexit0(rt_g *gp)
{
    rt_m *mp = rt_getg()->m;
    rt_p *pp = mp->p;
    casgstatus(gp, G_RUNNING, G_DEAD);
    if (gp->sysg)
        rt_xadd(&rt_sysg_count, -1);
    gp->m = NULL;
    bool locked = gp->lockedm != NULL;
    gp->lockedm = NULL;
    mp->lockedg = NULL;
    gp->locked = 0;
    rt_store_relaxed(&gp->preempt, false);
    gp->waitreason = WR_ZERO;
    gp->param = NULL;
    gp->fn = NULL;
    gp->arg = NULL;
    setcurg(mp, NULL);
    (void)locked;
    rt_store_relaxed(&pp->ngo_exited, pp->ngo_exited + 1);
    gfput(pp, gp);
    schedule();
}

void rt_goexit1(void)
{
    rt_g *gp = rt_getg();
    if (rt_unlikely(rt_readgstatus(gp) == G_SYSCALL))
        rt_throw("goexit between gort_entersyscall and gort_exitsyscall");
    while (gp->defers != NULL) { /* as Go runs deferred calls on Goexit */
        rt_defer *d = gp->defers;
        gp->defers = d->link;
        d->fn(d->arg);
    }
    rt_gls_destroy(gp);
    rt_main_goexit_hook(gp);
    rt_mcall(goexit0, true);
    __builtin_unreachable();
}

/* ---- system calls (Go: entersyscall, exitsyscall, exitsyscall0) ----------- *
 *
 * entersyscall leaves the P in _Psyscall with no M, remembered as m->oldp;
 * the G is _Gsyscall and the M runs on without a P (the allocator sees a
 * thread without a P). Nothing is handed off yet: most calls are short, and
 * exitsyscall's fast path is one CAS _Psyscall -> _Prunning on the old P.
 * If the call blocks, sysmon's retake takes the P (CAS _Psyscall -> _Pidle)
 * after 20 us when there is other work, or after 10 ms anyway, and hands
 * it off (handoffp). exitsyscall then takes an idle P if there is one, or
 * (exitsyscall0, on g0) puts the G on the global run queue and stops the M.
 * A stop-the-world takes _Psyscall Ps directly (_Pgcstop).
 * No system call on either path, and no lock on the fast one. */

static void stoplockedm(void);

static void entersyscall_gcwait(rt_p *pp)
{
    rt_lock_acquire(&sched.lock);
    if (sched.stopwait > 0 && rt_cas(&pp->status, P_SYSCALL, P_GCSTOP)) {
        rt_syscalltick_inc(pp);
        if (--sched.stopwait == 0)
            rt_notewakeup(&sched.stopnote);
    }
    rt_lock_release(&sched.lock);
}

/* rt_entersyscall / gort_entersyscall (src/asm) save the caller's SP and
 * callee-saved registers and come here: the collector's view of a
 * goroutine it cannot stop (src/gc/mgcmark.c). */
void rt_entersyscall_regs(const uintptr_t *regs)
{
    rt_g *gp = rt_curg();
    if (gp == NULL)
        return; /* a thread gort does not run: nothing to hand off */
    memcpy(gp->syscallregs, regs, sizeof(gp->syscallregs));
    gp->syscallsp = regs[RT_SYSCALL_REGS];
    rt_m *mp = gp->m;
    rt_p *pp = mp->p;
    if (rt_readgstatus(gp) == G_SYSCALL)
        rt_throw("entersyscall: already in a system call (gort_entersyscall nested)");
    if (pp == NULL || mp->locks != 0)
        rt_throw("entersyscall: no P, or holding runtime locks");
    casgstatus(gp, G_RUNNING, G_SYSCALL);
    rt_syscalltick_inc(pp);
    mp->oldp = pp;
    mp->p = NULL;
    rt_arch_setmcache(NULL);
    rt_setpm(pp, NULL);
    /* A release store, no fence: if a stop-the-world starting now misses
     * this P here, its wait loop takes _Psyscall Ps itself (stopsyscallps). */
    rt_store_rel(&pp->status, P_SYSCALL);
    if (rt_unlikely(rt_load_relaxed(&sched.gcwaiting)))
        entersyscall_gcwait(pp);
    if (rt_unlikely(rt_load_relaxed(&sched.sysmonwait)))
        rt_sysmon_wake(); /* someone must be able to retake the P */
}

static void wirep(rt_m *mp, rt_p *pp)
{
    mp->p = pp;
    rt_arch_setmcache(pp->mcache);
    rt_setpm(pp, mp);
}

static void exitsyscall0(rt_g *gp)
{
    rt_m *mp = gp->m;
    casgstatus(gp, G_SYSCALL, G_RUNNABLE);
    setcurg(mp, NULL);
    gp->m = NULL;
    rt_lock_acquire(&sched.lock);
    rt_p *pp = rt_load(&sched.gcwaiting) ? NULL : rt_pidleget();
    if (pp == NULL)
        globrunqput(gp);
    rt_lock_release(&sched.lock);
    if (pp != NULL) {
        rt_acquirep(pp);
        execute(gp, false);
    }
    if (mp->lockedg != NULL) {
        stoplockedm(); /* wait until gp is handed back to us with a P */
        execute(gp, false);
    }
    rt_stopm();
    schedule();
}

void rt_exitsyscall(void)
{
    rt_g *gp = rt_curg();
    if (gp == NULL)
        return;
    if (rt_readgstatus(gp) != G_SYSCALL)
        rt_throw("exitsyscall: not in a system call (gort_exitsyscall without gort_entersyscall)");
    rt_m *mp = gp->m;
    rt_p *oldp = mp->oldp;
    mp->oldp = NULL;
    /* 1. The P we left, if nobody took it. */
    if (oldp != NULL && rt_load(&oldp->status) == P_SYSCALL && rt_cas(&oldp->status, P_SYSCALL, P_RUNNING)) {
        wirep(mp, oldp);
        rt_syscalltick_inc(oldp);
        casgstatus(gp, G_SYSCALL, G_RUNNING);
        return;
    }
    /* 2. Any idle P. */
    if (rt_load(&sched.npidle) != 0 && !rt_load(&sched.gcwaiting)) {
        rt_lock_acquire(&sched.lock);
        rt_p *pp = rt_load(&sched.gcwaiting) ? NULL : rt_pidleget();
        rt_lock_release(&sched.lock);
        if (pp != NULL) {
            rt_acquirep(pp);
            rt_syscalltick_inc(pp);
            casgstatus(gp, G_SYSCALL, G_RUNNING);
            return;
        }
    }
    /* 3. Queue the G, stop this M (on g0). */
    rt_mcall(exitsyscall0, false);
}

static inline int64_t rt_min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* sysmon: take Ps back from Ms that sit in system calls, and ask Gs that
 * ran for over 10 ms to yield (Go: retake). Returns the number retaken;
 * *nextcheck: when a running G's 10 ms will be up (INT64_MAX: none runs). */
#define FORCE_PREEMPT_NS (10 * 1000 * 1000)
uint32_t rt_retake(int64_t now, void (*preemptone)(rt_m *mp, rt_g *gp), int64_t *nextcheck)
{
    uint32_t n = 0;
    *nextcheck = INT64_MAX;
    int32_t np = rt_procs();
    for (int32_t i = 0; i < np; i++) {
        rt_p *pp = rt_load_acq(&rt_allp[i]);
        if (pp == NULL)
            continue;
        uint32_t s = rt_load(&pp->status);
        if (s == P_RUNNING || s == P_SYSCALL) {
            uint32_t t = rt_load_relaxed(&pp->schedtick);
            if (s == P_RUNNING) /* look again by the time this G's 10 ms are up */
                *nextcheck = rt_min64(*nextcheck, pp->sm_schedtick != t ? now + FORCE_PREEMPT_NS
                                                                       : pp->sm_schedwhen + FORCE_PREEMPT_NS);
            if (pp->sm_schedtick != t) {
                pp->sm_schedtick = t;
                pp->sm_schedwhen = now;
            } else if (s == P_RUNNING && pp->sm_schedwhen + FORCE_PREEMPT_NS <= now &&
                       now - pp->sm_preemptwhen >= 1000 * 1000) { /* ask at most once a ms */
                rt_m *mp = rt_load_acq(&pp->m);
                rt_g *gp = mp != NULL ? rt_load_acq(&mp->curg) : NULL;
                if (gp != NULL && preemptone != NULL) {
                    pp->sm_preemptwhen = now;
                    preemptone(mp, gp);
                }
            }
        }
        if (s != P_SYSCALL)
            continue;
        uint32_t t = rt_load(&pp->syscalltick);
        if (pp->sm_syscalltick != t) {
            pp->sm_syscalltick = t; /* a new call: give it one sysmon tick (>= 20 us) */
            pp->sm_syscallwhen = now;
            continue;
        }
        /* Leave it if nothing waits for a P and the call is young. */
        if (rt_runqempty(pp) && rt_load(&sched.nmspinning) + rt_load(&sched.npidle) > 0 &&
            rt_load_relaxed(&sched.runqsize) == 0 && pp->sm_syscallwhen + FORCE_PREEMPT_NS > now)
            continue;
        /* Count as a running M meanwhile, so checkdead does not see an M
         * that is about to start as missing (Go: incidlelocked(-1)). */
        rt_lock_acquire(&sched.lock);
        sched.nmidlelocked--;
        rt_lock_release(&sched.lock);
        if (rt_cas(&pp->status, P_SYSCALL, P_IDLE)) {
            rt_syscalltick_inc(pp);
            n++;
            handoffp(pp);
        }
        rt_lock_acquire(&sched.lock);
        sched.nmidlelocked++;
        rt_lock_release(&sched.lock);
    }
    return n;
}

/* ---- schedtrace (Go: schedtrace; GORTDEBUG=schedtrace=N,scheddetail=1) ----- */

static int64_t schedtrace_start;

/* The trace reads fields other threads write without synchronisation (as
 * Go's does): a diagnostic snapshot, read with plain volatile loads in
 * functions TSan does not instrument. */
#define RACY(x) (*(volatile __typeof__(x) *)&(x))
__attribute__((no_sanitize("thread"))) static bool schedtrace_g(rt_g *gp, void *arg)
{
    (void)arg;
    rt_m *mp = RACY(gp->m);
    rt_m *lm = RACY(gp->lockedm);
    uint32_t s = RACY(gp->status);
    uint8_t wr = gp->waitreason;
    rt_printf("  G%lld: status=%u(%s) m=%lld lockedm=%lld\n", (long long)gp->goid, s,
              wr < WR_COUNT ? rt_waitreason_names[wr] : "", (long long)(mp != NULL ? mp->id : -1),
              (long long)(lm != NULL ? lm->id : -1));
    return true;
}

/* One SCHED line (and with detail every P, M and G), in Go's format. Runs
 * on sysmon; reads other Ms' and Ps' fields racily, as Go does. */
__attribute__((no_sanitize("thread"))) void rt_schedtrace(bool detail)
{
    int64_t now = rt_nanotime();
    if (schedtrace_start == 0)
        schedtrace_start = now;
    rt_lock_acquire(&sched.lock);
    rt_printf("SCHED %lldms: gomaxprocs=%d idleprocs=%u threads=%d spinningthreads=%u idlethreads=%d runqueue=%d",
              (long long)((now - schedtrace_start) / 1000000), rt_procs(), RACY(sched.npidle), mcount(),
              RACY(sched.nmspinning), sched.nmidle, sched.runqsize);
    if (detail)
        rt_printf(" gcwaiting=%u nmidlelocked=%d stopwait=%d sysmonwait=%u\n", RACY(sched.gcwaiting),
                  sched.nmidlelocked, sched.stopwait, RACY(sched.sysmonwait));
    int32_t np = rt_procs();
    for (int32_t i = 0; i < np; i++) {
        rt_p *pp = rt_allp[i];
        rt_m *mp = RACY(pp->m);
        uint32_t h = RACY(pp->runqhead), t = RACY(pp->runqtail);
        if (detail) {
            rt_printf("  P%d: status=%u schedtick=%u syscalltick=%u m=%lld runqsize=%u gfreecnt=%d timerslen=%d", i,
                      RACY(pp->status), RACY(pp->schedtick),
                      RACY(pp->syscalltick), (long long)(mp != NULL ? mp->id : -1), t - h,
                      RACY(pp->gfreecnt), RACY(pp->ntimers));
            int cpu = rt_p_homecpu(i); /* placement (gort's addition to Go's line) */
            if (cpu >= 0)
                rt_printf(" cpu=%d core=%d l3=%d node=%d", cpu, rt_cpu_core[cpu], rt_cpu_l3[cpu], rt_cpu_node[cpu]);
            rt_printf("\n");
        }
        else
            rt_printf("%s%u%s", i == 0 ? " [" : " ", t - h, i == np - 1 ? "]\n" : "");
    }
    if (!detail) {
        rt_lock_release(&sched.lock);
        return;
    }
    for (rt_m *mp = RACY(rt_allm); mp != NULL; mp = mp->alllink) {
        rt_p *pp = RACY(mp->p);
        rt_g *gp = RACY(mp->curg);
        rt_g *lg = RACY(mp->lockedg);
        rt_printf("  M%lld: p=%d curg=%lld mallocing=0 throwing=%d preemptoff= locks=%d dying=0 spinning=%s "
                  "blocked=%s lockedg=%lld\n",
                  (long long)mp->id, pp != NULL ? pp->id : -1, (long long)(gp != NULL ? gp->goid : -1),
                  RACY(mp->throwing), RACY(mp->locks),
                  RACY(mp->spinning) ? "true" : "false", RACY(mp->blocked) ? "true" : "false",
                  (long long)(lg != NULL ? lg->goid : -1));
    }
    rt_foreachg(schedtrace_g, NULL);
    rt_lock_release(&sched.lock);
}

/* ---- park, ready, yield -------------------------------------------------- */

/* The incoming side of a direct park (see rt_park): the parked G's stack is
 * free now, so its wait lock can go. If unlockf refuses the park, the G
 * runs next instead (park_m would have run it at once). */
static void park_after(rt_m *mp, rt_g *prev)
{
    bool (*f)(rt_g *, void *) = mp->waitunlockf;
    if (f == NULL)
        return;
    mp->waitunlockf = NULL;
    void *lock = mp->waitlock;
    mp->waitlock = NULL;
    if (!f(prev, lock)) {
        casgstatus(prev, G_WAITING, G_RUNNABLE);
        runqput(mp->p, prev, true);
    }
    if (rt_unlikely(mp->locks != 0))
        rt_throw("park while holding runtime locks");
}

/* Conditions under which schedule() would simply pop the next local G:
 * then a yield or park may switch to it directly (switchto). */
static inline bool can_switch_direct(rt_m *mp, rt_p *pp)
{
    return rt_likely(mp->lockedg == NULL && !rt_load_relaxed(&sched.gcwaiting) &&
                     rt_load_relaxed(&pp->timer0when) == 0 && (pp->schedtick + 1) % 61 != 0);
}

static void park_m(rt_g *gp)
{
    rt_m *mp = rt_getg()->m;
    casgstatus(gp, G_RUNNING, G_WAITING);
    setcurg(mp, NULL);
    gp->m = NULL;
    if (mp->waitunlockf != NULL) {
        bool ok = mp->waitunlockf(gp, mp->waitlock);
        mp->waitunlockf = NULL;
        mp->waitlock = NULL;
        if (!ok) {
            casgstatus(gp, G_WAITING, G_RUNNABLE);
            execute(gp, true);
        }
    }
    schedule();
}

void rt_park(bool (*unlockf)(rt_g *, void *), void *lock, uint8_t reason)
{
    rt_g *gp = rt_getg();
    rt_m *mp = gp->m;
    if (rt_unlikely(mp == NULL || gp == mp->g0))
        rt_throw("park called outside a goroutine");
    if (rt_unlikely(rt_readgstatus(gp) == G_SYSCALL))
        rt_throwf("goroutine %lld blocked (%s) between gort_entersyscall and gort_exitsyscall", (long long)gp->goid,
                  rt_waitreason_names[reason]);
    /* Locks held now must be exactly those unlockf releases (one, or every
     * channel of a select): checked once it ran (park_after, schedule). */
    mp->waitlock = lock;
    mp->waitunlockf = unlockf;
    gp->waitreason = reason;
    gp->waitsince = 0;
    rt_p *pp = mp->p;
    if (can_switch_direct(mp, pp)) {
        bool inherit;
        rt_g *next = rt_runqget(pp, &inherit);
        if (next != NULL) {
            if (rt_likely(next->lockedm == NULL)) {
                casgstatus(gp, G_RUNNING, G_WAITING);
                setcurg(mp, NULL);
                switchto(gp, next, inherit, park_after);
                return;
            }
            runqput(pp, next, true);
        }
    }
    rt_mcall(park_m, false);
}

static bool parkunlock_c(rt_g *gp, void *lock)
{
    (void)gp;
    rt_lock_release((rt_lock *)lock);
    return true;
}

/* park with a runtime lock held; the lock is released once the G is
 * _Gwaiting (the lock's m->locks count moves with it to g0). */
void rt_parkunlock(rt_lock *l, uint8_t reason) { rt_park(parkunlock_c, l, reason); }

void rt_ready(rt_g *gp, bool next)
{
    if (rt_readgstatus(gp) != G_WAITING)
        rt_throwf("bad g->status in ready (goroutine %lld status %u)", (long long)gp->goid,
                  rt_readgstatus(gp));
    casgstatus(gp, G_WAITING, G_RUNNABLE);
    rt_g *cur = rt_getg();
    rt_m *mp = cur != NULL ? cur->m : NULL;
    if (mp != NULL && mp->p != NULL) {
        runqput(mp->p, gp, next);
        rt_wakep();
    } else {
        rt_note_foreign_call();
        rt_lock_acquire(&sched.lock);
        globrunqput(gp);
        rt_lock_release(&sched.lock);
        rt_wakep();
    }
}

static void gosched_m(rt_g *gp)
{
    rt_m *mp = rt_getg()->m;
    rt_p *pp = mp->p;
    casgstatus(gp, G_RUNNING, G_RUNNABLE);
    setcurg(mp, NULL);
    gp->m = NULL;
    /* Fast path: when schedule() would only pop the next local G, swap
     * with it directly. Same order as runqput + rt_runqget. */
    if (can_switch_direct(mp, pp)) {
        bool inherit;
        rt_g *next = rt_runqget(pp, &inherit);
        if (next != NULL) {
            runqput(pp, gp, false);
            if (rt_likely(next->lockedm == NULL))
                execute(next, inherit);
            runqput(pp, next, true); /* wired elsewhere: let schedule() hand it over */
            schedule();
        }
    }
    runqput(pp, gp, false);
    schedule();
}

static void yield_after(rt_m *mp, rt_g *prev) { runqput(mp->p, prev, false); }

void rt_gosched(void)
{
    rt_g *gp = rt_getg();
    rt_m *mp = gp->m;
    rt_p *pp = mp->p;
    if (rt_unlikely(pp == NULL))
        rt_throwf("goroutine %lld yielded between gort_entersyscall and gort_exitsyscall", (long long)gp->goid);
    /* Fast path: the next G is on our local queue and nothing else needs
     * schedule(): switch to it directly. */
    if (mp->locks == 0 && can_switch_direct(mp, pp)) {
        bool inherit;
        rt_g *next = rt_runqget(pp, &inherit);
        if (next != NULL) {
            if (rt_likely(next->lockedm == NULL)) {
                casgstatus(gp, G_RUNNING, G_RUNNABLE);
                setcurg(mp, NULL);
                switchto(gp, next, inherit, yield_after);
                return;
            }
            runqput(pp, next, true); /* wired elsewhere: the slow path hands it over */
        }
    }
    rt_mcall(gosched_m, false);
}

/* A safe point: honour a pending preemption request (sysmon's 10 ms, or
 * stop the world). Go checks at every function prologue; gort checks in
 * the calls a goroutine that never blocks is likely to make (rt_preemptpoint
 * in sched.h). Not while the goroutine holds runtime locks, is inside
 * gort_preempt_off (it may hold a thread-level lock another goroutine on
 * this thread would then wait for), or runs without a P (between
 * gort_entersyscall and gort_exitsyscall). */
void rt_preempt_check(void)
{
    rt_g *gp = rt_curg();
    if (gp != NULL && rt_unlikely(rt_load_relaxed(&gp->preempt)) && gp->m->locks == 0 && gp->preemptoff == 0 &&
        gp->m->p != NULL)
        rt_mcall(gosched_m, false); /* the slow path: through schedule() */
}

/* ---- the scheduler loop ---------------------------------------------------- */

/* Run due timers of other Ps and try to steal from them. Random victim
 * order (Go's randomOrder: start and stride coprime to nprocs). */
/* rounds: Go's 4 on the first attempt, 1 on later polls. stealnext: the
 * last round may take a running P's runnext (checked only now and then by a
 * long-spinning M: see the run queue layout in sched.h). */
static rt_g *stealwork(rt_p *pp, int rounds, bool stealnext, bool *inherit, bool *ranTimer)
{
    int32_t n = rt_procs();
    for (int round = 0; round < rounds; round++) {
        bool last = round == rounds - 1;
        uint32_t start = rt_fastrandn((uint32_t)n);
        /* stride coprime to n: try odd strides until gcd == 1 */
        uint32_t inc = 1;
        if (n > 2) {
            uint32_t cands = rt_fastrandn((uint32_t)n) | 1;
            for (uint32_t c = cands; c < (uint32_t)(2 * n); c += 2) {
                uint32_t a = c, b = (uint32_t)n;
                while (b) {
                    uint32_t t = a % b;
                    a = b;
                    b = t;
                }
                if (a == 1) {
                    inc = c % (uint32_t)n;
                    if (inc == 0)
                        inc = 1;
                    break;
                }
            }
        }
        /* With more than one L3 or NUMA node, victims sharing our core or
         * L3 come first, then our node, then the rest: one pass in random
         * order steals at once from a near victim and remembers the first
         * non-empty one of each farther tier, tried after the pass. The
         * distance is computed only for victims that have work, so the
         * tiers cost nothing while every queue is empty. */
        int tiers = rt_topo_tiers();
        int mycpu = tiers > 1 ? rt_p_homecpu(pp->id) : -1;
        rt_p *far[2] = {NULL, NULL};
        bool next = last && stealnext;
        uint32_t pos = start;
        for (int32_t i = 0; i < n; i++, pos = (pos + inc) % (uint32_t)n) {
            if (rt_load_relaxed(&sched.gcwaiting))
                return NULL;
            rt_p *p2 = rt_allp[pos];
            if (p2 == pp)
                continue;
            if (last && rt_load_relaxed(&p2->timer0when) != 0) {
                bool ran = false;
                rt_checktimers(p2, 0, &ran);
                if (ran) {
                    *ranTimer = true;
                    rt_g *gp = rt_runqget(pp, inherit);
                    if (gp != NULL)
                        return gp;
                }
            }
            if (rt_load_acq(&p2->runqhead) != rt_load_acq(&p2->runqtail) ||
                (next && rt_load_relaxed(&p2->runnext) != NULL)) {
                if (tiers > 1) {
                    int t = rt_cpu_distance(mycpu, rt_p_homecpu(p2->id));
                    if (t > 0) {
                        if (far[t - 1] == NULL)
                            far[t - 1] = p2;
                        continue;
                    }
                }
                rt_g *gp = runqsteal(pp, p2, next);
                if (gp != NULL) {
                    *inherit = false;
                    return gp;
                }
            }
        }
        for (int t = 0; t < 2; t++) {
            if (far[t] == NULL)
                continue;
            rt_g *gp = runqsteal(pp, far[t], next);
            if (gp != NULL) {
                *inherit = false;
                return gp;
            }
        }
    }
    return NULL;
}

/* Runs without a P, so procresize may be adding Ps: allp's slots are read
 * as rt_retake reads them. */
static bool anywork(void)
{
    if (rt_load_relaxed(&sched.runqsize) != 0)
        return true;
    int32_t np = rt_procs();
    for (int32_t i = 0; i < np; i++) {
        rt_p *pp = rt_load_acq(&rt_allp[i]);
        if (pp != NULL && !rt_runqempty(pp))
            return true;
    }
    return false;
}

/* A non-blocking poll for findrunnable: the first goroutine whose I/O is
 * done, made runnable, to run now; the rest go to the run queues. */
static rt_g *netpoll_one(void)
{
    rt_g *list;
    if (rt_netpoll(0, &list) == 0)
        return NULL;
    rt_g *gp = list;
    rt_injectglist(gp->schedlink);
    gp->schedlink = NULL;
    casgstatus(gp, G_WAITING, G_RUNNABLE);
    return gp;
}

/* findrunnable: find a G to run; blocks (the M sleeps) until there is one. */
static rt_g *findrunnable(bool *inherit)
{
    rt_m *mp = rt_getg()->m;
top:;
    rt_p *pp = mp->p;
    if (rt_load_relaxed(&sched.gcwaiting)) {
        rt_gcstopm();
        goto top;
    }
    bool ran = false;
    if (rt_load_relaxed(&pp->timer0when) != 0)
        rt_checktimers(pp, 0, &ran);

    rt_g *gp;
    if (pp->schedtick % 61 == 0 && rt_netpoll_active()) {
        /* Fairness for I/O (Go leaves it to sysmon): a P that never runs
         * out of goroutines still submits and reaps now and then. Cheap
         * when nothing is queued or done: no system call. */
        rt_g *list;
        if (rt_netpoll(0, &list) > 0)
            rt_injectglist(list);
    }
    if (pp->schedtick % 61 == 0 && rt_load_relaxed(&sched.runqsize) > 0) {
        rt_lock_acquire(&sched.lock);
        gp = globrunqget(pp, 1);
        rt_lock_release(&sched.lock);
        if (gp != NULL) {
            *inherit = false;
            return gp;
        }
    }
    if ((gp = rt_runqget(pp, inherit)) != NULL)
        return gp;
    if (rt_load_relaxed(&sched.runqsize) != 0) {
        rt_lock_acquire(&sched.lock);
        gp = globrunqget(pp, 0);
        rt_lock_release(&sched.lock);
        if (gp != NULL) {
            *inherit = false;
            return gp;
        }
    }

    /* Goroutines whose I/O is done (Go: netpoll(0) before stealing); this
     * also hands the kernel the SQEs queued since the last poll. */
    if (rt_netpoll_active() && (gp = netpoll_one()) != NULL) {
        *inherit = false;
        return gp;
    }

    /* Spin looking for work, if not too many Ms already are. */
    int32_t procs = rt_procs();
    if (mp->spinning || 2 * (int32_t)rt_load(&sched.nmspinning) < procs - (int32_t)rt_load(&sched.npidle)) {
        if (!mp->spinning) {
            mp->spinning = true;
            rt_xadd(&sched.nmspinning, 1);
        }
        int64_t deadline = 0;
        for (int iter = 0;; iter++) {
            bool ranTimer = false;
            /* Go's four rounds first; while spinning on, one round per
             * microsecond: every poll of a busy P's queue costs that P a
             * cache miss on its next run-queue write. */
            gp = stealwork(pp, iter == 0 ? 4 : 1, iter % 8 == 0, inherit, &ranTimer);
            if (gp != NULL)
                return gp;
            if (rt_load_relaxed(&sched.gcwaiting))
                goto top;
            if (ranTimer || rt_load_relaxed(&sched.runqsize) != 0 ||
                rt_load_relaxed(&pp->timer0when) != 0) {
                rt_checktimers(pp, 0, &ran);
                if ((gp = rt_runqget(pp, inherit)) != NULL)
                    return gp;
                if (rt_load_relaxed(&sched.runqsize) != 0) {
                    rt_lock_acquire(&sched.lock);
                    gp = globrunqget(pp, 0);
                    rt_lock_release(&sched.lock);
                    if (gp != NULL) {
                        *inherit = false;
                        return gp;
                    }
                }
            }
            /* I/O finished while we spin (one load each while none did,
             * with io_uring; an epoll_wait with epoll, so less often). */
            if (iter % 4 == 3 && rt_netpoll_active() && (gp = netpoll_one()) != NULL) {
                *inherit = false;
                return gp;
            }
            /* While user goroutines wait on I/O, the poller catches their
             * completions: spinning on would only take CPU from them (and,
             * on a small machine, from their peers: +5-10% round trips on
             * the echo benchmark, 2 Ps). */
            if (rt_debug.spinus <= 0 || procs == 1 || rt_netpoll_userwaiting())
                break;
            int64_t now = rt_nanotime();
            if (deadline == 0)
                deadline = now + (int64_t)rt_debug.spinus * 1000;
            else if (now >= deadline)
                break;
            rt_procyield(50); /* ~1 us here (PAUSE is ~20 ns) */
        }
    }

    /* Nothing found: give up the P. */
    rt_lock_acquire(&sched.lock);
    if (rt_load_relaxed(&sched.gcwaiting)) {
        rt_lock_release(&sched.lock);
        goto top;
    }
    if (sched.runqsize != 0) {
        gp = globrunqget(pp, 0);
        rt_lock_release(&sched.lock);
        *inherit = false;
        return gp;
    }
    if (rt_releasep() != pp)
        rt_throw("findrunnable: wrong p");
    rt_pidleput(pp);
    rt_lock_release(&sched.lock);

    bool wasspinning = mp->spinning;
    if (mp->spinning) {
        mp->spinning = false;
        if ((int32_t)rt_xadd(&sched.nmspinning, (uint32_t)-1) < 0)
            rt_throw("findrunnable: negative nmspinning");
    }
    /* Re-check all run queues: a G readied after we decided there was no
     * work but before nmspinning dropped saw a spinner and woke nobody. */
    if (wasspinning && anywork()) {
        rt_lock_acquire(&sched.lock);
        pp = rt_pidleget();
        rt_lock_release(&sched.lock);
        if (pp != NULL) {
            rt_acquirep(pp);
            mp->spinning = true;
            rt_xadd(&sched.nmspinning, 1);
            goto top;
        }
    }
    /* Sleep until the earliest timer if we are the watcher, else until
     * woken. */
    int64_t when = rt_nobarrier_earliest_timer();
    bool io = rt_netpoll_active();
    if (when != 0 || io) {
        if (!stopm_timers(when != 0 ? when : INT64_MAX, io)) {
            rt_lock_acquire(&sched.lock);
            pp = rt_pidleget();
            rt_lock_release(&sched.lock);
            if (pp == NULL) {
                rt_stopm();
            } else {
                rt_acquirep(pp);
            }
        }
    } else {
        rt_stopm();
    }
    goto top;
}

static void stoplockedm(void);
static void startlockedm(rt_g *gp);

static void schedule(void)
{
    rt_m *mp = rt_getg()->m;
    if (mp->locks != 0)
        rt_throw("schedule: holding locks");
    if (mp->lockedg != NULL) {
        stoplockedm();
        execute(mp->lockedg, false); /* never returns */
    }
top:;
    bool inherit = false;
    rt_g *gp = findrunnable(&inherit);
    if (mp->spinning)
        resetspinning();
    if (gp->lockedm != NULL && gp->lockedm != mp) {
        /* Hand our P to the M the G is wired to, and wait for another. */
        startlockedm(gp);
        goto top;
    }
    execute(gp, inherit);
}

/* ---- lockOSThread ------------------------------------------------------------ */

static void stoplockedm(void)
{
    rt_m *mp = rt_getg()->m;
    if (mp->lockedg == NULL || mp->lockedg->lockedm != mp)
        rt_throw("stoplockedm: inconsistent locking");
    if (mp->p != NULL)
        handoffp(rt_releasep());
    rt_lock_acquire(&sched.lock);
    sched.nmidlelocked++;
    rt_checkdead();
    rt_lock_release(&sched.lock);
    mp->blocked = true;
    rt_notesleep(&mp->park);
    mp->blocked = false;
    rt_noteclear(&mp->park);
    /* Off the idle list and the timer watch: only startlockedm wakes us,
     * with a P. */
    if (mp->nextp == NULL)
        rt_throw("stoplockedm: woken without a P");
    rt_lock_acquire(&sched.lock);
    sched.nmidlelocked--;
    rt_lock_release(&sched.lock);
    rt_acquirep(mp->nextp);
    mp->nextp = NULL;
}

static void startlockedm(rt_g *gp)
{
    rt_m *mp = rt_getg()->m;
    rt_m *m2 = gp->lockedm;
    if (m2 == mp || m2->nextp != NULL)
        rt_throw("startlockedm: locked to me");
    /* Give our P to the locked M, which runs gp (its lockedg) at once. */
    rt_p *pp = rt_releasep();
    m2->nextp = pp;
    rt_notewakeup_once(&m2->park);
    rt_stopm();
}

void rt_lockOSThread(void)
{
    rt_g *gp = rt_curg();
    if (gp == NULL)
        return;
    if (gp->locked++ == 0) {
        gp->lockedm = gp->m;
        gp->m->lockedg = gp;
    }
}

void rt_unlockOSThread(void)
{
    rt_g *gp = rt_curg();
    if (gp == NULL || gp->locked == 0)
        return;
    if (--gp->locked == 0) {
        gp->m->lockedg = NULL;
        gp->lockedm = NULL;
    }
}

/* ---- deadlock detection (Go: checkdead) ----------------------------------- */

int64_t rt_sysg_count;

static bool checkdead_g(rt_g *gp, void *arg)
{
    int32_t *counts = arg;
    uint32_t s = rt_readgstatus(gp);
    if (gp->sysg || s == G_IDLE || s == G_DEAD)
        return true;
    if (s == G_WAITING) {
        counts[0]++;
        return true;
    }
    counts[1]++; /* runnable, running or in a syscall */
    return true;
}

/* Called with sched.lock held whenever an M goes idle. */
void rt_checkdead(void)
{
    if (!rt_debug.checkdead || sched.nmain == 0 || rt_load_relaxed(&sched.foreign_calls) != 0)
        return;
    int32_t run = mcount() - sched.nmidle - sched.nmidlelocked - sched.nmsys;
    if (run > 0)
        return;
    if (run < 0) {
        rt_printf("runtime: checkdead: nmidle=%d nmidlelocked=%d mcount=%d nmsys=%d\n", sched.nmidle,
                  sched.nmidlelocked, mcount(), sched.nmsys);
        rt_throw("checkdead: inconsistent counts");
    }
    int32_t counts[2] = {0, 0};
    rt_foreachg(checkdead_g, counts);
    if (counts[1] > 0)
        return; /* a G is being handed between Ms; not our business */
    if (counts[0] == 0) {
        rt_lock_release(&sched.lock);
        rt_fatal("no goroutines (main called runtime.Goexit) - deadlock!");
    }
    for (int32_t i = 0; i < rt_procs(); i++)
        if (rt_load(&rt_allp[i]->timer0when) != 0)
            return;
    rt_lock_release(&sched.lock);
    rt_fatal("all goroutines are asleep - deadlock!");
}

void rt_note_foreign_call(void)
{
    if (rt_load_relaxed(&sched.foreign_calls) == 0)
        rt_xadd(&sched.foreign_calls, 1);
}

/* ---- M start --------------------------------------------------------------- */

static void minit(rt_m *mp, uintptr_t sp)
{
    rt_setg(mp->g0);
    mp->tid = rt_sysGettid();
    rt_sysThreadStack(&mp->g0_lo, &mp->g0_hi);
    if (mp->g0_hi == 0 || sp > mp->g0_hi || sp < mp->g0_lo) {
        mp->g0_lo = sp - 64 * 1024;
        mp->g0_hi = sp;
    }
    mp->g0_sp = (void *)((sp - 256) & ~(uintptr_t)15);
    mp->g0->stk.lo = mp->g0_lo;
    mp->g0->stk.hi = mp->g0_hi;
#if defined(GORT_TSAN)
    /* The first schedule() runs on the thread's own fiber; later g0 runs
     * get fresh ones (tsan_renew_g0). A fiber must not be switched to in
     * the middle of a call chain that then returns. */
    mp->tsan_thread_fiber = mp->tsan_g0_fiber = __tsan_get_current_fiber();
#endif
    rt_minitsignals(mp);
    if (mp != &rt_m0) {
        /* newosproc blocked everything for the thread's start; restore the
         * creator's mask now that the altstack is in place. Synchronous
         * signals (SIGSEGV) arriving while blocked would kill the process. */
        sigdelset(&mp->sigmask, SIGSEGV);
        sigdelset(&mp->sigmask, SIGBUS);
        pthread_sigmask(SIG_SETMASK, &mp->sigmask, NULL);
    }
}

static void *mstart_thread(void *arg)
{
    rt_m *mp = arg;
    minit(mp, rt_arch_getsp());
    if (mp->sysmon)
        rt_sysmon_main(); /* never returns */
    rt_acquirep(mp->nextp);
    mp->nextp = NULL;
    schedule();
    return NULL;
}

void rt_mstart_m0(void *g0_sp)
{
    rt_m *mp = &rt_m0;
    minit(mp, (uintptr_t)g0_sp);
    rt_store(&rt_started, 1);
    schedule();
}

/* ---- init ------------------------------------------------------------------ */

/* schedinit's part: M0 and the first procresize. m0_here: the calling
 * thread becomes M0 (gort owns main); otherwise (gort_run) all Ps start
 * idle and Ms are started on demand. */
void rt_schedinit_procs(int32_t procs)
{
    rt_lock_init(&sched.lock, RT_RANK_SCHED);
    rt_lock_init(&sched.gflock, RT_RANK_GFREE);
    sched.totaltime_start = rt_nanotime();
    rt_allp = calloc(GORT_MAXPROCS_LIMIT, sizeof(rt_p *));
    if (rt_allp == NULL)
        rt_throw("out of memory");
    rt_lock_acquire(&sched.lock);
    rt_procresize(procs);
    rt_lock_release(&sched.lock);
}

/* Make the calling thread M0, holding P0 (gort owns main). */
void rt_m0_init(void)
{
    rt_m *mp = &rt_m0;
    mp->g0 = &g0_m0;
    g0_m0.m = mp;
    g0_m0.goid = -1;
    g0_m0.status = G_RUNNING;
    mp->fastrand = rt_arch_cputicks() | 1;
    rt_setg(&g0_m0);
    rt_lock_acquire(&sched.lock);
    mcommoninit(mp);
    for (int32_t i = rt_procs() - 1; i >= 0; i--) {
        rt_p *pp = rt_allp[i];
        rt_setpstatus(pp, P_IDLE);
        if (i == 0)
            rt_acquirep(pp);
        else
            rt_pidleput(pp);
    }
    rt_lock_release(&sched.lock);
}

/* Embedded boot: no M0; every P idle, Ms created by wakep as work comes. */
void rt_noM0_init(void)
{
    rt_lock_acquire(&sched.lock);
    for (int32_t i = rt_procs() - 1; i >= 0; i--) {
        rt_setpstatus(rt_allp[i], P_IDLE);
        rt_pidleput(rt_allp[i]);
    }
    rt_lock_release(&sched.lock);
    rt_store(&rt_started, 1);
}

void rt_main_started(int delta)
{
    rt_lock_acquire(&sched.lock);
    sched.nmain += delta;
    rt_lock_release(&sched.lock);
}

int64_t rt_gcount(void)
{
    int64_t n = 0;
    for (int32_t i = 0; i < GORT_MAXPROCS_LIMIT; i++) {
        rt_p *pp = rt_load_acq(&rt_allp[i]);
        if (pp == NULL)
            break;
        n += rt_load_relaxed(&pp->ngo_created) - rt_load_relaxed(&pp->ngo_exited);
    }
    n += rt_load_relaxed(&sched.ngo_foreign);
    n -= rt_load_relaxed(&rt_sysg_count);
    if (n < 0)
        n = 0;
    if (n < 1 && rt_curg() != NULL)
        n = 1; /* counts are read racily; the caller at least exists */
    return n;
}

/* ---- public API -------------------------------------------------------------- */

GORT_API void gort_go(void (*fn)(void *), void *arg)
{
    if (rt_unlikely(fn == NULL))
        rt_panic("go of nil func value");
    if (rt_unlikely(!rt_load_relaxed(&rt_booted)))
        rt_throw("gort_go called before the runtime started (use gort_main or gort_run)");
    rt_newproc(fn, arg, (uintptr_t)__builtin_return_address(0), -1, false);
    rt_preemptpoint();
}

GORT_API int gort_go_stack(void (*fn)(void *), void *arg, size_t stack_size)
{
    if (fn == NULL)
        return -EINVAL;
    int order = rt_stack_order_for(stack_size);
    if (order < 0)
        return -EINVAL;
    if (rt_unlikely(!rt_load_relaxed(&rt_booted)))
        rt_throw("gort_go_stack called before the runtime started (use gort_main or gort_run)");
    rt_newproc(fn, arg, (uintptr_t)__builtin_return_address(0), order, false);
    return 0;
}

/* gort_entersyscall is rt_entersyscall (src/asm): it saves registers. */
GORT_API void gort_exitsyscall(void) { rt_exitsyscall(); }

GORT_API void *gort_syscall_block(void *(*fn)(void *), void *arg)
{
    rt_entersyscall();
    void *r = fn(arg);
    rt_exitsyscall();
    return r;
}

GORT_API void gort_yield(void)
{
    if (rt_curg() == NULL) {
        rt_osyield();
        return;
    }
    rt_gosched();
}

GORT_API void gort_goexit(void)
{
    if (rt_curg() == NULL)
        rt_throw("gort_goexit called outside a goroutine");
    rt_goexit1();
}

GORT_API uint64_t gort_goid(void)
{
    rt_g *gp = rt_curg();
    return gp != NULL ? (uint64_t)gp->goid : 0;
}

GORT_API int64_t gort_num_goroutine(void)
{
    if (!rt_load_relaxed(&rt_booted))
        return 0;
    return rt_gcount();
}


GORT_API void gort_lock_os_thread(void) { rt_lockOSThread(); }
GORT_API void gort_unlock_os_thread(void) { rt_unlockOSThread(); }
