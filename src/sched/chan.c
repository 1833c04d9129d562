/* chan.c - channels (Go: chan.go).
 *
 * A channel is a lock, a ring buffer of cap elements and two wait queues:
 * recvq (receivers waiting for a value) and sendq (senders waiting for a
 * receiver or room). Invariants, under c->lock:
 *
 *   at least one of recvq, sendq is empty (except for one goroutine
 *     selecting on both ends of an unbuffered channel);
 *   cap > 0:  qcount > 0  => recvq is empty;
 *             qcount < cap => sendq is empty;
 *   closed    => sendq is empty (close wakes every sender, who panics).
 *
 * Send (the receive side mirrors it):
 *   1. a receiver is waiting: copy straight into its destination
 *      (sendDirect: the receiver's own variable, on its stack), mark it
 *      successful, unlock, ready it into this P's runnext;
 *   2. else if the buffer has room: copy into the ring;
 *   3. else block: a sudog on the sender's stack goes on sendq, the G parks
 *      and the lock is released once it is _Gwaiting. The receiver that
 *      takes it copies the value out of the sender's variable (recvDirect).
 * A receive from a full buffer with a blocked sender takes the head of the
 * ring and moves the sender's value into the freed tail slot, keeping FIFO.
 * The locked steps (rt_chan_try_send_locked / rt_chan_try_recv_locked) are
 * shared with select, which holds several channel locks at once; the woken
 * partner is returned to the caller to wake once the locks are released.
 *
 * Sudogs live on the waiting goroutine's stack (Go allocates them because
 * its stacks move; ours do not). A waiter is an rt_waiter: a G to ready, or a
 * foreign thread's futex note, so threads gort does not manage can block on
 * channels too. A select's sudogs share one waiter whose selectdone word is
 * CAS'd by the first channel operation that claims it; the others skip it.
 *
 * Nothing is readied with a channel lock held: close collects its waiters
 * first. Lock rank RT_RANK_CHAN, lowest: nothing else is held when a
 * channel lock is taken, and select takes several in address order.
 *
 * Freed channels (gort_chan_free) are poisoned (magic = CHAN_FREED, with
 * an atomic store the optimiser cannot drop as dead, as it dropped the
 * plain store before free()) and held in a quarantine, as mimalloc's debug
 * mode holds freed blocks, before their memory goes back to malloc: the
 * last QUARANTINE_N channels, up to QUARANTINE_BYTES. Any use of one of
 * them (send, receive, close, select, len, a second free) is then reliably
 * "fatal error: use of a freed channel" naming the goroutine, instead of a
 * wait on a lock word malloc has overwritten. Past the quarantine the
 * memory is reused and a use may go unseen: C cannot do better without a
 * collector. A ticker's channel belongs to the ticker: gort_chan_free of it
 * is a fatal error (gort_ticker_free frees both).
 *
 * Fast paths read closed, qcount and the queue heads without the lock (as
 * Go's chansend/chanrecv do for non-blocking operations): each is a single
 * atomic word, and a stale read only makes a non-blocking op fail that a
 * locked one could have completed an instant later, which is allowed. */
#include "sched.h"
#include "../boot/boot.h"
#include "../debug/debug.h"

#include <gort.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define CHAN_MAGIC 0x6368616eu /* "chan" */
#define CHAN_FREED 0xdeadc4a1u

/* Everything an operation touches under the lock is in the first cache
 * line, next to the lock word: when the channel is contended, one line
 * travels between cores per operation, not two. Hence 32-bit counts
 * (cap < 2^32, elements < 4 GiB). The ring follows at offset CHAN_HDR. */
struct gort_chan {
    rt_lock lock;
    uint32_t closed;          /* atomic reads */
    uint32_t qcount;          /* elements in the buffer; atomic reads */
    uint32_t dataqsiz;        /* capacity */
    uint32_t elemsize;
    uint32_t sendx, recvx;    /* ring indices */
    rt_waitq recvq, sendq;
    /* second line: read-only or rarely touched */
    uint32_t magic __attribute__((aligned(RT_CACHELINE)));
    rt_timer *timer;          /* gort_after / ticker, or NULL */
    size_t bytes;             /* allocation size, for the quarantine */
    struct gort_chan *gcnext, *gcprev; /* buffered channels the collector scans */
    /* A ticker lives in its channel's header: freed and quarantined with
     * it, so a second gort_ticker_free reads poisoned memory, not memory
     * malloc has reused. */
    struct gort_ticker {
        uint32_t magic;       /* TICKER_MAGIC; CHAN_FREED once freed */
        gort_chan_t *c;
    } tk;
};

