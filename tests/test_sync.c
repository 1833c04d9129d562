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

/* ---- RWMutex ------------------------------------------------------------------------ */

static gort_rwmutex_t rw;
static int64_t readers_in, writers_in;
static long rwdata[4];

static void reader(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        gort_rwmutex_rlock(&rw);
        __atomic_add_fetch(&readers_in, 1, __ATOMIC_SEQ_CST);
        CHECK(__atomic_load_n(&writers_in, __ATOMIC_SEQ_CST) == 0);
        /* a writer keeps the four words equal; readers must see them so */
        CHECK(rwdata[0] == rwdata[1] && rwdata[1] == rwdata[2] && rwdata[2] == rwdata[3]);
        if (i % 50 == 0)
            gort_yield(); /* hold the read lock across a switch */
        __atomic_sub_fetch(&readers_in, 1, __ATOMIC_SEQ_CST);
        gort_rwmutex_runlock(&rw);
    }
    gort_wg_done(&wg);
}

static void shared_reader(void *arg)
{
    gort_chan_t *in = arg;
    gort_rwmutex_rlock(&rw);
    int v = 1;
    gort_chan_send(in, &v);
    gort_rwmutex_runlock(&rw);
    v = 2;
    gort_chan_send(in, &v);
}

static void writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 500; i++) {
        gort_rwmutex_lock(&rw);
        CHECK(__atomic_add_fetch(&writers_in, 1, __ATOMIC_SEQ_CST) == 1);
        CHECK(__atomic_load_n(&readers_in, __ATOMIC_SEQ_CST) == 0);
        for (int k = 0; k < 4; k++) {
            rwdata[k]++;
            if (k == 1 && i % 20 == 0)
                gort_yield(); /* readers must not see the half-done update */
        }
        __atomic_sub_fetch(&writers_in, 1, __ATOMIC_SEQ_CST);
        gort_rwmutex_unlock(&rw);
    }
    gort_wg_done(&wg);
}

static void rwmutex_body(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 8);
    for (int i = 0; i < 6; i++)
        gort_go(reader, NULL);
    for (int i = 0; i < 2; i++)
        gort_go(writer, NULL);
    gort_wg_wait(&wg);
    CHECK(rwdata[0] == 1000 && rwdata[3] == 1000);
    /* Readers share the lock. (Asserting that two readers overlapped in the
     * mixed phase failed about 1 run in 50 under ASan: with a writer pending
     * at every reader's yield, no second reader may enter, legitimately.) Here
     * no writer waits: a second reader must get in while one holds it, or
     * the receive below never completes (a deadlock report). */
    gort_rwmutex_rlock(&rw);
    gort_chan_t *in = gort_chan_make(sizeof(int), 0);
    gort_go(shared_reader, in);
    int got = 0;
    CHECK(gort_chan_recv(in, &got) && got == 1);
    gort_rwmutex_runlock(&rw);
    gort_chan_recv(in, &got); /* it has released its read lock */
    gort_chan_free(in);
    /* Try variants */
    gort_rwmutex_t t = {0};
    CHECK(gort_rwmutex_tryrlock(&t));
    CHECK(gort_rwmutex_tryrlock(&t));
    CHECK(!gort_rwmutex_trylock(&t));
    gort_rwmutex_runlock(&t);
    gort_rwmutex_runlock(&t);
    CHECK(gort_rwmutex_trylock(&t));
    CHECK(!gort_rwmutex_tryrlock(&t));
    gort_rwmutex_unlock(&t);
}

static void test_rwmutex(void **state)
{
    (void)state;
    run_main(rwmutex_body, NULL);
}

/* Writer preference: once a writer waits, a new reader waits behind it. */
static gort_rwmutex_t pref;
static int order[3], ordern;

static void pref_writer(void *arg)
{
    (void)arg;
    gort_rwmutex_lock(&pref); /* waits for the first reader */
    order[__atomic_fetch_add(&ordern, 1, __ATOMIC_SEQ_CST)] = 'W';
    gort_rwmutex_unlock(&pref);
    gort_wg_done(&wg);
}

static void pref_reader(void *arg)
{
    (void)arg;
    gort_rwmutex_rlock(&pref);
    order[__atomic_fetch_add(&ordern, 1, __ATOMIC_SEQ_CST)] = 'R';
    gort_rwmutex_runlock(&pref);
    gort_wg_done(&wg);
}

static void pref_body(void *arg)
{
    (void)arg;
    gort_rwmutex_rlock(&pref);
    gort_wg_add(&wg, 2);
    gort_go(pref_writer, NULL);
    gort_sleep(ms(10)); /* the writer is now pending */
    gort_go(pref_reader, NULL);
    gort_sleep(ms(10));
    CHECK(ordern == 0); /* the new reader did not overtake the writer */
    gort_rwmutex_runlock(&pref);
    gort_wg_wait(&wg);
    CHECK(ordern == 2 && order[0] == 'W' && order[1] == 'R');
}

