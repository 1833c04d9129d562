/* sync.c - gort_waitgroup_t, gort_mutex_t, gort_rwmutex_t, gort_once_t,
 * gort_cond_t and gort_sema_t (Go: sync/waitgroup.go, mutex.go, rwmutex.go,
 * once.go, cond.go and runtime notifyList), over the runtime semaphores in
 * sema.c. All are usable zero-initialised: their wait queues live in the
 * semaphore table (or, for Cond, in the struct behind an rt_lock word).
 *
 * WaitGroup: state = counter << 32 | waiters. Add adjusts the counter with
 * one atomic add; when it reaches zero with waiters, Add resets the state
 * and releases the semaphore once per waiter. Wait increments the waiter
 * count with a CAS (only while counter > 0) and blocks on the semaphore.
 *
 * Mutex: Go's sync.Mutex, state bits
 *     bit 0  locked     bit 1  woken (an unlocker woke a waiter; don't wake
 *     another)          bit 2  starving      bits 3..  waiter count
 * Normal mode: waiters queue FIFO but a woken waiter competes with new
 * arrivals (which are running and usually win: good throughput). A waiter
 * that failed for > 1 ms switches the mutex to starvation mode: Unlock then
 * hands ownership directly to the first waiter and newcomers queue at the
 * tail. Starvation ends when the last waiter, or one that waited < 1 ms,
 * acquires it. Spinning before queueing is allowed only on a multicore
 * machine with other running Ps and an empty local run queue (canspin).
 *
 * Misuse is reported as Go does: "panic: sync: negative WaitGroup counter",
 * "fatal error: sync: unlock of unlocked mutex". */
#include "sched.h"
#include "../boot/boot.h"
#include "../debug/debug.h"

#include <gort.h>

/* ---- WaitGroup ---------------------------------------------------------------- */

GORT_API void gort_wg_add(gort_waitgroup_t *wg, int64_t delta)
{
    if (delta > INT32_MAX || delta < INT32_MIN)
        rt_panic("sync: WaitGroup delta out of range");
    uint64_t state = __atomic_add_fetch(&wg->state, (uint64_t)delta << 32, __ATOMIC_SEQ_CST);
    int32_t v = (int32_t)(state >> 32);
    uint32_t w = (uint32_t)state;
    if (v < 0)
        rt_panic("sync: negative WaitGroup counter");
    if (w != 0 && delta > 0 && v == (int32_t)delta)
        rt_panic("sync: WaitGroup misuse: Add called concurrently with Wait");
    if (v > 0 || w == 0)
        return;
    /* Counter is 0 and there are waiters: nobody may change the state now
     * but us (Add concurrently with Wait would be misuse). */
    if (rt_load(&wg->state) != state)
        rt_panic("sync: WaitGroup misuse: Add called concurrently with Wait");
    rt_store(&wg->state, 0);
    for (; w != 0; w--)
        rt_semrelease(&wg->sema, false);
}

GORT_API void gort_wg_done(gort_waitgroup_t *wg) { gort_wg_add(wg, -1); }

GORT_API void gort_wg_wait(gort_waitgroup_t *wg)
{
    for (;;) {
        uint64_t state = rt_load(&wg->state);
        if ((int32_t)(state >> 32) == 0)
            return;
        if (rt_cas(&wg->state, state, state + 1)) {
            rt_semacquire(&wg->sema, false, WR_SEMACQUIRE);
            if (rt_load(&wg->state) != 0)
                rt_panic("sync: WaitGroup is reused before previous Wait has returned");
            return;
        }
    }
}

/* ---- Mutex ---------------------------------------------------------------- */

enum {
    MUTEX_LOCKED = 1,
    MUTEX_WOKEN = 2,
    MUTEX_STARVING = 4,
    MUTEX_WAITER_SHIFT = 3,
};
#define STARVATION_THRESHOLD_NS 1000000
#define ACTIVE_SPIN 4
#define ACTIVE_SPIN_CNT 30

/* Go's sync_runtime_canSpin: spin only if it can pay off. */
static bool canspin(int iter)
{
    rt_g *gp = rt_curg(); /* first: a foreign thread may race with boot */
    if (gp == NULL || gp->m->p == NULL || iter >= ACTIVE_SPIN || rt_ncpu <= 1)
        return false;
    if (rt_procs() <= (int32_t)(rt_load_relaxed(&rt_sched_.npidle) + rt_load_relaxed(&rt_sched_.nmspinning)) + 1)
        return false;
    rt_p *pp = gp->m->p;
    if (rt_load_relaxed(&pp->runqhead) != rt_load_relaxed(&pp->runqtail) || rt_load_relaxed(&pp->runnext) != NULL)
        return false;
    return true;
}

