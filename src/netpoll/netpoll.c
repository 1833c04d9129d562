/* netpoll.c - blocking I/O that parks only the goroutine (Go: netpoll.go,
 * internal/poll/fd_unix.go, fd_poll_runtime.go).
 *
 * A goroutine that calls gort_read and must wait parks; its M goes on
 * running other goroutines. The kernel tells the poller when the I/O is
 * done, and the scheduler readies the goroutine. Two pollers (backends)
 * sit behind one table (rt_netpoll_ops):
 *
 *   io_uring (netpoll_uring.c), the default: completion-based. The
 *     goroutine's operation itself goes to the kernel as an SQE carrying
 *     the address of its rt_ioop (on the goroutine's stack), and the
 *     goroutine parks. One ring serves the process, as Go's one epoll fd
 *     does (why not one per P or per M: netpoll_uring.c's comment).
 *     Submissions are batched: an SQE waits in the ring until the M runs
 *     out of goroutines (findrunnable) or sysmon polls, so one
 *     io_uring_enter hands the kernel many operations and collects many
 *     completions.
 *   epoll (netpoll_epoll.c), the fallback: readiness-based, as Go's. The
 *     call is tried at once on a non-blocking fd; on EAGAIN the goroutine
 *     parks until epoll says the fd is ready (edge-triggered, registered
 *     once per fd), then tries again.
 *
 * Who polls (the scheduler's side, proc.c and sysmon.c):
 *   - findrunnable, when its run queues are empty: rt_netpoll(0), which
 *     submits queued SQEs and reaps what completed, without blocking;
 *   - the one M that sleeps until the earliest timer (sched.timerm) sleeps
 *     in rt_netpoll(until that timer) instead of on a futex while
 *     goroutines wait on I/O; an earlier timer breaks it out
 *     (rt_netpollbreak);
 *   - sysmon, when nobody polled for 10 ms (a P busy with goroutines that
 *     never run out).
 * While goroutines wait on I/O, that M is blocked in the poller, not idle,
 * so checkdead never reports a deadlock: as in Go, a program whose
 * goroutines all wait on I/O that cannot complete waits for ever.
 *
 * Per-fd state (rt_pollDesc) lives in a two-level table indexed by the fd
 * number, made on first use, never freed: the slot belongs to the number,
 * and gort_close resets it before the number can be reused. It holds the
 * deadlines and their timers, and the list of operations parked on the fd,
 * so that a deadline or gort_close can end them early:
 *   - a deadline's timer marks each parked op of its direction
 *     IO_WHY_TIMEOUT and asks the backend to cancel it (io_uring:
 *     IORING_OP_ASYNC_CANCEL; epoll: ready the goroutine); it returns
 *     -ETIMEDOUT, unless the kernel finished the op first, whose result
 *     then stands;
 *   - gort_close sets PD_CLOSING (below), marks them IO_WHY_CLOSED (they
 *     return -EBADF), and waits until no call is inside before calling
 *     close(2), with the pollDesc locked.
 *
 * Who is inside (Go: internal/poll's fdMutex; pd->refs, netpoll.h): each
 * gort call from a goroutine holds a reference on the pollDesc from before
 * its first system call on the fd to after its last. That covers the ops
 * parked in pd->ops, and also the system calls a goroutine makes on its
 * own thread, which never enter pd->ops: the fstat that learns the fd's
 * type, a regular-file read or write tried with RWF_NOWAIT, an epoll
 * try, a gort_poll_fd that does not wait, and every step of a write that
 * is retried after a short count or goes in iovec batches. A call that
 * begins after PD_CLOSING is set, or reaches its next step after it, is
 * -EBADF. So no system call of a call that began before gort_close (SQE
 * or direct) runs once close(2) may have freed the number for another
 * file, and a new fd with the same number never sees this close. (Before
 * the count, netpoll.close_loop caught an fstat from ur_try racing the
 * close(2) under ThreadSanitizer.) Its cost: one atomic add as a call
 * begins and one as it ends. Rejected: taking the pollDesc lock around
 * the direct calls (a regular-file read would hold a spinlock across the
 * copy, and readers of one file would queue on it); a count per step
 * only (the rest of a write cut short by the close would go to the next
 * file with the number). Calls from a thread that is not a goroutine are
 * plain system calls that may block for ever, and are not counted: as
 * with close(2) in C, gort_close does not wait for them.
 *
 * Locks (ranks in sched/lock.h): a pollDesc's lock, then the ring's
 * submission lock, then its completion lock. No goroutine is readied under
 * any of them (wake-ups are collected and done after unlocking), so none
 * nests with sched.lock. An io_uring op is parked with the pollDesc and
 * submission locks held (released once the goroutine is _Gwaiting): a
 * canceller, which holds the pollDesc lock, can only queue its cancel
 * after the op's own SQE.
 *
 * Invariants: an op is in pd->ops from before it parks until after it
 * woke, and holds a reference while it is (refs >= |ops|);
 * rt_netpoll_waiters counts ops between those points; a goroutine is
 * readied once per park (io_uring: when op->refs, its outstanding
 * completions, reaches 0; epoll: by whoever clears op->parked).
 *
 * What an fd is (rt_fdtype: one fstat, cached in the pollDesc until
 * gort_close) decides how a call goes: regular files are tried at once
 * (io_uring backend, RWF_NOWAIT), socket writes are sends with
 * MSG_NOSIGNAL, pread/pwrite on a socket or pipe is -ESPIPE.
 *
 * SIGPIPE: as Go, a write to a peer that has gone returns -EPIPE, except
 * on fds 1 and 2, where the process ends with SIGPIPE. Sockets use
 * MSG_NOSIGNAL. Pipe writes are made on the goroutine's own thread (the
 * io_uring backend waits for room through the ring, but never writes
 * there: task work would raise SIGPIPE outside any gort call). A handler
 * installed here (only over SIG_DFL) ignores a SIGPIPE raised while the
 * thread is inside a gort I/O call (rt_io_insyscall) and gives any other
 * one its default action. */
