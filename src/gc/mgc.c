/* mgc.c - the garbage collector: the cycle, the pacer and the API (Go:
 * mgc.go, mgcpacer.go, runtime/debug SetGCPercent / SetMemoryLimit).
 *
 * gort's collector is conservative and non-moving (DESIGN 4.3): C has no
 * pointer maps, so roots and scan-class objects are scanned word by word
 * (mgcmark.c); noscan objects are never read. Objects never move, so C
 * pointers to them stay valid for as long as the collector can see them.
 *
 * What the collector can see (docs/gc.md says it for users): goroutine
 * stacks and saved registers, the data and bss of every loaded module,
 * objects from gort_alloc, buffered channels, goroutine-local values, and
 * ranges registered with gort_gc_add_roots. Not: memory from malloc or
 * mmap, threads that are not goroutines, thread-local variables.
 *
 * The cycle (this step of issue 14: a stop-the-world collector, the
 * "stw" mode; concurrent marking with the kernel's dirty-page tracking
 * comes next and keeps this structure):
 *   1. stop the world (rt_stoptheworld: every P stopped, goroutines in
 *      user loops reached by the preemption signal); close the gate that
 *      threads without a P allocate and free through (rt_gc_foreign_*),
 *      and wait for sysmon's heap housekeeping to be out of the way;
 *   2. rt_gc_prepare (mgcsweep.c): caches back to mcentral, pending frees
 *      merged, so allocBits says exactly what is allocated;
 *   3. mark (mgcmark.c) from the roots, to an empty mark stack;
 *   4. sweep (mgcsweep.c) every span: unmarked objects freed;
 *   5. the pacer sets the next goal; statistics; open the gate; start the
 *      world.
 * Who starts a cycle: the goroutine whose allocation takes the heap past
 * the trigger (rt_gc_alloctrigger, from mallocgc's slow path, after the
 * object is made and held in a local, so it is a root), gort_gc (from a
 * thread that is not a goroutine: a goroutine it starts), and the forcegc
 * goroutine (sysmon, every 2 minutes without a cycle; started by the first
 * cycle, so a program that never collects has no extra goroutine). worldsema serialises cycles; a
 * triggered cycle that finds one ran meanwhile does nothing.
 *
 * The pacer (Go 1.18+'s goal, without the concurrent trigger runway this
 * collector does not need yet):
 *   goal = live + (live + stacks + globals) * GOGC / 100,
 *   at least 4 MiB * GOGC / 100 (Go's heapminimum);
 *   with a memory limit: goal <= limit - (Sys - HeapInuse), never below
 *   live + 1 MiB (the limit is soft, as GOMEMLIMIT's).
 * rt_gc_heaplive (gc.h) counts the cached spans' slots and the other
 * spans' objects; explicit frees leave it as they are merged. The cycle
 * starts when it reaches the goal.
 *
 * Locks: a cycle runs with the world stopped and takes the allocator's
 * locks one at a time (mcentral, then mheap); the roots lock and the
 * buffered-channel lock are leaves. */
#include "gc.h"
#include "../sched/sched.h"
#include "../boot/boot.h"
#include "../debug/debug.h"
#include "../os/os.h"
#include "../stack/stack.h"

#include <gort.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HEAP_MINIMUM ((uint64_t)4 << 20)             /* Go's heapminimum at GOGC=100 */
#define FORCEGC_PERIOD_NS ((int64_t)120 * 1000000000) /* Go's forcegcperiod */

uint64_t rt_gc_trigger = UINT64_MAX;
uint64_t rt_gc_heaplive;
uint32_t rt_gc_gate;
uint32_t rt_gc_foreign_inside;

static int32_t gcpercent = 100;          /* GORTGC; < 0: off */
static int64_t memlimit = INT64_MAX;     /* GORTMEMLIMIT */
static uint32_t enabled;                 /* rt_gcenable ran */
static uint64_t heapgoal;                /* next goal, bytes */
static uint64_t lastlive;                /* marked bytes of the last cycle */
static uint64_t laststacks, lastglobals;