static void lockslow(gort_mutex_t *m)
{
    int64_t waitstart = 0;
    bool starving = false, awoke = false;
    int iter = 0;
    int32_t old = rt_load(&m->state);
    for (;;) {
        /* Spin while locked (not starving) if spinning makes sense; set
         * woken so Unlock does not wake another waiter meanwhile. */
        if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == MUTEX_LOCKED && canspin(iter)) {
            if (!awoke && (old & MUTEX_WOKEN) == 0 && (old >> MUTEX_WAITER_SHIFT) != 0 &&
                rt_cas(&m->state, old, old | MUTEX_WOKEN))
                awoke = true;
            rt_procyield(ACTIVE_SPIN_CNT);
            iter++;
            old = rt_load(&m->state);
            continue;
        }
        int32_t new_ = old;
        if ((old & MUTEX_STARVING) == 0)
            new_ |= MUTEX_LOCKED; /* don't grab a starving mutex: queue */
        if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) != 0)
            new_ += 1 << MUTEX_WAITER_SHIFT;
        if (starving && (old & MUTEX_LOCKED) != 0)
            new_ |= MUTEX_STARVING;
        if (awoke) {
            if ((new_ & MUTEX_WOKEN) == 0)
                rt_throw("sync: inconsistent mutex state");
            new_ &= ~MUTEX_WOKEN;
        }
        if (rt_cas(&m->state, old, new_)) {
            if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == 0)
                return; /* locked with CAS */
            bool lifo = waitstart != 0;
            if (waitstart == 0)
                waitstart = rt_nanotime();
            rt_semacquire(&m->sema, lifo, WR_SEMACQUIRE);
            starving = starving || rt_nanotime() - waitstart > STARVATION_THRESHOLD_NS;
            old = rt_load(&m->state);
            if ((old & MUTEX_STARVING) != 0) {
                /* Ownership was handed to us; fix up the state. */
                if ((old & (MUTEX_LOCKED | MUTEX_WOKEN)) != 0 || (old >> MUTEX_WAITER_SHIFT) == 0)
                    rt_throw("sync: inconsistent mutex state");
                int32_t delta = MUTEX_LOCKED - (1 << MUTEX_WAITER_SHIFT);
                if (!starving || (old >> MUTEX_WAITER_SHIFT) == 1)
                    delta -= MUTEX_STARVING; /* exit starvation mode */
                __atomic_add_fetch(&m->state, delta, __ATOMIC_SEQ_CST);
                return;
            }
            awoke = true;
            iter = 0;
        } else {
            old = rt_load(&m->state);
        }
    }
}

GORT_API void gort_mutex_lock(gort_mutex_t *m)
{
    /* Test before test-and-set: a CAS that fails still takes the cache
     * line away from the holder, who then pays for it again to unlock. */
    if (rt_likely(rt_load_relaxed(&m->state) == 0 && rt_cas(&m->state, 0, MUTEX_LOCKED)))
        return;
    lockslow(m);
}

GORT_API bool gort_mutex_trylock(gort_mutex_t *m)
{
    rt_preemptpoint(); /* a trylock polling loop */
    int32_t old = rt_load(&m->state);
    if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) != 0)
        return false;
    return rt_cas(&m->state, old, old | MUTEX_LOCKED);
}

static void unlockslow(gort_mutex_t *m, int32_t new_)
{
    if (((new_ + MUTEX_LOCKED) & MUTEX_LOCKED) == 0)
        rt_fatal("sync: unlock of unlocked mutex");
    if ((new_ & MUTEX_STARVING) == 0) {
        int32_t old = new_;
        for (;;) {
            /* Nobody to wake, or someone already woken/locked it. */
            if ((old >> MUTEX_WAITER_SHIFT) == 0 || (old & (MUTEX_LOCKED | MUTEX_WOKEN | MUTEX_STARVING)) != 0)
                return;
            new_ = (old - (1 << MUTEX_WAITER_SHIFT)) | MUTEX_WOKEN;
            if (rt_cas(&m->state, old, new_)) {
                rt_semrelease(&m->sema, false);
                return;
            }
            old = rt_load(&m->state);
        }
    } else {
        /* Starving: hand off to the next waiter and yield to it. */
        rt_semrelease(&m->sema, true);
    }
}

