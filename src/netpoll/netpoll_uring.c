/* netpoll_uring.c - the io_uring poller (the default backend; design essay
 * in netpoll.c).
 *
 * One ring for the process. Why not one per P or per M:
 *   - a P moves between threads, and a ring's completions for sockets are
 *     finished by task work in the thread that submitted them; the modes
 *     that avoid that cost (IORING_SETUP_SINGLE_ISSUER, DEFER_TASKRUN)
 *     bind a ring to one thread and run its task work only when that
 *     thread enters the ring. With a ring per M, an M blocked in a user's
 *     system call, or running one goroutine for 10 ms, would hold every
 *     completion of the goroutines it parked: Go's poller has no such
 *     coupling, and neither has this one;
 *   - with one ring, any M reaps any completion, and only one M at a time
 *     blocks waiting for them (the timer watcher), as with Go's epoll fd.
 * The cost is a lock around the submission queue (held to fill one SQE,
 * not across the system call) and one around the completion queue, and,
 * measured (docs/benchmarks.md), the ring's kernel mutex: with 2 Ps,
 * 8-12% of an echo server's CPU spun on it, in io_uring_enter and in the
 * task work that finishes socket completions, which also runs through the
 * process's signal lock. The way past it is a ring per M with
 * SINGLE_ISSUER | DEFER_TASKRUN (task work then runs inside the owner's
 * own io_uring_enter); what must be solved first is an M that blocks in a
 * user's system call, or runs one goroutine for 10 ms, while goroutines it
 * parked wait on its ring: their completions would wait with it.
 *
 * Submission: an op's SQE carries the rt_ioop's address as user_data. The
 * goroutine parks with the pollDesc lock and the submission lock held;
 * they are released once it is _Gwaiting, so no completion can ready a
 * goroutine that is still running. The SQE is handed to the kernel by the
 * next poll (findrunnable, sysmon, the blocked poller), so one
 * io_uring_enter submits every op parked since the last one.
 *
 * Completion: op->refs counts the CQEs still to come for an op: 1, or 2
 * once a cancel (deadline, close) was queued for it (its CQE carries
 * user_data = op | 1). The goroutine is readied when the count reaches
 * 0, so its stack, which holds the op, is never reused while the kernel
 * may still name it. A cancel is queued only by CAS 1 -> 2: never for an
 * op whose own completion was already reaped.
 *
 * Blocking: the timer watcher M calls poll with a delay; it sets `blocked`
 * first, and while it is set other polls only submit, so the watcher sees
 * every completion (and every break). rt_netpollbreak queues a NOP
 * (user_data 0); a non-blocking poll that reaped a NOP it should not have
 * (the watcher blocked meanwhile) queues it again. */
#include "netpoll.h"
#include "../debug/debug.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define UR_SQ_ENTRIES 4096
#define UR_CQ_ENTRIES 65536

static struct io_uring ring;
static rt_lock sqlock = {0, RT_RANK_NETPOLL_SQ};
static rt_lock cqlock = {0, RT_RANK_NETPOLL_CQ};
static uint32_t blocked; /* an M waits in ur_poll with a delay */
static uint32_t wakesig; /* a break NOP is queued and not yet reaped */
static uint32_t queued;  /* SQEs filled since the last flush (atomic hint, set under sqlock) */
static int doorbell = -1; /* eventfd: foreign threads wake the poller (submit_n) */
static uint32_t doorbell_armed;

#define UD_BREAK 0    /* user_data of rt_netpollbreak's NOP */
#define UD_DOORBELL 2 /* of the doorbell's poll (ops are 8-aligned; bit 0 tags cancels) */

