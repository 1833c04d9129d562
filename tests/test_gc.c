/* test_gc.c - the garbage collector seen from outside: it frees what is
 * unreachable, and keeps everything the documented roots reach (stacks,
 * interior pointers, globals, registered ranges, buffered channels,
 * goroutine-local values, goroutines not yet started, goroutines in a
 * system call bracket or preempted in a loop, threads that are not
 * goroutines, gort_run's caller); the pacer's settings; memstats.
 *
 * A kept object is filled with a pattern; meanwhile garbage of the same
 * size class is allocated and overwritten (churn), so an object the
 * collector freed by mistake is handed out again and its pattern breaks. */
#include "check.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static void fill(void *p, size_t n, unsigned seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(seed * 31 + i * 7);
}

static bool intact(const void *p, size_t n, unsigned seed)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(seed * 31 + i * 7))
            return false;
    return true;
}

/* Allocate and scribble over n objects of size sz, dropping them all. */
static void churn(size_t sz, int n)
{
    for (int i = 0; i < n; i++) {
        void *q = gort_alloc(sz);
        memset(q, 0xee, sz);
    }
}

static void churn_gc(size_t sz, int rounds)
{
    for (int r = 0; r < rounds; r++) {
        gort_gc();
        churn(sz, 2000);
    }
}

static uint64_t heapalloc(void)
{
    gort_memstats_t ms;
    gort_read_memstats(&ms);
    return ms.HeapAlloc;
}

static gort_waitgroup_t wg;

/* ---- it collects ------------------------------------------------------------------- */

static void collects_body(void *arg)
{
    (void)arg;
    gort_memstats_t m0, m1;
    gort_read_memstats(&m0);
    for (int i = 0; i < 200 * 1024; i++) { /* 200 MB of 1 KiB garbage */
        char *p = gort_alloc(1024);
        p[0] = 1;
    }
    gort_read_memstats(&m1);
    CHECK(m1.NumGC > m0.NumGC);
    CHECK(m1.HeapInuse < ((uint64_t)64 << 20)); /* bounded, not 200 MB */
    CHECK(m1.NextGC > 0);
    gort_gc();
    gort_read_memstats(&m1);
    CHECK(m1.HeapAlloc < ((uint64_t)8 << 20));
    CHECK(m1.HeapObjects == m1.Mallocs - m1.Frees);
    CHECK(m1.NumForcedGC >= 1);
    CHECK(m1.PauseTotalNs > 0 && m1.PauseNs[(m1.NumGC + 255) % 256] > 0);
    CHECK(m1.LastGC > 0);
    CHECK(m1.EnableGC);
}

static void test_collects_garbage(void **state)
{
    (void)state;
    run_main(collects_body, NULL);
}

static void *volatile dropped;

/* Garbage made on a goroutine that has exited: no stale copy of a pointer
 * can linger in a register or stack slot the collector scans. */
static void makebig(void *arg)
{
    (void)arg;
    dropped = gort_alloc(16 << 20);
    fill(dropped, 64, 1);
    dropped = NULL;
    for (int i = 0; i < 10000; i++)
        dropped = gort_alloc(48);
    dropped = NULL;
    gort_wg_done(&wg);
}

static void unreachable_body(void *arg)
{
    (void)arg;
    gort_gc();
    gort_memstats_t m0, m1;
    gort_read_memstats(&m0);
    gort_wg_add(&wg, 1);
    gort_go(makebig, NULL);
    gort_wg_wait(&wg);
    gort_read_memstats(&m1);
    CHECK(m1.HeapAlloc >= m0.HeapAlloc + (16 << 20));
    gort_gc();
    gort_read_memstats(&m1);
    CHECK(m1.HeapAlloc < m0.HeapAlloc + (1 << 20));
    CHECK(m1.Frees - m0.Frees >= 10001);
    CHECK(m1.HeapObjects <= m0.HeapObjects + 16);
}