/* Statistics, written by the cycle with the world stopped, read racily. */
static struct {
    uint32_t numgc, numforced;
    uint64_t pausetotal;
    uint64_t pausens[256], pauseend[256];
    uint64_t lastgc;              /* unix ns */
    int64_t lastgc_mono;          /* nanotime of the last cycle's end */
    int64_t cpuns;                /* collector CPU time: pauses x GOMAXPROCS */
} st;

static uint32_t sysmon_busy;      /* sysmon is in its heap housekeeping */
static uint32_t forcegc_sema;
static uint32_t forcegc_waiting;  /* forced cycles asked of the forcegc goroutine */
static uint32_t forcegc_started;  /* the first cycle starts it */

/* ---- the pacer -------------------------------------------------------------------- */

static rt_lock pacerlock = {0, RT_RANK_LEAF}; /* gcpercent, memlimit, heapgoal, trigger */

/* The next goal and trigger from the last cycle's live heap and the
 * settings. */
static void setgoal(void)
{
    uint64_t other = 0;
    if (rt_load_relaxed(&memlimit) != INT64_MAX) {
        gort_memstats_t ms;
        gort_read_memstats(&ms);
        other = ms.Sys > ms.HeapInuse ? ms.Sys - ms.HeapInuse : 0;
    }
    rt_lock_acquire(&pacerlock);
    uint64_t goal = UINT64_MAX;
    if (gcpercent >= 0) {
        goal = lastlive + (lastlive + laststacks + lastglobals) * (uint64_t)gcpercent / 100;
        uint64_t min = HEAP_MINIMUM * (uint64_t)gcpercent / 100;
        if (goal < min)
            goal = min;
    }
    if (memlimit != INT64_MAX) {
        uint64_t cap = (uint64_t)memlimit > other ? (uint64_t)memlimit - other : 0;
        if (cap < lastlive + ((uint64_t)1 << 20))
            cap = lastlive + ((uint64_t)1 << 20);
        if (cap < goal)
            goal = cap;
    }
    rt_store_relaxed(&heapgoal, goal);
    __atomic_store_n(&rt_gc_trigger, rt_load(&enabled) ? heapgoal : UINT64_MAX, __ATOMIC_RELAXED);
    rt_lock_release(&pacerlock);
}

/* Go's GOMEMLIMIT syntax: an integer with an optional B, KiB, MiB, GiB or
 * TiB suffix, or "off". */
static bool parsebytes(const char *s, int64_t *out)
{
    if (strcmp(s, "off") == 0) {
        *out = INT64_MAX;
        return true;
    }
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0)
        return false;
    static const struct { const char *suf; int shift; } units[] = {
        {"", 0}, {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].suf) == 0) {
            if (units[i].shift != 0 && v > (INT64_MAX >> units[i].shift))
                return false;
            *out = (int64_t)v << units[i].shift;
            return true;
        }
    }
    return false;
}

void rt_gcinit(void)
{
    const char *g = rt_getenv("GORTGC");
    if (g != NULL && *g != 0) {
        if (strcmp(g, "off") == 0) {
            gcpercent = -1;
        } else {
            char *end;
            long v = strtol(g, &end, 10);
            if (*end == 0 && v >= 0 && v <= 1000000)
                gcpercent = (int32_t)v;
            else
                rt_printf("gort: GORTGC=%s: not a percentage or \"off\"; using %d\n", g, gcpercent);
        }
    }
    const char *l = rt_getenv("GORTMEMLIMIT");
    if (l != NULL && *l != 0) {
        int64_t v;
        if (parsebytes(l, &v))
            memlimit = v;
        else
            rt_printf("gort: GORTMEMLIMIT=%s: not a byte count (e.g. 512MiB) or \"off\"; ignored\n", l);
    }
    setgoal();
}

/* ---- threads without a P ------------------------------------------------------------ */

static void gatewait(void *arg)
{
    (void)arg;
    while (rt_load(&rt_gc_gate) != 0)
        rt_futexsleep(&rt_gc_gate, 1, -1);
}

