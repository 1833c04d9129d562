/* mgcmark.c - marking: roots, conservative scanning, the mark stack (Go:
 * mgcmark.go markroot, scanstack, scanConservative, scanobject, greyobject;
 * mgcwork.go for the work queue). The cycle that calls it is in mgc.c.
 *
 * Conservative marking. C gives no pointer maps, so every word of a root
 * or of a scan-class object is a candidate pointer: a word keeps an object
 * alive when rt_findobject maps it to an object whose allocBits bit is set
 * (a free slot is never marked, as Go's scanConservative skips them), and
 * pointers to any byte of an object count. A noscan object is marked and
 * never read. A tiny object is marked as its whole 16-byte block.
 *
 * Grey objects are (base, length) pairs in work buffers (below), drained
 * by this thread and, with the world stopped, by helper marker threads: up
 * to GOMAXPROCS markers in all. A large object is scanned in pieces of at
 * most SCAN_CHUNK bytes, so a huge array does not keep one marker busy
 * while the others wait.
 *
 * The roots (rt_gc_markroots), with the world stopped:
 *   - every goroutine's stack, from its saved SP (or for the collecting
 *     goroutine, from the marker's own frame) to the top. The saved context
 *     of a parked goroutine, and the registers and vector state async
 *     preemption pushed, lie above that SP, so they are scanned with it;
 *   - a goroutine in a system call bracket: from the SP entersyscall saved,
 *     and the callee-saved registers it saved (rt_entersyscall_regs);
 *   - every G struct (the argument of a goroutine not yet started, the
 *     waker's param, channel wait elements, a sync wait's address), and the
 *     goroutine-local value arrays, which live in libc memory;
 *   - the writable segments of every loaded module (dl_iterate_phdr):
 *     data, bss and relro of the program and of every library;
 *   - the buffers of buffered channels (libc memory, chan.c);
 *   - ranges registered with gort_gc_add_roots, and the stack of a thread
 *     waiting in gort_run above its gort_run frame.
 * Not roots: memory from malloc, mmap or any other allocator, threads that
 * are not goroutines (see docs/gc.md: keep such pointers reachable from a
 * root), thread-local variables.
 *
 * The marker reads stacks and objects that it does not own, racily by
 * design (a goroutine in a system call keeps running): its loads are
 * outside the sanitizers' view (no_sanitize), as bdwgc's are. */
#include "gc.h"
#include "../sched/sched.h"
#include "../os/os.h"
#include "../debug/debug.h"

#include <gort.h>

#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define SCAN_CHUNK (128 * 1024)            /* a large object is scanned in pieces */
#define WBUF_N 254                         /* (base, len) pairs per work buffer: 4 KiB */
#define WBUF_CHUNK ((size_t)1 << 20)       /* work buffers come 256 at a time */

/* ---- work buffers (Go: mgcwork.go) ------------------------------------------------- *
 * Grey objects live in 4 KiB work buffers. Each marker has one it pushes
 * to and pops from without a lock; a full one goes on the global full
 * list, where idle markers take work from (wlock, a leaf: one lock per 254
 * objects). A marker that has work while others wait splits its buffer
 * (balance). Buffers are never freed: they are reused from cycle to
 * cycle (empty list). */
typedef struct rt_wbuf {
    struct rt_wbuf *next;
    uint64_t n;
    uintptr_t obj[2 * WBUF_N];
} rt_wbuf;

static rt_lock wlock = {0, RT_RANK_LEAF};
static rt_wbuf *wfull, *wempty;
static uint32_t nwfull;                    /* atomic: buffers on wfull */
static uint32_t nwait;                     /* atomic: markers out of work (Go: work.nwait) */
static uint32_t nmarkers;                  /* markers in this drain */
static uint64_t wbufsys;                   /* bytes of work buffers (GCSys) */

