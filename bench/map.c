/* bench/map.c - the map: insert N uint64 keys, look all of them up, look
 * up N misses, delete all (ns/op each, peak RSS), the same with string
 * keys of 16-64 bytes, and the worst single insert while a map grows to N.
 * Peers: bench/go/map (Go 1.19's map[uint64]uint64, map[string]int) and
 * bench/map_absl.cc (abseil's flat_hash_map), with the same keys.
 *
 *   bench_map u64 N      RESULT map_u64_{insert,hit,miss,delete}_ns, map_u64_peak_mb
 *   bench_map str N      RESULT map_str_{insert,hit,miss,delete}_ns, map_str_peak_mb
 *   bench_map worst N    RESULT map_worst_insert_us, map_p9999_insert_us */
#include "bench_util.h"

#include <gort.h>
#include <stdint.h>

/* The keys every peer uses: splitmix64 of 1..N (hits) and of N+1..2N
 * (misses). */
static inline uint64_t key_at(uint64_t i)
{
    uint64_t z = i * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* String keys: "%016llx" of key_at(i) repeated to a length of 16..64
 * (from the key), as Go's strings and ours: pointer and length. */
typedef struct skey {
    const char *p;
    uint64_t len;
} skey;
static char *make_str(uint64_t i, uint64_t *len)
{
    uint64_t k = key_at(i);
    size_t n = 16 + (size_t)(k % 49);
    char *s = malloc(n + 17), hex[17];
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)k);
    for (size_t j = 0; j < n; j += 16)
        memcpy(s + j, hex, 16);
    s[n] = 0;
    *len = n;
    return s;
}
static uint64_t shash(const void *k, uint64_t seed)
{
    const skey *s = k;
    return gort_hash(s->p, s->len, seed);
}
static bool seq(const void *a, const void *b)
{
    const skey *x = a, *y = b;
    return x->len == y->len && memcmp(x->p, y->p, x->len) == 0;
}

static void report(const char *what, const char *phase, double ns)
{
    char name[64];
    snprintf(name, sizeof(name), "map_%s_%s_ns", what, phase);
    RESULT(name, ns, "ns");
}

/* The four phases of one run, timed t[0]..t[4], per operation. */
static void report_phases(const char *what, const double t[5], uint64_t n)
{
    static const char *const phase[4] = {"insert", "hit", "miss", "delete"};
    for (int i = 0; i < 4; i++)
        report(what, phase[i], (t[i + 1] - t[i]) / (double)n);
}

static long peak_mb(void) { return status_bytes("VmHWM") >> 20; }

int gort_main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "u64";
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 2000000;
    long base = peak_mb();
    if (!strcmp(mode, "u64")) {
        gort_map_t *m = gort_map_new_custom(8, 8, NULL, NULL, 0);
        double t0 = now_ns();
        for (uint64_t i = 1; i <= n; i++) {
            uint64_t k = key_at(i);
            gort_map_put(m, &k, &i);
        }
        double t1 = now_ns();
        uint64_t sum = 0;
        for (uint64_t i = 1; i <= n; i++) {
            uint64_t k = key_at(i), *v = gort_map_get(m, &k);
            sum += *v;
        }
        double t2 = now_ns();
        for (uint64_t i = n + 1; i <= 2 * n; i++) {
            uint64_t k = key_at(i);
            sum += gort_map_get(m, &k) != NULL;
        }
        double t3 = now_ns();
        long peak = peak_mb() - base;
        for (uint64_t i = 1; i <= n; i++) {
            uint64_t k = key_at(i);
            sum += gort_map_delete(m, &k);
        }
        double t4 = now_ns();
        if (sum != n * (n + 1) / 2 + n || gort_map_len(m) != 0)
            printf("wrong sum\n");
        report_phases("u64", (double[5]){t0, t1, t2, t3, t4}, n);
        RESULT("map_u64_peak_mb", peak, "MB");
    } else if (!strcmp(mode, "str")) {
        skey *keys = malloc((2 * n + 1) * sizeof(skey));
        for (uint64_t i = 1; i <= 2 * n; i++)
            keys[i].p = make_str(i, &keys[i].len);
        base = peak_mb();
        gort_map_t *m = gort_map_new_custom(sizeof(skey), sizeof(int64_t), shash, seq, GORT_MAP_KEY_POINTERS);
        double t0 = now_ns();
        for (uint64_t i = 1; i <= n; i++) {
            int64_t v = (int64_t)i;
            gort_map_put(m, &keys[i], &v);
        }
        double t1 = now_ns();
        uint64_t sum = 0;
        for (uint64_t i = 1; i <= n; i++)
            sum += (uint64_t) * (int64_t *)gort_map_get(m, &keys[i]);
        double t2 = now_ns();
        for (uint64_t i = n + 1; i <= 2 * n; i++)
            sum += gort_map_get(m, &keys[i]) != NULL;
        double t3 = now_ns();
        long peak = peak_mb() - base;
        for (uint64_t i = 1; i <= n; i++)
            sum += gort_map_delete(m, &keys[i]);
        double t4 = now_ns();
        if (sum != n * (n + 1) / 2 + n)
            printf("wrong sum\n");
        report_phases("str", (double[5]){t0, t1, t2, t3, t4}, n);
        RESULT("map_str_peak_mb", peak, "MB");
    } else if (!strcmp(mode, "worst")) {
        gort_map_t *m = gort_map_new_custom(8, 8, NULL, NULL, 0);
        static uint32_t hist[1 << 16]; /* by 100 ns */
        double worst = 0, t = now_ns();
        for (uint64_t i = 1; i <= n; i++) {
            uint64_t k = key_at(i);
            gort_map_put(m, &k, &i);
            double t2 = now_ns(), d = t2 - t;
            t = t2;
            if (d > worst)
                worst = d;
            size_t b = (size_t)(d / 100);
            hist[b < (1 << 16) ? b : (1 << 16) - 1]++;
        }
        uint64_t acc = 0, p = 0;
        for (size_t b = 0; b < (1 << 16); b++)
            if ((acc += hist[b]) >= n - n / 10000) {
                p = b;
                break;
            }
        RESULT("map_worst_insert_us", worst / 1000, "us");
        RESULT("map_p9999_insert_us", (double)(p + 1) / 10, "us");
    }
    return 0;
}