GORT_API void gort_mutex_unlock(gort_mutex_t *m)
{
    int32_t new_ = __atomic_add_fetch(&m->state, -MUTEX_LOCKED, __ATOMIC_SEQ_CST);
    if (rt_unlikely(new_ != 0))
        unlockslow(m, new_);
    /* The preemption point of a lock/unlock pair (one is enough for a loop
     * of them; after the release, so the goroutine yields with it free). */
    rt_preemptpoint();
}

/* ---- RWMutex (Go: sync/rwmutex.go) ----------------------------------------- */

/* reader_count counts readers; a writer subtracts RWMUTEX_MAX_READERS to
 * announce itself, so new readers see a negative count and wait on
 * reader_sem, while reader_wait counts the readers that were already in and
 * must leave before the writer (waiting on writer_sem) proceeds. */
#define RWMUTEX_MAX_READERS (1 << 30)

GORT_API void gort_rwmutex_rlock(gort_rwmutex_t *rw)
{
    if (__atomic_add_fetch(&rw->reader_count, 1, __ATOMIC_SEQ_CST) < 0)
        rt_semacquire(&rw->reader_sem, false, WR_SEMACQUIRE); /* a writer is pending */
}

GORT_API bool gort_rwmutex_tryrlock(gort_rwmutex_t *rw)
{
    rt_preemptpoint();
    for (;;) {
        int32_t c = rt_load(&rw->reader_count);
        if (c < 0)
            return false;
        if (rt_cas(&rw->reader_count, c, c + 1))
            return true;
    }
}

GORT_API void gort_rwmutex_runlock(gort_rwmutex_t *rw)
{
    int32_t r = __atomic_add_fetch(&rw->reader_count, -1, __ATOMIC_SEQ_CST);
    if (r >= 0) {
        rt_preemptpoint();
        return;
    }
    if (r + 1 == 0 || r + 1 == -RWMUTEX_MAX_READERS)
        rt_fatal("sync: RUnlock of unlocked RWMutex");
    /* A writer is pending: the last reader it waits for lets it in. */
    if (__atomic_add_fetch(&rw->reader_wait, -1, __ATOMIC_SEQ_CST) == 0)
        rt_semrelease(&rw->writer_sem, false);
}

GORT_API void gort_rwmutex_lock(gort_rwmutex_t *rw)
{
    gort_mutex_lock(&rw->w); /* first, exclude other writers */
    int32_t r = __atomic_add_fetch(&rw->reader_count, -RWMUTEX_MAX_READERS, __ATOMIC_SEQ_CST) +
                RWMUTEX_MAX_READERS;
    if (r != 0 && __atomic_add_fetch(&rw->reader_wait, r, __ATOMIC_SEQ_CST) != 0)
        rt_semacquire(&rw->writer_sem, false, WR_SEMACQUIRE);
}

GORT_API bool gort_rwmutex_trylock(gort_rwmutex_t *rw)
{
    if (!gort_mutex_trylock(&rw->w))
        return false;
    if (!rt_cas(&rw->reader_count, 0, -RWMUTEX_MAX_READERS)) {
        gort_mutex_unlock(&rw->w);
        return false;
    }
    return true;
}

GORT_API void gort_rwmutex_unlock(gort_rwmutex_t *rw)
{
    int32_t r = __atomic_add_fetch(&rw->reader_count, RWMUTEX_MAX_READERS, __ATOMIC_SEQ_CST);
    if (r >= RWMUTEX_MAX_READERS)
        rt_fatal("sync: Unlock of unlocked RWMutex");
    for (int32_t i = 0; i < r; i++) /* readers that queued behind us */
        rt_semrelease(&rw->reader_sem, false);
    gort_mutex_unlock(&rw->w);
}

/* ---- Once (Go: sync/once.go) ------------------------------------------------ */

/* Go's Once.Do defers the store of done and the unlock, so they also happen
 * when f calls runtime.Goexit: the Once is done and later calls return. A
 * goroutine's pending defers (rt_defer, on its stack) run in rt_goexit1. */
static void once_finish(void *arg)
{
    gort_once_t *o = arg;
    rt_store_rel(&o->done, 1);
    gort_mutex_unlock(&o->m);
}

GORT_API void gort_once_do(gort_once_t *o, void (*fn)(void *), void *arg)
{
    if (rt_likely(rt_load_acq(&o->done) != 0))
        return;
    gort_mutex_lock(&o->m);
    if (o->done != 0) {
        gort_mutex_unlock(&o->m);
        return;
    }
    rt_g *gp = rt_curg();
    rt_defer d = {once_finish, o, NULL};
    if (gp != NULL) {
        d.link = gp->defers;
        gp->defers = &d;
    }
    fn(arg);
    if (gp != NULL)
        gp->defers = d.link;
    once_finish(o);
}

