/* src/hash/hash.h - hashing and the map, internal interface (Go: alg.go,
 * hash64.go, asm_amd64.s aeshashbody, internal/runtime/maps). Design
 * essays at the top of alg.c (the hashes) and map.c (the swiss table). */
#ifndef GORT_HASH_INTERNAL_H
#define GORT_HASH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* ---- alg.c ------------------------------------------------------------- */

/* Keys of the portable hash (Go: hashkey), from the process seed. */
extern uint64_t rt_hashkey[4];
/* The hash chosen by alginit: AES rounds for keys of rt_aeshash_min bytes
 * and more (SIZE_MAX: never). */
extern size_t rt_aeshash_min;
extern uint32_t rt_alg_ready;

/* schedinit, after cpuinit: choose the hash and derive its keys from
 * AT_RANDOM or GORTDEBUG=hashseed. Idempotent; the first use of a hash
 * before boot runs it too (rt_alginit_early). */
void rt_alginit(void);
void rt_alginit_early(void);
void rt_alginit_trace(void); /* GORTDEBUG=inittrace=1: the choice, one line */
static inline void rt_alg_check(void)
{
    if (__builtin_expect(!__atomic_load_n(&rt_alg_ready, __ATOMIC_ACQUIRE), 0))
        rt_alginit_early();
}

/* The portable hash's seed preparation (one multiply-mix): the map does it
 * once per map, not per key. */
static inline uint64_t rt_hash_mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}
static inline uint64_t rt_hash_premix(uint64_t seed)
{
    return seed ^ rt_hash_mix(seed ^ rt_hashkey[0], rt_hashkey[1]);
}
/* The 8 bytes of v with a premixed seed: equal to rt_memhash of &v. */
static inline uint64_t rt_hash64_premixed(uint64_t v, uint64_t pseed)
{
    uint64_t a = (v << 32 | v >> 32) ^ rt_hashkey[1], b = v ^ pseed;
    __uint128_t r = (__uint128_t)a * b;
    return rt_hash_mix((uint64_t)r ^ rt_hashkey[0] ^ 8, (uint64_t)(r >> 64) ^ rt_hashkey[1]);
}
/* 4 bytes. */
static inline uint64_t rt_hash32_premixed(uint32_t v, uint64_t pseed)
{
    uint64_t x = (uint64_t)v;
    uint64_t a = (x << 32 | x) ^ rt_hashkey[1], b = (x << 32 | x) ^ pseed;
    __uint128_t r = (__uint128_t)a * b;
    return rt_hash_mix((uint64_t)r ^ rt_hashkey[0] ^ 4, (uint64_t)(r >> 64) ^ rt_hashkey[1]);
}

/* The map's hash of 4- and 8-byte keys: the key mixed with the map's two
 * secrets, then SplitMix64's finalizer (two multiplies by constants, a
 * bijection with full avalanche). A lookup waits for its hash before its
 * first memory access, so this stays short: the 128-bit two-multiply hash
 * above cost 14 ns more per hit at 2M keys. Cheaper ones failed
 * test_hash.test_maphash64 for some seeds: a single multiply by a
 * constant (abseil's integer hash) collided 2.5x more than chance in the
 * low 20 bits on sequential keys, and one 64x64->128 multiply of the
 * swapped key by the key (folded) 1.26x more in the high 20 bits (seen
 * once in 16 seeds under TSan). */
static inline uint64_t rt_maphash64(uint64_t v, uint64_t pseed, uint64_t mul)
{
    uint64_t z = (v ^ mul) + pseed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The process's hash of n bytes (AES or portable, by length). */
uint64_t rt_memhash(const void *p, size_t n, uint64_t seed);
/* Both variants, whatever alginit chose (tests and benchmarks compare
 * them): the portable one with a premixed seed, and the AES one (only
 * where the CPU has AES-NI, SSSE3 and SSE4.1). */
uint64_t rt_memhash_portable(const void *p, size_t n, uint64_t pseed);
uint64_t rt_memhash_aes(const void *p, size_t n, uint64_t seed);
uint64_t rt_memhash_aes_novaes(const void *p, size_t n, uint64_t seed); /* keys > 128 B without VAES */
bool rt_cpu_has_aeshash(void);

/* ---- map.c ----------------------------------------------------------------- */

/* Debug tier 2: the map's invariants (every table's counts against its
 * control bytes, every key findable, the directory's shape). */
struct gort_map;
void rt_map_check(struct gort_map *m);
/* Statistics for tests and benchmarks. */
typedef struct rt_map_stats {
    uint64_t tables, slots, tombstones, dirlen, bytes, graveyard;
    uint32_t global_depth, max_probe;
    uintptr_t first_table;      /* its slots; their span class tells scan/noscan */
    bool noscan;
} rt_map_stats;
void rt_map_stats_get(struct gort_map *m, rt_map_stats *st);

#endif /* GORT_HASH_INTERNAL_H */
