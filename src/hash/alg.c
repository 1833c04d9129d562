/* alg.c - the hash functions and alginit (Go: runtime/alg.go, hash64.go,
 * asm_amd64.s aeshashbody). Our own code; Go's and wyhash's designs are
 * the references.
 *
 * Two hashes, one choice at boot:
 *
 *   portable  a multiply-mix hash in the wyhash family (Go's hash64.go is
 *             one too): the key is read as 64-bit words, each pair folded
 *             by one 64x64->128-bit multiply whose halves are XORed
 *             ("mix"), with four per-process keys XORed in so that an
 *             attacker who does not know them cannot aim at zero
 *             multipliers. Keys up to 16 bytes are read as two words
 *             (overlapping reads, no loop, no branch on the bytes); longer
 *             ones 16 bytes a step, three independent lanes past 48.
 *   aes       AES rounds (AESENC: SubBytes, ShiftRows, MixColumns, XOR a
 *             round key) over 16-byte blocks, as Go's aeshash: the seed
 *             and length make a 128-bit state, each block gets its own
 *             lane key derived from it and three rounds (two with the
 *             secret lane key, one with itself), and the lanes are XORed
 *             together. Up to 128 bytes the blocks are read at fixed
 *             offsets from both ends (overlapping); longer keys run eight
 *             lanes over 128-byte strides, two rounds per block between
 *             data injections (one round would let a one-byte difference
 *             be cancelled by the next block with probability 2^-6).
 *
 * alginit (schedinit, after cpuinit) takes the AES hash when the CPU has
 * AES-NI, SSSE3 and SSE4.1 (as Go's useAeshash) and GORTDEBUG did not mask
 * them (cpu.aes=off). Even then short keys take the portable hash: one
 * multiply costs less latency than the AES path's setup and three rounds.
 * The crossover was measured on this project's machine (bench/hash.c
 * crossover, run by `bench/run hash`: latency of dependent calls, 1 byte
 * to 4 KiB): level from 224 to 512 bytes, AES ahead from 1 KiB. It is
 * RT_AESHASH_MIN below and GORTDEBUG=aeshashmin=N overrides it (for
 * another machine, or to force one path in measurements).
 *
 * Keys: 128 random bits from the auxiliary vector's AT_RANDOM (the kernel
 * puts them there for every exec; /proc/self/auxv or the clock otherwise),
 * expanded into the portable hash's four keys and sixteen AES round keys.
 * GORTDEBUG=hashseed=N (N >= 0) replaces them by N's expansion: the same
 * hashes, and the same map iteration order for the same operations, in
 * every run.
 *
 * Before boot (a constructor, a thread of an embedding program that has
 * not called gort_run yet), the first hash runs alginit on the spot with
 * the same inputs (rt_alginit_early), so hashes never change under a map.
 *
 * Where the CPU has VAES (and AVX2), the long-key loop runs two lanes per
 * 256-bit instruction: the same hash (test_hash checks the two loops
 * agree), 1.2-1.7x faster on 64 KiB keys here; the chain of two rounds
 * per block, not the AES units, then bounds it.
 *
 * Rejected: one hash for every length (the AES path's latency is no
 * better than the portable hash's up to 512 bytes, and the portable hash
 * takes twice the AES path's time from 1 KiB up); a single AES round
 * between data injections (a one-byte difference could then be cancelled
 * by the next block with probability 2^-6). */
#include "hash.h"
#include "../boot/boot.h"
#include "../debug/debug.h"
#include "../sched/sched.h"
#include "../os/os.h"

#include <gort.h>

#include <pthread.h>
#include <string.h>
#include <sys/auxv.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define RT_HAVE_AESHASH 1
#else
#define RT_HAVE_AESHASH 0
#endif

/* Keys of this many bytes and more take the AES path (measured: see the
 * essay and docs/benchmarks.md). */
#define RT_AESHASH_MIN 1024

uint64_t rt_hashkey[4];
size_t rt_aeshash_min = SIZE_MAX;
uint32_t rt_alg_ready;
static uint32_t alg_state; /* 0 none, 1 running, 2 done */

/* ---- the portable hash ------------------------------------------------------ */

