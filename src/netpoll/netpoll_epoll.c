/* netpoll_epoll.c - the epoll poller, the fallback (Go: netpoll_epoll.go;
 * design essay in netpoll.c). Used when io_uring is unavailable, or with
 * GORTDEBUG=netpoll=epoll.
 *
 * Readiness-based, as Go's: a descriptor is registered once, edge-triggered
 * for both directions, and set O_NONBLOCK (and left so); a descriptor
 * epoll refuses (a regular file, /dev/null) is marked once and its calls
 * run inside the syscall bracket instead. A call is tried at once; on
 * EAGAIN the goroutine parks (op->refs = 1 while parked) until an event
 * for its direction readies it, then tries again.
 *
 * Lost wake-ups: an edge-triggered event comes once. pd->rseq / wseq count
 * the events seen (under pd->lock); the call reads its direction's count
 * before trying, and parks only if it has not changed, under the lock the
 * poller takes to wake it.
 *
 * Breaking a blocked poller: an eventfd in the set (data.ptr NULL); the
 * blocked flag and the re-break mirror netpoll_uring.c. */
#include "netpoll.h"
#include "../debug/debug.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static int epfd = -1, evfd = -1;
static uint32_t blocked, wakesig;
static bool nopwait2;

static int ep_init(void)
{
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return -errno;
    evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (evfd < 0)
        return -errno;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev) < 0)
        return -errno;
    return 0;
}


/* Register pd's fd (pd->lock held): 0, or -errno. */
static int regist(rt_pollDesc *pd, int fd)
{
    int saved = errno;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = pd};
    int r = 0;
    RT_IO_RELEASE(pd); /* the kernel hands pd to the poller's thread */
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0 && !(fl & O_NONBLOCK))
            fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        pd->ep = 1;
    } else if (errno == EPERM) {
        pd->ep = 2; /* cannot be polled: blocking calls in the bracket */
    } else if (errno == EEXIST) {
        /* A dup of a registered description, or a number reused after a
         * close(2) gort did not see: take the registration over. */
        epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
        pd->ep = 1;
    } else {
        r = -errno;
    }
    errno = saved;
    return r;
}

static inline uint32_t dirseq(rt_pollDesc *pd, rt_ioop *op)
{
    if (op->kind == IO_POLL)
        return pd->rseq + pd->wseq;
    return op->write ? pd->wseq : pd->rseq;
}

/* After a non-blocking connect: 0 connected, -EAGAIN still going, or the
 * error (Go: connect's SO_ERROR loop). */
static int64_t connect_result(int fd)
{
    int saved = errno, err = 0;
    socklen_t l = sizeof err;
    int64_t r;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
        r = -errno;
    else if (err == EINPROGRESS || err == EALREADY || err == EINTR)
        r = -EAGAIN;
    else if (err != 0)
        r = -err;
    else {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        r = getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 ? 0 : -EAGAIN; /* a spurious wake-up */
    }
    errno = saved;
    return r;
}

static int64_t ep_wait(rt_pollDesc *pd, rt_ioop *op)
{
    if (pd->ep == 0) {
        int r = regist(pd, op->fd);
        if (r < 0) {
            rt_pd_unlock(pd);
            return r;
        }
    }
    if (pd->ep == 2) {
        rt_pd_unlock(pd);
        rt_entersyscall();
        int64_t r = rt_io_syscall(op);
        rt_exitsyscall();
        return r;
    }
    if (op->kind == IO_ACCEPT)
        op->flags |= SOCK_NONBLOCK;
    if (op->kind == IO_RECV || op->kind == IO_SEND || op->kind == IO_RECVMSG || op->kind == IO_SENDMSG)
        op->flags |= MSG_DONTWAIT;
    bool connecting = false;
    for (;;) {
        uint32_t seq = dirseq(pd, op);
        rt_pd_unlock(pd);
        int64_t r;
        if (connecting) {
            r = connect_result(op->fd);
        } else if (op->kind == IO_POLL) {
            op->off = 0; /* poll(2) timeout: do not wait */
            r = rt_io_syscall(op);
            if (r == 0)
                r = -EAGAIN;
        } else {
            r = rt_io_syscall(op);
            if (op->kind == IO_CONNECT && r == -EINPROGRESS) {
                connecting = true;
                r = -EAGAIN;
            }
        }
        if (r != -EAGAIN && r != -EWOULDBLOCK)
            return r;
        rt_pd_lock(pd);
        if (op->why != IO_WHY_NONE) {
            rt_pd_unlock(pd);
            return -ECANCELED;
        }
        if (seq != dirseq(pd, op))
            continue; /* an event came meanwhile: try again */
        rt_store_relaxed(&op->refs, 1);
        rt_park(rt_pd_unlockf, pd, WR_IO_WAIT);
        rt_pd_lock(pd);
        if (op->why != IO_WHY_NONE) {
            rt_pd_unlock(pd);
            if (connecting && op->why == IO_WHY_TIMEOUT)
                return -ETIMEDOUT;
            return -ECANCELED;
        }
    }
}