void rt_gc_foreign_wait(void)
{
    while (rt_load(&rt_gc_gate) != 0) {
        rt_gc_foreign_exit();
        rt_gc_blocking(gatewait, NULL); /* a registered thread counts as stopped here */
        __atomic_add_fetch(&rt_gc_foreign_inside, 1, __ATOMIC_SEQ_CST);
    }
}

void rt_gc_foreign_exit_slow(void) { rt_futexwakeup(&rt_gc_foreign_inside, 1); }

static void gate_close(void)
{
    rt_store(&rt_gc_gate, 1);
    uint32_t n;
    while ((n = rt_load(&rt_gc_foreign_inside)) != 0)
        rt_futexsleep(&rt_gc_foreign_inside, n, 1000 * 1000);
}

static void gate_open(void)
{
    rt_store(&rt_gc_gate, 0);
    rt_futexwakeup(&rt_gc_gate, INT32_MAX);
}

bool rt_gc_sysmon_begin(void)
{
    rt_store(&sysmon_busy, 1);
    if (rt_load(&rt_gc_gate) == 0)
        return true;
    rt_store(&sysmon_busy, 0);
    return false;
}

void rt_gc_sysmon_end(void) { rt_store(&sysmon_busy, 0); }

/* ---- gctrace -------------------------------------------------------------------------- */

/* Go's fmtNSAsMS: whole milliseconds from 10 ms up, else two significant
 * digits with at most three decimals. */
static const char *fmtms(char *buf, size_t n, uint64_t ns)
{
    if (ns >= 10000000) {
        snprintf(buf, n, "%llu", (unsigned long long)(ns / 1000000));
        return buf;
    }
    uint64_t x = ns / 1000;
    if (x == 0) {
        snprintf(buf, n, "0");
        return buf;
    }
    int dec = 3;
    while (x >= 100) {
        x /= 10;
        dec--;
    }
    uint64_t p = 1;
    for (int i = 0; i < dec; i++)
        p *= 10;
    if (dec == 0)
        snprintf(buf, n, "%llu", (unsigned long long)x);
    else
        snprintf(buf, n, "%llu.%0*llu", (unsigned long long)(x / p), dec, (unsigned long long)(x % p));
    return buf;
}

/* ---- the cycle -------------------------------------------------------------------------- */

typedef struct cycletimes {
    int64_t start, stopped, marked, swept, end;
} cycletimes;

static rt_gcwork work; /* the mark stack is kept from cycle to cycle */

/* Mark with the callee-saved registers of every frame above flushed to
 * this frame (__builtin_unwind_init): the collecting goroutine's own
 * pointers, including the object its allocation just made, are roots. */
static size_t nqueued; /* finalizers queued by the last mark */

__attribute__((noinline)) static void mark(void)
{
    __builtin_unwind_init();
    rt_gc_markroots(&work, 0);
    rt_gc_markfinalizers(&work);
    int n = rt_procs() < rt_ncpu ? rt_procs() : rt_ncpu;
    rt_gc_parallel_drain(&work, n > 0 ? n : 1);
    nqueued = rt_gc_queuefinalizers();
    __asm__ volatile("" ::: "memory");
}

static void trace(uint32_t n, const cycletimes *t, uint64_t heap0, uint64_t live, bool forced)
{
    char a[32], b[32], c[32], d[32], e[32];
    int64_t procs = rt_procs();
    uint64_t stw1 = (uint64_t)(t->stopped - t->start), stw2 = (uint64_t)(t->end - t->stopped);
    int64_t elapsed = t->end - rt_runtime_init_time;
    int pct = elapsed > 0 ? (int)(rt_load_relaxed(&st.cpuns) * 100 / (elapsed * procs)) : 0;
    rt_printf("gc %u @%.3fs %d%%: %s+%s+%s ms clock, %s+%s/%s/%s+%s ms cpu, %llu->%llu->%llu MB, %llu MB goal, "
              "%llu MB stacks, %llu MB globals, %lld P%s\n",
              n, (double)elapsed / 1e9, pct, fmtms(a, sizeof a, stw1), "0", fmtms(b, sizeof b, stw2),
              fmtms(c, sizeof c, stw1 * (uint64_t)procs), "0", fmtms(d, sizeof d, (uint64_t)(t->marked - t->stopped)), "0",
              fmtms(e, sizeof e, stw2 * (uint64_t)procs), (unsigned long long)(heap0 >> 20),
              (unsigned long long)(heap0 >> 20), (unsigned long long)(live >> 20), (unsigned long long)(heapgoal >> 20),
              (unsigned long long)(laststacks >> 20), (unsigned long long)(lastglobals >> 20), (long long)procs,
              forced ? " (forced)" : "");
}

