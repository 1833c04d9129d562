/* src/sched/sched.h - the scheduler's internal interface: G, M, P, the
 * global sched, runtime locks and notes, timers, semaphores.
 * The design essay is at the top of proc.c. Naming: rt_ for everything
 * shared between runtime files; file-local helpers are static. */
#ifndef GORT_SCHED_H
#define GORT_SCHED_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>

#include <gort.h>

#include "../asm/arch.h"
#include "../stack/stack.h"

#define RT_CACHELINE 64
#define rt_likely(x) __builtin_expect(!!(x), 1)
#define rt_unlikely(x) __builtin_expect(!!(x), 0)

/* Atomics: GCC/Clang builtins on plain fields, so public types stay plain
 * C structs that are valid when zero-initialised. */
#define rt_load(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define rt_load_acq(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define rt_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define rt_store(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define rt_store_rel(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define rt_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define rt_xadd(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define rt_xchg(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define rt_cas(p, old, new_) \
    __extension__({ __typeof__(*(p)) o_ = (old); \
        __atomic_compare_exchange_n((p), &o_, (new_), false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED); })
#define rt_cas_rel(p, old, new_) \
    __extension__({ __typeof__(*(p)) o_ = (old); \
        __atomic_compare_exchange_n((p), &o_, (new_), false, __ATOMIC_RELEASE, __ATOMIC_RELAXED); })

typedef struct rt_g rt_g;
typedef struct rt_m rt_m;
typedef struct rt_p rt_p;

/* ---- lock.c: runtime locks and notes (Go: lock_futex.go) ---------------- */

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
void rt_lock_release(rt_lock *l);
void rt_noteclear(rt_note *n);
void rt_notewakeup(rt_note *n);
void rt_notesleep(rt_note *n);
bool rt_notetsleep(rt_note *n, int64_t ns); /* true if woken, false on timeout */
void rt_osyield(void);
void rt_procyield(int cycles);

/* Lock ranks, lowest first: a lock may only be acquired while every lock
 * held has a lower rank (Go: lockrank.go). */
enum {
    RT_RANK_NONE = 0,
    RT_RANK_CHAN = 5,      /* channel locks; several at once in select (address order) */
    RT_RANK_SCHED = 10,    /* sched.lock */
    RT_RANK_MALG = 15,     /* malg's chunk for threads without a P */
    RT_RANK_ALLG = 20,     /* allg chunk list */
    RT_RANK_GFREE = 30,    /* sched.gflock */
    RT_RANK_TIMERS = 40,   /* p.timerslock */
    RT_RANK_SEMA = 50,     /* semtable root */
    RT_RANK_STACKPOOL = 60,
    RT_RANK_INIT = 70,
    RT_RANK_MCENTRAL = 75, /* mcentral, one per span class */
    RT_RANK_MHEAP = 80,    /* the page heap */
    RT_RANK_LEAF = 100,
};

/* ---- G, M, P ------------------------------------------------------------ */

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

/* A timer in a P's heap (Go: runtime.timer). */
typedef struct rt_timer {
    uint32_t running;               /* atomic: f is executing now */
    int64_t when;
    int64_t period;                 /* > 0: re-armed each time it fires */
    void (*f)(void *arg, uintptr_t seq);
    void *arg;
    uintptr_t seq;
    rt_p *pp;                       /* heap it is in, NULL when not in a heap */
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
    void *mainrun;             /* gort_run's wait record if this is its main G */
    union {                    /* a G waits on one thing at a time */
        rt_semawaiter sw;      /* semacquire */
        struct {               /* a blocking channel send or receive */
            rt_waiter w;
            rt_sudog sg;
        } cw;
    };
    rt_timer timer;            /* for gort_sleep */
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

    /* The M sleeping until the earliest timer, if any (replaces netpoll's
     * blocking poll until the netpoll issue): woken when an earlier timer
     * is added. Guarded by lock. */
    rt_m *timerm;
    int64_t timerm_when;

    int64_t goidgen;           /* atomic */
    int64_t ngo_foreign;       /* atomic: Gs created by threads without a P */
    int32_t nmain;             /* main goroutines running (gort_main / gort_run) */
    uint32_t foreign_calls;    /* atomic: API calls from foreign threads (disables checkdead) */
    int64_t totaltime_start;
} rt_sched;

extern rt_sched rt_sched_;
extern rt_m *rt_allm;          /* list of all Ms, via alllink (append-only) */
extern rt_p **rt_allp;         /* [rt_gomaxprocs] */
extern int32_t rt_gomaxprocs;
extern int32_t rt_ncpu;
extern uint32_t rt_started;    /* atomic: scheduler running */
extern rt_m rt_m0;

/* GOMAXPROCS, read racily everywhere but in procresize. */
static inline int32_t rt_procs(void) { return __atomic_load_n(&rt_gomaxprocs, __ATOMIC_RELAXED); }