static rt_wbuf *getempty(void)
{
    rt_lock_acquire(&wlock);
    if (wempty == NULL) {
        int err = 0;
        char *m = rt_sysAlloc(WBUF_CHUNK, 0, &err);
        if (m == NULL) {
            rt_lock_release(&wlock);
            rt_throwf("gc: cannot allocate mark work buffers (errno %d)", -err);
        }
        wbufsys += WBUF_CHUNK;
        for (size_t off = 0; off + sizeof(rt_wbuf) <= WBUF_CHUNK; off += sizeof(rt_wbuf)) {
            rt_wbuf *b = (rt_wbuf *)(m + off);
            b->next = wempty;
            wempty = b;
        }
    }
    rt_wbuf *b = wempty;
    wempty = b->next;
    rt_lock_release(&wlock);
    b->n = 0;
    b->next = NULL;
    return b;
}

static void putempty(rt_wbuf *b)
{
    rt_lock_acquire(&wlock);
    b->next = wempty;
    wempty = b;
    rt_lock_release(&wlock);
}

static void putfull(rt_wbuf *b)
{
    rt_lock_acquire(&wlock);
    b->next = wfull;
    wfull = b;
    rt_store(&nwfull, nwfull + 1);
    rt_lock_release(&wlock);
}

static rt_wbuf *getfull(void)
{
    if (rt_load(&nwfull) == 0)
        return NULL;
    rt_lock_acquire(&wlock);
    rt_wbuf *b = wfull;
    if (b != NULL) {
        wfull = b->next;
        rt_store(&nwfull, nwfull - 1);
    }
    rt_lock_release(&wlock);
    return b;
}

uint64_t rt_gc_wbufsys(void) { return rt_load_relaxed(&wbufsys); }

static inline void push(rt_gcwork *w, uintptr_t base, uintptr_t len)
{
    rt_wbuf *b = w->buf;
    if (__builtin_expect(b->n == WBUF_N, 0)) {
        putfull(b);
        b = w->buf = getempty();
    }
    b->obj[2 * b->n] = base;
    b->obj[2 * b->n + 1] = len;
    b->n++;
}

static inline bool pop(rt_gcwork *w, uintptr_t *base, uintptr_t *len)
{
    rt_wbuf *b = w->buf;
    if (b->n == 0) {
        rt_wbuf *f = getfull();
        if (f == NULL)
            return false;
        putempty(b);
        b = w->buf = f;
    }
    b->n--;
    *base = b->obj[2 * b->n];
    *len = b->obj[2 * b->n + 1];
    return true;
}

/* Others are idle and the global list is empty: give them half of ours. */
static void balance(rt_gcwork *w)
{
    rt_wbuf *b = w->buf;
    if (b->n < 8 || rt_load_relaxed(&nwfull) != 0 || rt_load_relaxed(&nwait) == 0)
        return;
    rt_wbuf *h = getempty();
    uint64_t k = b->n / 2;
    memcpy(h->obj, b->obj + 2 * (b->n - k), k * 2 * sizeof(uintptr_t));
    h->n = k;
    b->n -= k;
    putfull(h);
}

static void rt_gc_work_init(rt_gcwork *w)
{
    if (w->buf == NULL)
        w->buf = getempty();
}

/* ---- marking one candidate pointer --------------------------------------------- */

/* greyobject: v is a word found in a root or object. If it points into an
 * allocated, unmarked object, mark it and (scan class) queue it. Markers
 * run in parallel: the mark bit is set with an atomic OR, and only the
 * marker that set it queues the object. */