#define TICKER_MAGIC 0x7469636bu /* "tick" */

#define CHAN_HDR ((sizeof(gort_chan_t) + 63) & ~(size_t)63)
_Static_assert(offsetof(gort_chan_t, sendq) + sizeof(rt_waitq) <= 64, "hot channel fields span one line");

/* ---- wait queues -------------------------------------------------------- */

void rt_waitq_enqueue(rt_waitq *q, rt_sudog *sg)
{
    sg->next = NULL;
    sg->prev = q->last;
    if (q->last != NULL)
        q->last->next = sg;
    else
        rt_store_relaxed(&q->first, sg);
    q->last = sg;
}

static void waitq_unlink(rt_waitq *q, rt_sudog *sg)
{
    if (sg->prev != NULL)
        sg->prev->next = sg->next;
    else
        rt_store_relaxed(&q->first, sg->next);
    if (sg->next != NULL)
        sg->next->prev = sg->prev;
    else
        q->last = sg->prev;
    sg->next = sg->prev = NULL;
}

/* First waiter that can still be claimed: a select case whose select was
 * already won elsewhere is dropped (its owner removes the rest). */
rt_sudog *rt_waitq_dequeue(rt_waitq *q)
{
    for (;;) {
        rt_sudog *sg = q->first;
        if (sg == NULL)
            return NULL;
        waitq_unlink(q, sg);
        if (sg->isselect && !rt_cas(&sg->w->selectdone, 0, 1))
            continue;
        return sg;
    }
}

/* Remove sg if it is still queued (Go: dequeueSudoG). */
void rt_waitq_remove(rt_waitq *q, rt_sudog *sg)
{
    if (sg->prev == NULL && q->first != sg)
        return; /* already dequeued */
    waitq_unlink(q, sg);
}

/* Wake the owner of sg. After this, sg and its waiter belong to the woken
 * side again (they are on its stack): do not touch them. */
void rt_sudog_wake(rt_sudog *sg)
{
    rt_waiter *w = sg->w;
    rt_g *gp = w->g;
    w->fired = sg;
    if (gp != NULL)
        rt_ready(gp, true);
    else
        rt_notewakeup(&w->note);
}

/* ---- helpers ------------------------------------------------------------- */

static inline void checkchan(gort_chan_t *c)
{
    uint32_t m = rt_load_relaxed(&c->magic);
    if (rt_unlikely(m != CHAN_MAGIC))
        rt_throwf("use of %s channel %p", m == CHAN_FREED ? "a freed" : "an invalid", (void *)c);
}

/* ---- the quarantine of freed channels --------------------------------------- */

#define QUARANTINE_N 256
#define QUARANTINE_BYTES ((size_t)1 << 20)

static struct {
    rt_lock lock;
    gort_chan_t *ring[QUARANTINE_N];
    uint32_t head, n;
    size_t bytes;
} quarantine = {.lock = {0, RT_RANK_LEAF}};

/* ---- the collector's view ------------------------------------------------ *
 * A channel lives in libc memory (its lifetime is gort_chan_free's), so
 * the pointers buffered in it are invisible to the collector unless it is
 * told: every buffered channel whose elements could hold a pointer is on
 * this list, and rt_chan_gcscan hands the collector its queued elements. */
static rt_lock gcchanslock = {0, RT_RANK_LEAF};
static gort_chan_t *gcchans;

static bool gcscanned(gort_chan_t *c) { return c->dataqsiz != 0 && c->elemsize >= sizeof(void *); }

static void gcchan_add(gort_chan_t *c)
{
    rt_lock_acquire(&gcchanslock);
    c->gcprev = NULL;
    c->gcnext = gcchans;
    if (gcchans != NULL)
        gcchans->gcprev = c;
    gcchans = c;
    rt_lock_release(&gcchanslock);
}

static void gcchan_remove(gort_chan_t *c)
{
    rt_lock_acquire(&gcchanslock);
    if (c->gcprev != NULL)
        c->gcprev->gcnext = c->gcnext;
    else
        gcchans = c->gcnext;
    if (c->gcnext != NULL)
        c->gcnext->gcprev = c->gcprev;
    rt_lock_release(&gcchanslock);
}

