/* test_hash.c - the hash functions: API identities, and SMHasher-style
 * quality checks run on both variants (portable, and AES where the CPU
 * has it): avalanche, bit independence on short keys, no collisions on
 * sequential, sparse and low-entropy key sets (full 64 bits, and the
 * low and high bits a map uses no worse than chance), seed independence.
 * The variants are compared for distribution, never for equality.
 * Tolerances sit 6 or more standard deviations from the ideal, so a run
 * fails for a defect, not for bad luck. */
#include "check.h"
#include "../src/hash/hash.h"

#include <math.h>
#include <stdlib.h>

typedef uint64_t (*hfn)(const void *, size_t, uint64_t);
static uint64_t h_port(const void *p, size_t n, uint64_t s) { return rt_memhash_portable(p, n, rt_hash_premix(s)); }
static uint64_t h_aes(const void *p, size_t n, uint64_t s) { return rt_memhash_aes(p, n, s); }
static uint64_t h_proc(const void *p, size_t n, uint64_t s) { return gort_hash(p, n, s); }

static struct variant {
    const char *name;
    hfn f;
} variants[3];
static int nvariants;

static void setup_variants(void)
{
    (void)gort_hash_impl();
    nvariants = 0;
    variants[nvariants++] = (struct variant){"portable", h_port};
    if (rt_cpu_has_aeshash())
        variants[nvariants++] = (struct variant){"aes", h_aes};
    variants[nvariants++] = (struct variant){"gort_hash", h_proc};
}

static uint64_t rng = 0x1234567;
static uint64_t rnd(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static void fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
}

static void test_api(void **state)
{
    (void)state;
    const char *impl = gort_hash_impl();
    assert_true(strcmp(impl, "aes") == 0 || strcmp(impl, "portable") == 0);
    if (strcmp(impl, "portable") == 0)
        assert_true(gort_hash_aes_min() == SIZE_MAX);
    uint8_t buf[300];
    fill(buf, sizeof(buf));
    for (uint64_t v = 0; v < 1000; v++) {
        uint64_t x = rnd();
        assert_true(gort_hash_u64(x, v) == gort_hash(&x, 8, v));
        uint32_t y = (uint32_t)x;
        assert_true(rt_hash32_premixed(y, rt_hash_premix(v)) == gort_hash(&y, 4, v));
    }
    assert_true(gort_hash_str("hello, world", 5) == gort_hash("hello, world", 12, 5));
    assert_true(gort_hash_str("", 5) == gort_hash(NULL, 0, 5));
    assert_true(gort_hash(buf, 100, 1) == gort_hash(buf, 100, 1));
    assert_true(gort_hash(buf, 100, 1) != gort_hash(buf, 100, 2));
    assert_true(gort_hash(buf, 100, 1) != gort_hash(buf, 99, 1));
    /* the 128-bit and VAES loops agree, for every length over 128 */
    for (size_t n = 129; n <= 300; n++)
        assert_true(rt_memhash_aes(buf, n, n) == rt_memhash_aes_novaes(buf, n, n));
    /* a key hashed in place or copied elsewhere: the same (no alignment or
     * out-of-bounds reads in the result) */
    uint8_t copy[320];
    for (size_t n = 0; n <= 200; n++)
        for (int v = 0; v < nvariants || v == 0; v++) {
            setup_variants();
            memcpy(copy + 3, buf, n);
            assert_true(variants[v].f(buf, n, 9) == variants[v].f(copy + 3, n, 9));
        }
}

/* Avalanche: flipping any input bit flips every output bit with
 * probability 1/2. trials per length; bias bound 0.5 +- tol. */
