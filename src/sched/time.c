/* time.c - per-P timer heaps and gort_sleep (Go: time.go, runtime timers).
 *
 * Each P owns a 4-ary min-heap of timers ordered by `when`, guarded by
 * p->timerslock (other Ps run due timers of idle Ps while stealing).
 * p->timer0when mirrors the root's `when` (0: empty) so the scheduler can
 * check "anything due?" with one load and no lock.
 *
 * Who fires timers:
 *   - every schedule() of the owning P (rt_checktimers on its own heap);
 *   - a spinning M, on its last steal round, for other Ps' heaps;
 *   - when every P is idle, the one M that sleeps until the earliest timer
 *     (sched.timerm, see stopm_timers in proc.c); adding an earlier timer
 *     wakes it so it re-arms.
 *
 * A timer's function runs without any lock held, on an M that holds a P,
 * so it may ready goroutines (gort_sleep's timer readies its G).
 *
 * A timer's function never runs twice at once (Go's rule): a due timer is
 * taken out of its heap before f runs, periodic ones included, so no other
 * M can find it; a periodic timer goes back (when += k * period, missed
 * ticks skipped) only after f returned. Popping sets `running`, and the
 * re-arm clears it, both under the home P's timerslock, so they cannot
 * overlap. rt_deltimer_sync, under the same lock, marks the timer
 * `stopped` (a runner that finishes later does not re-arm it) and removes
 * it from the heap, then waits for `running` to clear: it returns with f
 * finished and the timer out of every heap for good, so the caller may free
 * what f uses (gort_ticker_free, gort_chan_free). A periodic timer that a
 * second M found due while the first was still in f used to run f twice at
 * once, and `running`, a flag, was cleared by the first to finish: freeing
 * a ticker's channel then raced with a send into it (issue 12).
 *
 * Deadlines saturate: now + ns past INT64_MAX is INT64_MAX, a timer that
 * never fires (Go caps the same way); rt_when_after computes it.
 *
 * Locks (ranks in lock.h): adding a timer releases timerslock before it
 * takes sched.lock to wake the watcher; only procresize holds sched.lock
 * while it moves a dying P's timers.
 *
 * Invariants: t->pp != NULL <=> t is in t->pp's heap at index t->idx;
 * p->timer0when == (p->ntimers ? p->timers[0]->when : 0). */
#include "sched.h"
#include "../os/os.h"
#include "../debug/debug.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t rt_nanotime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void siftup(rt_timer **h, int32_t i)
{
    rt_timer *t = h[i];
    int64_t when = t->when;
    while (i > 0) {
        int32_t p = (i - 1) / 4;
        if (when >= h[p]->when)
            break;
        h[i] = h[p];
        h[i]->idx = i;
        i = p;
    }
    h[i] = t;
    t->idx = i;
}

static void siftdown(rt_timer **h, int32_t n, int32_t i)
{
    rt_timer *t = h[i];
    int64_t when = t->when;
    for (;;) {
        int32_t c = i * 4 + 1;
        if (c >= n)
            break;
        int32_t best = c;
        int64_t w = h[c]->when;
        for (int32_t k = c + 1; k < c + 4 && k < n; k++) {
            if (h[k]->when < w) {
                w = h[k]->when;
                best = k;
            }
        }
        if (w >= when)
            break;
        h[i] = h[best];
        h[i]->idx = i;
        i = best;
    }
    h[i] = t;
    t->idx = i;
}

static void update0(rt_p *pp)
{
    rt_store(&pp->timer0when, pp->ntimers > 0 ? pp->timers[0]->when : 0);
}

/* Remove the timer at index i (timerslock held). */
static void heapremove(rt_p *pp, int32_t i)
{
    rt_timer **h = pp->timers;
    int32_t last = --pp->ntimers;
    rt_store(&h[i]->pp, NULL);
    if (i != last) {
        rt_timer *moved = h[last];
        h[i] = moved;
        moved->idx = i;
        siftup(h, i);
        siftdown(h, pp->ntimers, moved->idx);
    }
    h[last] = NULL;
    update0(pp);
}