/* The collector (world stopped): scan(arg, lo, hi) for every run of
 * queued elements of every buffered channel. */
void rt_chan_gcscan(void (*scan)(void *arg, uintptr_t lo, uintptr_t hi), void *arg)
{
    rt_lock_acquire(&gcchanslock);
    for (gort_chan_t *c = gcchans; c != NULL; c = c->gcnext) {
        uint32_t n = rt_load_relaxed(&c->qcount), x = c->recvx;
        if (n > c->dataqsiz || x >= c->dataqsiz)
            continue; /* a foreign thread is mid-operation: nothing sane to read */
        uint32_t first = n < c->dataqsiz - x ? n : c->dataqsiz - x;
        unsigned char *buf = (unsigned char *)c + CHAN_HDR;
        scan(arg, (uintptr_t)(buf + (size_t)x * c->elemsize), (uintptr_t)(buf + (size_t)(x + first) * c->elemsize));
        if (n > first)
            scan(arg, (uintptr_t)buf, (uintptr_t)(buf + (size_t)(n - first) * c->elemsize));
    }
    rt_lock_release(&gcchanslock);
}

/* Poison c and park it; free what falls out of the quarantine. */
static void chanrelease(gort_chan_t *c)
{
    if (gcscanned(c))
        gcchan_remove(c);
    rt_store_relaxed(&c->magic, CHAN_FREED);
    gort_chan_t *out[QUARANTINE_N + 1];
    int nout = 0;
    if (c->bytes > QUARANTINE_BYTES / 4) {
        out[nout++] = c; /* too big to hold: poisoned, freed at once */
    } else {
        rt_lock_acquire(&quarantine.lock);
        quarantine.ring[(quarantine.head + quarantine.n) % QUARANTINE_N] = c;
        quarantine.n++;
        quarantine.bytes += c->bytes;
        while (quarantine.n > QUARANTINE_N - 1 || quarantine.bytes > QUARANTINE_BYTES) {
            gort_chan_t *old = quarantine.ring[quarantine.head];
            quarantine.head = (quarantine.head + 1) % QUARANTINE_N;
            quarantine.n--;
            quarantine.bytes -= old->bytes;
            out[nout++] = old;
        }
        rt_lock_release(&quarantine.lock);
    }
    /* The poison is an atomic store, and the compiler must assume free()
     * reads the memory: it cannot be dropped as a dead store. */
    __asm__ volatile("" : : "r"(c) : "memory");
    for (int i = 0; i < nout; i++)
        free(out[i]);
}

static inline unsigned char *chanbuf(gort_chan_t *c, size_t i)
{
    return (unsigned char *)c + CHAN_HDR + i * c->elemsize;
}

static inline void copyelem(gort_chan_t *c, void *dst, const void *src)
{
    if (dst == NULL)
        return;
    switch (c->elemsize) { /* the common sizes without a call */
    case 0:
        return;
    case 4:
        memcpy(dst, src, 4);
        return;
    case 8:
        memcpy(dst, src, 8);
        return;
    default:
        memcpy(dst, src, c->elemsize);
    }
}

static inline void zeroelem(gort_chan_t *c, void *dst)
{
    if (c->elemsize != 0 && dst != NULL)
        memset(dst, 0, c->elemsize);
}

/* Block the caller (a goroutine, or a foreign thread) on one queue of c,
 * with c->lock held; returns with the lock released once woken. */
static void block_on(gort_chan_t *c, rt_waitq *q, rt_sudog *sg, rt_waiter *w, uint8_t reason)
{
    rt_waitq_enqueue(q, sg);
    if (w->g != NULL) {
        rt_parkunlock(&c->lock, reason);
    } else {
        rt_lock_release(&c->lock);
        rt_notesleep(&w->note);
    }
}

/* The wait record of a blocking send or receive: in the G for a goroutine
 * (dense memory: close walking a million waiters must not take a TLB miss
 * on a million different stacks), on this thread's stack otherwise. */
static __thread struct {
    rt_waiter w;
    rt_sudog sg;
} foreign_wait;

static inline rt_sudog *waitrecord(rt_waiter **wp)
{
    rt_g *gp = rt_curg();
    rt_waiter *w = gp != NULL ? &gp->cw.w : &foreign_wait.w;
    rt_sudog *sg = gp != NULL ? &gp->cw.sg : &foreign_wait.sg;
    memset(w, 0, sizeof(*w));
    memset(sg, 0, sizeof(*sg));
    w->g = gp;
    sg->w = w;
    *wp = w;
    return sg;
}