static inline void greyobject(rt_gcwork *w, uintptr_t v)
{
    rt_mspan *s;
    uint32_t idx;
    uintptr_t base = rt_findobject(v, &s, &idx);
    if (base == 0)
        return;
    uint32_t wd = idx / 64;
    uint64_t bit = 1ull << (idx % 64);
    uintptr_t size;
    if (rt_spanclass_size(s->spanclass) == 0) {
        size = (uintptr_t)s->npages << RT_PAGE_SHIFT; /* large: in use is allocated */
    } else {
        if (!(rt_load_relaxed(&s->allocBits[wd]) & bit))
            return; /* a free slot: stale data, not an object */
        size = s->elemsize;
    }
    if (rt_load_relaxed(&s->gcmarkBits[wd]) & bit)
        return;
    if (__atomic_fetch_or(&s->gcmarkBits[wd], bit, __ATOMIC_RELAXED) & bit)
        return; /* another marker was first */
    w->markedbytes += size;
    if (!rt_spanclass_noscan(s->spanclass))
        push(w, base, size);
}

/* Scan [lo, hi) word by word (lo rounded up to a word). */
__attribute__((no_sanitize("address", "thread"))) void rt_gc_scanrange(rt_gcwork *w, uintptr_t lo, uintptr_t hi)
{
    lo = (lo + sizeof(uintptr_t) - 1) & ~(uintptr_t)(sizeof(uintptr_t) - 1);
    if (hi <= lo)
        return;
    w->scannedbytes += hi - lo;
    uintptr_t heaplo = rt_heap_lo(), span = rt_heap_hi() - heaplo;
    for (const uintptr_t *p = (const uintptr_t *)lo; (uintptr_t)(p + 1) <= hi; p++) {
        uintptr_t v = *p;
        if (v - heaplo < span) /* one compare turns most words away */
            greyobject(w, v);
    }
}

/* Scan grey objects until this marker's buffer and the global list are
 * empty. */
static void drainlocal(rt_gcwork *w)
{
    uintptr_t base, len;
    uint32_t k = 0;
    while (pop(w, &base, &len)) {
        if (len > SCAN_CHUNK) { /* the rest goes back first */
            push(w, base + SCAN_CHUNK, len - SCAN_CHUNK);
            len = SCAN_CHUNK;
        }
        rt_gc_scanrange(w, base, base + len);
        if ((++k & 63) == 0)
            balance(w);
    }
}

/* The root scan's own draining: no termination protocol (the others may
 * not have started). */
void rt_gc_drain(rt_gcwork *w) { drainlocal(w); }

/* Drain to completion with nmarkers markers (Go's gcDrain with the
 * work.nwait termination): a marker out of work waits until another
 * publishes some, or every marker is out of work and none is left. */
static void rt_gc_drain_all(rt_gcwork *w)
{
    for (;;) {
        drainlocal(w);
        __atomic_add_fetch(&nwait, 1, __ATOMIC_SEQ_CST);
        for (int spins = 0;; spins++) {
            if (rt_load(&nwfull) != 0) {
                __atomic_sub_fetch(&nwait, 1, __ATOMIC_SEQ_CST);
                break;
            }
            if (rt_load(&nwait) == rt_load(&nmarkers))
                return; /* all out of work, nothing published: done */
            if (spins < 64)
                rt_procyield(10);
            else
                rt_osyield();
        }
    }
}

/* ---- helper markers ---------------------------------------------------------------- *
 * With the world stopped the Ps' threads are parked, so the collector
 * marks with helper threads of its own (as bdwgc's marker threads): up to
 * GOMAXPROCS - 1 of them, started on the first cycle that needs them, asleep
 * on a futex between cycles. */
#define MAXHELPERS 63
static pthread_t helpers[MAXHELPERS];
static int nhelpers;
static uint32_t markgen;                   /* futex: bumped to start the helpers */
static uint32_t markwant;                  /* helpers asked to join this drain */
static uint32_t markdone;                  /* futex: helpers finished this drain */
static rt_gcwork helperwork[MAXHELPERS];