static void forcegc(void *arg);

/* Run one cycle from a goroutine. A cycle the heap triggered (forced
 * false) is skipped when another completed since the caller saw numgc n0. */
static void gc_cycle(bool forced, uint32_t n0)
{
    cycletimes t;
    t.start = rt_nanotime();
    rt_stoptheworld("GC");
    if (!forced && rt_load(&st.numgc) != n0) {
        rt_starttheworld();
        return;
    }
    gate_close();
    while (rt_load(&sysmon_busy) != 0)
        rt_osyield();
    rt_gc_listmodules();
    rt_gc_stopthreads();
    uint64_t heap0 = rt_load_relaxed(&rt_gc_heaplive);
    rt_gc_prepare();
    t.stopped = rt_nanotime();
    work.markedbytes = work.scannedbytes = work.stackbytes = work.globalbytes = 0;
    mark();
    t.marked = rt_nanotime();
    uint64_t live = rt_gc_sweep();
    t.swept = rt_nanotime();
    rt_gc_startthreads();

    rt_lock_acquire(&pacerlock);
    lastlive = live;
    laststacks = work.stackbytes;
    lastglobals = work.globalbytes;
    rt_lock_release(&pacerlock);
    __atomic_store_n(&rt_gc_heaplive, live, __ATOMIC_RELAXED);
    setgoal();
    gate_open();
    size_t queued = nqueued; /* before another cycle can start */
    rt_starttheworld();
    t.end = rt_nanotime();
    if (queued != 0)
        rt_gc_wakefing();

    /* statistics: read racily by gort_read_memstats and sysmon, so every
     * field is stored atomically (relaxed) */
    uint64_t pause = (uint64_t)(t.end - t.start);
    uint32_t n = st.numgc;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t unixns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    rt_store_relaxed(&st.pausens[n % 256], pause);
    rt_store_relaxed(&st.pauseend[n % 256], unixns);
    rt_store_relaxed(&st.lastgc, unixns);
    rt_store_relaxed(&st.lastgc_mono, t.end);
    rt_store_relaxed(&st.pausetotal, st.pausetotal + pause);
    rt_store_relaxed(&st.cpuns, st.cpuns + (int64_t)pause * rt_procs());
    if (forced)
        rt_store_relaxed(&st.numforced, st.numforced + 1);
    rt_store(&st.numgc, n + 1);
    if (rt_debug.gctrace)
        trace(n + 1, &t, heap0, live, forced);
    /* The forcegc goroutine comes with the first cycle, not at start-up:
     * a program that never collects has no use for it (nor for its stack). */
    if (rt_cas(&forcegc_started, 0, 1))
        rt_newproc(forcegc, NULL, (uintptr_t)__builtin_return_address(0), -1, true);
}

/* The heap passed the trigger during an allocation (mallocgc_slow): run a
 * cycle here if this thread may stop the world, else leave it to the next
 * allocation that can. x, the new object, is held across the cycle. */
void rt_gc_alloctrigger(void *x)
{
    rt_g *gp = rt_curg();
    if (!rt_load(&enabled) || gp == NULL || gp->m->locks != 0 || gp->m->p == NULL || gp->m->curg != gp ||
        rt_load(&rt_gc_gate) != 0)
        return;
    gc_cycle(false, rt_load(&st.numgc));
    __asm__ volatile("" : : "r"(x) : "memory"); /* x stays live across the cycle */
}

/* ---- forcegc: cycles asked for by threads that cannot run one -------------------------- */

