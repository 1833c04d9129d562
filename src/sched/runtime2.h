/* src/sched/runtime2.h - the scheduler's types: G, M, P, the global sched,
 * timers and wait queues (Go: runtime2.go). The design essay is at the top
 * of proc.c. Part of the scheduler's internal interface: include sched.h. */
#ifndef GORT_SCHED_RUNTIME2_H
#define GORT_SCHED_RUNTIME2_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>

#include <gort.h>

#include "atomic.h"
#include "lock.h"
#include "../stack/stack.h"

typedef struct rt_g rt_g;
typedef struct rt_m rt_m;
typedef struct rt_p rt_p;

/* ---- G, M, P ------------------------------------------------------------ */

#define RT_SYSCALL_REGS 6      /* x86-64 SysV callee-saved: rbx rbp r12 r13 r14 r15 */

/* G status values, numbered as Go's so traces read the same. */
enum {
    G_IDLE = 0,
    G_RUNNABLE = 1,
    G_RUNNING = 2,
    G_SYSCALL = 3,
    G_WAITING = 4,
    G_DEAD = 6,
};

/* P status values, numbered as Go's. */
enum {
    P_IDLE = 0,
    P_RUNNING = 1,
    P_SYSCALL = 2,
    P_GCSTOP = 3,
    P_DEAD = 4,
};

/* Wait reasons: Go 1.19's names, printed in "goroutine N [reason]:". */
#define RT_WAITREASONS(X)                                   \
    X(WR_ZERO, "")                                          \
    X(WR_CHAN_RECEIVE_NIL, "chan receive (nil chan)")       \
    X(WR_CHAN_SEND_NIL, "chan send (nil chan)")             \
    X(WR_SELECT, "select")                                  \
    X(WR_SELECT_NO_CASES, "select (no cases)")              \
    X(WR_CHAN_RECEIVE, "chan receive")                      \
    X(WR_CHAN_SEND, "chan send")                            \
    X(WR_SLEEP, "sleep")                                    \
    X(WR_SEMACQUIRE, "semacquire")                          \
    X(WR_SYNC_COND_WAIT, "sync.Cond.Wait")                  \
    X(WR_LOCKED_THREAD, "locked to thread")                 \
    X(WR_FORCE_GC_IDLE, "force gc (idle)")                  \
    X(WR_GC_SWEEP_WAIT, "GC sweep wait")                    \
    X(WR_GC_SCAVENGE_WAIT, "GC scavenge wait")              \
    X(WR_IO_WAIT, "IO wait")                                \
    X(WR_FINALIZER_WAIT, "finalizer wait")                  \
    X(WR_PREEMPTED, "preempted")

enum {
#define RT_WR_ENUM(name, str) name,
    RT_WAITREASONS(RT_WR_ENUM)
#undef RT_WR_ENUM
    WR_COUNT
};
extern const char *const rt_waitreason_names[WR_COUNT];

/* A semaphore waiter (Go: sudog, for sema.go). Embedded in the G (a G
 * waits on at most one semaphore at a time) or on a foreign thread's
 * stack, in which case g is NULL and the note wakes the thread. */
typedef struct rt_semawaiter {
    uint32_t *addr;
    rt_g *g;
    struct rt_semawaiter *next, *prev;  /* FIFO for this address */
    struct rt_semawaiter *anext;        /* next address queue head in the root */
    struct rt_semawaiter *tail;         /* valid in the head only */
    int64_t ticket;                     /* 1: semrelease handed ownership directly */
    rt_note note;                       /* foreign-thread waiters */
} rt_semawaiter;

/* A timer in a P's heap (Go: runtime.timer). Protocol in time.c.
 *   running, stopped: written under home->timerslock (running's clear of a
 *     one-shot timer excepted), read anywhere;
 *   home: the heap it was last added to; changes under its lock. */
typedef struct rt_timer {
    uint32_t running;               /* atomic: f is executing now */
    uint32_t stopped;               /* rt_deltimer_sync ran: never re-armed again */
    int64_t when;
    int64_t period;                 /* > 0: re-armed each time it fires */
    void (*f)(void *arg, uintptr_t seq);
    void *arg;
    uintptr_t seq;
    rt_p *pp;                       /* heap it is in, NULL when not in a heap */
    rt_p *home;                     /* heap it was last added to, NULL: never added */
    int32_t idx;                    /* position in pp's heap */
} rt_timer;

/* A blocked goroutine, or a blocked foreign thread (g == NULL, woken
 * through note), waiting on one or more channels (Go: the G side of a
 * sudog). Lives on the waiter's stack while it is blocked. */