static void avalanche(hfn f, size_t n, int trials, int bitstep, double tol, const char *name)
{
    size_t nbits = n * 8;
    uint32_t *cnt = calloc(nbits * 64, sizeof(uint32_t));
    uint8_t key[2048];
    int used = 0;
    for (int t = 0; t < trials; t++) {
        fill(key, n);
        uint64_t seed = rnd();
        uint64_t h0 = f(key, n, seed);
        for (size_t b = (size_t)t % bitstep; b < nbits; b += bitstep) {
            key[b / 8] ^= (uint8_t)(1u << (b % 8));
            uint64_t d = f(key, n, seed) ^ h0;
            key[b / 8] ^= (uint8_t)(1u << (b % 8));
            for (uint64_t m = d; m != 0; m &= m - 1)
                cnt[b * 64 + (uint64_t)__builtin_ctzll(m)]++;
        }
        used++;
    }
    double worst = 0;
    for (size_t b = 0; b < nbits; b++) {
        int per = 0; /* trials that flipped bit b */
        for (int t = 0; t < used; t++)
            per += (b % bitstep) == (size_t)t % bitstep;
        for (int o = 0; o < 64; o++) {
            double p = (double)cnt[b * 64 + o] / per;
            if (p - 0.5 > worst || 0.5 - p > worst)
                worst = p > 0.5 ? p - 0.5 : 0.5 - p;
        }
    }
    free(cnt);
    if (worst > tol)
        fail_msg("%s: avalanche bias %.3f at %zu bytes (tolerance %.3f)", name, worst, n, tol);
}

static void test_avalanche(void **state)
{
    (void)state;
    setup_variants();
    static const size_t lens[] = {1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 48, 63, 64, 65, 100, 128};
    for (int v = 0; v < nvariants; v++) {
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
            avalanche(variants[v].f, lens[i], 1200, 1, 0.1, variants[v].name);
        /* long keys, every 8th bit per trial (stride 8 over the trials:
         * 1000 trials per bit) */
        avalanche(variants[v].f, 129, 8000, 8, 0.1, variants[v].name);
        avalanche(variants[v].f, 1000, 8000, 8, 0.1, variants[v].name);
        avalanche(variants[v].f, 1500, 8000, 8, 0.1, variants[v].name);
    }
}

/* Bit independence (SMHasher's BIC) on 8- and 16-byte keys: for a flipped
 * input bit, output bits j and k flip together with probability 1/4. */
static void bic(hfn f, size_t n, int trials, const char *name)
{
    size_t nbits = n * 8;
    uint16_t(*both)[64][64] = calloc(nbits, sizeof(*both));
    uint8_t key[16];
    for (int t = 0; t < trials; t++) {
        fill(key, n);
        uint64_t seed = rnd();
        uint64_t h0 = f(key, n, seed);
        for (size_t b = 0; b < nbits; b++) {
            key[b / 8] ^= (uint8_t)(1u << (b % 8));
            uint64_t d = f(key, n, seed) ^ h0;
            key[b / 8] ^= (uint8_t)(1u << (b % 8));
            for (uint64_t m = d; m != 0; m &= m - 1) {
                int j = __builtin_ctzll(m);
                for (uint64_t m2 = m & (m - 1); m2 != 0; m2 &= m2 - 1)
                    both[b][j][__builtin_ctzll(m2)]++;
            }
        }
    }
    double worst = 0;
    for (size_t b = 0; b < nbits; b++)
        for (int j = 0; j < 64; j++)
            for (int k = j + 1; k < 64; k++) {
                double p = (double)both[b][j][k] / trials, e = p > 0.25 ? p - 0.25 : 0.25 - p;
                if (e > worst)
                    worst = e;
            }
    free(both);
    if (worst > 0.07)
        fail_msg("%s: bit independence bias %.3f at %zu bytes", name, worst, n);
}

static void test_bic(void **state)
{
    (void)state;
    setup_variants();
    for (int v = 0; v < nvariants; v++) {
        bic(variants[v].f, 8, 2500, variants[v].name);
        bic(variants[v].f, 16, 2500, variants[v].name);
        bic(variants[v].f, 3, 2500, variants[v].name);
    }
}

/* A key set: full-width collisions must be none; the low 20 and high 20
 * bits (a map's group and directory bits) no more collisions than chance
 * allows (expected n^2/2^21 for n keys; bound 1.25x + 6 sigma). */