static void forcegc(void *arg)
{
    (void)arg;
    for (;;) {
        rt_semacquire(&forcegc_sema, false, WR_FORCE_GC_IDLE);
        while (rt_load(&forcegc_waiting) != 0) {
            uint32_t asked = rt_xchg(&forcegc_waiting, 0);
            (void)asked;
            gc_cycle(true, 0);
        }
    }
}

/* sysmon: a cycle when none ran for 2 minutes (Go's forcegcperiod).
 * Returns the time of the next check. */
int64_t rt_gc_sysmon_force(int64_t now)
{
    if (!rt_load(&enabled) || rt_load_relaxed(&gcpercent) < 0 || !rt_load(&forcegc_started))
        return now + FORCEGC_PERIOD_NS; /* no cycle yet: the heap never reached 4 MB */
    int64_t last = rt_load_relaxed(&st.lastgc_mono);
    if (last == 0)
        last = rt_runtime_init_time;
    if (now - last < FORCEGC_PERIOD_NS)
        return last + FORCEGC_PERIOD_NS;
    if (rt_load(&forcegc_waiting) == 0) {
        rt_store(&forcegc_waiting, 1);
        rt_semrelease(&forcegc_sema, false);
    }
    return now + FORCEGC_PERIOD_NS;
}

void rt_gcenable(void)
{
    if (rt_cas(&enabled, 0, 1))
        setgoal();
}

/* ---- API -------------------------------------------------------------------------------- */

typedef struct foreigngc {
    rt_note done;
} foreigngc;

static void foreigngc_run(void *arg)
{
    foreigngc *f = arg;
    gc_cycle(true, 0);
    rt_notewakeup(&f->done);
}

GORT_API void gort_gc(void)
{
    if (!rt_load_relaxed(&rt_booted))
        return;
    rt_g *gp = rt_curg();
    if (gp == NULL || gp->m->p == NULL) {
        /* not a goroutine (or in a system call bracket): one runs it */
        foreigngc f = {{0}};
        rt_newproc(foreigngc_run, &f, (uintptr_t)__builtin_return_address(0), -1, true);
        rt_notesleep(&f.done);
        return;
    }
    gc_cycle(true, 0);
}

GORT_API int gort_set_gc_percent(int pct)
{
    rt_lock_acquire(&pacerlock);
    int old = gcpercent;
    rt_store_relaxed(&gcpercent, pct < 0 ? -1 : pct);
    rt_lock_release(&pacerlock);
    setgoal();
    return old;
}

GORT_API int64_t gort_set_memory_limit(int64_t bytes)
{
    rt_lock_acquire(&pacerlock);
    int64_t old = memlimit;
    if (bytes >= 0)
        rt_store_relaxed(&memlimit, bytes);
    rt_lock_release(&pacerlock);
    if (bytes >= 0)
        setgoal();
    return old;
}

GORT_API void gort_keep_alive(void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

/* memstats: the collector's fields (malloc.c adds its frees to the counts). */
void rt_gc_readstats(gort_memstats_t *ms)
{
    ms->NumGC = rt_load(&st.numgc);
    ms->NumForcedGC = rt_load_relaxed(&st.numforced);
    ms->PauseTotalNs = rt_load_relaxed(&st.pausetotal);
    for (int i = 0; i < 256; i++) {
        ms->PauseNs[i] = rt_load_relaxed(&st.pausens[i]);
        ms->PauseEnd[i] = rt_load_relaxed(&st.pauseend[i]);
    }
    ms->LastGC = rt_load_relaxed(&st.lastgc);
    uint64_t goal = rt_load_relaxed(&heapgoal);
    ms->NextGC = goal == UINT64_MAX ? 0 : goal;
    int64_t elapsed = rt_nanotime() - rt_runtime_init_time;
    ms->GCCPUFraction = elapsed > 0 ? (double)rt_load_relaxed(&st.cpuns) / ((double)elapsed * rt_procs()) : 0;
    ms->EnableGC = true;
    ms->GCSys = rt_gc_wbufsys(); /* the mark work buffers (mark bits live in the spans: MSpanSys) */
    ms->Sys += ms->GCSys;
}