static void test_unreachable_freed(void **state)
{
    (void)state;
    run_main(unreachable_body, NULL);
}

/* ---- roots ---------------------------------------------------------------------------- */

typedef struct node {
    struct node *next;
    unsigned seed;
    char pad[44];
} node;

static node *makelist(int n, unsigned seed)
{
    node *head = NULL;
    for (int i = 0; i < n; i++) {
        node *x = gort_alloc(sizeof(node));
        x->next = head;
        x->seed = seed + (unsigned)i;
        fill(x->pad, sizeof(x->pad), x->seed);
        head = x;
    }
    return head;
}

static bool listok(const node *x, int n, unsigned seed)
{
    int i = n - 1;
    for (; x != NULL; x = x->next, i--)
        if (i < 0 || x->seed != seed + (unsigned)i || !intact(x->pad, sizeof(x->pad), x->seed))
            return false;
    return i == -1;
}

static void stacklist(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    node *head = makelist(1000, seed); /* only on this stack */
    for (int r = 0; r < 10; r++) {
        churn_gc(sizeof(node), 1);
        gort_yield();
        CHECK(listok(head, 1000, seed));
    }
    gort_wg_done(&wg);
}

static void stack_body(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 8);
    for (int i = 0; i < 8; i++)
        gort_go(stacklist, (void *)(uintptr_t)(i * 5000 + 1));
    gort_wg_wait(&wg);
}

static void test_stack_roots(void **state)
{
    (void)state;
    run_main(stack_body, NULL);
}

static void interior_body(void *arg)
{
    (void)arg;
    char *p = gort_alloc(200);
    fill(p, 200, 9);
    char *volatile inner = p + 137; /* the only reference: into the middle */
    p = NULL;
    churn_gc(200, 5);
    CHECK(intact(inner - 137, 200, 9));
}

static void test_interior_pointer(void **state)
{
    (void)state;
    run_main(interior_body, NULL);
}

static node *global_list;

static void global_body(void *arg)
{
    (void)arg;
    global_list = makelist(500, 77);
    churn_gc(sizeof(node), 5);
    CHECK(listok(global_list, 500, 77));
    global_list = NULL;
}

static void test_global_root(void **state)
{
    (void)state;
    run_main(global_body, NULL);
}

enum { NREG = 40, SZREG = 1 << 20 };
static void **regtable;

/* On a goroutine that exits, so no stale copy of a pointer outlives it. */
static void registered_fill(void *arg)
{
    (void)arg;
    void **table = regtable;
    for (int i = 0; i < NREG; i++) {
        table[i] = gort_alloc(SZREG);
        fill(table[i], 4096, (unsigned)i);
    }
    churn_gc(SZREG / 8, 3);
    for (int i = 0; i < NREG; i++)
        CHECK(intact(table[i], 4096, (unsigned)i));
    gort_wg_done(&wg);
}

static void registered_body(void *arg)
{
    (void)arg;
    gort_gc();
    uint64_t a0 = heapalloc();
    regtable = malloc(NREG * sizeof(void *)); /* libc memory: invisible unless registered */
    gort_gc_add_roots(regtable, NREG * sizeof(void *));
    gort_wg_add(&wg, 1);
    gort_go(registered_fill, NULL);
    gort_wg_wait(&wg);
    gort_gc();
    CHECK(heapalloc() >= a0 + (uint64_t)NREG * SZREG);
    gort_gc_remove_roots(regtable);
    gort_gc();
    CHECK(heapalloc() < a0 + (uint64_t)NREG * SZREG / 4); /* unregistered: collected */
    free(regtable);
}

static void test_registered_roots(void **state)
{
    (void)state;
    run_main(registered_body, NULL);
}

