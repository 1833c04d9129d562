/* signal.c - signals delivered to channels (Go: os/signal's Notify and
 * Stop, runtime/sigqueue.go).
 *
 * The handler does the one async-signal-safe thing: it writes the signal
 * number, one byte, to a non-blocking pipe. A runtime goroutine (sysg: not
 * counted, not in the deadlock check) reads the pipe with gort_read, so it
 * parks in the poller like any I/O, and sends each signal to every channel
 * registered for it with a non-blocking send (a full channel drops it, as
 * Go's does). Go uses a note instead of a pipe; the pipe lets the poller
 * do the waiting.
 *
 * The registry (regs) is guarded by a gort mutex that the deliverer holds
 * while it sends: gort_signal_stop takes it too, so when Stop returns no
 * send to that channel is in progress or to come, and the caller may free
 * the channel. A signal with no channel left gets its old action back.
 *
 * While the deliverer waits in the poller, goroutines waiting on I/O keep
 * the deadlock detector quiet (netpoll.c): a program that asked for
 * signals can be woken by one, as a Go program can. */
#include "netpoll.h"
#include "../debug/debug.h"

#include <gort.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define MAXREGS 64

static struct {
    gort_chan_t *c;
    uint64_t mask; /* bit sig-1 */
} regs[MAXREGS];
static gort_mutex_t regmu;
static int sigpipe_fds[2] = {-1, -1};
static uint32_t started;
static uint64_t handled; /* signals whose handler is ours */
static struct sigaction oldact[65];

static void sighandler(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (write(sigpipe_fds[1], &b, 1) < 0) {
        /* the pipe is full: the deliverer is far behind; drop it, as a
         * full channel would */
    }
    errno = saved;
}

static void deliverer(void *arg)
{
    (void)arg;
    unsigned char buf[64];
    for (;;) {
        ssize_t n = gort_read(sigpipe_fds[0], buf, sizeof buf);
        if (n <= 0) {
            if (n == -EINTR || n == -EAGAIN)
                continue;
            rt_throwf("signal deliverer: read: %s", strerror((int)-n));
        }
        gort_mutex_lock(&regmu);
        for (ssize_t i = 0; i < n; i++) {
            int sig = buf[i];
            for (int k = 0; k < MAXREGS; k++)
                if (regs[k].c != NULL && (regs[k].mask & (1ull << (sig - 1))))
                    gort_chan_trysend(regs[k].c, &sig);
        }
        gort_mutex_unlock(&regmu);
    }
}

static bool notifiable(int sig)
{
    if (sig <= 0 || sig > 64)
        return false;
    switch (sig) {
    case SIGKILL: case SIGSTOP: /* cannot be caught */
    case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGTRAP: /* faults: the fatal report */
    case SIGURG: /* async preemption */
    case SIGPROF: /* the CPU profiler */
        return false;
    default:
        return true;
    }
}

int gort_signal_notify(gort_chan_t *c, int sig)
{
    if (c == NULL || !notifiable(sig))
        return -EINVAL;
    if (!rt_load(&rt_started))
        return -EINVAL; /* needs the runtime (its deliverer is a goroutine) */
    gort_mutex_lock(&regmu);
    if (!rt_load(&started)) {
        if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) < 0) {
            int e = errno;
            gort_mutex_unlock(&regmu);
            return -e;
        }
        rt_store(&started, 1);
        rt_newproc(deliverer, NULL, (uintptr_t)__builtin_return_address(0), -1, true);
    }
    int slot = -1, free_ = -1;
    for (int k = 0; k < MAXREGS; k++) {
        if (regs[k].c == c)
            slot = k;
        else if (regs[k].c == NULL && free_ < 0)
            free_ = k;
    }
    if (slot < 0) {
        if (free_ < 0) {
            gort_mutex_unlock(&regmu);
            return -ENOMEM; /* MAXREGS channels watch signals already */
        }
        slot = free_;
        regs[slot].c = c;
        regs[slot].mask = 0;
    }
    regs[slot].mask |= 1ull << (sig - 1);
    if (!(handled & (1ull << (sig - 1)))) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = sighandler;
        sa.sa_flags = SA_RESTART | SA_ONSTACK;
        sigfillset(&sa.sa_mask);
        if (sigaction(sig, &sa, &oldact[sig]) < 0) {
            int e = errno;
            regs[slot].mask &= ~(1ull << (sig - 1));
            if (regs[slot].mask == 0)
                regs[slot].c = NULL;
            gort_mutex_unlock(&regmu);
            return -e;
        }
        handled |= 1ull << (sig - 1);
    }
    gort_mutex_unlock(&regmu);
    return 0;
}

void gort_signal_stop(gort_chan_t *c)
{
    if (c == NULL || !rt_load(&started))
        return;
    gort_mutex_lock(&regmu);
    for (int k = 0; k < MAXREGS; k++) {
        if (regs[k].c == c) {
            regs[k].c = NULL;
            regs[k].mask = 0;
        }
    }
    /* A signal nobody watches any more gets its old action back. */
    uint64_t still = 0;
    for (int k = 0; k < MAXREGS; k++)
        still |= regs[k].mask;
    for (int sig = 1; sig <= 64; sig++) {
        uint64_t bit = 1ull << (sig - 1);
        if ((handled & bit) && !(still & bit)) {
            sigaction(sig, &oldact[sig], NULL);
            handled &= ~bit;
        }
    }
    gort_mutex_unlock(&regmu);
}
