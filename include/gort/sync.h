/* gort/sync.h - WaitGroup and Mutex, Go's sync semantics.
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

#ifdef __cplusplus
}
#endif
#endif /* GORT_SYNC_H */
