/* src/netpoll/netpoll.h - the network poller's internal interface (Go:
 * netpoll.go's netpollinit / netpoll / netpollBreak, internal/poll's
 * pollDesc). The design essay is at the top of netpoll.c.
 *
 * Two parts:
 *   - what the scheduler calls (rt_netpoll*), below;
 *   - what netpoll.c shares with its two backends (netpoll_uring.c,
 *     netpoll_epoll.c): the per-fd pollDesc, the in-flight op, the backend
 *     table. */
#ifndef GORT_NETPOLL_H
#define GORT_NETPOLL_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "../sched/sched.h"

/* ---- for the scheduler (proc.c, sysmon.c) --------------------------------- */

/* Goroutines parked on I/O, plus submissions not yet handed to the kernel:
 * while it is 0 the scheduler never calls the poller (one load). */
extern uint32_t rt_netpoll_waiters;
static inline bool rt_netpoll_active(void) { return rt_load_relaxed(&rt_netpoll_waiters) != 0; }
/* Of those, the runtime's own (the signal deliverer): a user goroutine
 * waits on I/O when rt_netpoll_userwaiting. */
extern uint32_t rt_netpoll_syswaiters;
static inline bool rt_netpoll_userwaiting(void)
{
    return rt_load_relaxed(&rt_netpoll_waiters) > rt_load_relaxed(&rt_netpoll_syswaiters);
}

/* Poll: hand queued submissions to the kernel, then collect the goroutines
 * whose I/O finished, linked through schedlink, still _Gwaiting (the caller
 * readies them, rt_injectglist). delay < 0 blocks until something
 * completes or rt_netpollbreak; 0 never blocks; > 0 blocks at most that
 * many ns. Only one M blocks at a time (the caller makes sure: the timer
 * watcher, sched.timerm); while one does, non-blocking polls only submit. */
int32_t rt_netpoll(int64_t delay, rt_g **list);
/* Wake the M blocked in rt_netpoll (an earlier timer was added). */
void rt_netpollbreak(void);
/* proc.c: whether this M is still the timer watcher (an earlier timer
 * clears sched.timerm before it breaks the poller), checked by a poller
 * after it announced that it blocks. */
bool rt_netpoll_stillwatcher(void);
/* When the last poll ran (sysmon polls if that was over 10 ms ago). */
int64_t rt_netpoll_lastpoll(void);

/* ---- shared by netpoll.c and its backends ------------------------------------ */

/* What an operation is. */
enum {
    IO_READ, IO_WRITE, IO_PREAD, IO_PWRITE, IO_READV, IO_WRITEV,
    IO_RECV, IO_SEND, IO_RECVMSG, IO_SENDMSG, IO_ACCEPT, IO_CONNECT, IO_POLL,
};

/* Why a parked operation was ended early. */
enum { IO_WHY_NONE = 0, IO_WHY_TIMEOUT = 1, IO_WHY_CLOSED = 2 };

struct rt_pollDesc;

/* One operation of one goroutine, on its stack while it is parked. */
typedef struct rt_ioop {
    /* the call */
    uint8_t kind;
    bool write;                  /* write direction: write deadline, POLLOUT */
    int fd;
    void *buf;
    size_t n;
    off_t off;
    int flags;                   /* recv/send flags; poll events */
    const struct iovec *iov;
    int iovcnt;
    struct msghdr *msg;
    struct sockaddr *addr;       /* accept */
    socklen_t *alen;
    const struct sockaddr *caddr; /* connect */
    socklen_t clen;

    /* the wait */
    rt_g *g;
    struct rt_pollDesc *pd;
    uint8_t ftype;               /* PD_*, for the kinds that care (writes, pread) */
    struct msghdr mh;            /* io_uring: a writev to a socket, as sendmsg */
    struct rt_ioop *next, *prev; /* pd->ops, under pd->lock */
    uint32_t refs;               /* io_uring: completions still to come (atomic) */
    uint8_t why;                 /* IO_WHY_*, under pd->lock */
    int64_t res;                 /* the result, -errno */
} rt_ioop;

/* What an fd is (fstat once per fd, cached in its pollDesc until
 * gort_close; re-checked when a call says the cache went stale). */
enum { PD_UNKNOWN = 0, PD_FILE = 1, PD_SOCK = 2, PD_FIFO = 3, PD_OTHER = 4 };

