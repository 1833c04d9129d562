/* test_alloc.c - the gort heap: sizes, zeroing, reuse, tiny objects, large
 * objects, frees across goroutines and threads, memstats, returning memory. */
#include "check.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

static bool allzero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* ---- sizes, zeroing, usable size -------------------------------------------------- */

static void sizes_body(void *arg)
{
    (void)arg;
    static void *ptrs[5000];
    int n = 0;
    for (size_t sz = 1; sz <= 40000; sz += (sz < 64 ? 1 : sz / 16)) {
        for (int scan = 0; scan < 2; scan++) {
            unsigned char *p = scan ? gort_alloc(sz) : gort_alloc_noscan(sz);
            CHECK(p != NULL);
            CHECK(allzero(p, sz));
            size_t u = gort_usable_size(p);
            CHECK(u >= sz);
            memset(p, 0xa5, u); /* the whole usable size is ours */
            ptrs[n++] = p;
        }
    }
    for (int i = 0; i < n; i++)
        gort_free(ptrs[i]);
    /* freed memory comes back zeroed */
    for (int round = 0; round < 3; round++) {
        n = 0;
        for (size_t sz = 8; sz <= 4096; sz *= 2) {
            unsigned char *p = gort_alloc(sz);
            CHECK(allzero(p, sz));
            memset(p, 0x5a, sz);
            ptrs[n++] = p;
        }
        for (int i = 0; i < n; i++)
            gort_free(ptrs[i]);
    }
}

static void test_sizes_and_zeroing(void **state)
{
    (void)state;
    run_main(sizes_body, NULL);
}

static void edge_body(void *arg)
{
    (void)arg;
    void *z1 = gort_alloc(0), *z2 = gort_alloc_noscan(0);
    CHECK(z1 != NULL && z1 == z2); /* Go's zerobase */
    CHECK(gort_usable_size(z1) == 0);
    gort_free(z1);
    gort_free(NULL);
    CHECK(gort_alloc(SIZE_MAX) == NULL);
    CHECK(gort_alloc(SIZE_MAX / 2 + 1) == NULL);
    CHECK(gort_alloc_noscan((size_t)1 << 62) == NULL);
}

/* Issue 12, 8: a request no machine here could back returns NULL at once
 * (it took 29 s and 4.7 GB of RSS for 4 TiB, 4 s for 1 TiB), and a large
 * one that fits costs metadata per 64 MiB arena, not per page. */
static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f != NULL && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    if (f != NULL)
        fclose(f);
    return kb;
}

static void huge_body(void *arg)
{
    (void)arg;
    long rss0 = rss_kb();
    for (int sh = 40; sh <= 47; sh++) {
        int64_t t0 = now_ns();
        void *p = gort_alloc_noscan((size_t)1 << sh);
        int64_t dt = now_ns() - t0;
        CHECK(p == NULL);           /* beyond RAM + swap on any machine that runs this suite */
        CHECK(dt < 1000 * 1000);    /* microseconds, not seconds */
    }
    CHECK(gort_alloc((size_t)1 << 45) == NULL && gort_alloc((size_t)1 << 46) == NULL);
    /* 1 GiB (16 arenas): a few per-arena stores, not 131072 per-page ones;
     * nothing is touched, and it is usable at both ends */
    int64_t t0 = now_ns();
    char *g = gort_alloc_noscan((size_t)1 << 30);
    int64_t dt = now_ns() - t0;
    CHECK(g != NULL);
    CHECK(dt < 200 * 1000 * 1000);
    CHECK(rss_kb() - rss0 < 16 * 1024); /* metadata only, nowhere near 1 GiB */
    g[0] = 1;
    g[((size_t)1 << 30) - 1] = 2;
    CHECK(gort_usable_size(g + ((size_t)1 << 29)) == ((size_t)1 << 29)); /* an interior pointer in a whole arena */
    int n = gort_maxprocs(0); /* a stop: debug tier 2 checks the heap with the object live */
    gort_maxprocs(n + 1);
    gort_maxprocs(n);
    gort_free(g);
    gort_maxprocs(n + 1); /* ... and freed */
    gort_maxprocs(n);
}

static void test_huge(void **state)
{
    (void)state;
    run_main(huge_body, NULL);
}

static void test_edge_cases(void **state)
{
    (void)state;
    run_main(edge_body, NULL);
}