static inline uint64_t r8(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline uint64_t r4(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
/* 1..3 bytes: first, middle and last (all of them, for every length). */
static inline uint64_t r3(const uint8_t *p, size_t n)
{
    return (uint64_t)p[0] << 16 | (uint64_t)p[n >> 1] << 8 | p[n - 1];
}

uint64_t rt_memhash_portable(const void *pv, size_t n, uint64_t seed)
{
    const uint8_t *p = pv;
    const uint64_t *k = rt_hashkey;
    uint64_t a, b;
    if (n <= 16) {
        if (n >= 4) {
            size_t d = (n >> 3) << 2; /* 0 for 4..7 bytes, 4 for 8..16 */
            a = r4(p) << 32 | r4(p + d);
            b = r4(p + n - 4) << 32 | r4(p + n - 4 - d);
        } else if (n > 0) {
            a = r3(p, n);
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t i = n;
        if (i > 48) {
            uint64_t s1 = seed, s2 = seed;
            do {
                seed = rt_hash_mix(r8(p) ^ k[1], r8(p + 8) ^ seed);
                s1 = rt_hash_mix(r8(p + 16) ^ k[2], r8(p + 24) ^ s1);
                s2 = rt_hash_mix(r8(p + 32) ^ k[3], r8(p + 40) ^ s2);
                p += 48;
                i -= 48;
            } while (i > 48);
            seed ^= s1 ^ s2;
        }
        while (i > 16) {
            seed = rt_hash_mix(r8(p) ^ k[1], r8(p + 8) ^ seed);
            p += 16;
            i -= 16;
        }
        a = r8(p + i - 16);
        b = r8(p + i - 8);
    }
    a ^= k[1];
    b ^= seed;
    __uint128_t r = (__uint128_t)a * b;
    return rt_hash_mix((uint64_t)r ^ k[0] ^ n, (uint64_t)(r >> 64) ^ k[1]);
}

/* ---- the AES hash ------------------------------------------------------------ */

#if RT_HAVE_AESHASH
/* aeskeys[0]: mixes the seed; [1..8]: the lane keys' derivation. */
static __m128i aeskeys[16];

#define AESFN __attribute__((target("aes,sse4.1,ssse3")))

AESFN static inline __m128i enc(__m128i x, __m128i k) { return _mm_aesenc_si128(x, k); }
AESFN static inline __m128i ld(const uint8_t *p) { return _mm_loadu_si128((const __m128i *)(const void *)p); }
/* One block of a short key: three rounds under its lane key s. */
AESFN static inline __m128i blk(__m128i d, __m128i s)
{
    __m128i x = enc(enc(_mm_xor_si128(d, s), s), s);
    return enc(x, x);
}

/* Keys over 128 bytes: eight lanes over 128-byte strides (every stride
 * but the last, which ends at p + n and overlaps the one before). */
AESFN static __m128i aes_long(const uint8_t *p, size_t n, __m128i sv)
{
    __m128i s[8], x[8];
    for (int i = 0; i < 8; i++)
        x[i] = s[i] = _mm_xor_si128(sv, aeskeys[1 + i]);
    size_t i = n;
    while (i > 128) {
        for (int j = 0; j < 8; j++)
            x[j] = enc(enc(_mm_xor_si128(x[j], ld(p + 16 * j)), s[j]), s[j]);
        p += 128;
        i -= 128;
    }
    p += i - 128;
    for (int j = 0; j < 8; j++) {
        x[j] = enc(enc(_mm_xor_si128(x[j], ld(p + 16 * j)), s[j]), s[j]);
        x[j] = enc(x[j], x[j]);
    }
    return _mm_xor_si128(_mm_xor_si128(_mm_xor_si128(x[0], x[1]), _mm_xor_si128(x[2], x[3])),
                         _mm_xor_si128(_mm_xor_si128(x[4], x[5]), _mm_xor_si128(x[6], x[7])));
}

/* The same lanes, two per 256-bit register (VAES): the same result, at
 * twice the AES units' throughput where the CPU has VAES. */
__attribute__((target("vaes,avx2,aes"))) static __m128i aes_long_vaes(const uint8_t *p, size_t n, __m128i sv)
{
    __m256i s[4], x[4];
    __m256i sv2 = _mm256_broadcastsi128_si256(sv);
    for (int i = 0; i < 4; i++)
        x[i] = s[i] = _mm256_xor_si256(sv2, _mm256_loadu_si256((const __m256i *)(const void *)&aeskeys[1 + 2 * i]));
    size_t i = n;
    while (i > 128) {
        for (int j = 0; j < 4; j++) {
            __m256i d = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32 * j));
            x[j] = _mm256_aesenc_epi128(_mm256_aesenc_epi128(_mm256_xor_si256(x[j], d), s[j]), s[j]);
        }
        p += 128;
        i -= 128;
    }
    p += i - 128;
    for (int j = 0; j < 4; j++) {
        __m256i d = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32 * j));
        x[j] = _mm256_aesenc_epi128(_mm256_aesenc_epi128(_mm256_xor_si256(x[j], d), s[j]), s[j]);
        x[j] = _mm256_aesenc_epi128(x[j], x[j]);
    }
    __m256i y = _mm256_xor_si256(_mm256_xor_si256(x[0], x[1]), _mm256_xor_si256(x[2], x[3]));
    return _mm_xor_si128(_mm256_castsi256_si128(y), _mm256_extracti128_si256(y, 1));
}

