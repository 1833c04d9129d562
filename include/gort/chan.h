/* gort/chan.h - channels, select and timer channels, with Go's semantics.
 *
 * A channel carries fixed-size elements (elem_size bytes, 0 allowed),
 * buffered (cap > 0) or unbuffered (cap == 0). Elements are copied in and
 * out by value. A NULL channel is Go's nil channel: sends and receives on it
 * block forever, it is never ready in a select, closing it panics.
 *
 * Misuse ends the process as Go does (exit status 2):
 *   panic: send on closed channel      (also from a select's send case)
 *   panic: close of closed channel
 *   panic: close of nil channel
 *   fatal error: all goroutines are asleep - deadlock!
 * Channels are usable from threads gort does not manage: blocking calls
 * then block the thread. */
#ifndef GORT_CHAN_H
#define GORT_CHAN_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <gort/export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gort_chan gort_chan_t;

/* make(chan T, cap). NULL if cap or elem_size is 2^32 or more, if the
 * buffer size overflows, or if memory runs out (no errno is set: check for
 * NULL). */
GORT_API gort_chan_t *gort_chan_make(size_t elem_size, size_t cap);
/* Release a channel. It must have no blocked senders or receivers (a fatal
 * error otherwise). A timer channel's timer is stopped first. */
GORT_API void gort_chan_free(gort_chan_t *c);

/* ch <- *elem: blocks until a receiver takes it or the buffer has room. */
GORT_API void gort_chan_send(gort_chan_t *c, const void *elem);
/* *elem = <-ch: true with a value; false once the channel is closed and
 * drained (elem zeroed). elem may be NULL to discard the value. */
GORT_API bool gort_chan_recv(gort_chan_t *c, void *elem);
/* select with one case and a default: true if sent. */
GORT_API bool gort_chan_trysend(gort_chan_t *c, const void *elem);
/* true if it completed: a value (*ok = true) or closed and drained (*ok =
 * false, elem zeroed); false if it would block. ok may be NULL. */
GORT_API bool gort_chan_tryrecv(gort_chan_t *c, void *elem, bool *ok);
GORT_API void gort_chan_close(gort_chan_t *c);
GORT_API size_t gort_chan_len(gort_chan_t *c);
GORT_API size_t gort_chan_cap(gort_chan_t *c);

/* ---- select ------------------------------------------------------------- */

#define GORT_SELECT_SEND 1
#define GORT_SELECT_RECV 2

/* One case: chan (NULL: never ready), dir, elem (the value to send, or where
 * to receive; NULL discards a received value). ok is set for the case taken
 * when it is a receive: true with a value, false when the channel is closed
 * (elem zeroed). Fields may be added after these; use designated
 * initialisers. */
typedef struct gort_select_case {
    gort_chan_t *chan;
    int dir;
    void *elem;
    bool ok;
} gort_select_case_t;

/* Go's select: if several cases are ready, one is chosen uniformly at
 * random. Returns the index of the case taken; with block == false and no
 * case ready, -1 (the default case). n == 0 with block == true blocks
 * forever, as `select {}`. n is at most 65536. */
GORT_API int gort_select(gort_select_case_t *cases, int n, bool block);

/* ---- timers as channels --------------------------------------------------- */

/* time.After: a channel (elem int64_t, cap 1) that receives gort_nanotime()
 * once, ns from now (ns <= 0: at once). The channel is the caller's: free it
 * with gort_chan_free when done with it, before or after it fired. */
GORT_API gort_chan_t *gort_after(int64_t ns);

/* time.Ticker: its channel (elem int64_t, cap 1) receives gort_nanotime()
 * every period_ns; ticks a slow receiver misses are dropped, as in Go.
 * NULL if period_ns <= 0. */
typedef struct gort_ticker gort_ticker_t;
GORT_API gort_ticker_t *gort_ticker_new(int64_t period_ns);
GORT_API gort_chan_t *gort_ticker_chan(gort_ticker_t *t);
/* Stop ticking (the channel stays valid; no more ticks arrive). */
GORT_API void gort_ticker_stop(gort_ticker_t *t);
/* Stop and release the ticker and its channel (no goroutine may be blocked
 * on the channel). */
GORT_API void gort_ticker_free(gort_ticker_t *t);

#ifdef __cplusplus
}
#endif
#endif /* GORT_CHAN_H */
