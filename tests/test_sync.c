/* test_sync.c - WaitGroup and Mutex semantics. */
#include "check.h"

#include <pthread.h>
#include <unistd.h>

static int64_t ms(int64_t n) { return n * 1000 * 1000; }

static gort_waitgroup_t wg;
static gort_mutex_t mu; /* zero-initialised static: ready to use */
static long shared;

/* ---- mutual exclusion under contention ------------------------------------------- */

static void adder(void *arg)
{
    long n = (long)arg;
    for (long i = 0; i < n; i++) {
        gort_mutex_lock(&mu);
        long v = shared; /* a non-atomic read-modify-write: races show */
        if ((i & 63) == 0)
            gort_yield(); /* park while holding it, sometimes */
        shared = v + 1;
        gort_mutex_unlock(&mu);
    }
    gort_wg_done(&wg);
}

static void counter_body(void *arg)
{
    (void)arg;
    shared = 0;
    gort_wg_add(&wg, 8);
    for (int i = 0; i < 8; i++)
        gort_go(adder, (void *)50000L);
    gort_wg_wait(&wg);
    CHECK(shared == 8 * 50000);
}

static void test_mutex_counter(void **state)
{
    (void)state;
    run_main(counter_body, NULL);
}

/* ---- TryLock ------------------------------------------------------------------------ */

static void holder(void *arg)
{
    gort_mutex_t *m = arg;
    gort_mutex_lock(m);
    gort_wg_done(&wg);
}

static void trylock_body(void *arg)
{
    (void)arg;
    gort_mutex_t m = {0};
    CHECK(gort_mutex_trylock(&m));
    CHECK(!gort_mutex_trylock(&m));
    gort_mutex_unlock(&m);
    CHECK(gort_mutex_trylock(&m));
    gort_mutex_unlock(&m);
    /* locked by one goroutine, unlocked by another (allowed, as in Go) */
    gort_wg_add(&wg, 1);
    gort_go(holder, &m);
    gort_wg_wait(&wg);
    CHECK(!gort_mutex_trylock(&m));
    gort_mutex_unlock(&m);
    CHECK(gort_mutex_trylock(&m));
    gort_mutex_unlock(&m);
}

static void test_mutex_trylock(void **state)
{
    (void)state;
    run_main(trylock_body, NULL);
}

/* ---- starvation mode -------------------------------------------------------------- */

static int stop; /* atomic */
static int64_t max_wait;

static void hog(void *arg)
{
    (void)arg;
    /* Re-acquire immediately after each release: in normal mode a running
     * goroutine beats a woken waiter, starvation mode must end that. */
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        gort_mutex_lock(&mu);
        int64_t t = gort_nanotime();
        while (gort_nanotime() - t < 20000)
            ;
        gort_mutex_unlock(&mu);
    }
    gort_wg_done(&wg);
}

static void waiter(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++) {
        int64_t t = gort_nanotime();
        gort_mutex_lock(&mu);
        int64_t d = gort_nanotime() - t;
        if (d > max_wait)
            max_wait = d;
        gort_mutex_unlock(&mu);
        gort_sleep(100000);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    gort_wg_done(&wg);
}

static void starvation_body(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 3);
    gort_go(hog, NULL);
    gort_go(hog, NULL);
    gort_go(waiter, NULL);
    gort_wg_wait(&wg);
    /* starvation mode kicks in after 1 ms of waiting; allow for scheduling noise */
    CHECK(max_wait < ms(200));
}

static void test_mutex_starvation(void **state)
{
    (void)state;
    run_main(starvation_body, NULL);
}

/* ---- threads that are not goroutines ----------------------------------------------- */

static void *foreign_adder(void *arg)
{
    for (int i = 0; i < 20000; i++) {
        gort_mutex_lock(&mu); /* blocks the thread (futex) when contended */
        shared++;
        gort_mutex_unlock(&mu);
    }
    (void)arg;
    return NULL;
}

static void mixed_body(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 4);
    for (int i = 0; i < 4; i++)
        gort_go(adder, (void *)20000L);
    gort_wg_wait(&wg);
}

static void test_mutex_foreign(void **state)
{
    (void)state;
    shared = 0;
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, foreign_adder, NULL);
    run_main(mixed_body, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(shared, 2 * 20000 + 4 * 20000);
}

/* ---- WaitGroup ----------------------------------------------------------------------- */

static int64_t released;
static gort_waitgroup_t gate;

static void gate_waiter(void *arg)
{
    (void)arg;
    gort_wg_wait(&gate);
    __atomic_add_fetch(&released, 1, __ATOMIC_SEQ_CST);
    gort_wg_done(&wg);
}

static void done_later(void *arg)
{
    gort_sleep((int64_t)(long)arg);
    gort_wg_done(&gate);
}

static void wg_body(void *arg)
{
    (void)arg;
    for (int round = 0; round < 20; round++) { /* reuse across rounds */
        released = 0;
        gort_wg_add(&gate, 3);
        gort_wg_add(&wg, 100);
        for (int i = 0; i < 100; i++)
            gort_go(gate_waiter, NULL);
        for (int i = 0; i < 3; i++)
            gort_go(done_later, (void *)(long)(i * 100000));
        gort_wg_wait(&wg);
        CHECK(released == 100);
    }
    gort_waitgroup_t zero = {0};
    gort_wg_wait(&zero); /* counter 0: returns at once */
}

static void test_waitgroup(void **state)
{
    (void)state;
    run_main(wg_body, NULL);
}

static void *foreign_waiter(void *arg)
{
    (void)arg;
    gort_wg_wait(&gate);
    __atomic_add_fetch(&released, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void release_gate(void *arg)
{
    (void)arg;
    gort_sleep(ms(20));
    gort_wg_done(&gate);
}

static void test_waitgroup_foreign_waiters(void **state)
{
    (void)state;
    released = 0;
    gort_wg_add(&gate, 1);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, foreign_waiter, NULL);
    run_main(release_gate, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(released, 3);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutex_counter),   cmocka_unit_test(test_mutex_trylock),
        cmocka_unit_test(test_mutex_starvation), cmocka_unit_test(test_mutex_foreign),
        cmocka_unit_test(test_waitgroup),       cmocka_unit_test(test_waitgroup_foreign_waiters),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