static inline rt_g *rt_getg(void) { return (rt_g *)rt_arch_getg(); }
static inline void rt_setg(rt_g *g) { rt_arch_setg(g); }
/* The G running on this thread if it is a user goroutine, else NULL. */
static inline rt_g *rt_curg(void)
{
    rt_g *g = rt_getg();
    return (g != NULL && g->m != NULL && g != g->m->g0) ? g : NULL;
}

static inline uint32_t rt_readgstatus(rt_g *gp) { return rt_load(&gp->status); }

/* A cooperative preemption point, Go's function-prologue check: one TLS
 * read and one load unless sysmon has asked the running goroutine to yield
 * (it ran 10 ms). In the gort calls a goroutine may loop on without ever
 * blocking: gort_nanotime, the mutex and channel calls that do not park,
 * the allocator's slow path. */
void rt_preempt_check(void);
static inline void rt_preemptpoint(void)
{
    rt_g *g = rt_getg();
    if (rt_likely(g != NULL)) { /* NULL: a thread gort does not run */
        if (rt_unlikely(rt_load_relaxed(&g->preempt)))
            rt_preempt_check();
    }
}

/* ---- proc.c --------------------------------------------------------------- */
void rt_entersyscall(void);
void rt_exitsyscall(void);
uint32_t rt_retake(int64_t now, void (*preemptone)(rt_m *mp, rt_g *gp), int64_t *nextcheck); /* sysmon */
void rt_schedtrace(bool detail);                                          /* sysmon */
/* preempt.c */
void rt_preemptinit(void);                 /* schedinit, after the options */
void rt_preemptone(rt_m *mp, rt_g *gp);    /* sysmon: preempt flag + SIGURG */
extern int64_t rt_sysg_count;  /* runtime goroutines, not reported by gort_num_goroutine */
rt_m *rt_newm(rt_p *pp, bool spinning, bool sysmon);
void rt_m0_init(void);
void rt_noM0_init(void);
void rt_main_started(int delta);

void rt_schedinit_procs(int32_t procs);
void rt_mstart_m0(void *g0_sp) __attribute__((noreturn));
rt_g *rt_newproc(void (*fn)(void *), void *arg, uintptr_t callerpc, int order, bool sysg);
void rt_park(bool (*unlockf)(rt_g *, void *), void *lock, uint8_t reason);
void rt_parkunlock(rt_lock *l, uint8_t reason);
void rt_ready(rt_g *gp, bool next);
void rt_gosched(void);
void rt_goexit1(void) __attribute__((noreturn));
void rt_wakep(void);
uint32_t rt_fastrand(void);
uint32_t rt_fastrandn(uint32_t n);
void rt_stoptheworld(const char *reason);
void rt_starttheworld(void);
int32_t rt_procresize(int32_t nprocs);
int64_t rt_gcount(void);
void rt_checkdead(void);
void rt_lockOSThread(void);
void rt_unlockOSThread(void);
void rt_note_foreign_call(void);
bool rt_foreachg(bool (*fn)(rt_g *gp, void *arg), void *arg); /* under allg lock */

/* ---- time.c ---------------------------------------------------------------- */
int64_t rt_nanotime(void);
void rt_addtimer(rt_timer *t);
bool rt_deltimer(rt_timer *t);
int64_t rt_checktimers(rt_p *pp, int64_t now, bool *ran);
void rt_timers_move(rt_p *to, rt_p *from);
int64_t rt_nobarrier_earliest_timer(void);

bool rt_deltimer_sync(rt_timer *t); /* deltimer, then wait for a running f to finish */

/* ---- chan.c, select.c --------------------------------------------------------- */
void rt_waitq_enqueue(rt_waitq *q, rt_sudog *sg);
rt_sudog *rt_waitq_dequeue(rt_waitq *q);
void rt_waitq_remove(rt_waitq *q, rt_sudog *sg);
void rt_sudog_wake(rt_sudog *sg);
void rt_chan_block_forever(uint8_t reason) __attribute__((noreturn));
struct rt_lock *rt_chan_lock(struct gort_chan *c);
rt_waitq *rt_chan_queue(struct gort_chan *c, bool send);
bool rt_chan_closed_locked(struct gort_chan *c);
bool rt_chan_try_send_locked(struct gort_chan *c, const void *ep, rt_sudog **wake);
bool rt_chan_try_recv_locked(struct gort_chan *c, void *ep, bool *received, rt_sudog **wake);

/* ---- sema.c ---------------------------------------------------------------- */
void rt_semacquire(uint32_t *addr, bool lifo, uint8_t reason);
void rt_semrelease(uint32_t *addr, bool handoff);

/* ---- gls.c ---------------------------------------------------------------- */
void rt_gls_destroy(rt_g *gp);

#endif /* GORT_SCHED_H */
