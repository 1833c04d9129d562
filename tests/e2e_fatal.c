/* e2e_fatal.c - programs that must die the way Go dies. Each case is run by
 * ctest through expect.sh, which checks the exit status (2) and Go's
 * wording (see tests/CMakeLists.txt). */
#include <gort.h>
#include <pthread.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static gort_waitgroup_t wg;
static gort_mutex_t mu;

static void block_forever_on_wg(void *arg)
{
    (void)arg;
    gort_waitgroup_t w = {0};
    gort_wg_add(&w, 1);
    gort_wg_wait(&w);
}

static void lock_twice(void *arg)
{
    (void)arg;
    gort_mutex_lock(&mu);
    gort_wg_done(&wg);
    gort_mutex_lock(&mu); /* never */
}

static void fin_noop(void *p) { (void)p; }

#define NHIDDEN 100
static uintptr_t *hidden;
static void hide(void *arg)
{
    (void)arg;
    for (int i = 0; i < NHIDDEN; i++)
        hidden[i] = ~(uintptr_t)gort_alloc(1000); /* outside the heap's range: not even an interior pointer */
    gort_wg_done(&wg);
}

static int depth_sink;
static volatile int depth_limit = 1 << 30;
__attribute__((noinline)) static int recurse(int n)
{
    volatile char buf[512];
    buf[0] = (char)n;
    depth_sink += buf[0];
    if (n > depth_limit)
        return 0;
    return recurse(n + 1) + buf[0];
}

static void overflow(void *arg)
{
    (void)arg;
    recurse(0);
}

static void nilderef(void *arg)
{
    volatile int *p = arg;
    *p = 1;
}

static void spin_then_sleep(void *arg)
{
    (void)arg;
    for (;;)
        gort_sleep(1000000);
}

static void send_forever(void *arg)
{
    int v = 1;
    gort_chan_send((gort_chan_t *)arg, &v); /* blocks; then the channel is closed */
}

static void recv_blocked(void *arg) { gort_chan_recv((gort_chan_t *)arg, NULL); }

GORT_INIT(cycle_a_unused) {}

static void *free_from_thread(void *p)
{
    gort_free(p);
    return NULL;
}

static void *alloc_from_thread(void *p)
{
    (void)p;
    gort_alloc(100);
    return NULL;
}