static int ur_init(void)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
    p.cq_entries = UR_CQ_ENTRIES;
    int r = io_uring_queue_init_params(UR_SQ_ENTRIES, &ring, &p);
    if (r == -EINVAL) { /* before 5.18: no SUBMIT_ALL */
        memset(&p, 0, sizeof p);
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = UR_CQ_ENTRIES;
        r = io_uring_queue_init_params(UR_SQ_ENTRIES, &ring, &p);
    }
    if (r < 0)
        return r;
    /* Timeouts without an SQE (5.11) and no dropped completions (5.5). */
    if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_NODROP)) {
        io_uring_queue_exit(&ring);
        return -EOPNOTSUPP;
    }
    static const int need[] = {IORING_OP_READ, IORING_OP_WRITE, IORING_OP_READV, IORING_OP_WRITEV,
                               IORING_OP_RECV, IORING_OP_SEND, IORING_OP_RECVMSG, IORING_OP_SENDMSG,
                               IORING_OP_ACCEPT, IORING_OP_CONNECT, IORING_OP_POLL_ADD,
                               IORING_OP_ASYNC_CANCEL, IORING_OP_NOP};
    struct io_uring_probe *probe = io_uring_get_probe_ring(&ring);
    if (probe == NULL) {
        io_uring_queue_exit(&ring);
        return -EOPNOTSUPP;
    }
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        if (!io_uring_opcode_supported(probe, need[i])) {
            io_uring_free_probe(probe);
            io_uring_queue_exit(&ring);
            return -EOPNOTSUPP;
        }
    }
    io_uring_free_probe(probe);
    doorbell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (doorbell < 0) {
        int e = -errno;
        io_uring_queue_exit(&ring);
        return e;
    }
    for (unsigned i = 0; i < ring.sq.ring_entries; i++)
        ring.sq.array[i] = i; /* SQ slot i is SQE i, for good */
    return 0;
}

/* Publish the SQEs filled so far; returns how many the kernel has yet to
 * take. sqlock held. */
static unsigned flush_locked(void)
{
    struct io_uring_sq *sq = &ring.sq;
    unsigned tail = sq->sqe_tail;
    if (sq->sqe_head != tail) {
        sq->sqe_head = tail;
        io_uring_smp_store_release(sq->ktail, tail);
    }
    rt_store_relaxed(&queued, 0);
    return tail - io_uring_smp_load_acquire(sq->khead);
}

static int enter(unsigned tosubmit, unsigned mincomplete, unsigned flags, void *arg, size_t argsz)
{
    int saved = errno;
    rt_io_insyscall++;
    int r = io_uring_enter2((unsigned)ring.ring_fd, tosubmit, mincomplete, flags, arg, argsz);
    rt_io_insyscall--;
    errno = saved;
    return r;
}

/* Hand n SQEs to the kernel. Only an M does that (Ms never exit), never
 * a thread that is not one: io_uring cancels the requests a thread
 * submitted when that thread exits, and a foreign thread (gort_close, a
 * deadline or a timer from outside the runtime) may exit at any time. It
 * rings the doorbell instead: an eventfd the ring polls (armed by an M),
 * which wakes a blocked poller; that M, or any M's next poll, submits. */
static void submit_n(unsigned n)
{
    if (n == 0)
        return;
    rt_g *g = rt_getg();
    if (g == NULL || g->m == NULL) {
        int saved = errno;
        uint64_t one = 1;
        if (write(doorbell, &one, sizeof one) < 0) {
            /* the counter is full: a wake-up is pending anyway */
        }
        errno = saved;
        return;
    }
    enter(n, 0, 0, NULL, 0);
}

static struct io_uring_sqe *getsqe_locked(void)
{
    for (;;) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        if (sqe != NULL) {
            rt_store(&queued, 1);
            return sqe;
        }
        /* The SQ is full (4096 ops parked since the last poll): hand them
         * to the kernel now, under the lock; rare. */
        enter(flush_locked(), 0, 0, NULL, 0);
    }
}

/* One M submits at a time: two in io_uring_enter at once spin on the
 * ring's kernel mutex (11.7% of an echo server's CPU on 2 Ps). The one
 * that finds `submitting` taken leaves its SQEs to the holder, which
 * submits again while anything was queued meanwhile. */
static uint32_t submitting;

static void submit(void)
{
    /* Sequentially consistent both ways (Dekker): a filler stores queued
     * then loads submitting; the holder stores submitting then loads
     * queued; so one of them always sees the other's SQE. */
    while (rt_load(&queued)) {
        if (rt_load(&submitting) || !rt_cas(&submitting, 0, 1))
            return;
        rt_lock_acquire(&sqlock);
        unsigned n = flush_locked();
        rt_lock_release(&sqlock);
        submit_n(n);
        rt_store(&submitting, 0);
    }
}