#include "netpoll.h"
#include "../boot/boot.h"
#include "../debug/debug.h"
#include "../os/os.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

uint32_t rt_netpoll_waiters;
uint32_t rt_netpoll_syswaiters;
__thread int rt_io_insyscall;

static const rt_netpoll_ops *np;  /* the backend, set once */
static uint32_t np_state;         /* 0 not yet, 1 being chosen, 2 ready */
static int64_t lastpoll;

/* ---- backend choice (Go: netpollGenericInit) -------------------------------- */

static void sigpipe_handler(int sig)
{
    if (rt_io_insyscall)
        return; /* the gort call returns -EPIPE */
    /* Not ours: the default action, as if we had not been here. SIGPIPE is
     * blocked while we run, so it is delivered (and ends the process) when
     * the handler returns. */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void netpoll_choose(void)
{
    const rt_netpoll_ops *b = NULL;
    int err = 0;
    if (rt_debug.netpoll != 2) {
        err = rt_netpoll_uring.init();
        if (err == 0)
            b = &rt_netpoll_uring;
        else if (rt_debug.netpoll == 1)
            rt_throwf("netpoll: GORTDEBUG=netpoll=io_uring, but io_uring is unavailable (%s)", strerror(-err));
    }
    if (b == NULL) {
        int e2 = rt_netpoll_epoll.init();
        if (e2 != 0)
            rt_throwf("netpoll: cannot create an epoll instance (%s)", strerror(-e2));
        b = &rt_netpoll_epoll;
    }
    struct sigaction cur;
    if (sigaction(SIGPIPE, NULL, &cur) == 0 && !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = sigpipe_handler;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPIPE, &sa, NULL);
    }
    if (rt_debug.inittrace) {
        if (b == &rt_netpoll_epoll && rt_debug.netpoll != 2)
            rt_printf("init netpoll: epoll (io_uring unavailable: %s)\n", strerror(-err));
        else
            rt_printf("init netpoll: %s%s\n", b->name, rt_debug.netpoll == 2 ? " (GORTDEBUG=netpoll=epoll)" : "");
    }
    rt_store_rel(&np, b);
}

static inline const rt_netpoll_ops *netpoll(void)
{
    if (rt_likely(rt_load_acq(&np_state) == 2))
        return np;
    if (rt_cas(&np_state, 0, 1)) {
        netpoll_choose();
        rt_store_rel(&np_state, 2);
        return np;
    }
    while (rt_load_acq(&np_state) != 2)
        rt_procyield(50);
    return np;
}

/* A poller blocked without a deadline. Usually the I/O it waits for wakes
 * it; but another M's poll may have taken that completion first (in the
 * moment before the poller announced itself), and then, once no goroutine
 * waits on I/O any more, nothing would: the program would hang where Go
 * reports a deadlock. So the op that brings rt_netpoll_waiters to 0
 * breaks it (Dekker: each side stores, then loads the other's word). */
static uint32_t pollforever;

int32_t rt_netpoll(int64_t delay, rt_g **list)
{
    *list = NULL;
    if (rt_load_acq(&np_state) != 2)
        return 0;
    if (delay < 0) {
        rt_store(&pollforever, 1);
        if (rt_load(&rt_netpoll_waiters) == 0)
            delay = 0;
    }
    int32_t n = np->poll(delay, list);
    if (delay < 0)
        rt_store(&pollforever, 0);
    rt_store_relaxed(&lastpoll, rt_nanotime());
    return n;
}

void rt_netpollbreak(void)
{
    if (rt_load_acq(&np_state) == 2)
        np->brk();
}

int64_t rt_netpoll_lastpoll(void) { return rt_load_relaxed(&lastpoll); }

/* ---- the pollDesc table --------------------------------------------------------- */

#define PD_CHUNK 4096
#define PD_NCHUNKS 65536 /* fds below 2^28 */
static rt_pollDesc *pdtab[PD_NCHUNKS];
static rt_lock pdtab_lock = {0, RT_RANK_LEAF};

static rt_pollDesc *pd_get(int fd)
{
    if (fd < 0 || fd >= PD_CHUNK * PD_NCHUNKS)
        return NULL;
    rt_pollDesc **slot = &pdtab[fd / PD_CHUNK];
    rt_pollDesc *c = rt_load_acq(slot);
    if (rt_unlikely(c == NULL)) {
        rt_lock_acquire(&pdtab_lock);
        c = *slot;
        if (c == NULL) {
            int err = 0;
            /* Zero pages, touched as fds are used: every field's zero is
             * its initial state (locks are taken with their rank). */
            c = rt_sysAlloc(PD_CHUNK * sizeof(rt_pollDesc), 0, &err);
            if (c == NULL)
                rt_throwf("netpoll: out of memory for fd table (%s)", strerror(err));
            rt_store_rel(slot, c);
        }
        rt_lock_release(&pdtab_lock);
    }
    return &c[fd % PD_CHUNK];
}

