/* test_heapcheck.c - the allocator's pointer lookup and consistency checks
 * (internal: links the static library):
 *   - rt_findobject: the base, span and index of any byte of small, tiny
 *     and large objects; 0 at a span's limit, in free pages, on a stack, in
 *     another allocator's memory and just outside the heap's range;
 *   - rt_mheap_check with the world stopped after goroutines, a thread
 *     without a P and cross-goroutine frees churned the heap (it must pass),
 *     and its exit-time variant while goroutines keep churning;
 *   - the corruptions it must catch: run as `test_heapcheck corrupt_<what>`
 *     by expect tests (tests/CMakeLists.txt), since the fatal error ends the
 *     process with exit status 2. */
#include "check.h"

#include <pthread.h>
#include <stdlib.h>

#include "../src/alloc/malloc.h"
#include "../src/sched/sched.h"

static uintptr_t find(const void *p, rt_mspan **s, uint32_t *idx)
{
    return rt_findobject((uintptr_t)p, s, idx);
}

static uintptr_t find1(uintptr_t p)
{
    rt_mspan *s;
    uint32_t idx;
    uintptr_t b = rt_findobject(p, &s, &idx);
    CHECK(b != 0 || (s == NULL && idx == 0));
    return b;
}

/* ---- rt_findobject ------------------------------------------------------------------ */

static void findobject_small_body(void *arg)
{
    (void)arg;
    rt_mspan *s;
    uint32_t idx;
    for (size_t n = 16; n <= RT_MAX_SMALL_SIZE; n = n * 3 / 2) {
        unsigned char *p = gort_alloc(n);
        size_t size = rt_class_to_size[rt_size_to_class(n)];
        CHECK(find(p, &s, &idx) == (uintptr_t)p);
        CHECK(s != NULL && rt_spanclass_size(s->spanclass) == rt_size_to_class(n));
        CHECK(s->base + (uintptr_t)idx * s->elemsize == (uintptr_t)p);
        CHECK(find1((uintptr_t)p + 1) == (uintptr_t)p);
        CHECK(find1((uintptr_t)p + size - 1) == (uintptr_t)p);
        uintptr_t next = (uintptr_t)p + size; /* the next slot, or the limit */
        CHECK(next >= s->limit ? find1(next) != (uintptr_t)p : find1(next) == next);
        gort_free(p);
    }
    /* 48-byte objects: 170 in a page, 32 bytes of tail past the limit */
    void *q = gort_alloc(48);
    CHECK(find(q, &s, &idx) == (uintptr_t)q && s->elemsize == 48 && s->limit == s->base + 170 * 48);
    CHECK(find1(s->limit) == 0);
    CHECK(find1(s->limit + 31) == 0);
    CHECK(find1(s->limit - 1) == s->base + 169 * 48);
    gort_free(q);
}

static void test_findobject_small(void **state)
{
    (void)state;
    run_main(findobject_small_body, NULL);
}

static void findobject_tiny_body(void *arg)
{
    (void)arg;
    rt_mspan *s;
    uint32_t idx;
    char *t = gort_alloc_noscan(5), *u = gort_alloc_noscan(3);
    uintptr_t block = (uintptr_t)t & ~(uintptr_t)15;
    /* a tiny object is found as its 16-byte block, as in Go */
    CHECK(find(t, &s, &idx) == block);
    CHECK(s->spanclass == RT_TINY_SPANCLASS && s->base + (uintptr_t)idx * 16 == block);
    CHECK(find1(block + 1) == block);
    CHECK(find1(block + 15) == block);
    CHECK(find1((uintptr_t)u) == ((uintptr_t)u & ~(uintptr_t)15));
    gort_free(t);
    gort_free(u);
}

static void test_findobject_tiny(void **state)
{
    (void)state;
    run_main(findobject_tiny_body, NULL);
}