static void chan_body(void *arg)
{
    (void)arg;
    gort_chan_t *c = gort_chan_make(sizeof(void *), 100);
    for (int i = 0; i < 100; i++) {
        void *p = gort_alloc(96);
        fill(p, 96, (unsigned)i + 1000);
        gort_chan_send(c, &p);
    }
    for (int i = 0; i < 30; i++) { /* the ring wraps: elements in two runs */
        void *p;
        gort_chan_recv(c, &p);
        CHECK(intact(p, 96, (unsigned)i + 1000));
        p = gort_alloc(96);
        fill(p, 96, (unsigned)i + 2000);
        gort_chan_send(c, &p);
    }
    churn_gc(96, 5);
    for (int i = 30; i < 100; i++) {
        void *p;
        gort_chan_recv(c, &p);
        CHECK(intact(p, 96, (unsigned)i + 1000));
    }
    for (int i = 0; i < 30; i++) {
        void *p;
        gort_chan_recv(c, &p);
        CHECK(intact(p, 96, (unsigned)i + 2000));
    }
    gort_chan_free(c);
}

static void test_chan_buffer_root(void **state)
{
    (void)state;
    run_main(chan_body, NULL);
}

static gort_gls_key_t key;

static void gls_body(void *arg)
{
    (void)arg;
    CHECK(gort_gls_key_create(&key, NULL) == 0);
    void *p = gort_alloc(64);
    fill(p, 64, 5);
    CHECK(gort_gls_set(key, p) == 0);
    p = NULL;
    churn_gc(64, 5);
    CHECK(intact(gort_gls_get(key), 64, 5));
}

static void test_gls_root(void **state)
{
    (void)state;
    run_main(gls_body, NULL);
}

static void checkarg(void *arg)
{
    CHECK(intact(arg, 80, (unsigned)((unsigned char *)arg)[80]));
    gort_wg_done(&wg);
}

static void unstarted_body(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 200);
    gort_preempt_off(); /* none of them runs on this P before the collection */
    for (int i = 0; i < 200; i++) {
        unsigned char *p = gort_alloc(96);
        fill(p, 80, (unsigned)i);
        p[80] = (unsigned char)i;
        gort_go(checkarg, p); /* the argument is held only by the new G */
    }
    gort_gc();
    churn(96, 20000);
    gort_preempt_on();
    gort_wg_wait(&wg);
}

static void test_unstarted_goroutine_arg(void **state)
{
    (void)state;
    run_main(unstarted_body, NULL);
}

static void insyscall(void *arg)
{
    (void)arg;
    node *head = makelist(300, 42);
    gort_entersyscall();
    usleep(200 * 1000); /* the others collect meanwhile */
    gort_exitsyscall();
    CHECK(listok(head, 300, 42));
    gort_wg_done(&wg);
}

static void syscall_body(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 1);
    gort_go(insyscall, NULL);
    gort_sleep(20 * 1000 * 1000);
    churn_gc(sizeof(node), 20);
    gort_wg_wait(&wg);
}

static void test_syscall_bracket_root(void **state)
{
    (void)state;
    run_main(syscall_body, NULL);
}

/* A loop that calls nothing, with its object's address likely only in a
 * register: the collector's stop preempts it by signal, and the registers
 * pushed on its stack keep the object. */
static uint32_t stopspin;

__attribute__((noinline)) static uint64_t spinsum(const uint64_t *a, int n)
{
    uint64_t s = 0;
    while (!__atomic_load_n(&stopspin, __ATOMIC_RELAXED))
        for (int i = 0; i < n; i++)
            s += a[i] ^ (s >> 3);
    uint64_t t = 0;
    for (int i = 0; i < n; i++)
        t += a[i];
    return t;
}

static void spinner(void *arg)
{
    (void)arg;
    uint64_t *a = gort_alloc(64 * sizeof(uint64_t));
    uint64_t want = 0;
    for (int i = 0; i < 64; i++)
        want += a[i] = (uint64_t)i * 0x9e3779b97f4a7c15ull;
    CHECK(spinsum(a, 64) == want);
    gort_wg_done(&wg);
}