static void prep(struct io_uring_sqe *sqe, rt_ioop *op)
{
    switch (op->kind) {
    case IO_READ: io_uring_prep_read(sqe, op->fd, op->buf, (unsigned)op->n, (uint64_t)-1); break;
    case IO_WRITE:
        if (op->ftype == PD_SOCK) /* send: a peer that has gone is -EPIPE, never SIGPIPE */
            io_uring_prep_send(sqe, op->fd, op->buf, op->n, MSG_NOSIGNAL);
        else
            io_uring_prep_write(sqe, op->fd, op->buf, (unsigned)op->n, (uint64_t)-1);
        break;
    case IO_PREAD: io_uring_prep_read(sqe, op->fd, op->buf, (unsigned)op->n, (uint64_t)op->off); break;
    case IO_PWRITE: io_uring_prep_write(sqe, op->fd, op->buf, (unsigned)op->n, (uint64_t)op->off); break;
    case IO_READV: io_uring_prep_readv(sqe, op->fd, op->iov, (unsigned)op->iovcnt, (uint64_t)-1); break;
    case IO_WRITEV:
        if (op->ftype == PD_SOCK) {
            memset(&op->mh, 0, sizeof op->mh);
            op->mh.msg_iov = (struct iovec *)op->iov;
            op->mh.msg_iovlen = (size_t)op->iovcnt;
            io_uring_prep_sendmsg(sqe, op->fd, &op->mh, MSG_NOSIGNAL);
        } else {
            io_uring_prep_writev(sqe, op->fd, op->iov, (unsigned)op->iovcnt, (uint64_t)-1);
        }
        break;
    case IO_RECV: io_uring_prep_recv(sqe, op->fd, op->buf, op->n, op->flags); break;
    case IO_SEND: io_uring_prep_send(sqe, op->fd, op->buf, op->n, op->flags); break;
    case IO_RECVMSG: io_uring_prep_recvmsg(sqe, op->fd, op->msg, (unsigned)op->flags); break;
    case IO_SENDMSG: io_uring_prep_sendmsg(sqe, op->fd, op->msg, (unsigned)op->flags); break;
    case IO_ACCEPT: io_uring_prep_accept(sqe, op->fd, op->addr, op->alen, op->flags); break;
    case IO_CONNECT: io_uring_prep_connect(sqe, op->fd, op->caddr, op->clen); break;
    case IO_POLL: io_uring_prep_poll_add(sqe, op->fd, (unsigned)op->flags); break;
    default: rt_throw("netpoll: bad op");
    }
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op);
}

/* Runs once the goroutine is _Gwaiting: from here on a reaper may ready
 * it, so everything it did before parking happens before (for TSan, the
 * edge through the kernel starts here). */
static bool unlock_sq_pd(rt_g *gp, void *arg)
{
    (void)gp;
    rt_ioop *op = arg;
    RT_IO_RELEASE(op);
    rt_lock_release(&sqlock);
    rt_lock_release(&op->pd->lock);
    return true;
}

/* Regular files (and block devices) are read and written at once when
 * the page cache can serve the call without blocking (RWF_NOWAIT), on the
 * goroutine's own thread: through the ring, every such copy would run in
 * the one thread that enters it, and 64 goroutines reading cached data
 * would share one CPU. -EAGAIN: it would block; the ring's workers do it.
 * Sockets and pipes always go through the ring: a try before each read
 * would be a wasted system call in request-response traffic, and a write
 * through the ring is submitted in the same io_uring_enter as the reads
 * (measured on the echo benchmark: 156-166K round trips/s through the
 * ring, 142K with a direct send first). These direct calls, and the
 * fstat in rt_fdtype, run while the call holds its reference on pd
 * (netpoll.c): gort_close waits for them before close(2). */
/* pwritev2/preadv2 with RWF_NOWAIT, inside the SIGPIPE bracket. */
static int64_t rw_nowait(rt_ioop *op)
{
    struct iovec v = {.iov_base = op->buf, .iov_len = op->n};
    const struct iovec *iov = &v;
    int cnt = 1;
    off_t off = op->kind == IO_PREAD || op->kind == IO_PWRITE ? op->off : -1;
    if (op->kind == IO_READV || op->kind == IO_WRITEV) {
        iov = op->iov;
        cnt = op->iovcnt;
    }
    int saved = errno;
    rt_io_insyscall++;
    int64_t r = op->write ? pwritev2(op->fd, iov, cnt, off, RWF_NOWAIT) : preadv2(op->fd, iov, cnt, off, RWF_NOWAIT);
    if (r < 0)
        r = -errno;
    rt_io_insyscall--;
    errno = saved;
    if (r == -EOPNOTSUPP || r == -EINVAL)
        r = -EOPNOTSUPP; /* no RWF_NOWAIT for this file here */
    return r;
}