/* Park forever: a nil channel, or select with no ready-able case. */
void rt_chan_block_forever(uint8_t reason)
{
    if (rt_curg() != NULL) {
        rt_park(NULL, NULL, reason);
        rt_throw("unreachable: woken from a nil-channel wait");
    }
    rt_note n = {0};
    for (;;)
        rt_notesleep(&n);
}

static inline bool full(gort_chan_t *c)
{
    if (c->dataqsiz == 0)
        return rt_load_relaxed(&c->recvq.first) == NULL;
    return rt_load_relaxed(&c->qcount) == c->dataqsiz;
}

static inline bool empty(gort_chan_t *c)
{
    if (c->dataqsiz == 0)
        return rt_load_relaxed(&c->sendq.first) == NULL;
    return rt_load_relaxed(&c->qcount) == 0;
}

/* Put ep in the ring (c locked, room guaranteed). */
static void enqueue_buf(gort_chan_t *c, const void *ep)
{
    copyelem(c, chanbuf(c, c->sendx), ep);
    if (++c->sendx == c->dataqsiz)
        c->sendx = 0;
    rt_store_relaxed(&c->qcount, c->qcount + 1);
}

/* ---- the operations, with the channel locked (also used by select.c) ------- */

rt_lock *rt_chan_lock(gort_chan_t *c)
{
    checkchan(c);
    return &c->lock;
}

rt_waitq *rt_chan_queue(gort_chan_t *c, bool send) { return send ? &c->sendq : &c->recvq; }
bool rt_chan_closed_locked(gort_chan_t *c) { return c->closed != 0; }

/* With c locked (select may hold others too): complete a send now if it
 * can. A receiver taken from recvq is returned in *wake, for the caller to
 * wake once every lock is released. The caller handles a closed channel. */
bool rt_chan_try_send_locked(gort_chan_t *c, const void *ep, rt_sudog **wake)
{
    *wake = NULL;
    rt_sudog *sg = rt_waitq_dequeue(&c->recvq);
    if (sg != NULL) {
        copyelem(c, sg->elem, ep);
        sg->elem = NULL;
        sg->success = true;
        *wake = sg;
        return true;
    }
    if (c->qcount < c->dataqsiz) {
        enqueue_buf(c, ep);
        return true;
    }
    return false;
}

/* With c locked: complete a receive now if it can (a value, or closed and
 * drained); a sender to wake is returned in *wake. */
bool rt_chan_try_recv_locked(gort_chan_t *c, void *ep, bool *received, rt_sudog **wake)
{
    *wake = NULL;
    rt_sudog *sg = rt_waitq_dequeue(&c->sendq);
    if (sg != NULL) {
        if (c->dataqsiz == 0) {
            copyelem(c, ep, sg->elem);
        } else {
            unsigned char *qp = chanbuf(c, c->recvx);
            copyelem(c, ep, qp);
            copyelem(c, qp, sg->elem);
            if (++c->recvx == c->dataqsiz)
                c->recvx = 0;
            c->sendx = c->recvx;
        }
        sg->elem = NULL;
        sg->success = true;
        *wake = sg;
        *received = true;
        return true;
    }
    if (c->qcount > 0) {
        copyelem(c, ep, chanbuf(c, c->recvx));
        if (++c->recvx == c->dataqsiz)
            c->recvx = 0;
        rt_store_relaxed(&c->qcount, c->qcount - 1);
        *received = true;
        return true;
    }
    if (c->closed) {
        zeroelem(c, ep);
        *received = false;
        return true;
    }
    return false;
}

/* ---- send ------------------------------------------------------------------ */

/* chansend: returns true if sent; false only when !block and it would block. */
static bool chansend(gort_chan_t *c, const void *ep, bool block)
{
    if (c == NULL) {
        if (!block)
            return false;
        rt_chan_block_forever(WR_CHAN_SEND_NIL);
    }
    checkchan(c);
    if (!block && !rt_load_relaxed(&c->closed) && full(c))
        return false;
    rt_lock_acquire(&c->lock);
    if (c->closed) {
        rt_lock_release(&c->lock);
        rt_panic("send on closed channel");
    }
    rt_sudog *wake;
    if (rt_chan_try_send_locked(c, ep, &wake)) {
        rt_lock_release(&c->lock);
        if (wake != NULL)
            rt_sudog_wake(wake);
        return true;
    }
    if (!block) {
        rt_lock_release(&c->lock);
        return false;
    }
    rt_waiter *w;
    rt_sudog *mysg = waitrecord(&w);
    mysg->elem = (void *)ep;
    mysg->c = c;
    block_on(c, &c->sendq, mysg, w, WR_CHAN_SEND);
    if (!mysg->success) /* woken by close */
        rt_panic("send on closed channel");
    return true;
}

