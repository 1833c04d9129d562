/* mfinal.c - finalizers (Go: mfinal.go SetFinalizer, the finalizer
 * goroutine; mgcmark.go markrootSpans for the marking rule).
 *
 *   gort_set_finalizer(p, fn): p must be the start of an allocated gort
 *     object. The record (object -> fn) lives in a hash table in libc
 *     memory, under finlock; it is not a root, so it does not keep p
 *     alive.
 *   mark (rt_gc_markfinalizers, with the roots): each finalizable object's
 *     referents are greyed, but not the object itself (Go's rule): what a
 *     finalizer will use survives, and an object reachable only from
 *     another finalizable object is not finalized before it (finalizers
 *     run in dependency order; a cycle of finalizable objects is never
 *     collected, as in Go).
 *   after the drain (rt_gc_queuefinalizers): a record whose object is
 *     still unmarked is taken out of the table and queued; the object is
 *     marked (its referents already are), so it survives this cycle, and
 *     the queue is a root until the finalizer has run.
 *   the finalizer goroutine (a runtime goroutine, started with the first
 *     record) runs fn(p) for each queued record, one at a time. After the
 *     call the object is garbage again, unless fn stored p somewhere.
 *
 * gort_free of an object with a finalizer: the record would outlive the
 * object and fire for whatever is allocated there next; clear it first
 * (gort_set_finalizer(p, NULL)). GORTDEBUG=checkfree=1 reports such a
 * free (rt_gc_hasfinalizer). */
#include "gc.h"
#include "../sched/sched.h"
#include "../debug/debug.h"

#include <gort.h>

#include <stdlib.h>
#include <string.h>

typedef struct finrec {
    uintptr_t obj;              /* 0: empty; 1: deleted */
    void (*fn)(void *);
} finrec;

static rt_lock finlock = {0, RT_RANK_FINALIZER};
static finrec *tab;
static size_t tabcap, tabn, tabused; /* tabused counts deleted slots too */

typedef struct finq_ent {
    void *obj;
    void (*fn)(void *);
} finq_ent;
static finq_ent *finq;               /* queued, not yet run: a root */
static size_t finqn, finqcap;
static uint32_t finsema;
static uint32_t fingstarted;
static uint64_t finran;              /* atomic: finalizers run (tests) */

static size_t hashp(uintptr_t p) { return (size_t)((p >> 4) * 0x9e3779b97f4a7c15ull); }

static finrec *lookup(uintptr_t p)
{
    if (tabcap == 0)
        return NULL;
    for (size_t i = hashp(p) & (tabcap - 1);; i = (i + 1) & (tabcap - 1)) {
        if (tab[i].obj == p)
            return &tab[i];
        if (tab[i].obj == 0)
            return NULL;
    }
}

static void grow(void)
{
    size_t ncap = tabcap ? tabcap * 2 : 64;
    if (tabn * 4 < tabcap) /* mostly deleted slots: rehash at the same size */
        ncap = tabcap;
    finrec *nt = calloc(ncap, sizeof(*nt));
    if (nt == NULL)
        rt_throw("gort_set_finalizer: out of memory");
    for (size_t i = 0; i < tabcap; i++) {
        if (tab[i].obj <= 1)
            continue;
        size_t j = hashp(tab[i].obj) & (ncap - 1);
        while (nt[j].obj != 0)
            j = (j + 1) & (ncap - 1);
        nt[j] = tab[i];
    }
    free(tab);
    tab = nt;
    tabcap = ncap;
    tabused = tabn;
}

static void fing(void *arg);

GORT_API void gort_set_finalizer(void *ptr, void (*fn)(void *))
{
    uintptr_t p = (uintptr_t)ptr;
    rt_mspan *s;
    uint32_t idx;
    uintptr_t base = rt_findobject(p, &s, &idx);
    if (base == 0 || (rt_spanclass_size(s->spanclass) != 0 &&
                      !(rt_load_relaxed(&s->allocBits[idx / 64]) & (1ull << (idx % 64)))))
        rt_throwf("gort_set_finalizer(0x%lx): pointer not allocated by gort", (unsigned long)p);
    if (base != p)
        rt_throwf("gort_set_finalizer(0x%lx): not the start of an object", (unsigned long)p);
    if (s->spanclass == RT_TINY_SPANCLASS)
        rt_throwf("gort_set_finalizer(0x%lx): a tiny object (noscan, under 16 bytes) cannot have one: "
                  "it shares its block with others", (unsigned long)p);
    rt_lock_acquire(&finlock);
    finrec *r = lookup(p);
    if (fn == NULL) {
        if (r != NULL) {
            r->obj = 1;
            r->fn = NULL;
            tabn--;
        }
        rt_lock_release(&finlock);
        return;
    }
    if (r != NULL) {
        rt_lock_release(&finlock);
        rt_throwf("gort_set_finalizer(0x%lx): finalizer already set", (unsigned long)p);
    }
    if ((tabused + 1) * 2 > tabcap)
        grow();
    size_t i = hashp(p) & (tabcap - 1);
    while (tab[i].obj > 1)
        i = (i + 1) & (tabcap - 1);
    if (tab[i].obj == 0)
        tabused++;
    tab[i].obj = p;
    tab[i].fn = fn;
    tabn++;
    rt_lock_release(&finlock);
    if (rt_cas(&fingstarted, 0, 1))
        rt_newproc(fing, NULL, (uintptr_t)__builtin_return_address(0), -1, true);
}