static int cmpu64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}
static uint64_t collisions(uint64_t *h, size_t n)
{
    qsort(h, n, sizeof(h[0]), cmpu64);
    uint64_t c = 0;
    for (size_t i = 1; i < n; i++)
        c += h[i] == h[i - 1];
    return c;
}
static void check_set(const char *set, const char *name, uint64_t *h, size_t n, uint64_t *lowc, uint64_t *highc)
{
    uint64_t *t = malloc(n * sizeof(uint64_t));
    memcpy(t, h, n * sizeof(uint64_t));
    uint64_t full = collisions(t, n);
    if (full != 0)
        fail_msg("%s: %llu full 64-bit collisions in %s (%zu keys)", name, (unsigned long long)full, set, n);
    const int bits = 20;
    double exp = (double)n - (1 << bits) * (1 - pow(1 - 1.0 / (1 << bits), (double)n));
    for (int side = 0; side < 2; side++) {
        for (size_t i = 0; i < n; i++)
            t[i] = side == 0 ? h[i] & ((1u << bits) - 1) : h[i] >> (64 - bits);
        uint64_t c = collisions(t, n);
        *(side == 0 ? lowc : highc) = c;
        if ((double)c > exp * 1.25 + 6 * sqrt(exp) + 2)
            fail_msg("%s: %llu collisions in the %s %d bits of %s (%zu keys; expected %.0f)", name,
                     (unsigned long long)c, side == 0 ? "low" : "high", bits, set, n, exp);
    }
    free(t);
}

static void test_keysets(void **state)
{
    (void)state;
    setup_variants();
    size_t cap = 1100000;
    uint64_t *h = malloc(cap * sizeof(uint64_t));
    uint64_t lows[3][8], highs[3][8];
    for (int v = 0; v < nvariants; v++) {
        hfn f = variants[v].f;
        const char *nm = variants[v].name;
        int s = 0;
        size_t n;
        /* sequential: 64-bit integers 0..N-1 */
        n = 1000000;
        for (uint64_t i = 0; i < n; i++)
            h[i] = f(&i, 8, 0);
        check_set("sequential u64", nm, h, n, &lows[v][s], &highs[v][s]), s++;
        /* sequential decimal strings */
        for (uint64_t i = 0; i < n; i++) {
            char b[24];
            int l = snprintf(b, sizeof(b), "%llu", (unsigned long long)i);
            h[i] = f(b, (size_t)l, 0);
        }
        check_set("decimal strings", nm, h, n, &lows[v][s], &highs[v][s]), s++;
        /* sparse: 32-byte keys with at most 2 bits set, and 256-byte keys
         * with at most 2 bits set (the AES long path) */
        for (size_t len = 32; len <= 256; len *= 8) {
            uint8_t k[256] = {0};
            n = 0;
            h[n++] = f(k, len, 0);
            for (size_t a = 0; a < len * 8; a++) {
                k[a / 8] ^= (uint8_t)(1u << (a % 8));
                h[n++] = f(k, len, 0);
                for (size_t b = a + 1; b < len * 8 && len == 32; b++) {
                    k[b / 8] ^= (uint8_t)(1u << (b % 8));
                    h[n++] = f(k, len, 0);
                    k[b / 8] ^= (uint8_t)(1u << (b % 8));
                }
                k[a / 8] ^= (uint8_t)(1u << (a % 8));
            }
            check_set(len == 32 ? "sparse 32-byte" : "sparse 256-byte", nm, h, n, &lows[v][s], &highs[v][s]), s++;
        }
        /* low entropy: 10-byte keys over a 4-letter alphabet (4^10 keys),
         * and 24-byte keys of zeros but for two bytes anywhere */
        n = 0;
        for (uint32_t i = 0; i < (1u << 20); i++) {
            char k[10];
            for (int j = 0; j < 10; j++)
                k[j] = "ACGT"[(i >> (2 * j)) & 3];
            h[n++] = f(k, 10, 0);
        }
        check_set("ACGT 10-mers", nm, h, n, &lows[v][s], &highs[v][s]), s++;
        n = 0;
        for (int a = 0; a < 24; a++)
            for (int b = a + 1; b < 24; b++)
                for (int x = 1; x < 256; x += 2)
                    for (int y = 1; y < 256; y += 16) {
                        uint8_t k[24] = {0};
                        k[a] = (uint8_t)x;
                        k[b] = (uint8_t)y;
                        h[n++] = f(k, 24, 0);
                    }
        check_set("two-byte 24-byte keys", nm, h, n, &lows[v][s], &highs[v][s]), s++;
        /* one key, every seed 0..N-1 */
        n = 1000000;
        for (uint64_t i = 0; i < n; i++)
            h[i] = f("seed independence", 17, i);
        check_set("sequential seeds", nm, h, n, &lows[v][s], &highs[v][s]), s++;
    }
    /* the variants against each other: within 1.5x + 8 collisions of each
     * other on every set (distribution, not equality) */
    for (int s = 0; s < 7; s++)
        for (int v = 1; v < nvariants; v++) {
            uint64_t a = lows[0][s], b = lows[v][s];
            if ((double)a > 1.5 * (double)b + 8 || (double)b > 1.5 * (double)a + 8)
                fail_msg("set %d: low-bit collisions portable %llu vs %s %llu", s, (unsigned long long)a,
                         variants[v].name, (unsigned long long)b);
        }
    free(h);
}