/* ---- receive --------------------------------------------------------------- */

/* chanrecv: returns selected (false only when !block and it would block);
 * *received: a value (true) or closed and drained (false, ep zeroed). */
static bool chanrecv(gort_chan_t *c, void *ep, bool block, bool *received)
{
    if (c == NULL) {
        if (!block)
            return false;
        rt_chan_block_forever(WR_CHAN_RECEIVE_NIL);
    }
    checkchan(c);
    if (!block && empty(c)) {
        if (!rt_load_acq(&c->closed))
            return false;
        /* Closed: re-check emptiness; a send may have landed before close. */
        if (empty(c)) {
            zeroelem(c, ep);
            *received = false;
            return true;
        }
    }
    rt_lock_acquire(&c->lock);
    rt_sudog *wake;
    if (rt_chan_try_recv_locked(c, ep, received, &wake)) {
        rt_lock_release(&c->lock);
        if (wake != NULL)
            rt_sudog_wake(wake);
        return true;
    }
    if (!block) {
        rt_lock_release(&c->lock);
        return false;
    }
    rt_waiter *w;
    rt_sudog *mysg = waitrecord(&w);
    mysg->elem = ep;
    mysg->c = c;
    block_on(c, &c->recvq, mysg, w, WR_CHAN_RECEIVE);
    *received = mysg->success;
    return true;
}

/* ---- public API ---------------------------------------------------------------- */

GORT_API gort_chan_t *gort_chan_make(size_t elem_size, size_t cap)
{
    if (cap > UINT32_MAX || elem_size > UINT32_MAX)
        return NULL;
    if (elem_size != 0 && cap > (SIZE_MAX - CHAN_HDR - 64) / elem_size)
        return NULL;
    size_t bytes = (CHAN_HDR + elem_size * cap + 63) & ~(size_t)63;
    gort_chan_t *c = aligned_alloc(64, bytes);
    if (c == NULL)
        return NULL;
    memset(c, 0, sizeof(*c));
    c->bytes = bytes;
    rt_lock_init(&c->lock, RT_RANK_CHAN);
    c->magic = CHAN_MAGIC;
    c->elemsize = (uint32_t)elem_size;
    c->dataqsiz = (uint32_t)cap;
    if (gcscanned(c))
        gcchan_add(c);
    return c;
}

static void chanfree(gort_chan_t *c);

GORT_API void gort_chan_free(gort_chan_t *c)
{
    if (c == NULL)
        return;
    checkchan(c);
    if (rt_load_relaxed(&c->tk.magic) == TICKER_MAGIC) /* owned by a live ticker */
        rt_throwf("gort_chan_free: channel %p belongs to a ticker (free it with gort_ticker_free)", (void *)c);
    chanfree(c);
}

static void chanfree(gort_chan_t *c)
{
    if (c->timer != NULL)
        rt_deltimer_sync(c->timer); /* its callback sends on c */
    rt_lock_acquire(&c->lock);
    bool waiters = c->recvq.first != NULL || c->sendq.first != NULL;
    rt_lock_release(&c->lock);
    if (waiters)
        rt_throwf("gort_chan_free: channel %p has blocked goroutines", (void *)c);
    free(c->timer);
    c->timer = NULL;
    chanrelease(c);
}

GORT_API void gort_chan_send(gort_chan_t *c, const void *elem)
{
    chansend(c, elem, true);
    rt_preemptpoint();
}

GORT_API bool gort_chan_recv(gort_chan_t *c, void *elem)
{
    bool received = false;
    chanrecv(c, elem, true, &received);
    rt_preemptpoint();
    return received;
}

GORT_API bool gort_chan_trysend(gort_chan_t *c, const void *elem)
{
    bool done = chansend(c, elem, false);
    rt_preemptpoint(); /* a polling loop */
    return done;
}