static void findobject_large_body(void *arg)
{
    (void)arg;
    rt_mspan *s;
    uint32_t idx;
    size_t n = 100000;
    unsigned char *p = gort_alloc(n);
    size_t size = gort_usable_size(p);
    CHECK(size >= n && size % RT_PAGE_SIZE == 0);
    CHECK(find(p, &s, &idx) == (uintptr_t)p && idx == 0 && s->base == (uintptr_t)p);
    CHECK(rt_spanclass_size(s->spanclass) == 0 && s->limit == (uintptr_t)p + size);
    CHECK(find1((uintptr_t)p + 1) == (uintptr_t)p);
    CHECK(find1((uintptr_t)p + size - 1) == (uintptr_t)p);
    CHECK(find1((uintptr_t)p + size) != (uintptr_t)p); /* the limit: free pages or another span */
    /* freed: its pages are free, in no span */
    unsigned char *big = gort_alloc(1 << 20);
    CHECK(find1((uintptr_t)big + 12345) == (uintptr_t)big);
    gort_free(big);
    CHECK(find1((uintptr_t)big) == 0);
    CHECK(find1((uintptr_t)big + 12345) == 0);
    gort_free(p);
    CHECK(find1((uintptr_t)p) == 0);
}

static void test_findobject_large(void **state)
{
    (void)state;
    run_main(findobject_large_body, NULL);
}

static void findobject_outside_body(void *arg)
{
    (void)arg;
    int local = 0;
    void *m = malloc(64);
    gort_alloc(8); /* there is a heap */
    uintptr_t lo = rt_heap_lo(), hi = rt_heap_hi();
    CHECK(lo != 0 && lo < hi);
    CHECK(find1((uintptr_t)&local) == 0); /* a goroutine's stack */
    CHECK(find1((uintptr_t)&arg) == 0);
    CHECK(find1((uintptr_t)m) == 0); /* libc's heap */
    CHECK(find1((uintptr_t)&lo) == 0); /* a global */
    CHECK(find1(lo - 1) == 0);
    CHECK(find1(hi) == 0);
    CHECK(find1(0) == 0 && find1(UINTPTR_MAX) == 0 && find1((uintptr_t)1 << 60) == 0);
    free(m);
}

static void test_findobject_outside(void **state)
{
    (void)state;
    run_main(findobject_outside_body, NULL);
    int local;
    CHECK(find1((uintptr_t)&local) == 0); /* a thread's stack, without a P */
    assert_int_equal(check_nfail, 0);
}

/* ---- rt_mheap_check on a churned heap -------------------------------------------------- */

enum { NWORKERS = 6, NLIVE = 2000, ROUNDS = 20 };
static void *handoff[NWORKERS][NLIVE]; /* worker i's objects, freed by worker i+1 */
static gort_waitgroup_t wg;

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Tiny, 8-byte, small up to 1 KiB, any small, and (1 in 32) large. */
static void *alloc_mix(uint64_t *rnd)
{
    uint64_t r = xorshift(rnd);
    size_t n = (size_t)(r >> 8);
    switch (r % 32) {
    case 0: return gort_alloc(32769 + n % 100000);
    case 1: case 2: case 3: case 4: return gort_alloc_noscan(1 + n % 15);
    case 5: case 6: return gort_alloc(8);
    case 7: case 8: case 9: return gort_alloc_uninit(1 + n % 32768);
    default: return gort_alloc(1 + n % 1024);
    }
}

static void worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t rnd = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1);
    void *mine[NLIVE] = {0};
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < NLIVE; i++) {
            gort_free(mine[i]);
            mine[i] = alloc_mix(&rnd);
            CHECK(mine[i] != NULL);
        }
        if (round % 4 == 3)
            gort_yield();
    }
    for (int i = 0; i < NLIVE; i++) /* half stays live, half goes to the next worker */
        if (i % 2)
            handoff[id][i] = mine[i];
    gort_wg_done(&wg);
}

static void free_handoff(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < NLIVE; i++) { /* frees into spans other Ps own: freeBits */
        gort_free(handoff[id][i]);
        handoff[id][i] = NULL;
    }
    gort_wg_done(&wg);
}

static void *foreign_churn(void *arg)
{
    (void)arg;
    uint64_t rnd = 12345;
    static void *p[500];
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 500; i++)
            p[i] = alloc_mix(&rnd);
        for (int i = 0; i < 500; i += 1 + (round % 2)) { /* some stay in the shared cache */
            gort_free(p[i]);
            p[i] = NULL;
        }
    }
    return NULL;
}

static void stopped_check(void)
{
    rt_stoptheworld("test_heapcheck");
    rt_mheap_check();
    rt_starttheworld();
}