static int64_t ur_try(rt_pollDesc *pd, rt_ioop *op)
{
    switch (op->kind) {
    case IO_READ: case IO_WRITE: case IO_PREAD: case IO_PWRITE: case IO_READV: case IO_WRITEV:
        break;
    default:
        return -EAGAIN;
    }
    if (rt_fdtype(pd, op->fd, false) != PD_FILE)
        return -EAGAIN;
    int64_t r = rw_nowait(op);
    if (r == -EOPNOTSUPP)
        r = -EAGAIN; /* the ring does it */
    else if (r == -ESPIPE) {
        rt_fdtype(pd, op->fd, true); /* the cache was stale (closed with close(2)) */
        r = -EAGAIN;
    }
    return r;
}

/* Queue op's SQE and park (pd->lock held; released once parked). */
static int64_t submit_park(rt_ioop *op)
{
    rt_store_relaxed(&op->refs, 1);
    op->res = 0;
    rt_lock_acquire(&sqlock);
    prep(getsqe_locked(), op);
    rt_park(unlock_sq_pd, op, WR_IO_WAIT);
    return op->res;
}

/* A write to a pipe is done on the goroutine's own thread (RWF_NOWAIT),
 * and only the wait for room goes through the ring (POLLOUT). Through
 * IORING_OP_WRITE, a write whose reader has gone raises SIGPIPE in
 * whatever thread runs the request's task work, possibly outside any gort
 * call, where it would end the process; here it is raised inside the
 * SIGPIPE bracket and becomes -EPIPE (Go's rule for fds other than 1 and
 * 2, netpoll.c). pd->lock held; released. */
static int64_t fifo_write(rt_pollDesc *pd, rt_ioop *op)
{
    for (;;) {
        int64_t r = rw_nowait(op);
        if (r == -EOPNOTSUPP)
            return submit_park(op); /* no RWF_NOWAIT for pipes: the ring writes */
        if (r != -EAGAIN || op->why != IO_WHY_NONE) {
            rt_lock_release(&pd->lock);
            return r == -EAGAIN ? -ECANCELED : r;
        }
        uint8_t kind = op->kind;
        int flags = op->flags;
        op->kind = IO_POLL;
        op->flags = POLLOUT;
        int64_t pr = submit_park(op);
        op->kind = kind;
        op->flags = flags;
        rt_pd_lock(pd);
        if (op->why != IO_WHY_NONE) {
            rt_lock_release(&pd->lock);
            return -ECANCELED;
        }
        if (pr < 0 && pr != -ECANCELED) {
            rt_lock_release(&pd->lock);
            return pr;
        }
    }
}

static int64_t ur_wait(rt_pollDesc *pd, rt_ioop *op)
{
    if (op->write && op->ftype == PD_FIFO && (op->kind == IO_WRITE || op->kind == IO_WRITEV))
        return fifo_write(pd, op);
    return submit_park(op);
}

static rt_g *ur_cancel(rt_pollDesc *pd, rt_ioop *op)
{
    (void)pd;
    uint32_t one = 1;
    if (!__atomic_compare_exchange_n(&op->refs, &one, 2, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        return NULL; /* completed already; its result stands */
    rt_lock_acquire(&sqlock);
    struct io_uring_sqe *sqe = getsqe_locked();
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op | 1);
    unsigned n = flush_locked();
    rt_lock_release(&sqlock);
    submit_n(n); /* at once: a deadline should not wait for the next poll */
    return NULL;
}

static void queue_nop(void)
{
    rt_lock_acquire(&sqlock);
    struct io_uring_sqe *sqe = getsqe_locked();
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, 0);
    unsigned n = flush_locked();
    rt_lock_release(&sqlock);
    submit_n(n);
}

static void ur_brk(void)
{
    if (rt_cas(&wakesig, 0, 1))
        queue_nop();
}

/* Reap every completion posted so far; the goroutines whose op is done
 * are linked into *list. */