uint8_t rt_fdtype(rt_pollDesc *pd, int fd, bool fresh)
{
    uint8_t t = (pd != NULL && !fresh) ? rt_load_relaxed(&pd->ftype) : PD_UNKNOWN;
    if (t != PD_UNKNOWN)
        return t;
    int saved = errno;
    struct stat st;
    int rc = fstat(fd, &st);
    errno = saved;
    if (rc != 0)
        return PD_OTHER; /* not cached (EBADF: the call itself reports it) */
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
        t = PD_FILE;
    else if (S_ISSOCK(st.st_mode))
        t = PD_SOCK;
    else if (S_ISFIFO(st.st_mode))
        t = PD_FIFO;
    else
        t = PD_OTHER;
    if (pd != NULL)
        rt_store_relaxed(&pd->ftype, t);
    return t;
}

bool rt_pd_unlockf(rt_g *gp, void *pd)
{
    (void)gp;
    rt_pd_unlock(pd);
    return true;
}

void rt_io_unlink(rt_pollDesc *pd, rt_ioop *op)
{
    if (op->prev != NULL)
        op->prev->next = op->next;
    else
        pd->ops = op->next;
    if (op->next != NULL)
        op->next->prev = op->prev;
    op->next = op->prev = NULL;
}

/* ---- plain system calls -------------------------------------------------------- */

static inline int64_t sysret(long r) { return r < 0 ? -(int64_t)errno : (int64_t)r; }

int64_t rt_io_syscall(rt_ioop *op)
{
    int saved = errno;
    int64_t r;
    rt_io_insyscall++;
    switch (op->kind) {
    case IO_READ: r = sysret(read(op->fd, op->buf, op->n)); break;
    case IO_WRITE:
        /* a socket: send, so that a peer that has gone is -EPIPE, never SIGPIPE */
        r = op->ftype == PD_SOCK ? sysret(send(op->fd, op->buf, op->n, MSG_NOSIGNAL | op->flags))
                                 : sysret(write(op->fd, op->buf, op->n));
        break;
    case IO_PREAD: r = sysret(pread(op->fd, op->buf, op->n, op->off)); break;
    case IO_PWRITE: r = sysret(pwrite(op->fd, op->buf, op->n, op->off)); break;
    case IO_READV: r = sysret(readv(op->fd, op->iov, op->iovcnt)); break;
    case IO_WRITEV:
        if (op->ftype == PD_SOCK) {
            struct msghdr m = {.msg_iov = (struct iovec *)op->iov, .msg_iovlen = (size_t)op->iovcnt};
            r = sysret(sendmsg(op->fd, &m, MSG_NOSIGNAL | op->flags));
        } else {
            r = sysret(writev(op->fd, op->iov, op->iovcnt));
        }
        break;
    case IO_RECV: r = sysret(recv(op->fd, op->buf, op->n, op->flags)); break;
    case IO_SEND: r = sysret(send(op->fd, op->buf, op->n, op->flags)); break;
    case IO_RECVMSG: r = sysret(recvmsg(op->fd, op->msg, op->flags)); break;
    case IO_SENDMSG: r = sysret(sendmsg(op->fd, op->msg, op->flags)); break;
    case IO_ACCEPT: r = sysret(accept4(op->fd, op->addr, op->alen, op->flags)); break;
    case IO_CONNECT: r = sysret(connect(op->fd, op->caddr, op->clen)); break;
    case IO_POLL: {
        struct pollfd p = {.fd = op->fd, .events = (short)op->flags};
        /* A poll that does not wait is never restarted for a signal: not
         * even the runtime's own preemption signal must make it -EINTR. */
        do
            r = sysret(poll(&p, 1, (int)op->off));
        while (r == -EINTR && op->off == 0);
        if (r > 0)
            r = p.revents;
        break;
    }
    default: r = -EINVAL;
    }
    rt_io_insyscall--;
    errno = saved;
    return r;
}

/* A call that may block the thread, from a goroutine: inside the syscall
 * bracket, so the P goes on running others. */
static int64_t io_syscall_bracket(rt_ioop *op)
{
    rt_entersyscall();
    int64_t r = rt_io_syscall(op);
    rt_exitsyscall();
    return r;
}

static inline bool in_goroutine(void)
{
    rt_g *gp = rt_curg();
    return gp != NULL && rt_readgstatus(gp) == G_RUNNING && gp->m->p != NULL && gp->m->locks == 0;
}

/* ---- references (Go: fdMutex's incref / decref) ---------------------------------- */

/* gort_close is parked until the calls inside drain; the one whose
 * decref found it waiting readies it. A closer parks again if it finds
 * calls still inside (a wake-up meant for an earlier close of the
 * number is harmless: it rechecks). */
static __attribute__((noinline)) void pd_wakecloser(rt_pollDesc *pd)
{
    rt_pd_lock(pd);
    rt_g *gp = pd->closer;
    pd->closer = NULL;
    rt_pd_unlock(pd);
    if (gp != NULL)
        rt_ready(gp, false);
}

static inline void pd_decref(rt_pollDesc *pd)
{
    if (rt_unlikely(rt_xadd(&pd->refs, (uint32_t)-1) == PD_CLOSING))
        pd_wakecloser(pd); /* the last call out of a closing fd */
}

