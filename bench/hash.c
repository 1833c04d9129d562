/* bench/hash.c - the hash: gort_hash (the process's choice), its portable
 * and AES paths alone, and XXH3 (built as bench_hash_xxh3 with BENCH_XXH3),
 * at 8 B, 16 B, 64 B, 1 KiB and 64 KiB keys; ns per hash, throughput
 * (independent calls over a buffer). bench/go/maphash is Go's peer.
 *
 *   bench_hash [sizes]          RESULT hash_<size>_ns ...      (gort_hash)
 *                               RESULT hash_<size>_portable_ns, _aes_ns
 *   bench_hash crossover        latency of dependent calls, 1..256 bytes,
 *                               portable vs AES: where AES starts to win */
#include "bench_util.h"

#include <stdint.h>

#ifdef BENCH_XXH3
#define XXH_INLINE_ALL
#include <xxhash.h>
static uint64_t h_main(const void *p, size_t n, uint64_t seed) { return XXH3_64bits_withSeed(p, n, seed); }
#else
#include <gort.h>
#include "../src/hash/hash.h"
static uint64_t h_main(const void *p, size_t n, uint64_t seed) { return gort_hash(p, n, seed); }
static uint64_t h_port(const void *p, size_t n, uint64_t seed) { return rt_memhash_portable(p, n, rt_hash_premix(seed)); }
static uint64_t h_aes(const void *p, size_t n, uint64_t seed) { return rt_memhash_aes(p, n, seed); }
#endif

static uint8_t buf[(1 << 20) + 65536];

/* Throughput: independent hashes of keys at varying offsets. */
static double tput(uint64_t (*h)(const void *, size_t, uint64_t), size_t n)
{
    size_t iters = n >= 65536 ? 20000 : n >= 1024 ? 1000000 : 20000000;
    uint64_t acc = 0;
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_ns();
        for (size_t i = 0; i < iters; i++)
            acc += h(buf + ((i * 64) & ((1 << 20) - 1)), n, i);
        double t = (now_ns() - t0) / (double)iters;
        if (t < best)
            best = t;
    }
    if (acc == 42)
        printf("!");
    return best;
}

#ifndef BENCH_XXH3
/* Latency: each call's seed is the previous result. */
static double lat(uint64_t (*h)(const void *, size_t, uint64_t), size_t n)
{
    const size_t iters = 2000000;
    double best = 1e30;
    uint64_t x = 1;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_ns();
        for (size_t i = 0; i < iters; i++)
            x = h(buf + (x & 4095), n, x);
        double t = (now_ns() - t0) / (double)iters;
        if (t < best)
            best = t;
    }
    if (x == 42)
        printf("!");
    return best;
}
#endif

int main(int argc, char **argv)
{
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 131 + (i >> 8));
#ifndef BENCH_XXH3
    (void)gort_hash_impl(); /* alginit, the CPU features */
    if (argc > 1 && strcmp(argv[1], "crossover") == 0) {
        size_t cross = 0;
        printf("bytes  portable_ns  aes_ns   (latency: dependent calls)\n");
        for (size_t n = 1; n <= 4096; n += n < 16 ? 1 : n < 64 ? 4 : n < 128 ? 8 : n < 256 ? 32 : n) {
            double p = lat(h_port, n), a = rt_cpu_has_aeshash() ? lat(h_aes, n) : 0;
            printf("%5zu  %11.2f  %6.2f%s\n", n, p, a, a > 0 && a < p ? "  aes" : "");
            if (a > 0 && a < p && cross == 0)
                cross = n;
            if (a >= p)
                cross = 0;
        }
        RESULT("hash_crossover_bytes", cross, "B");
        return 0;
    }
#endif
    static const size_t sizes[] = {8, 16, 64, 1024, 65536};
    printf("impl %s\n",
#ifdef BENCH_XXH3
           "xxh3"
#else
           gort_hash_impl()
#endif
    );
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        if (argc > 1 && (size_t)atol(argv[1]) != n)
            continue;
        char name[64];
        snprintf(name, sizeof(name), "hash_%zu_ns", n);
        RESULT(name, tput(h_main, n), "ns");
#ifndef BENCH_XXH3
        snprintf(name, sizeof(name), "hash_%zu_portable_ns", n);
        RESULT(name, tput(h_port, n), "ns");
        if (rt_cpu_has_aeshash()) {
            snprintf(name, sizeof(name), "hash_%zu_aes_ns", n);
            RESULT(name, tput(h_aes, n), "ns");
        }
#endif
    }
    return 0;
}