/* Seed independence: flipping one bit of the seed flips each output bit
 * with probability 1/2 (the seed avalanches as the key does). */
static void test_seed_avalanche(void **state)
{
    (void)state;
    setup_variants();
    static const size_t lens[] = {0, 3, 8, 16, 40, 100, 200, 2000};
    uint8_t key[2000];
    for (int v = 0; v < nvariants; v++)
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            uint32_t cnt[64][64] = {{0}};
            const int trials = 1500;
            for (int t = 0; t < trials; t++) {
                fill(key, lens[i]);
                uint64_t seed = rnd(), h0 = variants[v].f(key, lens[i], seed);
                for (int b = 0; b < 64; b++)
                    for (uint64_t d = variants[v].f(key, lens[i], seed ^ (1ull << b)) ^ h0; d != 0; d &= d - 1)
                        cnt[b][__builtin_ctzll(d)]++;
            }
            for (int b = 0; b < 64; b++)
                for (int o = 0; o < 64; o++) {
                    double p = (double)cnt[b][o] / trials;
                    if (p < 0.4 || p > 0.6)
                        fail_msg("%s: seed bit %d -> output bit %d flips with p=%.3f (%zu-byte key)",
                                 variants[v].name, b, o, p, lens[i]);
                }
        }
}

/* The map's own hash of 8-byte keys (one multiply-fold, rt_maphash64):
 * the same key sets a map meets, no worse than chance in the bits a map
 * uses, for several per-map seeds. */
static void test_maphash64(void **state)
{
    (void)state;
    setup_variants();
    size_t n = 1000000;
    uint64_t *h = malloc(n * sizeof(uint64_t)), lo, hi;
    for (int round = 0; round < 16; round++) {
        uint64_t seed = rnd(), pseed = rt_hash_premix(seed), mul = rt_hash_mix(seed, rt_hashkey[2]);
        for (uint64_t i = 0; i < n; i++)
            h[i] = rt_maphash64(i, pseed, mul);
        check_set("maphash64 sequential", "maphash64", h, n, &lo, &hi);
        for (uint64_t i = 0; i < n; i++)
            h[i] = rt_maphash64(i << 32, pseed, mul);
        check_set("maphash64 high words", "maphash64", h, n, &lo, &hi);
        for (uint64_t i = 0; i < n; i++)
            h[i] = rt_maphash64(i * 4096, pseed, mul); /* page addresses */
        check_set("maphash64 multiples of 4096", "maphash64", h, n, &lo, &hi);
        for (uint64_t i = 0; i < n; i++)
            h[i] = rt_maphash64((i & 1023) | (i >> 10) << 54, pseed, mul); /* low and top bits */
        check_set("maphash64 low and top bits", "maphash64", h, n, &lo, &hi);
        size_t m = 0;
        h[m++] = rt_maphash64(0, pseed, mul);
        for (int a = 0; a < 64; a++)
            for (int b = a; b < 64; b++)
                for (int c = b; c < 64; c++)
                    h[m++] = rt_maphash64((1ull << a) | (1ull << b) | (1ull << c), pseed, mul);
        qsort(h, m, sizeof(h[0]), cmpu64);
        size_t distinct = 1;
        for (size_t i = 1; i < m; i++)
            distinct += h[i] != h[i - 1];
        /* keys with 1 to 3 bits set (b == a or c == b repeat smaller
         * keys): 1 + 64 + 2016 + 41664 = 43745 distinct ones */
        assert_int_equal(distinct, 43745);
    }
    free(h);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api),      cmocka_unit_test(test_avalanche),      cmocka_unit_test(test_bic),
        cmocka_unit_test(test_keysets),  cmocka_unit_test(test_seed_avalanche), cmocka_unit_test(test_maphash64),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