static void heappush(rt_p *pp, rt_timer *t)
{
    if (pp->ntimers == pp->timerscap) {
        int32_t cap = pp->timerscap ? pp->timerscap * 2 : 64;
        rt_timer **nh = realloc(pp->timers, (size_t)cap * sizeof(*nh));
        if (nh == NULL)
            rt_throw("out of memory growing the timer heap");
        pp->timers = nh;
        pp->timerscap = cap;
    }
    rt_store_relaxed(&t->pp, pp);
    pp->timers[pp->ntimers] = t;
    siftup(pp->timers, pp->ntimers++);
    update0(pp);
}

/* The M sleeping until the earliest timer must re-arm if t is earlier. */
static void wake_timerm(int64_t when)
{
    if (rt_load_relaxed(&rt_sched_.timerm) == NULL) {
        /* Nobody watches timers: if every P is idle, start one. */
        if (rt_load(&rt_sched_.npidle) == (uint32_t)rt_procs())
            rt_wakep();
        return;
    }
    rt_lock_acquire(&rt_sched_.lock);
    if (rt_sched_.timerm != NULL && when < rt_sched_.timerm_when)
        rt_timerm_wake_locked();
    rt_lock_release(&rt_sched_.lock);
}

/* addtimer: put t in the current P's heap (P0's for a thread without P). */
void rt_addtimer(rt_timer *t)
{
    rt_g *g = rt_getg();
    rt_p *pp = (g != NULL && g->m != NULL && g->m->p != NULL) ? g->m->p : rt_allp[0];
    if (t->when <= 0)
        t->when = rt_nanotime();
    rt_lock_acquire(&pp->timerslock);
    if (rt_load_relaxed(&t->pp) != NULL)
        rt_throw("addtimer: timer already in a heap");
    rt_store_relaxed(&t->stopped, 0);
    rt_store_rel(&t->home, pp);
    heappush(pp, t);
    bool first = pp->timers[0] == t;
    int64_t when = t->when;
    rt_lock_release(&pp->timerslock);
    if (first)
        wake_timerm(when);
}

/* deltimer_sync: remove t if it has not fired (true if it was removed),
 * and if f is running right now, wait until it has returned: afterwards f
 * is not running and will not run again, so the caller may free what f
 * uses. Must not be called from f itself. */
bool rt_deltimer_sync(rt_timer *t)
{
    bool removed = false;
    for (;;) {
        rt_p *home = rt_load_acq(&t->home);
        if (home == NULL)
            return false; /* never added */
        rt_lock_acquire(&home->timerslock);
        if (rt_load_relaxed(&t->home) != home) { /* moved by procresize meanwhile */
            rt_lock_release(&home->timerslock);
            continue;
        }
        rt_store(&t->stopped, 1);
        if (t->pp == home) {
            heapremove(home, t->idx);
            removed = true;
        }
        rt_lock_release(&home->timerslock);
        break;
    }
    while (rt_load_acq(&t->running))
        rt_osyield();
    return removed;
}

int64_t rt_when_after(int64_t now, int64_t ns)
{
    int64_t when;
    if (ns <= 0)
        return now;
    if (__builtin_add_overflow(now, ns, &when))
        return INT64_MAX;
    return when;
}

/* The next tick of a periodic timer that was due at when: the first
 * when + k * period (k >= 1) after now, or INT64_MAX (never) past the end
 * of time. now >= when. */
static int64_t nexttick(int64_t when, int64_t period, int64_t now)
{
    int64_t k = 1 + (now - when) / period;
    int64_t step, next;
    if (__builtin_mul_overflow(k, period, &step) || __builtin_add_overflow(when, step, &next))
        return INT64_MAX;
    return next;
}

/* checktimers: run pp's due timers (now == 0: read the clock if needed).
 * Returns the next timer's when (0: none). *ran is set if any ran. */