/* Enter a call on pd's fd: one atomic add, and one more on the way out
 * (pd_decref). false: gort_close has begun, the call is -EBADF. The add
 * and gort_close's setting of PD_CLOSING are read-modify-writes of one
 * word: whichever comes second sees the other. */
static inline bool pd_incref(rt_pollDesc *pd)
{
    if (rt_likely(!(rt_xadd(&pd->refs, 1) & PD_CLOSING)))
        return true;
    pd_decref(pd);
    return false;
}

/* ---- one operation ----------------------------------------------------------------- */

/* op->ftype, for the kinds that care (writes: send or write; pread and
 * pwrite: -ESPIPE on a socket or pipe, where io_uring would ignore the
 * offset). pd (may be NULL) holds the cache, which only a caller holding
 * a reference may fill (see rt_fdtype). */
static int64_t io_ftype(rt_pollDesc *pd, rt_ioop *op, bool fill)
{
    switch (op->kind) {
    case IO_PREAD:
    case IO_PWRITE:
    case IO_WRITE:
    case IO_WRITEV:
        break;
    default:
        return 0;
    }
    rt_pollDesc *cache = fill ? pd : NULL;
    uint8_t t = pd != NULL ? rt_load_relaxed(&pd->ftype) : PD_UNKNOWN;
    op->ftype = t != PD_UNKNOWN ? t : rt_fdtype(cache, op->fd, false);
    if ((op->kind == IO_PREAD || op->kind == IO_PWRITE) && (op->ftype == PD_SOCK || op->ftype == PD_FIFO)) {
        op->ftype = rt_fdtype(cache, op->fd, true); /* a stale cache must not turn a pread into -ESPIPE */
        if (op->ftype == PD_SOCK || op->ftype == PD_FIFO)
            return -ESPIPE;
    }
    return 0;
}

/* io_do for a goroutine that holds a reference on pd. */
static int64_t io_do_ref(const rt_netpoll_ops *b, rt_pollDesc *pd, rt_ioop *op)
{
    int64_t r = io_ftype(pd, op, true);
    if (r < 0)
        return r;
    if (b->try_ != NULL) {
        r = b->try_(pd, op);
        if (r != -EAGAIN)
            return r;
    }
    op->pd = pd;
    op->g = rt_curg();
    op->why = IO_WHY_NONE;
    op->next = op->prev = NULL;
    rt_pd_lock(pd);
    if (rt_load_relaxed(&pd->refs) & PD_CLOSING) {
        rt_pd_unlock(pd); /* we entered before gort_close, which then evicted the parked ops */
        return -EBADF;
    }
    if (op->kind != IO_POLL) {
        int64_t dl = op->write ? pd->wd : pd->rd;
        if (dl != 0 && dl <= rt_nanotime()) {
            rt_pd_unlock(pd);
            return -ETIMEDOUT;
        }
    }
    op->next = pd->ops;
    if (pd->ops != NULL)
        pd->ops->prev = op;
    pd->ops = op;
    bool sysg = op->g->sysg;
    if (sysg)
        rt_xadd(&rt_netpoll_syswaiters, 1);
    rt_xadd(&rt_netpoll_waiters, 1);
    r = b->wait(pd, op); /* releases pd->lock */
    if (rt_xadd(&rt_netpoll_waiters, (uint32_t)-1) == 0 && rt_load(&pollforever))
        rt_netpollbreak(); /* the blocked poller has nothing left to wait for (see rt_netpoll) */
    if (sysg)
        rt_xadd(&rt_netpoll_syswaiters, (uint32_t)-1);

    rt_pd_lock(pd);
    rt_io_unlink(pd, op);
    uint8_t why = op->why;
    rt_pd_unlock(pd);
    if (why != IO_WHY_NONE && (r == -ECANCELED || r == -EINTR || r == -EAGAIN))
        r = why == IO_WHY_TIMEOUT ? -ETIMEDOUT : -EBADF;
    return r;
}

/* One gort call (Go: fd.incref ... fd.decref around a Read or a Write):
 * from before its first system call on the fd to after its last, every
 * one of them, it holds a reference on the fd's pollDesc, so that
 * gort_close waits for it, and it stops at its next step once gort_close
 * has begun. A call that writes in several steps (a short write retried,
 * writev's batches) holds one reference for all of them: its rest never
 * goes to a file that got the number after the close. */
typedef struct io_call {
    rt_pollDesc *pd; /* the reference held; NULL: none (see io_begin) */
    bool g;          /* in a goroutine */
} io_call;

/* Begin a call on fd: 0, or -EBADF (fd < 0; gort_close has begun). No
 * reference is taken by a thread that is not a goroutine (its plain
 * system calls may block for ever; as with close(2) in C, gort_close
 * does not wait for them), nor for an fd beyond the table. */
static inline int64_t io_begin(io_call *c, int fd)
{
    c->pd = NULL;
    c->g = in_goroutine();
    if (fd < 0)
        return -EBADF;
    if (!c->g)
        return 0;
    rt_pollDesc *pd = pd_get(fd);
    if (pd != NULL && !pd_incref(pd))
        return -EBADF;
    c->pd = pd;
    return 0;
}

static inline void io_end(io_call *c)
{
    if (c->pd != NULL)
        pd_decref(c->pd);
}