static void *helper(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint32_t seen = 0;
    for (;;) {
        uint32_t g;
        while ((g = rt_load(&markgen)) == seen)
            rt_futexsleep(&markgen, seen, -1);
        seen = g;
        if ((uint32_t)id >= rt_load(&markwant))
            continue;
        rt_gcwork *w = &helperwork[id];
        rt_gc_work_init(w);
        rt_gc_drain_all(w);
        __atomic_add_fetch(&markdone, 1, __ATOMIC_SEQ_CST);
        rt_futexwakeup(&markdone, 1);
    }
    return NULL;
}

/* Drain everything with up to n markers: this thread and n - 1 helpers. */
void rt_gc_parallel_drain(rt_gcwork *w, int n)
{
    if (n > MAXHELPERS + 1)
        n = MAXHELPERS + 1;
    while (nhelpers < n - 1) {
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old); /* helpers take no signals */
        int e = pthread_create(&helpers[nhelpers], NULL, helper, (void *)(intptr_t)nhelpers);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (e != 0)
            break; /* fewer helpers, still correct */
        pthread_detach(helpers[nhelpers]);
        nhelpers++;
    }
    int want = n - 1 < nhelpers ? n - 1 : nhelpers;
    for (int i = 0; i < want; i++)
        helperwork[i].markedbytes = helperwork[i].scannedbytes = 0;
    rt_store(&nwait, 0);
    rt_store(&nmarkers, (uint32_t)want + 1);
    rt_store(&markdone, 0);
    rt_store(&markwant, (uint32_t)want);
    if (want > 0) {
        __atomic_add_fetch(&markgen, 1, __ATOMIC_SEQ_CST);
        rt_futexwakeup(&markgen, INT32_MAX);
    }
    rt_gc_drain_all(w);
    uint32_t d;
    while ((d = rt_load(&markdone)) < (uint32_t)want)
        rt_futexsleep(&markdone, d, -1);
    for (int i = 0; i < want; i++) {
        w->markedbytes += helperwork[i].markedbytes;
        w->scannedbytes += helperwork[i].scannedbytes;
    }
}

/* ---- registered roots ------------------------------------------------------------- */

typedef struct rootrange {
    uintptr_t lo, len;
} rootrange;

static rt_lock rootslock = {0, RT_RANK_LEAF};
static rootrange *roots;
static size_t nroots, rootscap;

static void addroot(uintptr_t lo, size_t len)
{
    rt_lock_acquire(&rootslock);
    if (nroots == rootscap) {
        size_t ncap = rootscap ? rootscap * 2 : 16;
        rootrange *nr = realloc(roots, ncap * sizeof(*nr));
        if (nr == NULL) {
            rt_lock_release(&rootslock);
            rt_throw("gort_gc_add_roots: out of memory");
        }
        roots = nr;
        rootscap = ncap;
    }
    roots[nroots++] = (rootrange){lo, len};
    rt_lock_release(&rootslock);
}

static bool removeroot(uintptr_t lo)
{
    bool found = false;
    rt_lock_acquire(&rootslock);
    for (size_t i = nroots; i-- > 0;) {
        if (roots[i].lo == lo) {
            roots[i] = roots[--nroots];
            found = true;
            break;
        }
    }
    rt_lock_release(&rootslock);
    return found;
}

GORT_API void gort_gc_add_roots(void *p, size_t len)
{
    if (p == NULL || len == 0)
        return;
    addroot((uintptr_t)p, len);
}

GORT_API void gort_gc_remove_roots(void *p)
{
    if (p == NULL)
        return;
    if (!removeroot((uintptr_t)p))
        rt_throwf("gort_gc_remove_roots(%p): no range registered at this address", p);
}

/* gort_run's caller (boot.c): the part of its thread's stack above its
 * gort_run frame is a root while it waits. */
void rt_gc_addroot_internal(void *p, size_t len) { addroot((uintptr_t)p, len); }
void rt_gc_removeroot_internal(void *p) { (void)removeroot((uintptr_t)p); }

/* ---- the roots --------------------------------------------------------------------- */