/* A live object whose first word equals a freed object's cookie is freed
 * normally (the check confirms before calling it a double free), and a free
 * followed by an allocation of the same class reuses the slot zeroed. */
static void cookie_body(void *arg)
{
    (void)arg;
    for (int round = 0; round < 400; round++) { /* also past the free cache's flush */
        size_t sz = round < 200 ? 48 : 8; /* 8: the class whose free reads the cookie */
        uint64_t *p = gort_alloc(sz), *q = gort_alloc(sz);
        q[0] = 0x1234;
        gort_free(p);
        uint64_t cookie;
        memcpy(&cookie, p, sizeof(cookie)); /* what a free leaves there */
        q[0] = cookie;
        gort_free(q);
        uint64_t *r = gort_alloc(sz);
        CHECK(r == q || r == p);        /* LIFO reuse on this P */
        CHECK(allzero(r, sz));
        uint64_t *t = gort_alloc(sz);
        CHECK(allzero(t, sz));
        t[0] = cookie;                  /* held over the next round's frees */
        if (round % 2)
            gort_free(t);
        gort_free(r);
    }
}

static void test_cookie_lookalike(void **state)
{
    (void)state;
    run_main(cookie_body, NULL);
}

/* Uninitialised allocations: usable, freeable, mixed with zeroed ones that
 * must still come back zeroed; no false double-free report on reuse. */
static void uninit_body(void *arg)
{
    (void)arg;
    enum { N = 2000 };
    static unsigned char *p[N];
    static size_t sz[N];
    uint64_t seed = 12345;
    for (int i = 0; i < N; i++)
        p[i] = NULL;
    for (int round = 0; round < 100000; round++) {
        int i = (int)(xorshift(&seed) % N);
        if (p[i] != NULL) {
            for (size_t k = 0; k < sz[i]; k++)
                CHECK(p[i][k] == (unsigned char)(i & 0xff));
            gort_free(p[i]);
        }
        uint64_t r = xorshift(&seed);
        sz[i] = 1 + (size_t)(r % 3000);
        switch ((r >> 32) % 4) {
        case 0: p[i] = gort_alloc_uninit(sz[i]); break;
        case 1: p[i] = gort_alloc_noscan_uninit(sz[i]); break;
        case 2: p[i] = gort_alloc(sz[i]); CHECK(allzero(p[i], sz[i])); break;
        default: p[i] = gort_alloc_noscan(sz[i]); CHECK(allzero(p[i], sz[i])); break;
        }
        CHECK(p[i] != NULL && gort_usable_size(p[i]) >= sz[i]);
        memset(p[i], i & 0xff, sz[i]);
    }
    for (int i = 0; i < N; i++)
        gort_free(p[i]);
    void *big = gort_alloc_uninit(1 << 20); /* large: pages of its own, not cleared */
    CHECK(big != NULL && gort_usable_size(big) >= (1 << 20));
    memset(big, 1, 1 << 20);
    gort_free(big);
    CHECK(gort_alloc_uninit(0) == gort_alloc(0));
    CHECK(gort_alloc_uninit(SIZE_MAX) == NULL);
}

static void test_uninit(void **state)
{
    (void)state;
    run_main(uninit_body, NULL);
}

/* Alignment: 8 bytes always, 16 when the size is a multiple of 16 (a C
 * type's size is a multiple of its alignment), a page for large objects. */
static void align_body(void *arg)
{
    (void)arg;
    for (size_t n = 8; n <= 70000; n += 8) {
        char *p = gort_alloc(n), *q = gort_alloc_noscan(n);
        CHECK(((uintptr_t)p & 7) == 0 && ((uintptr_t)q & 7) == 0);
        if (n % 16 == 0)
            CHECK(((uintptr_t)p & 15) == 0 && ((uintptr_t)q & 15) == 0);
        if (n > 32768)
            CHECK(((uintptr_t)p & 8191) == 0);
        gort_free(p);
        gort_free(q);
    }
}

static void test_alignment(void **state)
{
    (void)state;
    run_main(align_body, NULL);
}

/* ---- tiny objects --------------------------------------------------------------- */