typedef struct rt_waiter {
    rt_g *g;
    rt_note note;
    uint32_t selectdone;            /* select: the first channel op to claim it wins (CAS) */
    struct rt_sudog *fired;         /* the case that completed, set by the waker */
} rt_waiter;

/* One channel wait (Go: sudog). On the waiter's stack: a goroutine's stack
 * does not move, so no allocation is needed, even for a select. */
typedef struct rt_sudog {
    rt_waiter *w;
    struct rt_sudog *next, *prev;
    void *elem;                     /* value to send / where to receive (NULL: none) */
    struct gort_chan *c;
    bool isselect;
    bool success;                   /* true: value passed; false: woken by close */
} rt_sudog;

typedef struct rt_waitq {
    rt_sudog *first, *last;         /* first read racily (atomic) for fast paths */
} rt_waitq;

/* A deferred call run if the goroutine exits (gort_goexit) before the
 * frame that pushed it returns: Go's defer, for the runtime's own use
 * (gort_once_do). Lives in that frame; linked from g->defers, newest first. */
typedef struct rt_defer {
    void (*fn)(void *arg);
    void *arg;
    struct rt_defer *link;
} rt_defer;

/* A goroutine. Field order puts what the switch and the run queues touch
 * first. Fields marked (owner) are written only by the M running the G or
 * by the M that holds it in a queue it owns. */
struct rt_g {
    void *sp;                  /* saved context; valid while not running */
    rt_stack stk;              /* stk.hi == 0: no stack yet (assigned on first run) */
    uint32_t status;           /* atomic: G_* */
    uint8_t waitreason;
    bool preempt;              /* please yield at the next safe point */
    bool started;              /* has run at least once (has a live frame) */
    bool sysg;                 /* runtime goroutine: not counted, not in deadlock check */
    uint32_t preemptoff;       /* gort_preempt_off nesting: no async preemption */
    uint32_t locked;           /* lockOSThread nesting count */
    int64_t goid;
    rt_m *m;                   /* current M, or NULL */
    rt_m *lockedm;
    rt_g *schedlink;           /* run queue / free list link */
    void (*fn)(void *);
    void *arg;
    uintptr_t gopc;            /* pc of the gort_go call that created it */
    int64_t parentgoid;
    union {
        int64_t waitsince;     /* approx time the G became blocked */
        int64_t gfreen;        /* dead, head of a global free batch: its size */
    };
    uintptr_t sp_min;          /* lowest SP seen at a switch: deep stacks are released */
    union {
        void *param;           /* passed by the waker */
        rt_g *gfreebatch;      /* dead, head of a global free batch: next batch */
    };
    void **gls;                /* goroutine-local values, lazily allocated */
    rt_defer *defers;          /* pending runtime defers, run by goexit */
    void *mainrun;             /* gort_run's wait record if this is its main G */
    union {                    /* a G waits on one thing at a time */
        rt_semawaiter sw;      /* semacquire */
        struct {               /* a blocking channel send or receive */
            rt_waiter w;
            rt_sudog sg;
        } cw;
    };
    rt_timer timer;            /* for gort_sleep */
    /* Between entersyscall and exitsyscall the M runs on without a P: the
     * collector scans the stack from syscallsp and the callee-saved
     * registers entersyscall found (rt_entersyscall_regs). */
    uintptr_t syscallsp;
    uintptr_t syscallregs[RT_SYSCALL_REGS];
#if defined(GORT_ASAN)
    void *asan_fake;
#endif
#if defined(GORT_TSAN)
    void *tsan_fiber;
#endif
};

/* An M: an OS thread. */
struct rt_m {
    rt_g *g0;                  /* scheduling stack (the thread's own) */
    rt_g *curg;                /* running user G */
    rt_p *p;                   /* attached P, NULL if none */
    rt_p *nextp;               /* P to take when woken */
    rt_p *oldp;                /* the P left in _Psyscall by entersyscall */
    int boundcpu;              /* GORTDEBUG=bindps: CPU + 1 this thread is bound to, 0 none */
    int64_t id;
    int32_t locks;             /* runtime locks held */
    int32_t throwing;
    bool spinning;             /* looking for work, counted in sched.nmspinning */
    bool blocked;              /* sleeping on park */
    bool inpoll;               /* the timer watcher, sleeping in the poller (sched.lock) */
    bool sysmon;
    rt_note park;
    rt_m *schedlink;           /* midle list */
    rt_m *alllink;             /* allm list */
    rt_g *lockedg;
    void *g0_sp;               /* where mcall starts on the g0 stack */
    uintptr_t g0_lo, g0_hi;
    void (*mcallfn)(rt_g *);
    void (*afterfn)(rt_m *, rt_g *); /* deferred publish of afterg (switchto) */
    rt_g *afterg;
    bool (*waitunlockf)(rt_g *, void *);
    void *waitlock;
    uint64_t fastrand;
    int tid;
    pthread_t thread;
    void *altstack;
    sigset_t sigmask;          /* creator's mask, restored once the M runs */
#if defined(GORT_ASAN)
    void *asan_fake_g0;
#endif
#if defined(GORT_TSAN)
    void *tsan_g0_fiber;
    void *tsan_thread_fiber;
#endif
};