static int32_t reap(rt_g **list, bool poller)
{
    int32_t n = 0;
    bool rebreak = false;
    rt_g **tailp = list;
    while (*tailp != NULL)
        tailp = &(*tailp)->schedlink;
    rt_lock_acquire(&cqlock);
    struct io_uring_cq *cq = &ring.cq;
    unsigned head = *cq->khead;
    unsigned tail = io_uring_smp_load_acquire(cq->ktail);
    for (; head != tail; head++) {
        struct io_uring_cqe *cqe = &cq->cqes[head & cq->ring_mask];
        uint64_t ud = cqe->user_data;
        if (ud == UD_DOORBELL) {
            int saved = errno;
            uint64_t v;
            if (read(doorbell, &v, sizeof v) < 0) {
                /* drained already */
            }
            errno = saved;
            rt_store(&doorbell_armed, 0); /* the next poll re-arms it */
            continue;
        }
        if (ud == UD_BREAK) {
            rt_store(&wakesig, 0);
            if (!poller && rt_load(&blocked))
                rebreak = true; /* that break was the blocked poller's */
            continue;
        }
        rt_ioop *op = (rt_ioop *)(uintptr_t)(ud & ~(uint64_t)1);
        RT_IO_ACQUIRE(op);
        if (!(ud & 1))
            op->res = cqe->res;
        if (rt_xadd(&op->refs, (uint32_t)-1) == 0) {
            /* in completion order: first done, first run (p99) */
            op->g->schedlink = NULL;
            *tailp = op->g;
            tailp = &op->g->schedlink;
            n++;
        }
    }
    io_uring_smp_store_release(cq->khead, head);
    rt_lock_release(&cqlock);
    if (rebreak)
        ur_brk();
    return n;
}

static void arm_doorbell(void)
{
    if (rt_load_relaxed(&doorbell_armed) || !rt_cas(&doorbell_armed, 0, 1))
        return;
    rt_lock_acquire(&sqlock);
    struct io_uring_sqe *sqe = getsqe_locked();
    io_uring_prep_poll_add(sqe, doorbell, POLLIN);
    io_uring_sqe_set_data64(sqe, UD_DOORBELL);
    rt_lock_release(&sqlock); /* submitted by the poll that called us */
}

static int32_t ur_poll(int64_t delay, rt_g **list)
{
    arm_doorbell();
    if (delay == 0) {
        submit();
        if (rt_load(&blocked))
            return 0; /* the blocked poller reaps */
        if (IO_URING_READ_ONCE(*ring.sq.kflags) & IORING_SQ_CQ_OVERFLOW)
            enter(0, 0, IORING_ENTER_GETEVENTS, NULL, 0);
        if (io_uring_smp_load_acquire(ring.cq.khead) == io_uring_smp_load_acquire(ring.cq.ktail))
            return 0;
        return reap(list, false);
    }
    rt_store(&blocked, 1);
    if (!rt_netpoll_stillwatcher())
        delay = 0; /* an earlier timer came: do not sleep past it */
    rt_lock_acquire(&sqlock);
    unsigned n = flush_locked();
    rt_lock_release(&sqlock);
    struct __kernel_timespec ts;
    struct io_uring_getevents_arg arg;
    memset(&arg, 0, sizeof arg);
    arg.sigmask_sz = _NSIG / 8;
    if (delay > 0) {
        ts.tv_sec = delay / 1000000000;
        ts.tv_nsec = delay % 1000000000;
        arg.ts = (uint64_t)(uintptr_t)&ts;
    }
    unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
    if (io_uring_smp_load_acquire(ring.cq.khead) == io_uring_smp_load_acquire(ring.cq.ktail) && delay != 0)
        enter(n, 1, flags, &arg, sizeof arg);
    else if (n > 0)
        enter(n, 0, 0, NULL, 0);
    int32_t got = reap(list, true);
    rt_store(&blocked, 0);
    return got;
}

static void ur_closing(rt_pollDesc *pd, int fd)
{
    (void)pd;
    (void)fd;
}

const rt_netpoll_ops rt_netpoll_uring = {
    .name = "io_uring",
    .init = ur_init,
    .try_ = ur_try,
    .wait = ur_wait,
    .cancel = ur_cancel,
    .poll = ur_poll,
    .brk = ur_brk,
    .closing = ur_closing,
};
