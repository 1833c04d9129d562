/* gort/io.h - blocking I/O that parks only the goroutine (Go's netpoller:
 * net.Conn, os.File, internal/poll), and signals delivered to channels
 * (os/signal.Notify).
 *
 * Every call returns a count or a file descriptor, or a negative errno value
 * (-EAGAIN never: the goroutine parks instead). errno itself is left as it
 * was. Inside a goroutine a call that must wait parks the goroutine, not its
 * thread; called from a thread that is not a goroutine (a foreign thread, or
 * before the runtime runs) each call is the plain system call, with the
 * result converted to the same convention.
 *
 * The poller is io_uring; when io_uring is unavailable (an old kernel,
 * seccomp, kernel.io_uring_disabled) or GORTDEBUG=netpoll=epoll is set, it
 * is epoll. Both give the same results. The epoll poller sets O_NONBLOCK on
 * socket, pipe and terminal fds the first time they are used here (and
 * leaves it set); io_uring leaves the fd's flags alone. Regular files and
 * block devices never wait in epoll: there each call runs inside the
 * syscall bracket (gort_entersyscall), so the P is handed off if it blocks.
 *
 * Descriptors are plain ints: any fd works, blocking or not, made by gort or
 * not. Close fds used here with gort_close: it wakes goroutines parked on
 * the fd and forgets its deadlines. (An fd closed with close(2) while a
 * goroutine waits on it leaves that goroutine waiting, as in C.) Unlike a
 * Go net.Conn, an int carries no reference count: once gort_close returns,
 * the number may name a new file at once, so a goroutine that calls in
 * after another closed the fd may reach that new file. To stop a
 * connection that other goroutines still use, wake them with
 * shutdown(2) or an expired deadline (GORT_DEADLINE_PAST), and let the
 * last user close it.
 *
 * Writes to a peer that has gone return -EPIPE or -ECONNRESET and never
 * raise SIGPIPE on sockets (MSG_NOSIGNAL). On a pipe, as in Go, a write to
 * fd 1 or 2 whose reader has gone ends the process with SIGPIPE; on any
 * other fd it returns -EPIPE. */
#ifndef GORT_IO_H
#define GORT_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <gort/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- reads and writes ----------------------------------------------------- */

/* One read: up to n bytes, as read(2) gives them (a short count is not an
 * error); 0 at end of file. */
GORT_API ssize_t gort_read(int fd, void *buf, size_t n);
GORT_API ssize_t gort_pread(int fd, void *buf, size_t n, off_t off);
GORT_API ssize_t gort_readv(int fd, const struct iovec *iov, int iovcnt);

/* Writes the whole buffer, as Go's Write: a short write is retried from
 * where it stopped. Returns n; or, if an error (or a deadline) stops it
 * part-way, the bytes written so far (the next call reports the error);
 * or -errno if nothing was written. */
GORT_API ssize_t gort_write(int fd, const void *buf, size_t n);
GORT_API ssize_t gort_pwrite(int fd, const void *buf, size_t n, off_t off);
GORT_API ssize_t gort_writev(int fd, const struct iovec *iov, int iovcnt);

/* ---- sockets --------------------------------------------------------------- */

/* Accept one connection: the new fd (close-on-exec; TCP_NODELAY set on a
 * TCP connection, as Go does), or -errno. addr and len may be NULL. */
GORT_API int gort_accept(int lfd, struct sockaddr *addr, socklen_t *len);
/* Connect; parks until the connection is made or fails. 0 or -errno
 * (-ECONNREFUSED, -ETIMEDOUT at the write deadline, ...). */
GORT_API int gort_connect(int fd, const struct sockaddr *addr, socklen_t len);
/* recv: one read, as gort_read, with recv(2)'s flags. */
GORT_API ssize_t gort_recv(int fd, void *buf, size_t n, int flags);
/* send: the whole buffer, as gort_write; MSG_NOSIGNAL is always added. */
GORT_API ssize_t gort_send(int fd, const void *buf, size_t n, int flags);
GORT_API ssize_t gort_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *len);
/* sendto: one datagram (or, on a stream socket, the whole buffer). */
GORT_API ssize_t gort_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
                             socklen_t len);