/* One step of call c: run op, parking the goroutine while it waits. */
static int64_t io_do(io_call *c, rt_ioop *op)
{
    if ((op->kind == IO_PREAD || op->kind == IO_PWRITE) && op->off < 0)
        return -EINVAL;
    if (!c->g) {
        /* The plain system call; it reads the type cache but does not
         * fill it (it holds no reference). */
        int64_t r = io_ftype(pd_get(op->fd), op, false);
        return r < 0 ? r : rt_io_syscall(op);
    }
    rt_preemptpoint();
    const rt_netpoll_ops *b = netpoll();
    if (c->pd == NULL) {
        int64_t r = io_ftype(NULL, op, false); /* an fd beyond the table: no pollDesc */
        return r < 0 ? r : io_syscall_bracket(op);
    }
    if (rt_load_relaxed(&c->pd->refs) & PD_CLOSING)
        return -EBADF; /* gort_close has begun: the call stops here (a long write: the count so far) */
    return io_do_ref(b, c->pd, op);
}

/* A call of one step. */
static int64_t io_one(rt_ioop *op)
{
    io_call c;
    int64_t r = io_begin(&c, op->fd);
    if (r < 0)
        return r;
    r = io_do(&c, op);
    io_end(&c);
    return r;
}

/* End every parked op on pd of the given direction (w: 0 read, 1 write,
 * 2 both) early, for why. pd->lock held; the goroutines to ready are
 * returned linked through schedlink. */
static rt_g *pd_evict(rt_pollDesc *pd, int w, uint8_t why)
{
    rt_g *list = NULL;
    for (rt_ioop *op = pd->ops; op != NULL; op = op->next) {
        if (op->why != IO_WHY_NONE)
            continue;
        if (w != 2 && (op->kind == IO_POLL || (int)op->write != w))
            continue;
        op->why = why;
        rt_g *gp = np->cancel(pd, op);
        if (gp != NULL) {
            gp->schedlink = list;
            list = gp;
        }
    }
    return list;
}

static void ready_list(rt_g *list)
{
    while (list != NULL) {
        rt_g *next = list->schedlink;
        list->schedlink = NULL;
        rt_ready(list, false);
        list = next;
    }
}

/* ---- deadlines (Go: poll_runtime_pollSetDeadline, netpolldeadlineimpl) ------- */

/* The timer of one direction (seq: 0 read, 1 write) fired. */
static void deadline_fire(void *arg, uintptr_t seq)
{
    rt_pollDesc *pd = arg;
    rt_pd_lock(pd);
    int64_t dl = seq ? pd->wd : pd->rd;
    rt_g *list = NULL;
    if (dl != 0 && dl <= rt_nanotime())
        list = pd_evict(pd, (int)seq, IO_WHY_TIMEOUT);
    rt_pd_unlock(pd);
    ready_list(list);
}

static void dl_lock(rt_pollDesc *pd)
{
    while (!rt_cas(&pd->dlmu, 0, 1)) {
        if (in_goroutine())
            gort_yield();
        else
            sched_yield();
    }
}

static void set_one(rt_pollDesc *pd, int w, int64_t when)
{
    rt_timer *t = w ? &pd->wt : &pd->rt;
    rt_pd_lock(pd);
    if (w)
        pd->wd = when;
    else
        pd->rd = when;
    rt_pd_unlock(pd);
    if (!rt_load(&rt_started))
        return; /* no goroutine can be parked yet; the deadline is stored */
    if (rt_load_acq(&t->home) != NULL)
        rt_deltimer_sync(t);
    if (when == 0)
        return;
    if (when <= rt_nanotime()) {
        deadline_fire(pd, (uintptr_t)w); /* pending calls time out now */
        return;
    }
    t->when = when;
    t->period = 0;
    t->f = deadline_fire;
    t->arg = pd;
    t->seq = (uintptr_t)w;
    rt_addtimer(t);
}

int gort_set_deadline(int fd, int64_t read_ns, int64_t write_ns)
{
    rt_pollDesc *pd = pd_get(fd);
    if (pd == NULL)
        return -EBADF;
    if (rt_load(&rt_started))
        netpoll();
    dl_lock(pd);
    if (read_ns >= 0)
        set_one(pd, 0, read_ns);
    if (write_ns >= 0)
        set_one(pd, 1, write_ns);
    rt_store_rel(&pd->dlmu, 0);
    return 0;
}

/* ---- close (Go: fdMutex's evict, then the last reference closes) -------------- */