static void test_rwmutex_writer_preference(void **state)
{
    (void)state;
    run_main(pref_body, NULL);
}

/* ---- Once ------------------------------------------------------------------------------ */

static gort_once_t once;
static int once_runs, once_finished;

static void init_once(void *arg)
{
    (void)arg;
    __atomic_add_fetch(&once_runs, 1, __ATOMIC_SEQ_CST);
    gort_sleep(ms(10)); /* others must wait for this to return */
    __atomic_store_n(&once_finished, 1, __ATOMIC_SEQ_CST);
}

static void once_user(void *arg)
{
    (void)arg;
    gort_once_do(&once, init_once, NULL);
    CHECK(__atomic_load_n(&once_finished, __ATOMIC_SEQ_CST) == 1);
    gort_wg_done(&wg);
}

static void once_body(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 100);
    for (int i = 0; i < 100; i++)
        gort_go(once_user, NULL);
    gort_wg_wait(&wg);
    CHECK(once_runs == 1);
}

static void test_once(void **state)
{
    (void)state;
    run_main(once_body, NULL);
}

/* ---- Cond ------------------------------------------------------------------------------ */

static gort_cond_t cond;
static gort_mutex_t cmu;
static int queue_len, consumed, stop_consumers;

static void consumer(void *arg)
{
    (void)arg;
    gort_mutex_lock(&cmu);
    for (;;) {
        while (queue_len == 0 && !stop_consumers)
            gort_cond_wait(&cond, &cmu);
        if (queue_len == 0 && stop_consumers)
            break;
        queue_len--;
        consumed++;
    }
    gort_mutex_unlock(&cmu);
    gort_wg_done(&wg);
}

static void cond_body(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 4);
    for (int i = 0; i < 4; i++)
        gort_go(consumer, NULL);
    for (int i = 0; i < 10000; i++) {
        gort_mutex_lock(&cmu);
        queue_len++;
        gort_cond_signal(&cond);
        gort_mutex_unlock(&cmu);
        if (i % 100 == 0)
            gort_yield();
    }
    gort_mutex_lock(&cmu);
    stop_consumers = 1;
    gort_cond_broadcast(&cond); /* wakes every waiter */
    gort_mutex_unlock(&cmu);
    gort_wg_wait(&wg);
    CHECK(consumed == 10000 && queue_len == 0);
    /* Signal with nobody waiting is a no-op; a later waiter still waits. */
    gort_cond_t c2 = {0};
    gort_cond_signal(&c2);
    gort_cond_broadcast(&c2);
}

static void test_cond(void **state)
{
    (void)state;
    run_main(cond_body, NULL);
}

/* ---- counting semaphore --------------------------------------------------------------------- */

static gort_sema_t slots = GORT_SEMA_INIT(3);
static int64_t inside, max_inside;

static void limited(void *arg)
{
    (void)arg;
    gort_sema_acquire(&slots);
    int64_t n = __atomic_add_fetch(&inside, 1, __ATOMIC_SEQ_CST);
    int64_t m = __atomic_load_n(&max_inside, __ATOMIC_RELAXED);
    while (n > m && !__atomic_compare_exchange_n(&max_inside, &m, n, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    gort_sleep(100000);
    __atomic_sub_fetch(&inside, 1, __ATOMIC_SEQ_CST);
    gort_sema_release(&slots);
    gort_wg_done(&wg);
}

static void sema_body(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 50);
    for (int i = 0; i < 50; i++)
        gort_go(limited, NULL);
    gort_wg_wait(&wg);
    CHECK(max_inside == 3);
    gort_sema_t z = {0};
    CHECK(!gort_sema_tryacquire(&z));
    gort_sema_release(&z);
    CHECK(gort_sema_tryacquire(&z));
    CHECK(!gort_sema_tryacquire(&z));
}

static void test_sema(void **state)
{
    (void)state;
    run_main(sema_body, NULL);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutex_counter),   cmocka_unit_test(test_mutex_trylock),
        cmocka_unit_test(test_mutex_starvation), cmocka_unit_test(test_mutex_foreign),
        cmocka_unit_test(test_waitgroup),       cmocka_unit_test(test_waitgroup_foreign_waiters),
        cmocka_unit_test(test_rwmutex),         cmocka_unit_test(test_rwmutex_writer_preference),
        cmocka_unit_test(test_once),            cmocka_unit_test(test_cond),
        cmocka_unit_test(test_sema),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