typedef struct rootscan {
    rt_gcwork *w;
    rt_g *me;
    uintptr_t mysp;
} rootscan;

/* One goroutine's stack, G struct and local values. */
static bool scang(rt_g *gp, void *arg)
{
    rootscan *rs = arg;
    rt_gcwork *w = rs->w;
    uint32_t st = rt_readgstatus(gp);
    if (st == G_DEAD || st == G_IDLE)
        return true;
    rt_gc_scanrange(w, (uintptr_t)gp, (uintptr_t)(gp + 1));
    if (gp->gls != NULL)
        rt_gc_scanrange(w, (uintptr_t)gp->gls, (uintptr_t)(gp->gls + GORT_GLS_KEYS));
    if (gp->stk.hi == 0 || (!gp->started && gp != rs->me))
        return true; /* no frame yet: its argument is in the G */
    uintptr_t sp;
    if (gp == rs->me) {
        sp = rs->mysp;
    } else if (st == G_SYSCALL) {
        sp = gp->syscallsp;
        rt_gc_scanrange(w, (uintptr_t)gp->syscallregs, (uintptr_t)(gp->syscallregs + RT_SYSCALL_REGS));
    } else if (st == G_RUNNING) {
        rt_throwf("gc: goroutine %lld is running while the world is stopped", (long long)gp->goid);
    } else {
        sp = (uintptr_t)gp->sp;
    }
    if (sp < gp->stk.lo || sp > gp->stk.hi)
        rt_throwf("gc: goroutine %lld: saved stack pointer 0x%lx outside its stack [0x%lx, 0x%lx)",
                  (long long)gp->goid, (unsigned long)sp, (unsigned long)gp->stk.lo, (unsigned long)gp->stk.hi);
    w->stackbytes += gp->stk.hi - sp;
    rt_gc_scanrange(w, sp, gp->stk.hi);
    return true;
}

/* Writable PT_LOAD segments of every module (data, bss, relro), listed
 * before threads that are not goroutines are stopped: one of them may be
 * stopped inside the dynamic loader, holding the lock dl_iterate_phdr
 * takes. */
#define MAXSEGS 1024
static struct {
    uintptr_t lo, hi;
} segs[MAXSEGS];
static int nsegs;

static int listmodule(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
            continue;
        if (nsegs == MAXSEGS)
            rt_throw("gc: more than 1024 writable segments in loaded modules");
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        segs[nsegs].lo = lo;
        segs[nsegs].hi = lo + ph->p_memsz;
        nsegs++;
    }
    return 0;
}

void rt_gc_listmodules(void)
{
    nsegs = 0;
    dl_iterate_phdr(listmodule, NULL);
}

static void scanchanbuf(void *arg, uintptr_t lo, uintptr_t hi) { rt_gc_scanrange(arg, lo, hi); }

/* Grey everything the roots point to (world stopped); rt_gc_parallel_drain
 * then marks what they reach. The caller flushed its callee-saved
 * registers to its frame (__builtin_unwind_init), which lies above this
 * one: the collecting goroutine's stack is scanned from here. */
__attribute__((noinline)) void rt_gc_markroots(rt_gcwork *w, uintptr_t mysp)
{
    rt_gc_work_init(w);
    rootscan rs = {w, rt_curg(), mysp != 0 ? mysp : (uintptr_t)__builtin_frame_address(0)};
    rt_foreachg(scang, &rs);
    rt_gc_scanthreads(w);
    for (int i = 0; i < nsegs; i++) {
        w->globalbytes += segs[i].hi - segs[i].lo;
        rt_gc_scanrange(w, segs[i].lo, segs[i].hi);
    }
    rt_chan_gcscan(scanchanbuf, w);
    rt_lock_acquire(&rootslock);
    for (size_t i = 0; i < nroots; i++)
        rt_gc_scanrange(w, roots[i].lo, roots[i].lo + roots[i].len);
    rt_lock_release(&rootslock);
}