/* ---- readiness, deadlines, close ------------------------------------------- */

/* Wait until fd is ready for events (POLLIN, POLLOUT, ... as poll(2)), or
 * timeout_ns passes (< 0: no timeout; 0: do not wait). Returns the ready
 * events (> 0), 0 on timeout, or -errno. */
GORT_API int gort_poll_fd(int fd, short events, int64_t timeout_ns);

/* Go's SetReadDeadline / SetWriteDeadline, in one call. Each deadline is an
 * absolute gort_nanotime() value: 0 clears it, a negative value
 * (GORT_DEADLINE_KEEP) leaves it unchanged. A read (write) that is parked
 * when its deadline passes, or that starts after it, returns -ETIMEDOUT.
 * A deadline in the past makes pending and later calls time out at once;
 * setting a new one makes calls wait again. Accept counts as a read,
 * connect as a write. Returns 0, or -EBADF for a negative fd. */
#define GORT_DEADLINE_KEEP ((int64_t)-1)
/* A deadline that has passed (Go's aLongTimeAgo): calls time out at once. */
#define GORT_DEADLINE_PAST ((int64_t)1)
GORT_API int gort_set_deadline(int fd, int64_t read_ns, int64_t write_ns);

/* Close fd. Goroutines parked on it wake with -EBADF (as Go's "use of
 * closed network connection"); a call that begins while gort_close runs,
 * or one already running that reaches its next system call (the rest of
 * a long write), returns -EBADF or the count written so far. The close
 * itself happens once no goroutine's call on fd is still running, parked
 * or in a system call, so the fd number is never reused under a pending
 * operation: no call that began before gort_close acts on a file that
 * gets the number afterwards. (Calls from a thread that is not a
 * goroutine are plain system calls and are not waited for.) Returns 0 or
 * -errno of close(2). */
GORT_API int gort_close(int fd);

/* ---- conveniences ---------------------------------------------------------- */

/* A listening TCP socket on host:port (host NULL or "" = all addresses;
 * a name or a numeric IPv4/IPv6 address; "localhost" is the loopback
 * address even where the resolver does not know it, as RFC 6761 says;
 * port 0 = any), with SO_REUSEADDR,
 * close-on-exec. backlog <= 0 means SOMAXCONN. The fd, or -errno
 * (-EINVAL for an unknown host). */
GORT_API int gort_listen_tcp(const char *host, int port, int backlog);
/* A connected TCP socket (TCP_NODELAY set, as Go's net.Dial), trying each
 * address of host in turn, each attempt bounded by timeout_ns (<= 0: no
 * bound). The fd, or -errno (-ETIMEDOUT, -ECONNREFUSED, -EINVAL for an
 * unknown host). Name resolution (getaddrinfo) runs inside the syscall
 * bracket. */
GORT_API int gort_dial_tcp(const char *host, int port, int64_t timeout_ns);

/* ---- signals (os/signal) --------------------------------------------------- */

/* Go's signal.Notify: deliver each arrival of sig to c, a channel of int
 * (gort_chan_make(sizeof(int), cap)), without blocking: if c is full the
 * signal is dropped for that channel, as in Go (give it a buffer). The
 * signal no longer has its default action (SIGINT no longer ends the
 * process). Several channels may watch one signal. Returns 0, or -EINVAL
 * for a signal gort cannot deliver (SIGKILL, SIGSTOP, the synchronous
 * faults, SIGURG and SIGPROF used by the runtime). */
struct gort_chan;
GORT_API int gort_signal_notify(struct gort_chan *c, int sig);
/* Go's signal.Stop: c receives no more signals. */
GORT_API void gort_signal_stop(struct gort_chan *c);

#ifdef __cplusplus
}
#endif

#endif /* GORT_IO_H */
