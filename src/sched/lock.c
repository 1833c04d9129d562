/* lock.c - runtime locks and notes on Linux futexes (Go: lock_futex.go).
 *
 * rt_lock is a three-state futex mutex (0 unlocked, 1 locked, 2 locked with
 * possible sleepers). Acquire spins a little (procyield, then sched_yield)
 * before sleeping, because runtime critical sections are a few hundred
 * nanoseconds and a futex round trip costs ~1 us here. Release only enters
 * the kernel when someone may be asleep (state 2).
 *
 * Holding a runtime lock increments m->locks. A G must not park or be
 * preempted while m->locks > 0 (checked in schedule).
 *
 * Lock ranks (lock.h, RT_RANK_*) encode the lock order as data: a lock may
 * be taken only while every held lock has a lower rank. With -DGORT_LOCKRANK
 * (debug builds), each thread records the locks it holds and a violation
 * throws "lock ordering problem" (checked against the highest rank held;
 * unranked locks are an error).
 *
 * rt_note is a one-shot event: rt_notewakeup sets key=1 and wakes the
 * sleeper; rt_notesleep waits for key != 0. Unlike Go's, rt_notewakeup
 * tolerates a second wakeup before the clear (it is idempotent). A sleeper
 * that takes being woken as being handed something (an M on its park note:
 * a P) needs Go's rule, rt_notewakeup_once, which throws on a second
 * wakeup: two wakers of one sleep merge into one wakeup, and if the second
 * lands after the sleeper's clear it wakes the next sleep with nothing
 * handed over. That was the timer watcher woken both by a timer re-arm and
 * by rt_startm: its next rt_stopm woke without a P (proc.c, stopm_timers). */
#include "sched.h"
#include "../debug/debug.h"
#include "../os/os.h"

#include <errno.h>
#include <limits.h>

enum { LOCK_UNLOCKED = 0, LOCK_LOCKED = 1, LOCK_SLEEPING = 2 };
enum { ACTIVE_SPIN = 4, ACTIVE_SPIN_CNT = 30, PASSIVE_SPIN = 1 };

static void futexwakeup(uint32_t *addr, int cnt)
{
    if (rt_futexwakeup(addr, cnt) < 0)
        rt_throw("futexwakeup failed");
}

void rt_procyield(int cycles)
{
    for (int i = 0; i < cycles; i++)
        rt_arch_pause();
}

#if defined(GORT_LOCKRANK)
/* The locks this thread holds, in acquisition order. A run of channel
 * locks (select holds one per case, any number) is one entry with a count
 * and the highest address taken. */
#define RT_MAX_HELD 32
typedef struct heldlock {
    int rank;
    uint32_t n;         /* RT_RANK_CHAN: locks in the run; else 1 */
    uintptr_t addr;     /* the lock; RT_RANK_CHAN: the highest address */
} heldlock;
static __thread heldlock held[RT_MAX_HELD];
static __thread int nheld;

static void rank_acquire(rt_lock *l, int rank)
{
    if (rank == RT_RANK_NONE)
        rt_throwf("lock ordering problem: lock %p has no rank", (void *)l);
    int top = 0;
    for (int i = 0; i < nheld; i++)
        if (held[i].rank > top)
            top = held[i].rank;
    if (rank == RT_RANK_CHAN && nheld > 0 && top == RT_RANK_CHAN) {
        heldlock *h = &held[nheld - 1];
        if (h->rank == RT_RANK_CHAN) {
            if ((uintptr_t)l <= h->addr)
                rt_throwf("lock ordering problem: channel lock %p taken after %p (select locks in address order)",
                          (void *)l, (void *)h->addr);
            h->n++;
            h->addr = (uintptr_t)l;
            return;
        }
    }
    if (top >= rank)
        rt_throwf("lock ordering problem: acquiring rank %d while holding rank %d", rank, top);
    if (nheld == RT_MAX_HELD)
        rt_throw("lock ordering problem: too many locks held for rank checking");
    held[nheld++] = (heldlock){rank, 1, (uintptr_t)l};
}

/* Found by address (a lock taken with rt_lock_acquire_rank keeps its own
 * rank field), a channel lock by its run. */
static void rank_release(rt_lock *l, int rank)
{
    for (int i = nheld - 1; i >= 0; i--) {
        heldlock *h = &held[i];
        if (rank == RT_RANK_CHAN ? h->rank != RT_RANK_CHAN : h->addr != (uintptr_t)l)
            continue;
        if (rank == RT_RANK_CHAN && --h->n > 0)
            return;
        for (int j = i; j < nheld - 1; j++)
            held[j] = held[j + 1];
        nheld--;
        return;
    }
    rt_throwf("lock ordering problem: releasing lock %p that this thread does not hold", (void *)l);
}
#else
#define rank_acquire(l, rank) ((void)(l), (void)(rank))
#define rank_release(l, rank) ((void)(l), (void)(rank))
#endif

void rt_lock_init(rt_lock *l, int rank)
{
    l->key = 0;
    l->rank = rank;
}

__thread uint32_t rt_foreign_locks __attribute__((tls_model("initial-exec")));