static void preempted_body(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 1);
    gort_go(spinner, NULL);
    gort_sleep(5 * 1000 * 1000);
    churn_gc(64 * sizeof(uint64_t), 20);
    __atomic_store_n(&stopspin, 1, __ATOMIC_RELAXED);
    gort_wg_wait(&wg);
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define NO_ASYNC_PREEMPT 1 /* sanitizer builds: off (src/sched/preempt.c) */
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NO_ASYNC_PREEMPT 1
#endif

static void test_preempted_loop_root(void **state)
{
    (void)state;
#ifdef NO_ASYNC_PREEMPT
    skip(); /* a loop that calls nothing cannot be stopped without it, as in Go */
#endif
    const char *d = getenv("GORTDEBUG");
    if (d != NULL && strstr(d, "asyncpreemptoff=1") != NULL)
        skip();
    run_main(preempted_body, NULL);
}

static void gcs_body(void *arg)
{
    (void)arg;
    churn_gc(sizeof(node), 10);
}

/* ---- threads that are not goroutines ---------------------------------------------- */

static uint32_t threadsdone;

static void *allocthread(void *arg)
{
    (void)arg;
    node *head = makelist(400, 7); /* registered by its first allocation */
    for (int r = 0; r < 50; r++) {
        if (!listok(head, 400, 7))
            return (void *)1;
        usleep(2000);
    }
    return NULL;
}

static node *handoff;

static void *explicitthread(void *arg)
{
    (void)arg;
    gort_gc_register_thread();
    while (__atomic_load_n(&handoff, __ATOMIC_ACQUIRE) == NULL)
        usleep(100);
    node *head = __atomic_exchange_n(&handoff, NULL, __ATOMIC_ACQ_REL); /* now only here */
    for (int r = 0; r < 50; r++) {
        if (!listok(head, 300, 99))
            return (void *)1;
        usleep(2000);
    }
    gort_gc_unregister_thread();
    return NULL;
}

static void threads_body(void *arg)
{
    (void)arg;
    __atomic_store_n(&handoff, makelist(300, 99), __ATOMIC_RELEASE);
    while (!__atomic_load_n(&threadsdone, __ATOMIC_ACQUIRE))
        churn_gc(sizeof(node), 1);
}

typedef struct joinarg {
    pthread_t a, b;
    void *ra, *rb;
} joinarg;

