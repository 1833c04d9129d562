/* mgcthreads.c - threads that are not goroutines, as roots (bdwgc's
 * pthread_stop_world.c is the model; Go has no such threads but cgo's).
 *
 * A thread gort does not run (no M) may hold gort pointers in its
 * registers and on its stack. Stopping the world does not stop it, so the
 * collector stops it itself, with a signal, as bdwgc does:
 *
 *   registered: gort_gc_register_thread, or automatically on the thread's
 *     first gort allocation or free (rt_gc_autoregister); a thread-exit
 *     destructor unregisters it. The record (threadslock) holds its tid
 *     and the top of its stack.
 *   stop (rt_gc_stopthreads, world stopped, gate closed): for each record,
 *     req = 1, then SIGGCSTOP. The handler, on the thread's own stack (no
 *     SA_ONSTACK), saves the SP of its frame: the interrupted registers are
 *     in the signal frame above it. It marks itself STOPPED, wakes the
 *     collector and sleeps until the collector sets it RUNNING. Its stack
 *     from that SP to the top is then a root.
 *   a thread that holds a runtime lock (rt_foreign_locks != 0) must not be
 *     stopped there: the collector may need the lock (starting the world
 *     takes sched.lock). The handler only sets rt_gc_stoppending, and the
 *     thread stops itself when it releases its last lock (lock.c calls
 *     rt_gc_selfstop), its registers flushed to its frame.
 *   resume (rt_gc_startthreads): state = RUNNING, futex wake.
 * threadslock is held from stop to resume, so no record comes or goes
 * meanwhile; a thread unregistering waits (stopped, if it was asked to).
 *
 * Costs to a registered thread: one signal per cycle; a system call it is
 * blocked in may return EINTR (SA_RESTART restarts most), as with bdwgc. */
#include "gc.h"
#include "../sched/sched.h"
#include "../os/os.h"
#include "../debug/debug.h"

#include <gort.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIGGCSTOP SIGPWR /* bdwgc's choice on Linux */

/* state: RUNNING -> STOPPED (the thread, asked by signal or at a lock
 * release) -> RUNNING (the collector resumes it); RUNNING -> BLOCKED (the
 * thread, sleeping in the runtime) -> CLAIMED (the collector: counted as
 * stopped, no signal) -> BLOCKED (resumed) -> RUNNING (the thread wakes;
 * it waits while CLAIMED). */
enum { T_RUNNING = 0, T_STOPPED = 1, T_BLOCKED = 2, T_CLAIMED = 3 };

typedef struct gcthread {
    int tid;
    uintptr_t stackhi;
    uintptr_t sp;               /* while stopped: scan [sp, stackhi) */
    uint32_t req;               /* atomic: the collector asks it to stop */
    uint32_t state;             /* atomic: T_* (futex) */
    uint32_t explicit_;         /* gort_gc_register_thread count */
    struct gcthread *next;
} gcthread;

static rt_lock threadslock = {0, RT_RANK_GCTHREADS};
static gcthread *threads;
static uint32_t nstopped;       /* futex: threads stopped this cycle */
__thread void *rt_gc_threadrec __attribute__((tls_model("initial-exec")));
static inline gcthread *me(void) { return rt_gc_threadrec; }
__thread uint32_t rt_gc_stoppending __attribute__((tls_model("initial-exec")));
static pthread_key_t exitkey;
static pthread_once_t initonce = PTHREAD_ONCE_INIT;

/* ---- the stopped thread's side -------------------------------------------------- */

/* Stopped until the collector resumes us. Everything above this frame -
 * the caller's, the signal frame with the interrupted registers, or the
 * registers rt_gc_selfstop flushed - is scanned. */
__attribute__((noinline)) static void stopself(gcthread *t)
{
    t->sp = (uintptr_t)__builtin_frame_address(0);
    rt_store(&t->state, T_STOPPED);
    __atomic_add_fetch(&nstopped, 1, __ATOMIC_SEQ_CST);
    rt_futexwakeup(&nstopped, 1);
    while (rt_load(&t->state) == T_STOPPED)
        rt_futexsleep(&t->state, T_STOPPED, -1);
}

static void handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    (void)uc;
    int e = errno;
    gcthread *t = me();
    if (t != NULL && rt_load(&t->req) != 0) {
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        if (rt_foreign_locks != 0) {
            rt_gc_stoppending = 1; /* lock.c stops us at the last release */
        } else {
            rt_store(&t->req, 0);
            stopself(t);
        }
    }
    errno = e;
}

/* lock.c: a thread without an M released its last runtime lock with a
 * stop pending. */
__attribute__((noinline)) void rt_gc_selfstop(void)
{
    __builtin_unwind_init(); /* callee-saved registers into this frame */
    rt_gc_stoppending = 0;
    gcthread *t = me();
    if (t != NULL && rt_load(&t->req) != 0) {
        rt_store(&t->req, 0);
        stopself(t);
    }
    __asm__ volatile("" ::: "memory");
}

/* Sleeping in the runtime (rt_notesleep, the gate): the callee-saved
 * registers go to rt_gc_blocking's frame, which stays above
 * blocked_inner's for the whole sleep; a cycle that finds the thread
 * BLOCKED claims it as stopped without a signal (which a sanitizer would
 * hold back from a thread in a raw system call, and which would make the
 * system call return EINTR). A stop asked for just before the thread got
 * here is honoured first. */