static inline void mlocks(int d)
{
    rt_g *g = rt_getg();
    if (g != NULL && g->m != NULL) {
        g->m->locks += d;
        return;
    }
    /* not an M: the collector's thread stop must wait for the last release */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    rt_foreign_locks += (uint32_t)d;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (d < 0 && rt_foreign_locks == 0 && rt_unlikely(rt_gc_stoppending))
        rt_gc_selfstop();
}

void rt_lock_acquire(rt_lock *l) { rt_lock_acquire_rank(l, l->rank); }

void rt_lock_acquire_rank(rt_lock *l, int rank)
{
    mlocks(1);
    rank_acquire(l, rank);
    /* Look before the speculative xchg: on a held lock the xchg would only
     * pull the cache line away from the holder, who then pays to release. */
    uint32_t v = rt_load_relaxed(&l->key);
    if (rt_likely(v == LOCK_UNLOCKED)) {
        v = rt_xchg(&l->key, LOCK_LOCKED);
        if (rt_likely(v == LOCK_UNLOCKED))
            return;
    }
    /* wait is LOCKED or SLEEPING: what to put back if we get it. Once we
     * have slept we must assume others sleep too. */
    uint32_t wait = v;
    for (;;) {
        for (int i = 0; i < ACTIVE_SPIN; i++) {
            while (rt_load_relaxed(&l->key) == LOCK_UNLOCKED) {
                if (rt_cas(&l->key, LOCK_UNLOCKED, wait))
                    return;
            }
            rt_procyield(ACTIVE_SPIN_CNT);
        }
        for (int i = 0; i < PASSIVE_SPIN; i++) {
            while (rt_load_relaxed(&l->key) == LOCK_UNLOCKED) {
                if (rt_cas(&l->key, LOCK_UNLOCKED, wait))
                    return;
            }
            rt_osyield();
        }
        v = rt_xchg(&l->key, LOCK_SLEEPING);
        if (v == LOCK_UNLOCKED)
            return;
        wait = LOCK_SLEEPING;
        /* A thread without an M holds nothing while it sleeps here: the
         * collector may stop it (the holder may be the collector). */
        bool foreign = rt_getg() == NULL || rt_getg()->m == NULL;
        if (foreign)
            mlocks(-1);
        rt_futexsleep(&l->key, LOCK_SLEEPING, -1);
        if (foreign)
            mlocks(1);
    }
}

void rt_lock_release(rt_lock *l)
{
    /* Nothing is read from *l after the release: the next owner may free
     * it at once (a channel's lock, freed by the receiver that the release
     * lets run: test_chan.test_ticker_churn, under ASan). The futex wake
     * still uses the address; on memory reused since, it is a spurious
     * wakeup, which every futex sleeper tolerates (as in Go). */
    int rank = l->rank;
    uint32_t v = rt_xchg(&l->key, LOCK_UNLOCKED);
    if (rt_unlikely(v == LOCK_UNLOCKED))
        rt_throw("unlock of unlocked lock");
    if (v == LOCK_SLEEPING)
        futexwakeup(&l->key, 1);
    rank_release(l, rank);
    mlocks(-1);
}

void rt_noteclear(rt_note *n) { rt_store(&n->key, 0); }

void rt_notewakeup(rt_note *n)
{
    if (rt_xchg(&n->key, 1) == 0)
        futexwakeup(&n->key, 1);
}

void rt_notewakeup_once(rt_note *n)
{
    if (rt_xchg(&n->key, 1) != 0)
        rt_throw("notewakeup - double wakeup");
    futexwakeup(&n->key, 1);
}

static void notesleep(rt_note *n)
{
    while (rt_load(&n->key) == 0)
        rt_futexsleep(&n->key, 0, -1);
}

typedef struct tsleeparg {
    rt_note *n;
    int64_t ns;
    bool woken;
} tsleeparg;

static void notetsleep(void *arg)
{
    tsleeparg *a = arg;
    rt_note *n = a->n;
    int64_t ns = a->ns, deadline = rt_nanotime() + ns;
    a->woken = true;
    while (rt_load(&n->key) == 0) {
        rt_futexsleep(&n->key, 0, ns);
        if (rt_load(&n->key) != 0)
            break;
        ns = deadline - rt_nanotime();
        if (ns <= 0) {
            a->woken = rt_load(&n->key) != 0;
            return;
        }
    }
}

static void notesleep_fn(void *n) { notesleep(n); }

/* A thread the collector stops (not an M, registered: src/gc/mgcthreads.c)
 * sleeps inside rt_gc_blocking, which lets a cycle count it as stopped
 * without a signal. */
void rt_notesleep(rt_note *n)
{
    if (rt_unlikely(rt_gc_threadrec != NULL) && rt_getg() == NULL)
        rt_gc_blocking(notesleep_fn, n);
    else
        notesleep(n);
}

bool rt_notetsleep(rt_note *n, int64_t ns)
{
    if (ns < 0) {
        rt_notesleep(n);
        return true;
    }
    tsleeparg a = {n, ns, false};
    if (rt_unlikely(rt_gc_threadrec != NULL) && rt_getg() == NULL)
        rt_gc_blocking(notetsleep, &a);
    else
        notetsleep(&a);
    return a.woken;
}