#define RT_RUNQ_SIZE 256

/* A P: the resources needed to run Go code (here: C goroutines). */
struct rt_p {
    int32_t id;
    uint32_t status;           /* P_* ; changed under sched.lock or by its owner */
    rt_p *link;                /* pidle list */
    uint32_t schedtick;        /* incremented on every scheduler call (not for runnext) */
    rt_m *m;                   /* back-link to the owning M, NULL if idle */
    int64_t goidcache, goidcacheend;

    /* Local run queue (Go: runq). Lock-free: only the owner writes tail and
     * puts; anyone (stealers) may CAS head. runnext: the G readied by the
     * running G, run next, inheriting the time slice; CAS'd by stealers.
     * runnext has a cache line of its own: a goroutine ping-pong rewrites it
     * twice per round trip, and spinning Ms polling head/tail must not make
     * every one of those writes a cache miss. */
    uint32_t runqhead __attribute__((aligned(RT_CACHELINE)));
    uint32_t runqtail;
    rt_g *runnext __attribute__((aligned(RT_CACHELINE)));
    uint32_t nexttick;         /* incremented when the owner takes runnext */
    rt_g *runq[RT_RUNQ_SIZE] __attribute__((aligned(RT_CACHELINE)));

    /* Dead Gs for reuse (Go: gFree), owner only. */
    rt_g *gfree;
    int32_t gfreecnt;

    rt_stackcache stackcache;
    struct rt_mcache *mcache;  /* the allocator's per-P cache (src/alloc) */
    uintptr_t palloc[2];       /* per-P persistentalloc chunk: next, end */

    /* Timer heap (4-ary, by when), guarded by timerslock. timer0when is the
     * earliest when (0 if empty), read without the lock by other Ps. */
    rt_lock timerslock;
    rt_timer **timers;
    int32_t ntimers, timerscap;
    int64_t timer0when;

    int64_t ngo_created, ngo_exited; /* for gort_num_goroutine (owner writes, relaxed) */

    uint32_t syscalltick;      /* atomic: incremented on every entersyscall/exitsyscall */
    /* sysmon's view (Go: sysmontick), sysmon only */
    uint32_t sm_schedtick, sm_syscalltick;
    int64_t sm_schedwhen, sm_syscallwhen, sm_preemptwhen;
} __attribute__((aligned(RT_CACHELINE)));

/* The global scheduler state (Go: schedt). */
typedef struct rt_sched {
    rt_lock lock;

    rt_m *midle;               /* idle Ms waiting for work */
    int32_t nmidle;
    int32_t nmidlelocked;      /* Ms with a locked G blocked */
    int64_t mnext;             /* number of Ms created, next M id */
    int32_t nmsys;             /* system Ms not counted for deadlock (sysmon) */
    int32_t nmfreed;

    rt_p *pidle;
    uint32_t npidle;           /* atomic */
    uint32_t nmspinning;       /* atomic */

    rt_g *runqhead, *runqtail; /* global run queue */
    int32_t runqsize;          /* written under lock, read racily */

    rt_lock gflock;            /* global free list of dead Gs (no stacks), in batches */
    rt_g *gfree;
    int32_t ngfree;

    uint32_t gcwaiting;        /* atomic: stop the world requested */
    int32_t stopwait;
    rt_note stopnote;
    uint32_t sysmonwait;       /* atomic */
    rt_note sysmonnote;

    /* The M sleeping until the earliest timer, if any: on its park note,
     * or in the poller (m->inpoll) while goroutines wait on I/O (Go's
     * blocking netpoll). Woken when an earlier timer is added. Written
     * under lock; read atomically by the poller (rt_netpoll_stillwatcher). */
    rt_m *timerm;
    int64_t timerm_when;

    int64_t goidgen;           /* atomic */
    int64_t ngo_foreign;       /* atomic: Gs created by threads without a P */
    int32_t nmain;             /* main goroutines running (gort_main / gort_run) */
    uint32_t foreign_calls;    /* atomic: API calls from foreign threads (disables checkdead) */
    int64_t totaltime_start;
} rt_sched;

#endif /* GORT_SCHED_RUNTIME2_H */