__attribute__((noinline)) static void blocked_inner(gcthread *t, void (*fn)(void *), void *arg)
{
    /* The stop signal is held back while BLOCKED: the state says what a
     * cycle needs, and a handler running then would muddle it. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGGCSTOP);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    t->sp = (uintptr_t)__builtin_frame_address(0);
    rt_store(&t->state, T_BLOCKED);
    if (rt_load(&t->req) != 0 && rt_cas(&t->state, T_BLOCKED, T_RUNNING)) {
        rt_store(&t->req, 0); /* signalled just before: stop as the handler would */
        stopself(t);
        t->sp = (uintptr_t)__builtin_frame_address(0);
        rt_store(&t->state, T_BLOCKED);
    }
    fn(arg);
    while (!rt_cas(&t->state, T_BLOCKED, T_RUNNING))
        rt_futexsleep(&t->state, T_CLAIMED, -1); /* claimed: wait to be given back */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

__attribute__((noinline)) void rt_gc_blocking(void (*fn)(void *), void *arg)
{
    gcthread *t = me();
    if (t == NULL) {
        fn(arg);
        return;
    }
    __builtin_unwind_init();
    blocked_inner(t, fn, arg);
    __asm__ volatile("" ::: "memory");
}

/* ---- registry -------------------------------------------------------------------- */

static void threadexit(void *arg);

static void initonce_fn(void)
{
    if (pthread_key_create(&exitkey, threadexit) != 0)
        rt_throw("gc: pthread_key_create failed");
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(SIGGCSTOP, &sa, NULL) != 0)
        rt_throw("gc: cannot install the thread-stop signal handler");
}

static uintptr_t stacktop(void)
{
    uintptr_t lo, top;
    if (rt_sysThreadStack(&lo, &top) != 0)
        rt_throw("gc: cannot find this thread's stack");
    return top;
}

static void reg(bool explicit_)
{
    if (me() != NULL) {
        if (explicit_)
            me()->explicit_++;
        return;
    }
    pthread_once(&initonce, initonce_fn);
    gcthread *t = calloc(1, sizeof(*t));
    if (t == NULL)
        rt_throw("gc: out of memory registering a thread");
    t->tid = rt_sysGettid();
    t->stackhi = stacktop();
    t->explicit_ = explicit_ ? 1 : 0;
    rt_lock_acquire(&threadslock);
    t->next = threads;
    threads = t;
    rt_gc_threadrec = t;
    rt_lock_release(&threadslock);
    pthread_setspecific(exitkey, t);
}

static void unreg(void)
{
    gcthread *t = me();
    if (t == NULL)
        return;
    rt_lock_acquire(&threadslock);
    for (gcthread **l = &threads; *l != NULL; l = &(*l)->next) {
        if (*l == t) {
            *l = t->next;
            break;
        }
    }
    rt_gc_threadrec = NULL;
    rt_lock_release(&threadslock);
    pthread_setspecific(exitkey, NULL);
    free(t);
}

static void threadexit(void *arg)
{
    (void)arg;
    unreg();
}

/* A thread without an M allocates or frees: it is registered from now on
 * (malloc.c, free.c call this only when self is NULL and not on an M). */
void rt_gc_autoregister(void)
{
    if (me() == NULL && rt_curg() == NULL && rt_getg() == NULL)
        reg(false);
}

bool rt_gc_thread_registered(void) { return me() != NULL; }

GORT_API void gort_gc_register_thread(void)
{
    if (rt_getg() != NULL)
        return; /* an M: its goroutines' stacks are scanned anyway */
    reg(true);
}

GORT_API void gort_gc_unregister_thread(void)
{
    if (rt_getg() != NULL || me() == NULL)
        return;
    unreg();
}

/* ---- the collector's side ------------------------------------------------------------- */

/* Stop every registered thread (world stopped, gate closed); returns with
 * threadslock held until rt_gc_startthreads. */
void rt_gc_stopthreads(void)
{
    rt_lock_acquire(&threadslock);
    rt_store(&nstopped, 0);
    uint32_t want = 0;
    int pid = getpid();
    for (gcthread *t = threads; t != NULL; t = t->next) {
        rt_store(&t->req, 1);
        if (rt_cas(&t->state, T_BLOCKED, T_CLAIMED)) {
            rt_store(&t->req, 0); /* asleep in the runtime: stopped as it is */
            continue;
        }
        if (rt_sysTgkill(pid, t->tid, SIGGCSTOP) != 0) {
            rt_store(&t->req, 0); /* gone without unregistering */
            continue;
        }
        want++;
    }
    uint32_t n;
    while ((n = rt_load(&nstopped)) < want)
        rt_futexsleep(&nstopped, n, 1000 * 1000);
}

void rt_gc_scanthreads(rt_gcwork *w)
{
    for (gcthread *t = threads; t != NULL; t = t->next) {
        uint32_t st = rt_load(&t->state);
        if (st != T_STOPPED && st != T_CLAIMED)
            continue;
        if (t->sp < t->stackhi) {
            w->stackbytes += t->stackhi - t->sp;
            rt_gc_scanrange(w, t->sp, t->stackhi);
        }
    }
}

void rt_gc_startthreads(void)
{
    for (gcthread *t = threads; t != NULL; t = t->next) {
        uint32_t st = rt_load(&t->state);
        if (st == T_STOPPED || st == T_CLAIMED) {
            rt_store(&t->state, st == T_STOPPED ? T_RUNNING : T_BLOCKED);
            rt_futexwakeup(&t->state, 1);
        }
    }
    rt_lock_release(&threadslock);
}