static void tiny_body(void *arg)
{
    (void)arg;
    gort_memstats_t m0, m1;
    gort_read_memstats(&m0);
    enum { N = 10000 };
    static char *p[N];
    for (int i = 0; i < N; i++) {
        size_t sz = 1 + (size_t)i % 15;
        p[i] = gort_alloc_noscan(sz);
        CHECK(p[i] != NULL && allzero(p[i], sz));
        memset(p[i], i & 0xff, sz);
    }
    for (int i = 0; i < N; i++) /* exact: neighbours start right after */
        CHECK(gort_usable_size(p[i]) == 1 + (size_t)i % 15);
    /* packed: consecutive tiny objects share 16-byte blocks */
    int shared = 0;
    for (int i = 1; i < N; i++)
        shared += ((uintptr_t)p[i] & ~(uintptr_t)15) == ((uintptr_t)p[i - 1] & ~(uintptr_t)15);
    CHECK(shared > N / 4);
    for (int i = 0; i < N; i++) { /* nobody overwrote anybody */
        size_t sz = 1 + (size_t)i % 15;
        for (size_t k = 0; k < sz; k++)
            CHECK((unsigned char)p[i][k] == (unsigned char)(i & 0xff));
    }
    for (int i = 0; i < N; i++)
        gort_free(p[i]);
    gort_read_memstats(&m1);
    CHECK(m1.Mallocs - m0.Mallocs >= N);
    /* every block came back except at most the current one */
    CHECK(m1.HeapAlloc <= m0.HeapAlloc + 16);
}

static void test_tiny(void **state)
{
    (void)state;
    run_main(tiny_body, NULL);
}

/* ---- large objects ------------------------------------------------------------------ */

static void large_body(void *arg)
{
    (void)arg;
    static const size_t sizes[] = {32769, 100000, 1 << 20, 10 << 20, (size_t)100 << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (int round = 0; round < 2; round++) {
            unsigned char *p = gort_alloc(sizes[i]);
            CHECK(p != NULL);
            CHECK(((uintptr_t)p & 8191) == 0);
            CHECK(gort_usable_size(p) >= sizes[i]);
            CHECK(p[0] == 0 && p[sizes[i] / 2] == 0 && p[sizes[i] - 1] == 0);
            memset(p, 0xff, sizes[i]); /* dirty it: the next round must get zeros */
            gort_free(p);
        }
    }
}

static void test_large(void **state)
{
    (void)state;
    run_main(large_body, NULL);
}

/* ---- many goroutines, frees crossing goroutines and Ps ------------------------------- */

#define NWORK 8
#define WINDOW 2000

/* A slot holds an object whose first two bytes are its size and whose other
 * bytes are a tag derived from its address: anyone can check it. */
static unsigned char *windows[NWORK][WINDOW];
static gort_waitgroup_t wg;

static unsigned char tagof(const void *p) { return (unsigned char)(((uintptr_t)p >> 4) | 1); }

static void fill(unsigned char *p, size_t n)
{
    p[0] = (unsigned char)(n & 0xff);
    p[1] = (unsigned char)(n >> 8);
    memset(p + 2, tagof(p), n - 2);
}

static bool intact(const unsigned char *p)
{
    size_t n = (size_t)p[0] | (size_t)p[1] << 8;
    if (n < 8 || n > 1024)
        return false;
    for (size_t i = 2; i < n; i++)
        if (p[i] != tagof(p))
            return false;
    return true;
}