GORT_API bool gort_chan_tryrecv(gort_chan_t *c, void *elem, bool *ok)
{
    bool received = false;
    bool done = chanrecv(c, elem, false, &received);
    if (ok != NULL)
        *ok = done && received;
    rt_preemptpoint(); /* a polling loop */
    return done;
}

GORT_API void gort_chan_close(gort_chan_t *c)
{
    if (c == NULL)
        rt_panic("close of nil channel");
    checkchan(c);
    rt_lock_acquire(&c->lock);
    if (c->closed) {
        rt_lock_release(&c->lock);
        rt_panic("close of closed channel");
    }
    rt_store_rel(&c->closed, 1);
    /* Collect every waiter, then wake them with the lock released. */
    rt_sudog *list = NULL, *sg;
    while ((sg = rt_waitq_dequeue(&c->recvq)) != NULL) {
        zeroelem(c, sg->elem);
        sg->elem = NULL;
        sg->success = false;
        sg->next = list;
        list = sg;
    }
    while ((sg = rt_waitq_dequeue(&c->sendq)) != NULL) {
        sg->elem = NULL;
        sg->success = false; /* the sender panics */
        sg->next = list;
        list = sg;
    }
    rt_lock_release(&c->lock);
    while (list != NULL) {
        sg = list;
        list = sg->next; /* read before waking: sg lives on the waiter's stack */
        rt_sudog_wake(sg);
    }
}

GORT_API size_t gort_chan_len(gort_chan_t *c)
{
    if (c == NULL)
        return 0;
    checkchan(c);
    return rt_load_relaxed(&c->qcount);
}

GORT_API size_t gort_chan_cap(gort_chan_t *c)
{
    if (c == NULL)
        return 0;
    checkchan(c);
    return c->dataqsiz;
}

/* ---- timer channels (Go: time.After, time.Ticker) -------------------------------- */

/* Timer callback: a non-blocking send of the time (Go's sendTime). The
 * channel has room for one; a tick nobody took yet makes this one drop. */
static void sendtime(void *arg, uintptr_t seq)
{
    (void)seq;
    int64_t now = rt_nanotime();
    chansend((gort_chan_t *)arg, &now, false);
}

static gort_chan_t *timerchan(int64_t ns, int64_t period)
{
    gort_chan_t *c = gort_chan_make(sizeof(int64_t), 1);
    rt_timer *t = calloc(1, sizeof(rt_timer));
    if (c == NULL || t == NULL) {
        free(t);
        gort_chan_free(c);
        return NULL;
    }
    int64_t now = rt_nanotime();
    t->when = rt_when_after(now, ns); /* near INT64_MAX: never fires, as Go */
    t->period = period;
    t->f = sendtime;
    t->arg = c;
    c->timer = t;
    rt_addtimer(t);
    return c;
}

GORT_API gort_chan_t *gort_after(int64_t ns)
{
    if (!rt_load_relaxed(&rt_booted))
        rt_throw("gort_after called before the runtime started (use gort_main or gort_run)");
    return timerchan(ns, 0);
}

GORT_API gort_ticker_t *gort_ticker_new(int64_t period_ns)
{
    if (period_ns <= 0)
        return NULL;
    if (!rt_load_relaxed(&rt_booted))
        rt_throw("gort_ticker_new called before the runtime started (use gort_main or gort_run)");
    gort_chan_t *c = timerchan(period_ns, period_ns);
    if (c == NULL)
        return NULL;
    c->tk.c = c;
    rt_store_relaxed(&c->tk.magic, TICKER_MAGIC);
    return &c->tk;
}

static void checkticker(gort_ticker_t *t)
{
    uint32_t m = rt_load_relaxed(&t->magic);
    if (rt_unlikely(m != TICKER_MAGIC))
        rt_throwf("use of %s ticker %p", m == CHAN_FREED ? "a freed" : "an invalid", (void *)t);
}

GORT_API gort_chan_t *gort_ticker_chan(gort_ticker_t *t)
{
    if (t == NULL)
        return NULL;
    checkticker(t);
    return t->c;
}

GORT_API void gort_ticker_stop(gort_ticker_t *t)
{
    if (t == NULL)
        return;
    checkticker(t);
    if (t->c->timer != NULL)
        rt_deltimer_sync(t->c->timer);
}

GORT_API void gort_ticker_free(gort_ticker_t *t)
{
    if (t == NULL)
        return;
    checkticker(t);
    rt_store_relaxed(&t->magic, CHAN_FREED);
    chanfree(t->c);
}