static rt_g *ep_cancel(rt_pollDesc *pd, rt_ioop *op)
{
    (void)pd;
    if (rt_load_relaxed(&op->refs) != 1)
        return NULL; /* not parked: it sees op->why before it parks */
    rt_store_relaxed(&op->refs, 0);
    return op->g;
}

static void ep_brk(void)
{
    if (rt_cas(&wakesig, 0, 1)) {
        int saved = errno;
        uint64_t one = 1;
        if (write(evfd, &one, sizeof one) < 0) {
            /* full (2^64 - 1 wake-ups pending): the poller wakes anyway */
        }
        errno = saved;
    }
}

#define EP_BATCH 128

static int32_t ep_poll(int64_t delay, rt_g **list)
{
    bool poller = delay != 0;
    if (!poller && rt_load(&blocked))
        return 0; /* the blocked poller takes the events */
    if (poller) {
        rt_store(&blocked, 1);
        if (!rt_netpoll_stillwatcher())
            delay = 0;
    }
    struct epoll_event evs[EP_BATCH];
    int saved = errno, n;
    if (delay > 0 && !nopwait2) {
        struct timespec ts = {.tv_sec = delay / 1000000000, .tv_nsec = delay % 1000000000};
        n = epoll_pwait2(epfd, evs, EP_BATCH, &ts, NULL);
        if (n < 0 && errno == ENOSYS) {
            nopwait2 = true;
            n = epoll_wait(epfd, evs, EP_BATCH, (int)((delay + 999999) / 1000000));
        }
    } else if (delay > 0) {
        int64_t ms = (delay + 999999) / 1000000;
        n = epoll_wait(epfd, evs, EP_BATCH, ms > 0x7fffffff ? -1 : (int)ms);
    } else {
        n = epoll_wait(epfd, evs, EP_BATCH, delay < 0 ? -1 : 0);
    }
    errno = saved;
    int32_t got = 0;
    bool rebreak = false;
    rt_g **tailp = list;
    for (int i = 0; i < n; i++) {
        rt_pollDesc *pd = evs[i].data.ptr;
        if (pd == NULL) {
            uint64_t v;
            if (read(evfd, &v, sizeof v) < 0) {
                /* already drained by another poller */
            }
            errno = saved;
            rt_store(&wakesig, 0);
            if (!poller && rt_load(&blocked))
                rebreak = true;
            continue;
        }
        RT_IO_ACQUIRE(pd);
        uint32_t e = evs[i].events;
        bool rd = e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
        bool wr = e & (EPOLLOUT | EPOLLHUP | EPOLLERR);
        rt_pd_lock(pd);
        if (rd)
            pd->rseq++;
        if (wr)
            pd->wseq++;
        for (rt_ioop *op = pd->ops; op != NULL; op = op->next) {
            if (rt_load_relaxed(&op->refs) != 1)
                continue;
            bool want = op->kind == IO_POLL ? (rd || wr) : (op->write ? wr : rd);
            if (!want)
                continue;
            rt_store_relaxed(&op->refs, 0);
            op->g->schedlink = NULL; /* in event order: first ready, first run */
            *tailp = op->g;
            tailp = &op->g->schedlink;
            got++;
        }
        rt_pd_unlock(pd);
    }
    if (poller)
        rt_store(&blocked, 0);
    if (rebreak)
        ep_brk();
    return got;
}

static void ep_closing(rt_pollDesc *pd, int fd)
{
    if (pd->ep == 1) {
        int saved = errno;
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
        errno = saved;
    }
    pd->ep = 0;
}

const rt_netpoll_ops rt_netpoll_epoll = {
    .name = "epoll",
    .init = ep_init,
    .try_ = NULL,
    .wait = ep_wait,
    .cancel = ep_cancel,
    .poll = ep_poll,
    .brk = ep_brk,
    .closing = ep_closing,
};