static bool use_vaes;

AESFN uint64_t rt_memhash_aes(const void *pv, size_t n, uint64_t seed)
{
    const uint8_t *p = pv;
    /* The state: seed and length, scrambled by one round; each block's
     * lane key is the state XOR a secret key of its own. */
    __m128i sv = enc(_mm_xor_si128(_mm_set_epi64x((long long)n, (long long)seed), aeskeys[0]), aeskeys[0]);
    __m128i h;
    if (n <= 16) {
        __m128i d;
        if (n >= 8)
            d = _mm_set_epi64x((long long)r8(p + n - 8), (long long)r8(p));
        else if (n >= 4)
            d = _mm_set_epi64x((long long)r4(p + n - 4), (long long)r4(p));
        else
            d = _mm_cvtsi64_si128(n > 0 ? (long long)r3(p, n) : 0);
        h = blk(d, _mm_xor_si128(sv, aeskeys[1]));
    } else if (n <= 32) {
        h = _mm_xor_si128(blk(ld(p), _mm_xor_si128(sv, aeskeys[1])), blk(ld(p + n - 16), _mm_xor_si128(sv, aeskeys[2])));
    } else if (n <= 64) {
        __m128i h0 = blk(ld(p), _mm_xor_si128(sv, aeskeys[1]));
        __m128i h1 = blk(ld(p + 16), _mm_xor_si128(sv, aeskeys[2]));
        __m128i h2 = blk(ld(p + n - 32), _mm_xor_si128(sv, aeskeys[3]));
        __m128i h3 = blk(ld(p + n - 16), _mm_xor_si128(sv, aeskeys[4]));
        h = _mm_xor_si128(_mm_xor_si128(h0, h1), _mm_xor_si128(h2, h3));
    } else if (n <= 128) {
        __m128i x[8];
        for (int i = 0; i < 4; i++) {
            x[i] = blk(ld(p + 16 * i), _mm_xor_si128(sv, aeskeys[1 + i]));
            x[4 + i] = blk(ld(p + n - 64 + 16 * i), _mm_xor_si128(sv, aeskeys[5 + i]));
        }
        h = _mm_xor_si128(_mm_xor_si128(_mm_xor_si128(x[0], x[1]), _mm_xor_si128(x[2], x[3])),
                          _mm_xor_si128(_mm_xor_si128(x[4], x[5]), _mm_xor_si128(x[6], x[7])));
    } else {
        h = use_vaes ? aes_long_vaes(p, n, sv) : aes_long(p, n, sv);
    }
    return (uint64_t)_mm_cvtsi128_si64(h);
}

/* Tests: the 128-bit and the VAES loops give the same hash. */
uint64_t rt_memhash_aes_novaes(const void *p, size_t n, uint64_t seed)
{
    bool v = use_vaes;
    use_vaes = false;
    uint64_t h = rt_memhash_aes(p, n, seed);
    use_vaes = v;
    return h;
}

bool rt_cpu_has_aeshash(void)
{
    uint64_t want = RT_CPU_AES | RT_CPU_SSSE3 | RT_CPU_SSE41;
    return (rt_cpu_features & want) == want;
}
#else
uint64_t rt_memhash_aes(const void *p, size_t n, uint64_t seed) { return rt_memhash_portable(p, n, rt_hash_premix(seed)); }
uint64_t rt_memhash_aes_novaes(const void *p, size_t n, uint64_t seed) { return rt_memhash_aes(p, n, seed); }
bool rt_cpu_has_aeshash(void) { return false; }
#endif

/* ---- the process's choice ------------------------------------------------------------ */

