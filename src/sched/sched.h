/* src/sched/sched.h - the scheduler's internal interface, the one header
 * other subsystems include:
 *   atomic.h    the runtime's atomics
 *   lock.h      runtime locks, notes and the lock order (ranks)
 *   runtime2.h  G, M, P, sched, timers, wait queues
 * and below, the functions, grouped by the file that defines them. The
 * design essay is at the top of proc.c. Naming: rt_ for everything shared
 * between runtime files; file-local helpers are static. */
#ifndef GORT_SCHED_H
#define GORT_SCHED_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#include <gort.h>

#include "../asm/arch.h"
#include "atomic.h"
#include "lock.h"
#include "runtime2.h"

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
void rt_chan_gcscan(void (*scan)(void *arg, uintptr_t lo, uintptr_t hi), void *arg); /* chan.c */
void rt_entersyscall(void);                        /* src/asm: saves registers, then: */
void rt_entersyscall_regs(const uintptr_t *regs);  /* regs: rbx rbp r12-r15, the caller's SP */
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
rt_g *rt_newproc(void (*fn)(void *), void *arg, uintptr_t callerpc, int order, bool sysg); /* order -1: the default stack */
void rt_park(bool (*unlockf)(rt_g *, void *), void *lock, uint8_t reason);
void rt_parkunlock(rt_lock *l, uint8_t reason);
void rt_ready(rt_g *gp, bool next);
void rt_gosched(void);
void rt_goexit1(void) __attribute__((noreturn));
void rt_wakep(void);
void rt_injectglist(rt_g *list); /* the poller's goroutines, _Gwaiting, linked through schedlink */
void rt_timerm_wake_locked(void); /* sched.lock held, sched.timerm set: make the watcher re-arm */
uint32_t rt_fastrand(void);
uint32_t rt_fastrandn(uint32_t n);
int64_t rt_gcount(void);
void rt_checkdead(void);
void rt_lockOSThread(void);
void rt_unlockOSThread(void);
void rt_note_foreign_call(void);
/* Every G ever made (dead ones too): lock-free, it reads the append-only
 * chunk list with acquire loads, so a G added meanwhile may be missed. */
bool rt_foreachg(bool (*fn)(rt_g *gp, void *arg), void *arg);

/* ---- proc.c, shared with stw.c only (the scheduler's own plumbing) ---------- */
/* P status and P->m are read racily (stealers, preemptall, sysmon): every
 * write is an atomic store, every racy read an atomic load. */
static inline void rt_setpstatus(rt_p *pp, uint32_t s) { rt_store_relaxed(&pp->status, s); }
static inline void rt_setpm(rt_p *pp, rt_m *mp) { rt_store_rel(&pp->m, mp); } /* sysmon reads it */

static inline bool rt_runqempty(rt_p *pp)
{
    /* Go's careful read: a concurrent runqget + runqput could make a
     * non-empty queue look empty if head/tail/runnext are read apart. */
    for (;;) {
        uint32_t head = rt_load(&pp->runqhead);
        uint32_t tail = rt_load(&pp->runqtail);
        rt_g *runnext = rt_load(&pp->runnext);
        if (tail == rt_load(&pp->runqtail))
            return head == tail && runnext == NULL;
    }
}

/* syscalltick is bumped only by whoever owns the P at that moment (its M
 * in entersyscall / exitsyscall, or sysmon or stop-the-world right after
 * winning the CAS on its status): a plain increment, read racily by sysmon. */
static inline void rt_syscalltick_inc(rt_p *pp)
{
    rt_store_relaxed(&pp->syscalltick, rt_load_relaxed(&pp->syscalltick) + 1);
}


void rt_pidleput(rt_p *pp);           /* sched.lock held */
rt_p *rt_pidleget(void);              /* sched.lock held */
void rt_acquirep(rt_p *pp);
rt_p *rt_releasep(void);
void rt_startm(rt_p *pp, bool spinning);
void rt_stopm(void);
rt_g *rt_runqget(rt_p *pp, bool *inherit); /* owner only */
void rt_gfree_pushbatch(rt_g *head, int32_t n); /* sched.gflock held */

/* ---- stw.c: stop the world, start it, procresize ---------------------------- */
void rt_stoptheworld(const char *reason); /* from a goroutine; returns with every other P stopped */
void rt_starttheworld(void);
int32_t rt_procresize(int32_t nprocs);    /* sched.lock held, world stopped */
void rt_gcstopm(void);                    /* an M that sees gcwaiting parks its P */
void rt_debug_checkall(void);             /* debug tier 2: every consistency check; world stopped */

/* ---- time.c ---------------------------------------------------------------- */
int64_t rt_nanotime(void);
void rt_addtimer(rt_timer *t);
int64_t rt_checktimers(rt_p *pp, int64_t now, bool *ran);
void rt_timers_move(rt_p *to, rt_p *from);
int64_t rt_nobarrier_earliest_timer(void);

bool rt_deltimer_sync(rt_timer *t); /* remove t for good, after a running f has finished */
int64_t rt_when_after(int64_t now, int64_t ns); /* now + ns, saturating at INT64_MAX (never) */

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
