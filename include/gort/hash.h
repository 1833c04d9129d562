/* gort/hash.h - hashing and the map (Go: runtime alg.go, hash/maphash, and
 * Go 1.24's swiss-table map, internal/runtime/maps).
 *
 * Hashes are seeded per process (from AT_RANDOM, as Go's) and by the seed
 * argument: the same bytes hash differently in two runs of a program, so
 * map iteration order does too. GORTDEBUG=hashseed=N fixes the process
 * seed (tests). With AES-NI, SSSE3 and SSE4.1 the hash of keys from a
 * measured length up uses AES rounds; shorter keys, and every key without
 * those features (or with GORTDEBUG=cpu.aes=off), use a portable
 * multiply-mix hash. The two give different values: never store a hash.
 *
 * The map is not safe for concurrent use, as Go's: a write (put, delete,
 * clear) concurrent with any other use is detected on a best-effort basis
 * and ends the process with Go's "fatal error: concurrent map writes" or
 * "concurrent map read and map write". Any number of concurrent readers
 * (get, len, iteration) are fine. */
#ifndef GORT_HASH_H
#define GORT_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <gort/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- hashing ------------------------------------------------------------ */

/* The n bytes at p (p may be NULL when n == 0). Callable from any thread,
 * before the runtime started too. */
GORT_API uint64_t gort_hash(const void *p, size_t n, uint64_t seed);
/* The 8 bytes of v as they lie in memory: gort_hash(&v, 8, seed), faster. */
GORT_API uint64_t gort_hash_u64(uint64_t v, uint64_t seed);
/* A NUL-terminated string, without its NUL: gort_hash(s, strlen(s), seed). */
GORT_API uint64_t gort_hash_str(const char *s, uint64_t seed);
/* Which hash this process uses: "aes" (AES-NI from gort_hash_aes_min()
 * bytes up, the portable hash below) or "portable". */
GORT_API const char *gort_hash_impl(void);
/* The shortest key that takes the AES path (measured crossover; SIZE_MAX
 * when the process uses the portable hash only). */
GORT_API size_t gort_hash_aes_min(void);

/* ---- the map ------------------------------------------------------------ */

typedef struct gort_map gort_map_t;

/* A user hash takes the key (key_size bytes, as stored) and the map's seed;
 * it should mix the seed in (gort_hash does). eq says whether two keys
 * are equal; equal keys must hash alike. */
typedef uint64_t (*gort_map_hash_fn)(const void *key, uint64_t seed);
typedef bool (*gort_map_eq_fn)(const void *a, const void *b);

/* Flags for gort_map_new_custom: where gort heap pointers may be. With
 * neither, the map's slots are noscan memory (never scanned by the
 * collector). */
#define GORT_MAP_KEY_POINTERS 1u
#define GORT_MAP_VAL_POINTERS 2u

/* A map of key_size-byte keys (compared bytewise: no padding with
 * garbage in it) to val_size-byte values (0 allowed: a set). Its slots
 * may hold pointers (scanned). NULL if key_size is 0 or the sizes are
 * over 64 KiB. */
GORT_API gort_map_t *gort_map_new(size_t key_size, size_t val_size);
/* The same with a user hash and equality (both, or neither: then keys are
 * compared bytewise) and GORT_MAP_* flags (0: nothing to scan). */
GORT_API gort_map_t *gort_map_new_custom(size_t key_size, size_t val_size, gort_map_hash_fn hash_fn,
                                         gort_map_eq_fn eq_fn, unsigned flags);
/* A pointer to key's value in the map, or NULL (also for a NULL map, as
 * Go reads a nil map). Valid until the next put, delete, clear or free of
 * the map. */
GORT_API void *gort_map_get(gort_map_t *m, const void *key);
/* Insert key (copied in) or overwrite its value with *val (copied in;
 * val NULL: zeroed for a new key, unchanged for an existing one). Returns
 * the stored value (valid as gort_map_get's). A NULL map is Go's "panic:
 * assignment to entry in nil map". */
GORT_API void *gort_map_put(gort_map_t *m, const void *key, const void *val);
/* true if key was in the map. */
GORT_API bool gort_map_delete(gort_map_t *m, const void *key);
GORT_API size_t gort_map_len(gort_map_t *m);
/* Delete every key and return the map's memory (the map stays usable). */
GORT_API void gort_map_clear(gort_map_t *m);
/* Free the map (NULL: no-op). */
GORT_API void gort_map_free(gort_map_t *m);

/* Iteration, as Go's range over a map: it starts at a random position,
 * so the order differs from one iteration to the next. Keys deleted
 * during an iteration and not yet reached are not produced; keys inserted
 * during it may or may not be; every other key is produced exactly once.
 *
 *   gort_map_iter_t it;
 *   gort_map_iter_init(&it, m);
 *   while (gort_map_iter_next(&it))
 *       use(it.key, it.val);
 *
 * key and val point into the map (key must not be written) and are valid
 * until the next call that changes the map. An iteration abandoned before
 * next returned false keeps tables a growth replaced alive until the map
 * is cleared or freed; gort_map_iter_stop releases them earlier. */
typedef struct gort_map_iter {
    const void *key;
    void *val;
    /* private */
    gort_map_t *m;
    void *tab;
    uint64_t seq;
    uint64_t dir_idx;
    int64_t dir_off;
    uint32_t ent_idx, ent_off;
    uint8_t global_depth, done, pad[6];
} gort_map_iter_t;
GORT_API void gort_map_iter_init(gort_map_iter_t *it, gort_map_t *m);
GORT_API bool gort_map_iter_next(gort_map_iter_t *it);
GORT_API void gort_map_iter_stop(gort_map_iter_t *it);

#ifdef __cplusplus
}
#endif
#endif /* GORT_HASH_H */
