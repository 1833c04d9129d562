/* gort/sync.h - WaitGroup, Mutex, RWMutex, Once, Cond and a counting
 * semaphore, with Go's sync semantics.
 *
 * Every type here is usable when zero-initialised ({0} or static storage),
 * like Go's zero values, and must not be copied after first use. Blocking
 * parks the goroutine, never its thread. Called from a thread that is not
 * running a goroutine, a blocking call blocks that thread (futex) instead. */
#ifndef GORT_SYNC_H
#define GORT_SYNC_H

#include <stdint.h>
#include <stdbool.h>
#include <gort/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* sync.WaitGroup. state: counter in the high 32 bits, waiters in the low. */
typedef struct gort_waitgroup {
    uint64_t state;
    uint32_t sema;
    uint32_t _pad;
} gort_waitgroup_t;

/* A counter going negative is Go's "panic: sync: negative WaitGroup
 * counter" (exit status 2). */
GORT_API void gort_wg_add(gort_waitgroup_t *wg, int64_t delta);
GORT_API void gort_wg_done(gort_waitgroup_t *wg);
GORT_API void gort_wg_wait(gort_waitgroup_t *wg);

/* sync.Mutex with normal and starvation modes. Not owned by a goroutine:
 * one goroutine may lock and another unlock. Unlock of an unlocked mutex is
 * "fatal error: sync: unlock of unlocked mutex". */
typedef struct gort_mutex {
    int32_t state;
    uint32_t sema;
} gort_mutex_t;

GORT_API void gort_mutex_lock(gort_mutex_t *m);
GORT_API void gort_mutex_unlock(gort_mutex_t *m);
GORT_API bool gort_mutex_trylock(gort_mutex_t *m); /* true when acquired */

/* sync.RWMutex, writer-preferring as Go's: once a writer waits, new
 * readers wait too. "fatal error: sync: RUnlock of unlocked RWMutex" and
 * "sync: Unlock of unlocked RWMutex" on misuse. */
typedef struct gort_rwmutex {
    gort_mutex_t w;           /* held by a writer, and by the pending one */
    uint32_t writer_sem;      /* the writer waits here for readers to leave */
    uint32_t reader_sem;      /* readers wait here for the writer */
    int32_t reader_count;     /* readers; negative while a writer is pending */
    int32_t reader_wait;      /* readers the pending writer still waits for */
} gort_rwmutex_t;

GORT_API void gort_rwmutex_lock(gort_rwmutex_t *rw);
GORT_API void gort_rwmutex_unlock(gort_rwmutex_t *rw);
GORT_API void gort_rwmutex_rlock(gort_rwmutex_t *rw);
GORT_API void gort_rwmutex_runlock(gort_rwmutex_t *rw);
GORT_API bool gort_rwmutex_trylock(gort_rwmutex_t *rw);
GORT_API bool gort_rwmutex_tryrlock(gort_rwmutex_t *rw);

/* sync.Once: fn(arg) runs exactly once; every gort_once_do returns only
 * after it has returned. fn must return (not gort_goexit). */
typedef struct gort_once {
    uint32_t done;
    gort_mutex_t m;
} gort_once_t;

GORT_API void gort_once_do(gort_once_t *o, void (*fn)(void *), void *arg);

/* sync.Cond over a gort_mutex_t (Go's ticket-based notify list: a Signal
 * wakes the longest waiter, never one that started waiting after it). */
typedef struct gort_cond {
    uint32_t wait;            /* ticket of the next waiter */
    uint32_t notify;          /* ticket of the next waiter to wake */
    uint64_t lock;            /* runtime use */
    void *head, *tail;        /* runtime use: the waiters */
} gort_cond_t;

/* Unlock m, wait for a signal, lock m again. */
GORT_API void gort_cond_wait(gort_cond_t *c, gort_mutex_t *m);
GORT_API void gort_cond_signal(gort_cond_t *c);
GORT_API void gort_cond_broadcast(gort_cond_t *c);

/* A counting semaphore; zero value: no units. GORT_SEMA_INIT(n) starts
 * with n units. */
typedef struct gort_sema {
    uint32_t count;
} gort_sema_t;
#define GORT_SEMA_INIT(n) {(n)}

GORT_API void gort_sema_acquire(gort_sema_t *s);    /* take a unit, blocking */
GORT_API bool gort_sema_tryacquire(gort_sema_t *s); /* take one if available */
GORT_API void gort_sema_release(gort_sema_t *s);    /* give one back (wakes a waiter) */

#ifdef __cplusplus
}
#endif
#endif /* GORT_SYNC_H */