static void *joiner(void *arg)
{
    joinarg *j = arg;
    pthread_join(j->a, &j->ra);
    pthread_join(j->b, &j->rb);
    __atomic_store_n(&threadsdone, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_foreign_thread_roots(void **state)
{
    (void)state;
    run_main(gcs_body, NULL); /* boot */
    joinarg j = {0};
    pthread_create(&j.a, NULL, allocthread, NULL);
    pthread_create(&j.b, NULL, explicitthread, NULL);
    pthread_t jt;
    pthread_create(&jt, NULL, joiner, &j);
    run_main(threads_body, NULL); /* collects until both threads are done */
    pthread_join(jt, NULL);
    assert_null(j.ra);
    assert_null(j.rb);
}

/* ---- gort_run's caller ------------------------------------------------------------------- */

static void test_gort_run_caller_root(void **state)
{
    (void)state;
    node *head = makelist(200, 555); /* on the runner's stack, before gort_run */
    run_main(gcs_body, NULL);
    assert_true(listok(head, 200, 555));
    run_main(gcs_body, NULL);
    assert_true(listok(head, 200, 555));
}

/* ---- the pacer's settings ----------------------------------------------------------------- */

static void percent_body(void *arg)
{
    (void)arg;
    int old = gort_set_gc_percent(-1);
    CHECK(old == 100 || getenv("GORTGC") != NULL);
    gort_memstats_t m0, m1;
    gort_read_memstats(&m0);
    for (int i = 0; i < 64 * 1024; i++) /* 64 MB: no cycle with the collector off */
        dropped = gort_alloc(1024);
    gort_read_memstats(&m1);
    CHECK(m1.NumGC == m0.NumGC);
    CHECK(gort_set_gc_percent(old) == -1);
    for (int i = 0; i < 64 * 1024; i++)
        dropped = gort_alloc(1024);
    gort_read_memstats(&m1);
    CHECK(m1.NumGC > m0.NumGC);
    CHECK(gort_set_memory_limit(-1) == INT64_MAX || getenv("GORTMEMLIMIT") != NULL);
    int64_t lim = gort_set_memory_limit((int64_t)1 << 40);
    CHECK(gort_set_memory_limit(lim) == (int64_t)1 << 40);
    dropped = NULL;
}

static void test_gc_percent_and_limit(void **state)
{
    (void)state;
    run_main(percent_body, NULL);
}

/* ---- explicit frees, tiny objects and the collector together -------------------------------- */

static void mixed_body(void *arg)
{
    (void)arg;
    enum { N = 20000 };
    static void *keep[N];
    gort_gc();
    gort_memstats_t m0, m1;
    gort_read_memstats(&m0);
    for (int i = 0; i < N; i++) {
        size_t sz = (size_t)(i % 40) + 16; /* not tiny: a live tiny object keeps its block's neighbours */
        keep[i] = i % 3 ? gort_alloc_noscan(sz) : gort_alloc(sz * 8);
    }
    for (int i = 0; i < N; i += 2) /* half freed explicitly ... */
        gort_free(keep[i]);
    for (int i = 1; i < N; i += 4) /* ... a quarter dropped for the collector */
        keep[i] = NULL;
    for (int i = 0; i < N; i += 2)
        keep[i] = NULL;
    gort_gc();
    gort_gc();
    gort_read_memstats(&m1);
    CHECK(m1.HeapObjects == m1.Mallocs - m1.Frees);
    /* a quarter is live: (N / 4) objects, give or take the tiny blocks */
    CHECK(m1.HeapObjects - m0.HeapObjects <= N / 4 + 64);
    CHECK(m1.HeapObjects - m0.HeapObjects >= N / 4 - 64);
    for (int i = 3; i < N; i += 4)
        gort_free(keep[i]); /* the live ones can still be freed */
    for (int i = 0; i < N; i++)
        keep[i] = NULL;
    gort_gc();
    gort_read_memstats(&m1);
    CHECK(m1.HeapObjects <= m0.HeapObjects + 64);
}

/* A program that frees what it allocates does not collect for nothing:
 * the pacer stops counting explicit frees once they reach their spans. */
static void freeall_body(void *arg)
{
    (void)arg;
    enum { W = 4096 };
    void **win = gort_alloc(W * sizeof(void *));
    gort_gc();
    gort_memstats_t m0, m1;
    gort_read_memstats(&m0);
    uint64_t s = 88172645463325252ull;
    for (long k = 0; k < 3000000; k++) { /* ~1.5 GB through a 2 MB window */
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        long i = (long)(s % W);
        gort_free(win[i]);
        win[i] = gort_alloc(8 + (s >> 32) % 1017);
    }
    gort_read_memstats(&m1);
    CHECK(m1.NumGC - m0.NumGC <= 2);
    for (long i = 0; i < W; i++)
        gort_free(win[i]);
    gort_free(win);
}

static void test_explicit_frees_do_not_collect(void **state)
{
    (void)state;
    run_main(freeall_body, NULL);
}

static void test_explicit_free_and_collector(void **state)
{
    (void)state;
    run_main(mixed_body, NULL);
}

/* ---- the heap stays bounded ------------------------------------------------------------ */

static long rssbytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char l[256];
    long kb = 0;
    while (f != NULL && fgets(l, sizeof(l), f))
        if (strncmp(l, "VmRSS:", 6) == 0)
            kb = atol(l + 6);
    if (f != NULL)
        fclose(f);
    return kb * 1024;
}

enum { NCHURN = 20000, SZCHURN = 1024 };
static void **churnslots;

/* A live set of 20 MB whose objects are replaced at random iters times; the
 * largest HeapInuse and RSS seen after warm-up. */
static void longchurn(long iters, uint64_t *maxinuse, long *maxrss)
{
    churnslots = gort_alloc(NCHURN * sizeof(void *));
    for (long i = 0; i < NCHURN; i++)
        churnslots[i] = gort_alloc(SZCHURN);
    uint64_t s = 88172645463325252ull;
    *maxinuse = 0;
    *maxrss = 0;
    gort_memstats_t ms;
    for (long k = 0; k < iters; k++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        char *p = gort_alloc(SZCHURN);
        p[0] = 1;
        churnslots[s % NCHURN] = p;
        if (k % 10000 == 0 && k >= 5 * NCHURN) {
            gort_read_memstats(&ms);
            if (ms.HeapInuse > *maxinuse)
                *maxinuse = ms.HeapInuse;
            long r = rssbytes();
            if (r > *maxrss)
                *maxrss = r;
        }
    }
    churnslots = NULL;
}

static void bounded_body(void *arg)
{
    (void)arg;
    if (getenv("GORTGC") != NULL)
        return; /* the bound is GOGC=100's */
    uint64_t maxinuse;
    long maxrss;
    /* The goal counts stacks and globals, as Go's: with nothing live, the
     * goal above the 4 MB minimum is what they add (a sanitizer's runtime
     * brings 10-20 MB of globals). */
    gort_gc();
    gort_memstats_t ms;
    gort_read_memstats(&ms);
    uint64_t roots = ms.NextGC > ((uint64_t)4 << 20) ? ms.NextGC : 0;
    longchurn(600000, &maxinuse, &maxrss);
    CHECK(maxinuse <= (uint64_t)(2.2 * NCHURN * SZCHURN) + roots); /* the bound at GOGC=100 */
}

static void test_bounded_heap(void **state)
{
    (void)state;
    run_main(bounded_body, NULL);
}

static void memlimit_body(void *arg)
{
    (void)arg;
    int64_t limit = (int64_t)64 << 20; /* live 20 MB, collector off: only the limit bounds it */
    long base = rssbytes(); /* what the process held before (a sanitizer's shadow, the test itself) */
    int old = gort_set_gc_percent(-1);
    int64_t oldlim = gort_set_memory_limit(limit);
    uint64_t maxinuse;
    long maxrss;
    longchurn(200000, &maxinuse, &maxrss); /* near the limit cycles come often: fewer rounds */
    gort_memstats_t ms;
    gort_read_memstats(&ms);
    CHECK(ms.NumGC > 0);
#ifndef NO_ASYNC_PREEMPT
    CHECK(maxrss - base < limit);
#else
    (void)base;
    CHECK(maxinuse < (uint64_t)limit); /* a sanitizer's shadow memory grows RSS with every page touched */
#endif
    gort_set_memory_limit(oldlim);
    gort_set_gc_percent(old);
}

static void test_memory_limit(void **state)
{
    (void)state;
    run_main(memlimit_body, NULL);
}

/* ---- finalizers ------------------------------------------------------------------------------ */

typedef struct fobj {
    uint32_t magic;
    uint32_t finalized;
    struct fobj *dep;
    char pad[40];
} fobj;

static uint32_t nfinalized, badfinal;
static fobj *kept[100];

static void finalize(void *p)
{
    fobj *o = p;
    if (o->magic != 0xf1a1u || __atomic_exchange_n(&o->finalized, 1, __ATOMIC_RELAXED) != 0)
        __atomic_add_fetch(&badfinal, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&nfinalized, 1, __ATOMIC_RELAXED);
}

static void makefin(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        fobj *o = gort_alloc(sizeof(fobj));
        o->magic = 0xf1a1u;
        gort_set_finalizer(o, finalize);
        if (i % 10 == 0)
            kept[i / 10] = o; /* 100 kept, 900 dropped */
    }
    gort_wg_done(&wg);
}

