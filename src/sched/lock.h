/* src/sched/lock.h - runtime locks, notes and THE lock order (Go:
 * lock_futex.go, lockrank.go). Implementation in lock.c. Part of the
 * scheduler's internal interface: include sched.h. */
#ifndef GORT_SCHED_LOCK_H
#define GORT_SCHED_LOCK_H

#include <stdint.h>
#include <stdbool.h>

/* Futex mutex: 0 unlocked, 1 locked, 2 locked with sleepers. Spins briefly
 * before sleeping. Holding one bumps m->locks (no preemption, no park). */
typedef struct rt_lock {
    uint32_t key;
    int rank; /* lock rank, checked in debug builds (see lockrank in lock.c) */
} rt_lock;

/* One-shot sleep/wakeup event (Go's note): clear, then one sleeper and one
 * waker. notesleep blocks the thread; only Ms use it, never goroutines. */
typedef struct rt_note {
    uint32_t key;
} rt_note;

void rt_lock_init(rt_lock *l, int rank);
void rt_lock_acquire(rt_lock *l);
/* Runtime locks held (or being waited for) by this thread when it is not
 * an M (an M counts them in m->locks). The collector does not stop such a
 * thread while it holds one; with rt_gc_stoppending set, the release of
 * its last lock stops it (rt_gc_selfstop, src/gc/mgcthreads.c). */
extern __thread uint32_t rt_foreign_locks __attribute__((tls_model("initial-exec")));
extern __thread uint32_t rt_gc_stoppending __attribute__((tls_model("initial-exec")));
void rt_gc_selfstop(void);
/* Non-NULL on a thread the collector stops (registered, not an M). Such a
 * thread blocks in the runtime through rt_gc_blocking(fn, arg), which
 * runs fn(arg) in a state a cycle may claim as stopped, unsignalled. */
extern __thread void *rt_gc_threadrec __attribute__((tls_model("initial-exec")));
void rt_gc_blocking(void (*fn)(void *), void *arg);
void rt_lock_release(rt_lock *l);
void rt_noteclear(rt_note *n);
void rt_notewakeup(rt_note *n);      /* idempotent: a second before the clear does nothing */
void rt_notewakeup_once(rt_note *n); /* Go's: a second wakeup before the clear throws */
void rt_notesleep(rt_note *n);
bool rt_notetsleep(rt_note *n, int64_t ns); /* true if woken, false on timeout */
void rt_procyield(int cycles);

/* Locks that live in zero-initialised user memory (gort_cond_t's list
 * lock) have no rank of their own: acquire them with the rank they stand
 * at (Go: lockWithRank). Every other lock is ranked where it is defined. */
void rt_lock_acquire_rank(rt_lock *l, int rank);

/* The lock order. This list is the one place it is written down.
 *
 * A lock may be acquired only while every lock held has a LOWER rank
 * (checked against the highest rank held, in builds with GORT_LOCKRANK:
 * "lock ordering problem"). Two exceptions, both stated here:
 *   - RT_RANK_CHAN locks nest with each other in increasing address order
 *     (select locks all its channels that way; sellock);
 *   - nothing may be acquired while an RT_RANK_LEAF lock is held.
 * A lock with rank RT_RANK_NONE is an error in a checking build: every
 * lock is ranked, statics by their initialiser, the rest by rt_lock_init.
 *
 *   rank  lock                          where         taken while holding (seen in the suite)
 *    5    channel locks (address order)  chan.c        -
 *    7    gort_cond_t's list lock        sync.c        -
 *   10    sched.lock                     proc.c        chan (a wake-up that starts an M)
 *   15    malg's lock (Gs made without a P)  proc.c    -
 *   20    allg chunk list                proc.c        malg
 *   30    sched.gflock                   proc.c        sched (procresize)
 *   40    p.timerslock                   time.c        sched (procresize moves timers)
 *   41    a second p.timerslock          time.c        timers (procresize holds the dying
 *                                                      P's and P0's, as Go does)
 *   50    semaphore roots                sema.c        -
 *   52    a pollDesc (one fd)            netpoll.c     -
 *   53    io_uring submission queue      netpoll_uring.c  pollDesc (an op parks
 *                                                      with both held; a cancel)
 *   54    io_uring completion queue      netpoll_uring.c  -
 *   60    stack pool                     stack.c       chan, sched, sema (a G made ready
 *                                                      frees or takes a stack)
 *   70    init list                      init.c        -
 *   71    registered threads (collector) mgcthreads.c  - (held through a cycle's
 *                                                      mark and sweep)
 *   72    the shared mcache (no P)       malloc.c      -
 *   73    finalizer records and queue    mfinal.c      registered threads
 *   75    mcentral, one per span class   mcentral.c    shared mcache
 *   80    the page heap                  mheap.c       sched, shared mcache
 *  100    leaves (persistentalloc)       mheap.c       sched, page heap
 * A pair not listed is still allowed when the ranks increase; the list is
 * what the lock-rank build saw the test suite do, for a reader who wants
 * to know why a rank sits where it does.
 */
enum {
    RT_RANK_NONE = 0,
    RT_RANK_CHAN = 5,
    RT_RANK_COND = 7,
    RT_RANK_SCHED = 10,
    RT_RANK_MALG = 15,
    RT_RANK_ALLG = 20,
    RT_RANK_GFREE = 30,
    RT_RANK_TIMERS = 40,
    RT_RANK_TIMERS2 = 41,
    RT_RANK_SEMA = 50,
    RT_RANK_POLLDESC = 52,
    RT_RANK_NETPOLL_SQ = 53,
    RT_RANK_NETPOLL_CQ = 54,
    RT_RANK_STACKPOOL = 60,
    RT_RANK_INIT = 70,
    RT_RANK_GCTHREADS = 71,
    RT_RANK_MCACHE_SHARED = 72,
    RT_RANK_FINALIZER = 73,
    RT_RANK_MCENTRAL = 75,
    RT_RANK_MHEAP = 80,
    RT_RANK_LEAF = 100,
};

#endif /* GORT_SCHED_LOCK_H */