bool rt_gc_hasfinalizer(uintptr_t p)
{
    rt_lock_acquire(&finlock);
    bool has = lookup(p) != NULL;
    rt_lock_release(&finlock);
    return has;
}

/* A record's object, if it is still an allocated object (an explicit free
 * may have taken it): its span and index. */
static bool recobject(uintptr_t p, rt_mspan **s, uint32_t *idx)
{
    if (rt_findobject(p, s, idx) != p)
        return false;
    return rt_spanclass_size((*s)->spanclass) == 0 ||
           (rt_load_relaxed(&(*s)->allocBits[*idx / 64]) & (1ull << (*idx % 64)));
}

/* Mark: the referents of every finalizable object, and the queue. */
void rt_gc_markfinalizers(rt_gcwork *w)
{
    rt_lock_acquire(&finlock);
    for (size_t i = 0; i < tabcap; i++) {
        uintptr_t p = tab[i].obj;
        if (p <= 1)
            continue;
        rt_mspan *s;
        uint32_t idx;
        if (!recobject(p, &s, &idx) || rt_spanclass_noscan(s->spanclass))
            continue;
        uintptr_t size = s->elemsize != 0 ? s->elemsize : (uintptr_t)s->npages << RT_PAGE_SHIFT;
        rt_gc_scanrange(w, p, p + size);
    }
    if (finqn != 0)
        rt_gc_scanrange(w, (uintptr_t)finq, (uintptr_t)(finq + finqn));
    rt_lock_release(&finlock);
}

/* After the drain: unreachable finalizable objects are queued and kept. */
size_t rt_gc_queuefinalizers(void)
{
    size_t queued = 0;
    rt_lock_acquire(&finlock);
    for (size_t i = 0; i < tabcap; i++) {
        uintptr_t p = tab[i].obj;
        if (p <= 1)
            continue;
        rt_mspan *s;
        uint32_t idx;
        if (!recobject(p, &s, &idx)) {
            tab[i].obj = 1; /* freed explicitly meanwhile: the record goes */
            tabn--;
            continue;
        }
        uint64_t bit = 1ull << (idx % 64);
        if (s->gcmarkBits[idx / 64] & bit)
            continue; /* reachable */
        s->gcmarkBits[idx / 64] |= bit; /* resurrected until the finalizer has run */
        if (finqn == finqcap) {
            size_t ncap = finqcap ? finqcap * 2 : 64;
            finq_ent *nq = realloc(finq, ncap * sizeof(*nq));
            if (nq == NULL)
                rt_throw("gc: out of memory queueing finalizers");
            finq = nq;
            finqcap = ncap;
        }
        finq[finqn].obj = (void *)p;
        finq[finqn].fn = tab[i].fn;
        finqn++;
        tab[i].obj = 1;
        tab[i].fn = NULL;
        tabn--;
        queued++;
    }
    rt_lock_release(&finlock);
    return queued;
}

/* After the cycle has let go of its locks: wake the finalizer goroutine
 * if anything is queued. */
void rt_gc_wakefing(void)
{
    rt_lock_acquire(&finlock);
    bool any = finqn != 0;
    rt_lock_release(&finlock);
    if (any)
        rt_semrelease(&finsema, false);
}

/* One finalizer call: the record is in the caller's frame (volatile: in
 * memory, so the object is a root) for the call, and cleared after it. */
__attribute__((noinline)) static void runfin(volatile finq_ent *e) { e->fn(e->obj); }

/* Run everything queued. Its frame, and the finalizers' below it, are
 * dead once it returns: fing then parks below them in rt_semacquire, and
 * only what lies above fing's saved SP is scanned. */
__attribute__((noinline)) static void runbatch(void)
{
    for (;;) {
        volatile finq_ent e;
        rt_lock_acquire(&finlock);
        if (finqn == 0) {
            rt_lock_release(&finlock);
            return;
        }
        finqn--;
        e.obj = finq[finqn].obj;
        e.fn = finq[finqn].fn;
        finq[finqn].obj = NULL;
        rt_lock_release(&finlock);
        runfin(&e);
        e.obj = NULL;
        e.fn = NULL;
        __atomic_add_fetch(&finran, 1, __ATOMIC_RELAXED);
    }
}

/* Zero the stack the finalizers used (as bdwgc's GC_clear_stack): the
 * frames rt_semacquire builds there next would leave stale copies of their
 * objects' addresses in the slots they do not write, and a conservative
 * scan of the parked fing would keep those objects (and, through them, the
 * next finalizable ones) alive. */
__attribute__((noinline)) static void clearstack(void)
{
    volatile char buf[16 * 1024];
    memset((char *)buf, 0, sizeof(buf));
    __asm__ volatile("" : : "r"(buf) : "memory");
}

/* The finalizer goroutine (Go: runfinq). */
static void fing(void *arg)
{
    (void)arg;
    for (;;) {
        rt_semacquire(&finsema, false, WR_FINALIZER_WAIT);
        runbatch();
        clearstack();
    }
}

uint64_t rt_gc_finalizers_run(void) { return rt_load_relaxed(&finran); }