int gort_close(int fd)
{
    rt_pollDesc *pd = pd_get(fd);
    if (pd == NULL) {
        int saved = errno;
        int r = close(fd) < 0 ? -errno : 0;
        errno = saved;
        return r;
    }
    if (!rt_load(&rt_started)) {
        /* No goroutine yet: nothing can be parked. */
        gort_set_deadline(fd, 0, 0);
        int saved = errno;
        int r = close(fd) < 0 ? -errno : 0;
        errno = saved;
        return r;
    }
    /* Even if no I/O call has finished choosing the poller yet: one may be
     * choosing it now, about to park on this fd (a close that skipped the
     * pollDesc then left it parked on a closed, maybe reused, number). */
    netpoll();
    bool g = in_goroutine();
    rt_pd_lock(pd);
    if (rt_load_relaxed(&pd->refs) & PD_CLOSING) {
        rt_pd_unlock(pd);
        return -EBADF; /* closed concurrently */
    }
    rt_xadd(&pd->refs, PD_CLOSING); /* no call enters from here on */
    rt_g *list = pd_evict(pd, 2, IO_WHY_CLOSED);
    rt_pd_unlock(pd);
    ready_list(list);

    /* Wait until no call is inside: none parked, none in the kernel, none
     * about to make a system call on the fd from its own thread (the
     * acquire pairs with each caller's pd_decref, so all they did on the
     * fd happens before the close(2) below). */
    rt_pd_lock(pd);
    while (rt_load_acq(&pd->refs) != PD_CLOSING) {
        if (g) {
            pd->closer = rt_curg(); /* the last call out readies us (pd_decref) */
            rt_park(rt_pd_unlockf, pd, WR_IO_WAIT);
        } else {
            rt_pd_unlock(pd);
            usleep(100); /* a thread that is not a goroutine polls */
        }
        rt_pd_lock(pd);
    }
    rt_assert(pd->ops == NULL);
    rt_pd_unlock(pd);

    dl_lock(pd);
    set_one(pd, 0, 0);
    set_one(pd, 1, 0);
    rt_store_rel(&pd->dlmu, 0);

    rt_pd_lock(pd);
    np->closing(pd, fd);
    rt_store_relaxed(&pd->ftype, 0);
    int saved = errno;
    int r = close(fd) < 0 ? -errno : 0;
    errno = saved;
    rt_xadd(&pd->refs, (uint32_t)-PD_CLOSING); /* not a store: a call backing out may hold 1 */
    rt_pd_unlock(pd);
    return r;
}

/* ---- the calls ------------------------------------------------------------------- */

/* Go's epipecheck: a write to fd 1 or 2 whose reader has gone ends the
 * process with SIGPIPE, as a C program's would. */
static inline void epipecheck(int fd, int64_t r)
{
    if (r == -EPIPE && (fd == 1 || fd == 2))
        raise(SIGPIPE);
}

/* Write all of op->buf[0..n) (Go's fd.Write loop), in steps of call c. */
static ssize_t write_steps(io_call *c, rt_ioop *op)
{
    char *base = op->buf;
    size_t n = op->n, done = 0;
    do {
        op->buf = base + done;
        op->n = n - done;
        int64_t r = io_do(c, op);
        if (r <= 0) {
            if (done > 0)
                return (ssize_t)done; /* the next call reports the error */
            epipecheck(op->fd, r);
            return r == 0 ? -EIO : (ssize_t)r;
        }
        done += (size_t)r;
    } while (done < n);
    return (ssize_t)done;
}

/* A call of several steps: steps(c, arg) with one reference held. */
#define IO_CALL(fd, steps, ...)                                                                      \
    ({                                                                                               \
        io_call c_;                                                                                  \
        int64_t r_ = io_begin(&c_, (fd));                                                            \
        if (r_ == 0) {                                                                               \
            r_ = (int64_t)steps(&c_, __VA_ARGS__);                                                   \
            io_end(&c_);                                                                             \
        }                                                                                            \
        (ssize_t)r_;                                                                                 \
    })

static ssize_t write_all(rt_ioop *op) { return IO_CALL(op->fd, write_steps, op); }

ssize_t gort_read(int fd, void *buf, size_t n)
{
    rt_ioop op = {.kind = IO_READ, .fd = fd, .buf = buf, .n = n};
    return (ssize_t)io_one(&op);
}

ssize_t gort_pread(int fd, void *buf, size_t n, off_t off)
{
    rt_ioop op = {.kind = IO_PREAD, .fd = fd, .buf = buf, .n = n, .off = off};
    return (ssize_t)io_one(&op);
}

ssize_t gort_readv(int fd, const struct iovec *iov, int iovcnt)
{
    rt_ioop op = {.kind = IO_READV, .fd = fd, .iov = iov, .iovcnt = iovcnt};
    return (ssize_t)io_one(&op);
}

ssize_t gort_write(int fd, const void *buf, size_t n)
{
    if (n == 0)
        return 0;
    rt_ioop op = {.kind = IO_WRITE, .write = true, .fd = fd, .buf = (void *)buf, .n = n};
    return write_all(&op);
}

static ssize_t pwrite_steps(io_call *c, int fd, const void *buf, size_t n, off_t off)
{
    size_t done = 0;
    while (done < n || n == 0) {
        rt_ioop op = {.kind = IO_PWRITE, .write = true, .fd = fd, .buf = (char *)buf + done,
                      .n = n - done, .off = off + (off_t)done};
        int64_t r = io_do(c, &op);
        if (n == 0)
            return (ssize_t)r;
        if (r <= 0) {
            if (done > 0)
                return (ssize_t)done;
            epipecheck(fd, r);
            return r == 0 ? -EIO : (ssize_t)r;
        }
        done += (size_t)r;
    }
    return (ssize_t)done;
}

ssize_t gort_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return IO_CALL(fd, pwrite_steps, fd, buf, n, off);
}

#define WRITEV_BATCH 64