static void churn_then_check_body(void *arg)
{
    (void)arg;
    stopped_check(); /* a young heap */
    pthread_t th;
    pthread_create(&th, NULL, foreign_churn, NULL);
    gort_wg_add(&wg, NWORKERS);
    for (int i = 0; i < NWORKERS; i++)
        gort_go(worker, (void *)(intptr_t)i);
    gort_wg_wait(&wg);
    pthread_join(th, NULL);
    stopped_check();
    /* spans checked one by one too */
    uint64_t rnd = 7;
    for (int i = 0; i < 100; i++) {
        void *p = alloc_mix(&rnd);
        rt_mspan *s;
        uint32_t idx;
        CHECK(find(p, &s, &idx) != 0);
        rt_stoptheworld("test_heapcheck");
        rt_mspan_check(s);
        rt_starttheworld();
        gort_free(p);
    }
    gort_wg_add(&wg, NWORKERS);
    for (int i = 0; i < NWORKERS; i++)
        gort_go(free_handoff, (void *)(intptr_t)((i + 1) % NWORKERS));
    gort_wg_wait(&wg);
    stopped_check();
    gort_free_os_memory(); /* empty spans back, pages scavenged */
    stopped_check();
}

static void test_check_churned_heap(void **state)
{
    (void)state;
    run_main(churn_then_check_body, NULL);
}

/* The exit check's variant (rt_mheap_check_as(false), what gort_main's
 * return runs at debug tier 2) while other goroutines keep allocating and
 * freeing across Ps. */
static int stop_churn;

static void live_churner(void *arg)
{
    uint64_t rnd = 99 + (uint64_t)(intptr_t)arg;
    static void *slots[4][512];
    void **mine = slots[(intptr_t)arg];
    void **other = slots[((intptr_t)arg + 1) % 4];
    while (!__atomic_load_n(&stop_churn, __ATOMIC_RELAXED)) {
        for (int i = 0; i < 512; i++) {
            void *old = __atomic_exchange_n(&mine[i], alloc_mix(&rnd), __ATOMIC_ACQ_REL);
            gort_free(old);
        }
        for (int i = 0; i < 512; i += 7) /* some freed by another goroutine */
            gort_free(__atomic_exchange_n(&other[i], NULL, __ATOMIC_ACQ_REL));
        gort_yield();
    }
    gort_wg_done(&wg);
}

static void live_check_body(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 4);
    for (intptr_t i = 0; i < 4; i++)
        gort_go(live_churner, (void *)i);
    for (int i = 0; i < 30; i++) {
        rt_mheap_check_as(false);
        gort_sleep(1000 * 1000);
    }
    __atomic_store_n(&stop_churn, 1, __ATOMIC_RELAXED);
    gort_wg_wait(&wg);
    stopped_check();
}

static void test_check_while_running(void **state)
{
    (void)state;
    run_main(live_check_body, NULL);
}

/* ---- corruptions the checks must catch (expect tests: exit status 2) ---------------- */

static void *free_on_thread(void *p)
{
    gort_free(p);
    return NULL;
}

static void corrupt_body(void *arg)
{
    const char *what = arg;
    rt_mspan *s;
    uint32_t idx;
    void *keep = gort_alloc(100); /* keeps the span in use */
    void *p = gort_alloc(100);
    find(p, &s, &idx);
    if (!strcmp(what, "corrupt_alloccount")) {
        s->allocCount++;
    } else if (!strcmp(what, "corrupt_cached_twice")) {
        gort_free(p); /* in this P's free cache */
        pthread_t th;
        pthread_create(&th, NULL, free_on_thread, p); /* and in the shared one */
        pthread_join(th, NULL);
    } else if (!strcmp(what, "corrupt_cached_free")) {
        gort_free(p); /* cached, yet free in its span's bitmap */
        s->allocBits[idx / 64] &= ~(1ull << (idx % 64));
        s->allocCount--;
    } else if (!strcmp(what, "corrupt_pageinfo")) {
        uint32_t pg;
        rt_heaparena *a = rt_heaparenaof((uintptr_t)p, &pg);
        a->pageinfo[pg] ^= 1; /* the page offset */
    } else {
        printf("unknown case %s\n", what);
        return;
    }
    stopped_check();
    printf("not caught\n");
    (void)keep;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strncmp(argv[1], "corrupt_", 8)) {
        gort_run(corrupt_body, argv[1]);
        return 1;
    }
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_findobject_small),   cmocka_unit_test(test_findobject_tiny),
        cmocka_unit_test(test_findobject_large),   cmocka_unit_test(test_findobject_outside),
        cmocka_unit_test(test_check_churned_heap), cmocka_unit_test(test_check_while_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