static void churn(void *arg)
{
    long k = (long)arg;
    uint64_t rs = 0x9e3779b97f4a7c15ull * (uint64_t)(k + 1);
    for (int op = 0; op < 100000; op++) {
        /* take an object from our window or the next goroutine's, free it */
        long w = (xorshift(&rs) & 1) ? k : (k + 1) % NWORK;
        unsigned char *old = __atomic_exchange_n(&windows[w][xorshift(&rs) % WINDOW], NULL, __ATOMIC_ACQ_REL);
        if (old != NULL) {
            CHECK(intact(old));
            gort_free(old);
        }
        size_t n = 8 + xorshift(&rs) % 1017;
        unsigned char *p = (xorshift(&rs) & 1) ? gort_alloc(n) : gort_alloc_noscan(n);
        CHECK(allzero(p, n));
        fill(p, n);
        /* publish into an empty slot of our own window, or give it back */
        unsigned char *expect = NULL;
        if (!__atomic_compare_exchange_n(&windows[k][xorshift(&rs) % WINDOW], &expect, p, false, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            gort_free(p);
        if (op % 1000 == 0)
            gort_yield();
    }
    gort_wg_done(&wg);
}

static void churn_body(void *arg)
{
    bool quiet = arg == NULL; /* nothing else allocates meanwhile: counts must match */
    gort_memstats_t m0, m1;
    gort_read_memstats(&m0);
    gort_wg_add(&wg, NWORK);
    for (long k = 0; k < NWORK; k++)
        gort_go(churn, (void *)k);
    gort_wg_wait(&wg);
    for (int w = 0; w < NWORK; w++)
        for (int i = 0; i < WINDOW; i++)
            if (windows[w][i] != NULL) {
                CHECK(intact(windows[w][i]));
                gort_free(windows[w][i]);
                windows[w][i] = NULL;
            }
    gort_read_memstats(&m1);
    if (quiet) {
        CHECK(m1.Mallocs - m0.Mallocs == m1.Frees - m0.Frees); /* every object freed */
        /* what may remain: each P's current tiny block (16 bytes, as Go's
         * mcache.tiny), and the shared cache's (GORTMAXPROCS=8: 128 bytes) */
        CHECK(m1.HeapAlloc <= m0.HeapAlloc + 16 * (uint64_t)(gort_maxprocs(0) + 1));
    }
}

static void test_churn_cross_goroutine(void **state)
{
    (void)state;
    run_main(churn_body, NULL);
}

/* ---- threads without a P ------------------------------------------------------------ */

static void *foreign(void *arg)
{
    (void)arg;
    void *p[1000];
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 1000; i++) { /* every other one tiny (noscan, < 16 B) */
            size_t n = i % 2 ? (size_t)(i % 300) + 1 : (size_t)(i % 15) + 1;
            p[i] = i % 2 ? gort_alloc(n) : gort_alloc_noscan(n);
            if (p[i] == NULL || !allzero(p[i], n))
                return (void *)1;
            memset(p[i], 7, n);
        }
        for (int i = 0; i < 1000; i++) /* in an order that retires blocks before they empty */
            gort_free(p[(i * 7) % 1000]);
    }
    return NULL;
}

static void boot(void *arg) { (void)arg; }

static void test_foreign_threads(void **state)
{
    (void)state;
    run_main(boot, NULL);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, foreign, NULL);
    run_main(churn_body, (void *)1); /* goroutines churn at the same time */
    for (int i = 0; i < 3; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_null(r);
    }
}

/* ---- memstats and returning memory to the OS ---------------------------------------- */

static void memstats_body(void *arg)
{
    (void)arg;
    gort_memstats_t ms;
    gort_read_memstats(&ms);
    CHECK(ms.Sys > 0 && ms.HeapSys >= ms.HeapInuse);
    CHECK(ms.StackInuse > 0); /* this goroutine's stack at least */
    CHECK(ms.BySize[1].Size == 8 && ms.BySize[2].Size == 16);
    uint64_t a0 = ms.HeapAlloc, m0 = ms.Mallocs;
    enum { N = 20000 };
    static void *p[N];
    for (int i = 0; i < N; i++)
        p[i] = gort_alloc(1024);
    gort_read_memstats(&ms);
    CHECK(ms.HeapAlloc >= a0 + (uint64_t)N * 1024);
    CHECK(ms.Mallocs >= m0 + N);
    for (int i = 0; i < N; i++)
        gort_free(p[i]);
    gort_read_memstats(&ms);
    CHECK(ms.HeapAlloc <= a0 + 1024);
    uint64_t released0 = ms.HeapReleased;
    gort_free_os_memory();
    gort_read_memstats(&ms);
    CHECK(ms.HeapReleased >= released0 + (uint64_t)N * 1024 / 2); /* most of the 20 MB */
    CHECK(ms.HeapIdle >= ms.HeapReleased);
    /* released pages are reusable (and zero) */
    for (int i = 0; i < N; i++) {
        p[i] = gort_alloc(1024);
        CHECK(allzero(p[i], 1024));
    }
    for (int i = 0; i < N; i++)
        gort_free(p[i]);
}

static void test_memstats_and_release(void **state)
{
    (void)state;
    run_main(memstats_body, NULL);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_and_zeroing), cmocka_unit_test(test_edge_cases), cmocka_unit_test(test_huge),
        cmocka_unit_test(test_tiny),              cmocka_unit_test(test_large),
        cmocka_unit_test(test_churn_cross_goroutine), cmocka_unit_test(test_foreign_threads),
        cmocka_unit_test(test_memstats_and_release), cmocka_unit_test(test_cookie_lookalike),
        cmocka_unit_test(test_uninit),            cmocka_unit_test(test_alignment),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