/* ---- Cond (Go: sync/cond.go over runtime notifyList, sema.go) ---------------- */

/* Each waiter takes a ticket (wait++) before unlocking the user's mutex, so
 * a Signal that comes after that point is never lost: it wakes the waiter
 * holding the oldest unnotified ticket, or lets it return at once if it has
 * not queued yet. The list is kept in the cond itself (zero-initialisable);
 * its lock is an rt_lock in the `lock` word. */
typedef struct condwaiter {
    rt_waiter w;
    uint32_t ticket;
    struct condwaiter *next;
} condwaiter;

_Static_assert(sizeof(rt_lock) <= sizeof(((gort_cond_t *)0)->lock), "gort_cond_t.lock too small");

static inline bool less(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }

GORT_API void gort_cond_wait(gort_cond_t *c, gort_mutex_t *m)
{
    rt_lock *l = (rt_lock *)&c->lock;
    uint32_t t = __atomic_fetch_add(&c->wait, 1, __ATOMIC_SEQ_CST);
    gort_mutex_unlock(m);
    rt_lock_acquire_rank(l, RT_RANK_COND);
    if (less(t, rt_load(&c->notify))) { /* already notified */
        rt_lock_release(l);
    } else {
        condwaiter cw = {.w = {.g = rt_curg()}, .ticket = t};
        if (c->tail == NULL)
            c->head = &cw;
        else
            ((condwaiter *)c->tail)->next = &cw;
        c->tail = &cw;
        if (cw.w.g != NULL) {
            rt_parkunlock(l, WR_SYNC_COND_WAIT);
        } else {
            rt_lock_release(l);
            rt_notesleep(&cw.w.note);
        }
    }
    gort_mutex_lock(m);
}

static void condwake(condwaiter *cw)
{
    if (cw->w.g != NULL)
        rt_ready(cw->w.g, true);
    else
        rt_notewakeup(&cw->w.note);
}

GORT_API void gort_cond_signal(gort_cond_t *c)
{
    if (rt_load(&c->wait) == rt_load(&c->notify))
        return; /* nobody took a ticket since the last notify */
    rt_lock *l = (rt_lock *)&c->lock;
    rt_lock_acquire_rank(l, RT_RANK_COND);
    uint32_t t = c->notify;
    if (t == rt_load(&c->wait)) {
        rt_lock_release(l);
        return;
    }
    rt_store(&c->notify, t + 1);
    condwaiter *prev = NULL;
    for (condwaiter *cw = c->head; cw != NULL; prev = cw, cw = cw->next) {
        if (cw->ticket == t) {
            condwaiter *n = cw->next;
            if (prev != NULL)
                prev->next = n;
            else
                c->head = n;
            if (c->tail == cw)
                c->tail = prev;
            rt_lock_release(l);
            condwake(cw);
            return;
        }
    }
    /* The ticket holder has not queued yet; it will see notify and return. */
    rt_lock_release(l);
}

GORT_API void gort_cond_broadcast(gort_cond_t *c)
{
    if (rt_load(&c->wait) == rt_load(&c->notify))
        return;
    rt_lock *l = (rt_lock *)&c->lock;
    rt_lock_acquire_rank(l, RT_RANK_COND);
    condwaiter *list = c->head;
    c->head = c->tail = NULL;
    rt_store(&c->notify, rt_load(&c->wait));
    rt_lock_release(l);
    while (list != NULL) {
        condwaiter *cw = list;
        list = cw->next; /* before waking: cw is on the waiter's stack */
        condwake(cw);
    }
}

/* ---- counting semaphore ------------------------------------------------------ */

GORT_API void gort_sema_acquire(gort_sema_t *s) { rt_semacquire(&s->count, false, WR_SEMACQUIRE); }

GORT_API bool gort_sema_tryacquire(gort_sema_t *s)
{
    rt_preemptpoint();
    for (;;) {
        uint32_t v = rt_load(&s->count);
        if (v == 0)
            return false;
        if (rt_cas(&s->count, v, v - 1))
            return true;
    }
}

GORT_API void gort_sema_release(gort_sema_t *s)
{
    /* 2^32 - 1 units is the most a gort_sema_t holds: one more would wrap
     * the count to 0 and lose every unit (issue 12). Checked before the
     * release, so the count is left as it was for the dump. */
    if (rt_unlikely(rt_load_relaxed(&s->count) == UINT32_MAX))
        rt_fatal("gort_sema_release: semaphore count overflow");
    rt_semrelease(&s->count, false);
}