uint64_t rt_memhash(const void *p, size_t n, uint64_t seed)
{
    rt_alg_check();
    if (n >= rt_aeshash_min)
        return rt_memhash_aes(p, n, seed);
    return rt_memhash_portable(p, n, rt_hash_premix(seed));
}

GORT_API uint64_t gort_hash(const void *p, size_t n, uint64_t seed) { return rt_memhash(p, n, seed); }

GORT_API uint64_t gort_hash_u64(uint64_t v, uint64_t seed)
{
    rt_alg_check();
    if (rt_aeshash_min <= 8)
        return rt_memhash_aes(&v, 8, seed);
    return rt_hash64_premixed(v, rt_hash_premix(seed));
}

GORT_API uint64_t gort_hash_str(const char *s, uint64_t seed) { return rt_memhash(s, strlen(s), seed); }

GORT_API const char *gort_hash_impl(void)
{
    rt_alg_check();
    return rt_aeshash_min != SIZE_MAX ? "aes" : "portable";
}

GORT_API size_t gort_hash_aes_min(void)
{
    rt_alg_check();
    return rt_aeshash_min;
}

/* ---- alginit ----------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void rt_alginit(void)
{
    if (rt_load(&alg_state) == 2)
        return;
    if (!rt_cas(&alg_state, 0, 1)) {
        while (rt_load(&alg_state) != 2)
            rt_osyield();
        return;
    }
    uint64_t s0, s1;
    if (rt_debug.hashseed >= 0) {
        s0 = (uint64_t)rt_debug.hashseed;
        s1 = 0x243f6a8885a308d3ull; /* pi: any fixed value */
    } else {
        memcpy(&s0, rt_startup_random, 8);
        memcpy(&s1, rt_startup_random + 8, 8);
    }
    uint64_t x = s0, y = s1 ^ 0x13198a2e03707344ull;
    for (int i = 0; i < 4; i++)
        rt_hashkey[i] = splitmix(&x) ^ splitmix(&y);
#if RT_HAVE_AESHASH
    for (int i = 0; i < 16; i++) {
        uint64_t lo = splitmix(&x) ^ splitmix(&y), hi = splitmix(&x) ^ splitmix(&y);
        aeskeys[i] = _mm_set_epi64x((long long)hi, (long long)lo);
    }
#endif
    rt_aeshash_min = SIZE_MAX;
#if RT_HAVE_AESHASH
    use_vaes = (rt_cpu_features & (RT_CPU_VAES | RT_CPU_AVX2)) == (RT_CPU_VAES | RT_CPU_AVX2);
#endif
    if (rt_cpu_has_aeshash())
        rt_aeshash_min = rt_debug.aeshashmin >= 0 ? (size_t)rt_debug.aeshashmin : RT_AESHASH_MIN;
    rt_store_rel(&rt_alg_ready, 1);
    rt_store_rel(&alg_state, 2);
}

/* A hash before the runtime booted: read what schedinit would (GORTDEBUG,
 * the CPU, AT_RANDOM) and run alginit now; schedinit's call is then a
 * no-op, so every hash of the process uses the same keys. */
static void alginit_early_once(void)
{
    if (!rt_load(&rt_booted)) {
        rt_parsedebug_gortdebug();
        rt_cpuinit();
        static const uint8_t zero[16];
        const void *ar = (const void *)getauxval(AT_RANDOM);
        if (memcmp(rt_startup_random, zero, 16) == 0 && ar != NULL)
            memcpy(rt_startup_random, ar, 16);
    }
    rt_alginit();
}

void rt_alginit_early(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, alginit_early_once);
}

void rt_alginit_trace(void)
{
    if (rt_aeshash_min != SIZE_MAX)
        rt_printf("alginit: hash=aes (AES-NI, SSSE3, SSE4.1) from %lu bytes, portable below; seed %s\n",
                  (unsigned long)rt_aeshash_min, rt_debug.hashseed >= 0 ? "GORTDEBUG=hashseed" : "AT_RANDOM");
    else
        rt_printf("alginit: hash=portable (%s); seed %s\n",
                  RT_HAVE_AESHASH ? "no AES-NI+SSSE3+SSE4.1, or masked by GORTDEBUG=cpu.*=off" : "no AES port",
                  rt_debug.hashseed >= 0 ? "GORTDEBUG=hashseed" : "AT_RANDOM");
}