int gort_main(int argc, char **argv)
{
    const char *c = argc > 1 ? argv[1] : "";
    if (!strcmp(c, "negative_wg")) {
        gort_wg_add(&wg, 1);
        gort_wg_done(&wg);
        gort_wg_done(&wg);
    } else if (!strcmp(c, "unlock_unlocked")) {
        gort_mutex_lock(&mu);
        gort_mutex_unlock(&mu);
        gort_mutex_unlock(&mu);
    } else if (!strcmp(c, "deadlock_main")) {
        gort_wg_add(&wg, 1);
        gort_wg_wait(&wg);
    } else if (!strcmp(c, "deadlock_many")) {
        /* goroutines blocked on a WaitGroup and a mutex, main on a mutex */
        gort_go(block_forever_on_wg, NULL);
        gort_wg_add(&wg, 1);
        gort_go(lock_twice, NULL);
        gort_wg_wait(&wg);
        gort_mutex_lock(&mu);
    } else if (!strcmp(c, "deadlock_after_sleep")) {
        /* a timer pending is not a deadlock; after it fires it is */
        gort_sleep(20 * 1000 * 1000);
        gort_wg_add(&wg, 1);
        gort_wg_wait(&wg);
    } else if (!strcmp(c, "goexit_main")) {
        gort_goexit();
    } else if (!strcmp(c, "nil_func")) {
        gort_go(NULL, NULL);
    } else if (!strcmp(c, "stack_overflow")) {
        gort_go(overflow, NULL);
        gort_sleep(10LL * 1000 * 1000 * 1000);
    } else if (!strcmp(c, "nil_deref")) {
        gort_go(nilderef, NULL);
        gort_sleep(10LL * 1000 * 1000 * 1000);
    } else if (!strcmp(c, "exit_status")) {
        /* main's return value is the exit status, goroutines or not */
        for (int i = 0; i < 4; i++)
            gort_go(spin_then_sleep, NULL);
        gort_sleep(5 * 1000 * 1000);
        return 7;
    } else if (!strcmp(c, "send_closed")) {
        gort_chan_t *ch = gort_chan_make(sizeof(int), 1);
        int v = 1;
        gort_chan_close(ch);
        gort_chan_send(ch, &v);
    } else if (!strcmp(c, "blocked_send_closed")) {
        gort_chan_t *ch = gort_chan_make(sizeof(int), 0);
        gort_go(send_forever, ch);
        gort_sleep(10 * 1000 * 1000);
        gort_chan_close(ch); /* wakes the sender, which panics */
        gort_sleep(10LL * 1000 * 1000 * 1000);
    } else if (!strcmp(c, "select_send_closed")) {
        gort_chan_t *ch = gort_chan_make(sizeof(int), 0);
        int v = 1;
        gort_chan_close(ch);
        gort_select_case_t cs[1] = {{.chan = ch, .dir = GORT_SELECT_SEND, .elem = &v}};
        gort_select(cs, 1, false);
    } else if (!strcmp(c, "close_closed")) {
        gort_chan_t *ch = gort_chan_make(sizeof(int), 0);
        gort_chan_close(ch);
        gort_chan_close(ch);
    } else if (!strcmp(c, "close_nil")) {
        gort_chan_close(NULL);
    } else if (!strcmp(c, "deadlock_chan_recv")) {
        gort_chan_t *ch = gort_chan_make(sizeof(int), 0);
        gort_chan_recv(ch, NULL);
    } else if (!strcmp(c, "deadlock_chan_send")) {
        gort_chan_t *ch = gort_chan_make(sizeof(int), 0);
        int v = 0;
        gort_go(recv_blocked, gort_chan_make(sizeof(int), 0));
        gort_chan_send(ch, &v);
    } else if (!strcmp(c, "deadlock_select")) {
        gort_chan_t *a = gort_chan_make(sizeof(int), 0), *b = gort_chan_make(sizeof(int), 0);
        int v;
        gort_select_case_t cs[2] = {{.chan = a, .dir = GORT_SELECT_RECV, .elem = &v},
                                    {.chan = b, .dir = GORT_SELECT_SEND, .elem = &v}};
        gort_select(cs, 2, true);
    } else if (!strcmp(c, "deadlock_select_nocases")) {
        gort_select(NULL, 0, true);
    } else if (!strcmp(c, "deadlock_nil_chan")) {
        gort_chan_recv(NULL, NULL);
    } else if (!strcmp(c, "runlock_unlocked")) {
        gort_rwmutex_t rw = {0};
        gort_rwmutex_runlock(&rw);
    } else if (!strcmp(c, "rwunlock_unlocked")) {
        gort_rwmutex_t rw = {0};
        gort_rwmutex_unlock(&rw);
    } else if (!strcmp(c, "chan_free_waiters")) {
        gort_chan_t *ch = gort_chan_make(sizeof(int), 0);
        gort_go(recv_blocked, ch);
        gort_sleep(10 * 1000 * 1000);
        gort_chan_free(ch);
    } else if (!strcmp(c, "double_free")) {
        void *p = gort_alloc(100);
        gort_free(p);
        gort_free(p);
    } else if (!strcmp(c, "double_free_remote")) {
        void *p = gort_alloc(100), *q = gort_alloc(100); /* q keeps the span busy */
        gort_free(p);
        gort_free(p);
        gort_free(q);
    } else if (!strcmp(c, "double_free_flushed")) {
        void *p[300];
        for (int i = 0; i < 300; i++)
            p[i] = gort_alloc(100);
        for (int i = 0; i < 300; i++) /* the first ones leave the free cache for their span */
            gort_free(p[i]);
        gort_free(p[0]);
    } else if (!strcmp(c, "double_free_thread")) {
        void *p = gort_alloc(100);
        gort_free(p); /* in this P's free cache */
        pthread_t th;
        pthread_create(&th, NULL, free_from_thread, p); /* no P: the shared cache */
        pthread_join(th, NULL);
    } else if (!strcmp(c, "double_free_flushed_reuse")) {
        void *p[300];
        for (int i = 0; i < 300; i++)
            p[i] = gort_alloc(100);
        for (int i = 0; i < 300; i++)
            gort_free(p[i]);
        gort_free(p[0]);                /* cached again, and free in its span */
        for (int i = 0; i < 300; i++) /* the pop of p[0] must refuse it */
            p[i] = gort_alloc(100);
        printf("not caught\n");
    } else if (!strcmp(c, "double_free_thread_reuse")) {
        void *p = gort_alloc(100);
        gort_free(p);
        pthread_t th;
        pthread_create(&th, NULL, free_from_thread, p);
        pthread_join(th, NULL);
        void *q = gort_alloc(100);    /* p again, from this P's cache */
        pthread_create(&th, NULL, alloc_from_thread, q); /* p from the shared cache: refused */
        pthread_join(th, NULL);
        printf("not caught\n");
    } else if (!strcmp(c, "write_after_free")) {
        char *p = gort_alloc(100);
        gort_free(p);
        memset(p, 0, 16);
        gort_alloc(100);
        printf("not caught\n");
    } else if (!strcmp(c, "double_free_uninit")) {
        void *p[300];
        for (int i = 0; i < 300; i++)
            p[i] = gort_alloc_uninit(40);
        for (int i = 0; i < 300; i++)
            gort_free(p[i]);
        gort_free(p[5]);
        for (int i = 0; i < 300; i++)
            p[i] = gort_alloc_uninit(40);
        printf("not caught\n");
    } else if (!strcmp(c, "double_free_large")) {
        void *p = gort_alloc(1 << 20);
        gort_free(p);
        gort_free(p);
    } else if (!strcmp(c, "finalizer_foreign")) {
        static char notgort[64];
        gort_set_finalizer(notgort, fin_noop);
    } else if (!strcmp(c, "finalizer_interior")) {
        char *p = gort_alloc(256);
        gort_set_finalizer(p + 8, fin_noop);
    } else if (!strcmp(c, "finalizer_twice")) {
        void *p = gort_alloc(64);
        gort_set_finalizer(p, fin_noop);
        gort_set_finalizer(p, fin_noop);
    } else if (!strcmp(c, "finalizer_tiny")) {
        void *p = gort_alloc_noscan(8);
        gort_set_finalizer(p, fin_noop);
    } else if (!strcmp(c, "finalizer_free")) { /* with GORTDEBUG=checkfree=1 */
        void *p = gort_alloc(64);
        gort_set_finalizer(p, fin_noop);
        gort_free(p);
    } else if (!strcmp(c, "remove_roots_unknown")) {
        static char area[64];
        gort_gc_remove_roots(area);
    } else if (!strcmp(c, "free_collected")) { /* with GORTDEBUG=checkfree=1 */
        /* the only pointer is in malloc'd memory: invisible, so collected */
        hidden = malloc(NHIDDEN * sizeof(uintptr_t));
        gort_wg_add(&wg, 1);
        gort_go(hide, NULL); /* on a goroutine that exits: no stale copy on a live stack */
        gort_wg_wait(&wg);
        gort_gc();
        for (int i = 0; i < NHIDDEN; i++) /* a conservative scan may keep one; not a hundred */
            gort_free((void *)~hidden[i]);
    } else if (!strcmp(c, "free_foreign")) {
        void *p = malloc(64);
        gort_free(p);
    } else if (!strcmp(c, "free_interior")) {
        char *p = gort_alloc(256);
        gort_free(p + 8);
    } else if (!strcmp(c, "free_interior_large")) {
        char *p = gort_alloc(100000);
        gort_free(p + 8192);
    } else if (!strcmp(c, "free_stack")) {
        int local = 0;
        gort_free(&local);
    } else if (!strcmp(c, "free_past_limit")) {
        /* 48-byte objects: 170 in an 8 KiB span, then 32 bytes no object uses */
        uintptr_t span = (uintptr_t)gort_alloc(48) & ~(uintptr_t)8191;
        gort_free((void *)(span + 170 * 48));
    } else if (!strcmp(c, "usable_size_foreign")) {
        (void)gort_usable_size(malloc(64));
    } else if (!strcmp(c, "usable_size_stack")) {
        int local = 0;
        (void)gort_usable_size(&local);
    } else if (!strcmp(c, "usable_size_freed")) {
        void *p = gort_alloc(1 << 20);
        gort_free(p);
        (void)gort_usable_size(p);
    } else if (!strcmp(c, "wg_delta_range")) {
        gort_wg_add(&wg, (int64_t)1 << 40);
    } else {
        fprintf(stderr, "unknown case %s\n", c);
        return 100;
    }
    return 0;
}