/* Per-fd state (Go: pollDesc), made on first use and never freed: the
 * table slot belongs to the fd number. Guarded by lock unless noted.
 *
 * refs (Go: fdMutex, reduced to what an int fd needs): PD_CLOSING | n,
 * where n counts the goroutines inside a gort call on the fd, from
 * before its first system call on it (fstat included) to after its last;
 * atomic, changed without the lock except as said. The bit is set and
 * cleared only by gort_close, under the lock. So:
 *   - a call that adds 1 and sees the bit backs out (-EBADF);
 *   - PD_CLOSING set and n == 0: no call can touch the fd until the bit
 *     is cleared, which gort_close does after close(2);
 *   - every op in ops holds a reference: n >= |ops|. */
#define PD_CLOSING 0x80000000u
typedef struct rt_pollDesc {
    rt_lock lock;
    uint32_t refs;               /* PD_CLOSING | calls inside (see above) */
    rt_ioop *ops;                /* ops parked (in the kernel, for io_uring) */
    rt_g *closer;                /* gort_close parked until refs drain to PD_CLOSING */
    int64_t rd, wd;              /* deadlines (gort_nanotime), 0 none */
    rt_timer rt, wt;             /* fire at rd / wd */
    uint32_t dlmu;               /* serialises deadline timer updates (spin flag) */
    uint8_t ftype;               /* PD_*, atomic (set racily, to the same value) */
    /* epoll backend */
    uint8_t ep;                  /* 0 not yet, 1 registered, 2 cannot poll (regular file) */
    uint32_t rseq, wseq;         /* readiness seen (edge-triggered events), under lock */
} rt_pollDesc;

/* The backend table (netpoll_uring.c, netpoll_epoll.c). */
typedef struct rt_netpoll_ops {
    const char *name;
    int (*init)(void);                              /* 0 or -errno */
    /* Optional: try op at once, without the pollDesc lock and without
     * blocking (the caller holds a reference, pd->refs); -EAGAIN if it
     * must wait. */
    int64_t (*try_)(rt_pollDesc *pd, rt_ioop *op);
    /* Run op for the current goroutine, parking it; pd->lock is held on
     * entry and released by the backend. Returns the result. */
    int64_t (*wait)(rt_pollDesc *pd, rt_ioop *op);
    /* End op early (why set by the caller, pd->lock held); returns the
     * goroutine to ready once pd->lock is released, or NULL. */
    rt_g *(*cancel)(rt_pollDesc *pd, rt_ioop *op);
    int32_t (*poll)(int64_t delay, rt_g **list);
    void (*brk)(void);
    void (*closing)(rt_pollDesc *pd, int fd);       /* fd about to be closed, no op parked */
} rt_netpoll_ops;

extern const rt_netpoll_ops rt_netpoll_uring;
extern const rt_netpoll_ops rt_netpoll_epoll;

/* The plain system call for op (a thread that is not a goroutine, or a
 * descriptor that cannot be polled): -errno on error. */
int64_t rt_io_syscall(rt_ioop *op);
/* A pollDesc's lock (zero-initialised memory: taken with its rank), and
 * the rt_park unlock function that releases it once the G is parked. */
static inline void rt_pd_lock(rt_pollDesc *pd) { rt_lock_acquire_rank(&pd->lock, RT_RANK_POLLDESC); }
static inline void rt_pd_unlock(rt_pollDesc *pd) { rt_lock_release(&pd->lock); }
bool rt_pd_unlockf(rt_g *gp, void *pd);

/* The fd's type, from the cache or fstat (pd may be NULL: no cache).
 * Pass pd only holding a reference (pd->refs): a store from a call that
 * gort_close does not wait for could land after close(2) and describe the
 * next file to get the number. */
uint8_t rt_fdtype(rt_pollDesc *pd, int fd, bool fresh);
/* Called by a backend when op completed (pd->lock held): unlink it. */
void rt_io_unlink(rt_pollDesc *pd, rt_ioop *op);

/* The kernel passes an op from the thread that submits it to the one that
 * reaps its completion: ThreadSanitizer cannot see that edge, so it is
 * told (release before the SQE is visible, acquire on the CQE). */
#if defined(GORT_TSAN)
#include <sanitizer/tsan_interface.h>
#define RT_IO_RELEASE(p) __tsan_release(p)
#define RT_IO_ACQUIRE(p) __tsan_acquire(p)
#else
#define RT_IO_RELEASE(p) ((void)(p))
#define RT_IO_ACQUIRE(p) ((void)(p))
#endif

/* Set while this thread is inside a gort I/O system call: a SIGPIPE then
 * is the call's EPIPE, not the end of the process (Go ignores SIGPIPE but
 * for writes to fds 1 and 2). */
extern __thread int rt_io_insyscall;

#endif /* GORT_NETPOLL_H */