static bool waitfinal(uint32_t n)
{
    for (int i = 0; i < 500 && __atomic_load_n(&nfinalized, __ATOMIC_RELAXED) < n; i++) {
        gort_gc();
        gort_sleep(10 * 1000 * 1000);
    }
    return __atomic_load_n(&nfinalized, __ATOMIC_RELAXED) == n;
}

static void finalizers_body(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 1);
    gort_go(makefin, NULL);
    gort_wg_wait(&wg);
    CHECK(waitfinal(900));
    gort_gc();
    gort_gc();
    gort_sleep(20 * 1000 * 1000);
    CHECK(__atomic_load_n(&nfinalized, __ATOMIC_RELAXED) == 900); /* no more: the rest are live */
    for (int i = 0; i < 100; i++)
        CHECK(kept[i]->finalized == 0 && kept[i]->magic == 0xf1a1u);
    CHECK(badfinal == 0);
    gort_set_finalizer(kept[0], NULL); /* removed: never runs */
    for (int i = 0; i < 100; i++)
        kept[i] = NULL;
    CHECK(waitfinal(999));
    gort_gc();
    gort_sleep(20 * 1000 * 1000);
    CHECK(__atomic_load_n(&nfinalized, __ATOMIC_RELAXED) == 999);
    CHECK(badfinal == 0);
}

