/* sema.c - the runtime semaphore table (Go: sema.go).
 *
 * A semaphore is any uint32_t in user memory (the `sema` word of a
 * gort_mutex_t or gort_waitgroup_t): zero-initialised types need no
 * constructor because the wait queues live here, not in the object.
 *
 * semtable: 251 roots, each a lock, a count of waiters (nwait, read without
 * the lock for the fast "nobody waits" release) and a chain of per-address
 * FIFO queues. Go keeps a treap of addresses per root; a short chain is
 * enough here because 251 roots spread addresses and a root rarely holds
 * more than a few distinct addresses at once.
 *
 * Waiters (rt_semawaiter, Go's sudog) are embedded in the G, or live on the
 * stack of a foreign thread (g == NULL), which then sleeps on a futex note:
 * so a thread gort does not manage may wait on a WaitGroup or a Mutex.
 *
 * semacquire: fast path is a CAS decrement. Slow path: lock root, nwait++,
 * re-check (a release may have come in between), enqueue, park with the
 * root lock released only after the G is _Gwaiting.
 * semrelease: increment; if nwait == 0 return (no lock). Otherwise dequeue
 * the first waiter for this address; with handoff (starving mutex) take the
 * count for it (ticket = 1) and yield so it runs next on this P.
 *
 * Invariant: root->nwait >= number of waiters queued in the root; a waiter
 * is queued at most once. Locks (ranks in lock.h): a root lock is held
 * only to queue or dequeue; ready() runs after it is released. */
#include "sched.h"
#include "../debug/debug.h"

#define SEMTABSZ 251

typedef struct semroot {
    rt_lock lock;
    uint32_t nwait;
    rt_semawaiter *heads; /* chain of per-address queue heads (via anext) */
} __attribute__((aligned(RT_CACHELINE))) semroot;

static semroot semtable[SEMTABSZ] = {[0 ... SEMTABSZ - 1] = {.lock = {0, RT_RANK_SEMA}}};

static semroot *semroot_of(uint32_t *addr) { return &semtable[((uintptr_t)addr >> 3) % SEMTABSZ]; }

static bool cansemacquire(uint32_t *addr)
{
    for (;;) {
        uint32_t v = rt_load(addr);
        if (v == 0)
            return false;
        if (rt_cas(addr, v, v - 1))
            return true;
    }
}

/* queue s for addr (root lock held). lifo: at the front (a waiter that
 * was woken and lost the race, as Go's starving mutex wants). */
static void semqueue(semroot *root, uint32_t *addr, rt_semawaiter *s, bool lifo)
{
    s->addr = addr;
    s->next = s->prev = NULL;
    rt_semawaiter **link = &root->heads;
    for (; *link != NULL; link = &(*link)->anext) {
        rt_semawaiter *h = *link;
        if (h->addr != addr)
            continue;
        if (lifo) {
            s->next = h;
            h->prev = s;
            s->tail = h->tail;
            s->anext = h->anext;
            h->anext = NULL;
            *link = s;
        } else {
            h->tail->next = s;
            s->prev = h->tail;
            h->tail = s;
        }
        return;
    }
    s->tail = s;
    s->anext = NULL;
    *link = s;
}

static rt_semawaiter *semdequeue(semroot *root, uint32_t *addr)
{
    for (rt_semawaiter **link = &root->heads; *link != NULL; link = &(*link)->anext) {
        rt_semawaiter *s = *link;
        if (s->addr != addr)
            continue;
        rt_semawaiter *n = s->next;
        if (n != NULL) {
            n->prev = NULL;
            n->tail = s->tail;
            n->anext = s->anext;
            *link = n;
        } else {
            *link = s->anext;
        }
        s->next = s->anext = s->tail = NULL;
        return s;
    }
    return NULL;
}

void rt_semacquire(uint32_t *addr, bool lifo, uint8_t reason)
{
    if (cansemacquire(addr))
        return;
    rt_g *gp = rt_curg();
    rt_semawaiter local;
    rt_semawaiter *s = gp != NULL ? &gp->sw : &local;
    s->g = gp;
    semroot *root = semroot_of(addr);
    for (;;) {
        s->ticket = 0;
        rt_store(&s->note.key, 0);
        rt_lock_acquire(&root->lock);
        rt_xadd(&root->nwait, 1);
        if (cansemacquire(addr)) {
            rt_xadd(&root->nwait, (uint32_t)-1);
            rt_lock_release(&root->lock);
            return;
        }
        semqueue(root, addr, s, lifo);
        if (gp != NULL) {
            rt_parkunlock(&root->lock, reason);
        } else {
            rt_lock_release(&root->lock);
            rt_notesleep(&s->note);
        }
        if (rt_load(&s->ticket) != 0 || cansemacquire(addr))
            return;
        lifo = true; /* woken but lost the race: go back to the front */
    }
}

void rt_semrelease(uint32_t *addr, bool handoff)
{
    semroot *root = semroot_of(addr);
    rt_xadd(addr, 1);
    if (rt_load(&root->nwait) == 0)
        return;
    rt_lock_acquire(&root->lock);
    if (rt_load(&root->nwait) == 0) {
        rt_lock_release(&root->lock);
        return;
    }
    rt_semawaiter *s = semdequeue(root, addr);
    if (s != NULL)
        rt_xadd(&root->nwait, (uint32_t)-1);
    rt_lock_release(&root->lock);
    if (s == NULL)
        return;
    if (s->ticket != 0)
        rt_throw("corrupted semaphore ticket");
    bool direct = false;
    if (handoff && cansemacquire(addr)) {
        rt_store(&s->ticket, 1);
        direct = true;
    }
    /* Nothing may touch *s after the wakeup: the waiter owns it again. */
    rt_g *wg = s->g;
    if (wg != NULL)
        rt_ready(wg, true);
    else
        rt_notewakeup(&s->note);
    rt_g *cur = rt_curg();
    if (direct && wg != NULL && cur != NULL && cur->m->locks == 0)
        rt_gosched(); /* hand the P straight to the waiter (it is runnext) */
}