static ssize_t writev_steps(io_call *c, int fd, const struct iovec *iov, int iovcnt)
{
    size_t total = 0;
    int i = 0;
    /* Whole-buffer semantics, as gort_write: copy up to WRITEV_BATCH
     * iovecs at a time and advance them past what each call wrote. */
    while (i < iovcnt) {
        struct iovec v[WRITEV_BATCH];
        int k = 0;
        while (k < WRITEV_BATCH && i + k < iovcnt) {
            v[k] = iov[i + k];
            k++;
        }
        int first = 0;
        for (;;) {
            while (first < k && v[first].iov_len == 0)
                first++;
            if (first == k)
                break;
            rt_ioop op = {.kind = IO_WRITEV, .write = true, .fd = fd, .iov = v + first, .iovcnt = k - first};
            int64_t r = io_do(c, &op);
            if (r <= 0) {
                if (total > 0)
                    return (ssize_t)total;
                epipecheck(fd, r);
                return r == 0 ? -EIO : (ssize_t)r;
            }
            total += (size_t)r;
            size_t left = (size_t)r;
            while (left > 0) {
                size_t t = left < v[first].iov_len ? left : v[first].iov_len;
                v[first].iov_base = (char *)v[first].iov_base + t;
                v[first].iov_len -= t;
                left -= t;
                if (v[first].iov_len == 0)
                    first++;
            }
        }
        i += k;
    }
    return (ssize_t)total;
}

ssize_t gort_writev(int fd, const struct iovec *iov, int iovcnt)
{
    if (iovcnt < 0 || iovcnt > IOV_MAX)
        return -EINVAL;
    return IO_CALL(fd, writev_steps, fd, iov, iovcnt);
}

int gort_accept(int lfd, struct sockaddr *addr, socklen_t *len)
{
    rt_ioop op = {.kind = IO_ACCEPT, .fd = lfd, .addr = addr, .alen = len, .flags = SOCK_CLOEXEC};
    int fd = (int)io_one(&op);
    if (fd >= 0) {
        /* Go sets TCP_NODELAY on every TCP connection; on a socket that is
         * not TCP (a Unix one) the call fails and changes nothing. */
        int saved = errno, one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        errno = saved;
    }
    return fd;
}

int gort_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    rt_ioop op = {.kind = IO_CONNECT, .write = true, .fd = fd, .caddr = addr, .clen = len};
    return (int)io_one(&op);
}

ssize_t gort_recv(int fd, void *buf, size_t n, int flags)
{
    rt_ioop op = {.kind = IO_RECV, .fd = fd, .buf = buf, .n = n, .flags = flags};
    return (ssize_t)io_one(&op);
}

ssize_t gort_send(int fd, const void *buf, size_t n, int flags)
{
    rt_ioop op = {.kind = IO_SEND, .write = true, .fd = fd, .buf = (void *)buf, .n = n,
                  .flags = flags | MSG_NOSIGNAL};
    if (n == 0)
        return (ssize_t)io_one(&op);
    return write_all(&op);
}

ssize_t gort_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *len)
{
    struct iovec v = {.iov_base = buf, .iov_len = n};
    struct msghdr m = {.msg_name = addr, .msg_namelen = (addr != NULL && len != NULL) ? *len : 0,
                       .msg_iov = &v, .msg_iovlen = 1};
    if (m.msg_namelen == 0)
        m.msg_name = NULL;
    rt_ioop op = {.kind = IO_RECVMSG, .fd = fd, .msg = &m, .flags = flags};
    int64_t r = io_one(&op);
    if (r >= 0 && len != NULL)
        *len = addr != NULL ? m.msg_namelen : 0;
    return (ssize_t)r;
}

static ssize_t sendto_steps(io_call *c, int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
                            socklen_t len)
{
    size_t done = 0;
    do {
        struct iovec v = {.iov_base = (char *)buf + done, .iov_len = n - done};
        struct msghdr m = {.msg_name = (void *)addr, .msg_namelen = addr != NULL ? len : 0, .msg_iov = &v,
                           .msg_iovlen = 1};
        rt_ioop op = {.kind = IO_SENDMSG, .write = true, .fd = fd, .msg = &m, .flags = flags | MSG_NOSIGNAL};
        int64_t r = io_do(c, &op);
        if (r < 0 || (r == 0 && n > 0)) {
            if (done > 0)
                return (ssize_t)done;
            return r == 0 ? -EIO : (ssize_t)r;
        }
        done += (size_t)r; /* a datagram goes whole or not at all */
    } while (done < n);
    return (ssize_t)done;
}

ssize_t gort_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr, socklen_t len)
{
    return IO_CALL(fd, sendto_steps, fd, buf, n, flags, addr, len);
}

/* gort_poll_fd's timeout: end the op if it is still parked. */
static void pollto_fire(void *arg, uintptr_t seq)
{
    (void)seq;
    rt_ioop *op = arg;
    rt_pollDesc *pd = pd_get(op->fd);
    rt_g *gp = NULL;
    rt_pd_lock(pd);
    for (rt_ioop *o = pd->ops; o != NULL; o = o->next) {
        if (o == op && op->why == IO_WHY_NONE) {
            op->why = IO_WHY_TIMEOUT;
            gp = np->cancel(pd, op);
            break;
        }
    }
    rt_pd_unlock(pd);
    if (gp != NULL)
        rt_ready(gp, false);
}