int64_t rt_checktimers(rt_p *pp, int64_t now, bool *ran)
{
    int64_t next = rt_load(&pp->timer0when);
    if (next == 0)
        return 0;
    if (now == 0)
        now = rt_nanotime();
    if (now < next)
        return next;
    rt_lock_acquire(&pp->timerslock);
    while (pp->ntimers > 0) {
        rt_timer *t = pp->timers[0];
        if (t->when > now)
            break;
        void (*f)(void *, uintptr_t) = t->f;
        void *arg = t->arg;
        uintptr_t seq = t->seq;
        int64_t period = t->period, when = t->when;
        /* running is set before pp is cleared (both seq_cst): whoever sees
         * the timer gone from its heap also sees it running. */
        rt_store(&t->running, 1);
        heapremove(pp, 0);
        rt_lock_release(&pp->timerslock);
        f(arg, seq);
        if (period > 0) {
            /* Back in the heap only now, so that f never runs twice at
             * once (a 1 ns ticker is due again before f returns), and not
             * at all once rt_deltimer_sync stopped it. The timer is ours
             * until running clears: nobody else writes when. */
            int64_t tick = nexttick(when, period, rt_nanotime());
            rt_lock_acquire(&pp->timerslock);
            bool first = false;
            if (!rt_load_relaxed(&t->stopped)) {
                t->when = tick;
                heappush(pp, t);
                first = pp->timers[0] == t;
            }
            rt_store_rel(&t->running, 0);
            rt_lock_release(&pp->timerslock);
            if (first)
                wake_timerm(tick);
        } else {
            /* A one-shot timer may already be reused here (gort_sleep's
             * lives in the G that f just readied): only running is
             * touched, and a reuse waits for it in rt_addtimer's caller's
             * next rt_deltimer_sync, if any. */
            rt_store_rel(&t->running, 0);
        }
        *ran = true;
        rt_lock_acquire(&pp->timerslock);
    }
    next = pp->ntimers > 0 ? pp->timers[0]->when : 0;
    rt_lock_release(&pp->timerslock);
    return next;
}

/* Earliest timer over all Ps, read without locks (Go: nobarrierWakeTime).
 * An M without a P calls it while procresize may be adding Ps: allp's
 * slots are read as rt_retake reads them. */
int64_t rt_nobarrier_earliest_timer(void)
{
    int64_t next = 0;
    int32_t np = rt_procs();
    for (int32_t i = 0; i < np; i++) {
        rt_p *pp = rt_load_acq(&rt_allp[i]);
        if (pp == NULL)
            continue;
        int64_t w = rt_load(&pp->timer0when);
        if (w != 0 && (next == 0 || w < next))
            next = w;
    }
    return next;
}

/* Move every timer of `from` (being destroyed) to `to`. */
void rt_timers_move(rt_p *to, rt_p *from)
{
    for (;;) {
        rt_lock_acquire(&from->timerslock);
        if (from->ntimers == 0) {
            rt_lock_release(&from->timerslock);
            return;
        }
        rt_timer *t = from->timers[from->ntimers - 1];
        heapremove(from, from->ntimers - 1);
        /* Both locks, as Go's procresize holds both: a foreign thread's
         * rt_deltimer_sync must find the timer in one heap or the other. */
        rt_lock_acquire_rank(&to->timerslock, RT_RANK_TIMERS2);
        rt_store_rel(&t->home, to);
        heappush(to, t);
        rt_lock_release(&to->timerslock);
        rt_lock_release(&from->timerslock);
    }
}

/* ---- gort_sleep -------------------------------------------------------------- */

static void goroutine_ready(void *arg, uintptr_t seq)
{
    (void)seq;
    rt_ready((rt_g *)arg, true);
}

/* unlockf for the sleep park: arm the timer only once the G is _Gwaiting,
 * so it cannot fire (and ready the G) while the G is still running. */
static bool sleep_arm(rt_g *gp, void *arg)
{
    (void)gp;
    rt_addtimer((rt_timer *)arg);
    return true;
}

GORT_API void gort_sleep(int64_t ns)
{
    if (ns <= 0)
        return;
    rt_g *gp = rt_curg();
    if (gp == NULL) {
        struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        return;
    }
    rt_timer *t = &gp->timer;
    t->when = rt_when_after(rt_nanotime(), ns); /* INT64_MAX: for ever */
    t->period = 0;
    t->f = goroutine_ready;
    t->arg = gp;
    t->seq = 0;
    rt_park(sleep_arm, t, WR_SLEEP);
}

GORT_API int64_t gort_nanotime(void)
{
    rt_preemptpoint(); /* a loop that only reads the clock must still yield */
    return rt_nanotime();
}