static void test_finalizers(void **state)
{
    (void)state;
    run_main(finalizers_body, NULL);
}

/* A finalizable object reachable only from another is finalized after it. */
static fobj *volatile chainhead;
static uint32_t order[2], norder;

static void finalize_ordered(void *p)
{
    fobj *o = p;
    order[__atomic_fetch_add(&norder, 1, __ATOMIC_RELAXED) % 2] = o->magic;
}

static void makechain(void *arg)
{
    (void)arg;
    fobj *a = gort_alloc(sizeof(fobj)), *b = gort_alloc(sizeof(fobj));
    a->magic = 1;
    b->magic = 2;
    a->dep = b;
    gort_set_finalizer(a, finalize_ordered);
    gort_set_finalizer(b, finalize_ordered);
    chainhead = a;
    gort_wg_done(&wg);
}

static void order_body(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 1);
    gort_go(makechain, NULL);
    gort_wg_wait(&wg);
    chainhead = NULL;
    for (int i = 0; i < 500 && __atomic_load_n(&norder, __ATOMIC_RELAXED) < 2; i++) {
        gort_gc();
        gort_sleep(5 * 1000 * 1000);
    }
    CHECK(norder == 2);
    CHECK(order[0] == 1 && order[1] == 2);
}

static void test_finalizer_order(void **state)
{
    (void)state;
    run_main(order_body, NULL);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collects_garbage),      cmocka_unit_test(test_unreachable_freed),
        cmocka_unit_test(test_stack_roots),           cmocka_unit_test(test_interior_pointer),
        cmocka_unit_test(test_global_root),           cmocka_unit_test(test_registered_roots),
        cmocka_unit_test(test_chan_buffer_root),      cmocka_unit_test(test_gls_root),
        cmocka_unit_test(test_unstarted_goroutine_arg), cmocka_unit_test(test_syscall_bracket_root),
        cmocka_unit_test(test_preempted_loop_root),   cmocka_unit_test(test_foreign_thread_roots),
        cmocka_unit_test(test_gort_run_caller_root),  cmocka_unit_test(test_gc_percent_and_limit),
        cmocka_unit_test(test_explicit_free_and_collector), cmocka_unit_test(test_finalizers),
        cmocka_unit_test(test_finalizer_order),       cmocka_unit_test(test_bounded_heap),
        cmocka_unit_test(test_memory_limit),          cmocka_unit_test(test_explicit_frees_do_not_collect),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