int gort_poll_fd(int fd, short events, int64_t timeout_ns)
{
    if (fd < 0)
        return -EBADF;
    if (!in_goroutine()) {
        int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
        if (timeout_ns > (int64_t)INT32_MAX * 1000000)
            ms = -1;
        rt_ioop op = {.kind = IO_POLL, .fd = fd, .flags = events, .off = ms};
        return (int)rt_io_syscall(&op); /* plain, as io_do */
    }
    if (timeout_ns == 0) {
        /* at once, on this thread, holding a reference */
        io_call c;
        int64_t r = io_begin(&c, fd);
        if (r < 0)
            return (int)r;
        rt_ioop op = {.kind = IO_POLL, .fd = fd, .flags = events, .off = 0};
        r = rt_io_syscall(&op);
        io_end(&c);
        return (int)r;
    }
    rt_ioop op = {.kind = IO_POLL, .fd = fd, .flags = events | POLLERR | POLLHUP};
    rt_timer t;
    memset(&t, 0, sizeof t);
    if (timeout_ns > 0) {
        netpoll();
        t.when = rt_when_after(rt_nanotime(), timeout_ns);
        t.f = pollto_fire;
        t.arg = &op;
        rt_addtimer(&t);
    }
    int64_t r = io_one(&op);
    if (timeout_ns > 0)
        rt_deltimer_sync(&t);
    if (r == -ETIMEDOUT)
        return 0;
    if (r > 0)
        r &= (events | POLLERR | POLLHUP | POLLNVAL);
    return (int)r;
}

/* ---- conveniences: listen and dial ---------------------------------------------- */

static int resolve(const char *host, int port, bool passive, struct addrinfo **res)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = (passive ? AI_PASSIVE : 0) | AI_NUMERICSERV | AI_ADDRCONFIG;
    bool g = in_goroutine();
    if (g)
        rt_entersyscall();
    int saved = errno;
    int rc = getaddrinfo(host, ps, &hints, res);
    if (rc != 0 && rc != EAI_MEMORY && host != NULL && strcasecmp(host, "localhost") == 0) {
        /* "localhost" is the loopback address whatever the resolver says
         * (RFC 6761): a minimal system may have no /etc/hosts, and then
         * the name goes to DNS and fails. */
        hints.ai_flags &= ~AI_ADDRCONFIG;
        rc = getaddrinfo("127.0.0.1", ps, &hints, res);
    }
    int e = errno;
    errno = saved;
    if (g)
        rt_exitsyscall();
    if (rc == 0)
        return 0;
    if (rc == EAI_SYSTEM)
        return e != 0 ? -e : -EIO;
    if (rc == EAI_MEMORY)
        return -ENOMEM;
    if (rc == EAI_AGAIN)
        return -EAGAIN;
    return -EINVAL;
}

static int listen_on(int family, const struct sockaddr *sa, socklen_t len, int backlog, bool v6only_off)
{
    int saved = errno;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int r = 0;
    if (fd < 0) {
        r = -errno;
        errno = saved;
        return r;
    }
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (v6only_off)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, sa, len) < 0 || listen(fd, backlog) < 0) {
        r = -errno;
        close(fd);
        errno = saved;
        return r;
    }
    errno = saved;
    return fd;
}

int gort_listen_tcp(const char *host, int port, int backlog)
{
    if (port < 0 || port > 65535)
        return -EINVAL;
    if (backlog <= 0)
        backlog = SOMAXCONN;
    if (host == NULL || host[0] == 0) {
        /* All addresses: one dual-stack socket, as Go's net.Listen(":p"). */
        struct sockaddr_in6 s6;
        memset(&s6, 0, sizeof s6);
        s6.sin6_family = AF_INET6;
        s6.sin6_addr = in6addr_any;
        s6.sin6_port = htons((uint16_t)port);
        int fd = listen_on(AF_INET6, (struct sockaddr *)&s6, sizeof s6, backlog, true);
        if (fd >= 0 || (fd != -EAFNOSUPPORT && fd != -EADDRNOTAVAIL))
            return fd;
        struct sockaddr_in s4;
        memset(&s4, 0, sizeof s4);
        s4.sin_family = AF_INET;
        s4.sin_addr.s_addr = htonl(INADDR_ANY);
        s4.sin_port = htons((uint16_t)port);
        return listen_on(AF_INET, (struct sockaddr *)&s4, sizeof s4, backlog, false);
    }
    struct addrinfo *res;
    int r = resolve(host, port, true, &res);
    if (r < 0)
        return r;
    r = -EADDRNOTAVAIL;
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        r = listen_on(a->ai_family, a->ai_addr, a->ai_addrlen, backlog, false);
        if (r >= 0)
            break;
    }
    freeaddrinfo(res);
    return r;
}

int gort_dial_tcp(const char *host, int port, int64_t timeout_ns)
{
    if (port <= 0 || port > 65535)
        return -EINVAL;
    struct addrinfo *res;
    int r = resolve(host != NULL && host[0] != 0 ? host : "localhost", port, false, &res);
    if (r < 0)
        return r;
    r = -ECONNREFUSED;
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        int saved = errno;
        int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            r = -errno;
            errno = saved;
            continue;
        }
        errno = saved;
        if (timeout_ns > 0)
            gort_set_deadline(fd, GORT_DEADLINE_KEEP, rt_when_after(rt_nanotime(), timeout_ns));
        r = gort_connect(fd, a->ai_addr, a->ai_addrlen);
        if (r == 0) {
            if (timeout_ns > 0)
                gort_set_deadline(fd, GORT_DEADLINE_KEEP, 0);
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            r = fd;
            break;
        }
        gort_close(fd);
    }
    freeaddrinfo(res);
    return r;
}
