/* test_chan.c - channels and select, the behaviour of Go's test/chan
 * programs (fifo, sieve, doubleselect, nonblock, zerosize, select*.go)
 * written anew for gort, plus timers in select. */
#include "check.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static int64_t ms(int64_t n) { return n * 1000 * 1000; }

static gort_waitgroup_t wg;

/* ---- fifo.go: channels are FIFO ------------------------------------------- */

#define NFIFO 1000

static void async_fifo(void)
{
    gort_chan_t *c = gort_chan_make(sizeof(int), 10);
    for (int i = 0; i < 10; i++)
        gort_chan_send(c, &i);
    for (int i = 0; i < 10; i++) {
        int v = -1;
        CHECK(gort_chan_recv(c, &v));
        CHECK(v == i);
    }
    gort_chan_free(c);
}

/* A chain of goroutines, each waiting for its turn on `in` before printing
 * into `out`: the values come out in spawn order (Go's SynchFifo). */
typedef struct chainlink {
    gort_chan_t *in, *out, *values;
    int v;
} chainlink;

static void chain_link(void *arg)
{
    chainlink *l = arg;
    int token;
    gort_chan_recv(l->in, &token);
    gort_chan_send(l->values, &l->v);
    gort_chan_send(l->out, &token);
}

static void fifo_body(void *arg)
{
    (void)arg;
    async_fifo();
    gort_chan_t *values = gort_chan_make(sizeof(int), NFIFO);
    gort_chan_t *first = gort_chan_make(sizeof(int), 0), *in = first;
    static chainlink links[NFIFO];
    for (int i = 0; i < NFIFO; i++) {
        gort_chan_t *out = gort_chan_make(sizeof(int), 0);
        links[i] = (chainlink){in, out, values, i};
        gort_go(chain_link, &links[i]);
        in = out;
    }
    int token = 0;
    gort_chan_send(first, &token);
    gort_chan_recv(in, &token);
    for (int i = 0; i < NFIFO; i++) {
        int v = -1;
        CHECK(gort_chan_recv(values, &v) && v == i);
    }
    gort_chan_free(first);
    for (int i = 0; i < NFIFO; i++)
        gort_chan_free(links[i].out);
    gort_chan_free(values);
}

static void test_fifo(void **state)
{
    (void)state;
    run_main(fifo_body, NULL);
}

/* ---- 10,000 goroutines chained by unbuffered channels ---------------------------- */

#define NCHAIN 10000

typedef struct stage {
    gort_chan_t *left, *right;
} stage;

static void whisper(void *arg)
{
    stage *s = arg;
    long v;
    gort_chan_recv(s->right, &v);
    v++;
    gort_chan_send(s->left, &v);
}

static void chain_body(void *arg)
{
    (void)arg;
    static stage st[NCHAIN];
    static gort_chan_t *ch[NCHAIN + 1];
    for (int i = 0; i <= NCHAIN; i++)
        ch[i] = gort_chan_make(sizeof(long), 0);
    for (int i = 0; i < NCHAIN; i++) {
        st[i] = (stage){ch[i], ch[i + 1]};
        gort_go(whisper, &st[i]);
    }
    long v = 1;
    gort_chan_send(ch[NCHAIN], &v);
    gort_chan_recv(ch[0], &v);
    CHECK(v == NCHAIN + 1);
    for (int i = 0; i <= NCHAIN; i++)
        gort_chan_free(ch[i]);
}

static void test_chain_10000(void **state)
{
    (void)state;
    run_main(chain_body, NULL);
}

/* ---- sieve.go: the concurrent prime sieve ------------------------------------------ */

typedef struct filt {
    gort_chan_t *in, *out;
    int prime;
} filt;

static void generate(void *arg)
{
    gort_chan_t *c = arg;
    for (int i = 2;; i++)
        gort_chan_send(c, &i);
}

static void filter(void *arg)
{
    filt *f = arg;
    for (;;) {
        int i;
        gort_chan_recv(f->in, &i);
        if (i % f->prime != 0)
            gort_chan_send(f->out, &i);
    }
}

static void sieve_body(void *arg)
{
    (void)arg;
    static const int want[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97};
    static filt f[25];
    gort_chan_t *c = gort_chan_make(sizeof(int), 0);
    gort_go(generate, c);
    for (int i = 0; i < 25; i++) {
        int p;
        gort_chan_recv(c, &p);
        CHECK(p == want[i]);
        f[i] = (filt){c, gort_chan_make(sizeof(int), 0), p};
        gort_go(filter, &f[i]);
        c = f[i].out;
    }
    /* the generator and filters stay blocked forever, as in Go's test */
}

static void test_sieve(void **state)
{
    (void)state;
    run_main(sieve_body, NULL);
}

/* ---- doubleselect.go: each value received exactly once ----------------------------- */

#define NDOUBLE 100000

typedef struct mux {
    gort_chan_t *in, *out, *done;
} mux;

static gort_chan_t *dc[4];

static void sender(void *arg)
{
    (void)arg;
    for (int i = 0; i < NDOUBLE; i++) {
        gort_select_case_t cs[4];
        for (int k = 0; k < 4; k++)
            cs[k] = (gort_select_case_t){.chan = dc[k], .dir = GORT_SELECT_SEND, .elem = &i};
        gort_select(cs, 4, true);
    }
    for (int k = 0; k < 4; k++)
        gort_chan_close(dc[k]);
}

static void muxer(void *arg)
{
    mux *m = arg;
    int v;
    while (gort_chan_recv(m->in, &v))
        gort_chan_send(m->out, &v);
    bool t = true;
    gort_chan_send(m->done, &t);
}

static void closer(void *arg)
{
    mux *m = arg; /* m->out = cmux, m->done = done */
    for (int k = 0; k < 4; k++)
        gort_chan_recv(m->done, NULL);
    gort_chan_close(m->out);
}

static void doubleselect_body(void *arg)
{
    (void)arg;
    int old = gort_maxprocs(2);
    static mux mx[4], cm;
    gort_chan_t *cmux = gort_chan_make(sizeof(int), 0), *done = gort_chan_make(sizeof(bool), 0);
    for (int k = 0; k < 4; k++)
        dc[k] = gort_chan_make(sizeof(int), 0);
    gort_go(sender, NULL);
    for (int k = 0; k < 4; k++) {
        mx[k] = (mux){dc[k], cmux, done};
        gort_go(muxer, &mx[k]);
    }
    cm = (mux){NULL, cmux, done};
    gort_go(closer, &cm);
    static unsigned char seen[NDOUBLE];
    memset(seen, 0, sizeof(seen));
    int v, count = 0;
    while (gort_chan_recv(cmux, &v)) {
        CHECK(v >= 0 && v < NDOUBLE);
        CHECK(!seen[v]); /* a duplicate means two cases of one select ran */
        seen[v] = 1;
        count++;
    }
    CHECK(count == NDOUBLE);
    gort_maxprocs(old);
}

static void test_doubleselect(void **state)
{
    (void)state;
    run_main(doubleselect_body, NULL);
}

/* ---- nonblock.go: non-blocking operations --------------------------------------------- */

static void recv_one(void *arg)
{
    gort_chan_t *c = arg;
    int v;
    gort_chan_recv(c, &v);
    gort_wg_done(&wg);
}

static void send_one(void *arg)
{
    gort_chan_t *c = arg;
    int v = 7;
    gort_chan_send(c, &v);
    gort_wg_done(&wg);
}

static void nonblock_body(void *arg)
{
    (void)arg;
    for (size_t cap = 0; cap <= 8; cap += 8) {
        gort_chan_t *c = gort_chan_make(sizeof(int), cap);
        int v = 1;
        bool ok = true;
        CHECK(!gort_chan_tryrecv(c, &v, &ok)); /* nothing to receive */
        if (cap == 0)
            CHECK(!gort_chan_trysend(c, &v)); /* no receiver */
        /* with a parked receiver, a non-blocking send eventually succeeds */
        gort_wg_add(&wg, 1);
        gort_go(recv_one, c);
        int tries = 0;
        while (!gort_chan_trysend(c, &v)) {
            gort_yield();
            CHECK(++tries < 10000000);
        }
        gort_wg_wait(&wg);
        /* with a parked sender, a non-blocking receive eventually succeeds */
        gort_wg_add(&wg, 1);
        gort_go(send_one, c);
        tries = 0;
        v = 0;
        while (!gort_chan_tryrecv(c, &v, &ok)) {
            gort_yield();
            CHECK(++tries < 10000000);
        }
        CHECK(ok && v == 7);
        gort_wg_wait(&wg);
        /* buffered: fill without blocking, then it refuses */
        for (size_t i = 0; i < cap; i++)
            CHECK(gort_chan_trysend(c, &v));
        if (cap > 0)
            CHECK(!gort_chan_trysend(c, &v) && gort_chan_len(c) == cap);
        gort_chan_free(c);
    }
    /* NULL (nil) channel: never ready */
    int v = 0;
    CHECK(!gort_chan_trysend(NULL, &v));
    CHECK(!gort_chan_tryrecv(NULL, &v, NULL));
    CHECK(gort_chan_len(NULL) == 0 && gort_chan_cap(NULL) == 0);
}

static void test_nonblock(void **state)
{
    (void)state;
    run_main(nonblock_body, NULL);
}

/* ---- zerosize.go: zero-size elements -------------------------------------------------- */

static void zero_sender(void *arg)
{
    gort_chan_t *c = arg;
    for (int i = 0; i < 100; i++)
        gort_chan_send(c, NULL);
    gort_chan_close(c);
}

static void zerosize_body(void *arg)
{
    (void)arg;
    for (size_t cap = 0; cap <= 3; cap += 3) {
        gort_chan_t *c = gort_chan_make(0, cap);
        CHECK(c != NULL && gort_chan_cap(c) == cap);
        gort_go(zero_sender, c);
        int n = 0;
        while (gort_chan_recv(c, NULL))
            n++;
        CHECK(n == 100);
        gort_chan_free(c);
    }
    gort_chan_t *b = gort_chan_make(0, 5);
    for (int i = 0; i < 5; i++)
        CHECK(gort_chan_trysend(b, NULL));
    CHECK(gort_chan_len(b) == 5 && !gort_chan_trysend(b, NULL));
    gort_chan_free(b);
}

static void test_zerosize(void **state)
{
    (void)state;
    run_main(zerosize_body, NULL);
}

/* ---- close semantics ------------------------------------------------------------------ */

static int64_t released;

static void closed_waiter(void *arg)
{
    gort_chan_t *c = arg;
    long v = 99;
    bool got = gort_chan_recv(c, &v);
    if (!got && v == 0)
        __atomic_add_fetch(&released, 1, __ATOMIC_SEQ_CST);
    gort_wg_done(&wg);
}

static void close_body(void *arg)
{
    (void)arg;
    /* buffered values survive close and are drained first */
    gort_chan_t *c = gort_chan_make(sizeof(long), 4);
    for (long i = 1; i <= 3; i++)
        gort_chan_send(c, &i);
    gort_chan_close(c);
    long v;
    for (long i = 1; i <= 3; i++)
        CHECK(gort_chan_recv(c, &v) && v == i);
    v = 5;
    CHECK(!gort_chan_recv(c, &v) && v == 0); /* closed, drained: zeroed */
    bool ok = true;
    v = 5;
    CHECK(gort_chan_tryrecv(c, &v, &ok) && !ok && v == 0);
    gort_chan_free(c);
    /* close releases every blocked receiver */
    c = gort_chan_make(sizeof(long), 0);
    released = 0;
    gort_wg_add(&wg, 100);
    for (int i = 0; i < 100; i++)
        gort_go(closed_waiter, c);
    gort_sleep(ms(5));
    gort_chan_close(c);
    gort_wg_wait(&wg);
    CHECK(released == 100);
    gort_chan_free(c);
}

static void test_close(void **state)
{
    (void)state;
    run_main(close_body, NULL);
}

/* ---- select*.go -------------------------------------------------------------------------- */

static void select_body(void *arg)
{
    (void)arg;
    int v = 0;
    /* no case ready: default */
    gort_chan_t *u = gort_chan_make(sizeof(int), 0);
    gort_select_case_t cs[3] = {
        {.chan = u, .dir = GORT_SELECT_RECV, .elem = &v},
        {.chan = u, .dir = GORT_SELECT_SEND, .elem = &v},
        {.chan = NULL, .dir = GORT_SELECT_RECV, .elem = &v},
    };
    CHECK(gort_select(cs, 3, false) == -1);
    CHECK(gort_select(NULL, 0, false) == -1);
    /* only nil channels, non-blocking: default */
    gort_select_case_t nilcases[2] = {{.chan = NULL, .dir = GORT_SELECT_SEND, .elem = &v},
                                      {.chan = NULL, .dir = GORT_SELECT_RECV, .elem = &v}};
    CHECK(gort_select(nilcases, 2, false) == -1);
    /* a buffered channel with room: the send case */
    gort_chan_t *b = gort_chan_make(sizeof(int), 1);
    v = 42;
    gort_select_case_t s1[2] = {{.chan = b, .dir = GORT_SELECT_SEND, .elem = &v},
                                {.chan = NULL, .dir = GORT_SELECT_RECV, .elem = &v}};
    CHECK(gort_select(s1, 2, true) == 0);
    /* now full: the receive case, ok = true */
    int got = 0;
    gort_select_case_t s2[2] = {{.chan = b, .dir = GORT_SELECT_SEND, .elem = &v},
                                {.chan = b, .dir = GORT_SELECT_RECV, .elem = &got}};
    CHECK(gort_select(s2, 2, true) == 1 && got == 42 && s2[1].ok);
    /* closed channel: always ready for receive, ok = false, zeroed */
    gort_chan_close(u);
    got = 9;
    gort_select_case_t s3[2] = {{.chan = NULL, .dir = GORT_SELECT_RECV, .elem = &v},
                                {.chan = u, .dir = GORT_SELECT_RECV, .elem = &got}};
    CHECK(gort_select(s3, 2, false) == 1 && !s3[1].ok && got == 0);
    gort_chan_free(u);
    gort_chan_free(b);
}

static void test_select(void **state)
{
    (void)state;
    run_main(select_body, NULL);
}

/* A select blocked on several channels is woken by whichever fires, and
 * only by one: the others are withdrawn (select4/select7). */
typedef struct selwake {
    gort_chan_t *c[8];
    int which;
} selwake;

static void selwake_sender(void *arg)
{
    selwake *s = arg;
    gort_sleep(ms(2));
    int v = 1000 + s->which;
    gort_chan_send(s->c[s->which], &v);
}

static void select_wake_body(void *arg)
{
    (void)arg;
    for (int round = 0; round < 200; round++) {
        selwake s;
        for (int k = 0; k < 8; k++)
            s.c[k] = gort_chan_make(sizeof(int), k % 2); /* mixed buffered/unbuffered */
        s.which = round % 8;
        int vals[8] = {0};
        gort_select_case_t cs[8];
        for (int k = 0; k < 8; k++)
            cs[k] = (gort_select_case_t){.chan = s.c[k], .dir = GORT_SELECT_RECV, .elem = &vals[k]};
        gort_go(selwake_sender, &s);
        int i = gort_select(cs, 8, true);
        CHECK(i == s.which && vals[i] == 1000 + i && cs[i].ok);
        for (int k = 0; k < 8; k++) {
            bool ok;
            CHECK(!gort_chan_tryrecv(s.c[k], NULL, &ok)); /* nothing left anywhere */
            gort_chan_free(s.c[k]);
        }
    }
}

static void test_select_wake(void **state)
{
    (void)state;
    run_main(select_wake_body, NULL);
}

/* Two ready cases are chosen uniformly at random (pollorder). */
static void fairness_body(void *arg)
{
    (void)arg;
    gort_chan_t *a = gort_chan_make(0, 0), *b = gort_chan_make(0, 0);
    gort_chan_close(a);
    gort_chan_close(b); /* closed: always ready */
    int count[2] = {0, 0};
    for (int i = 0; i < 10000; i++) {
        gort_select_case_t cs[2] = {{.chan = a, .dir = GORT_SELECT_RECV}, {.chan = b, .dir = GORT_SELECT_RECV}};
        int k = gort_select(cs, 2, true);
        CHECK(k == 0 || k == 1);
        count[k]++;
    }
    CHECK(count[0] >= 4000 && count[0] <= 6000);
    CHECK(count[1] >= 4000 && count[1] <= 6000);
    gort_chan_free(a);
    gort_chan_free(b);
}

static void test_select_fairness(void **state)
{
    (void)state;
    run_main(fairness_body, NULL);
}

/* Many cases (beyond the on-stack arrays), the same channel more than once. */
static void many_body(void *arg)
{
    (void)arg;
    enum { N = 200 };
    gort_chan_t *c[N / 2];
    for (int k = 0; k < N / 2; k++)
        c[k] = gort_chan_make(sizeof(int), 1);
    int vals[N];
    gort_select_case_t cs[N];
    for (int k = 0; k < N; k++)
        cs[k] = (gort_select_case_t){.chan = c[k % (N / 2)], .dir = GORT_SELECT_RECV, .elem = &vals[k]};
    CHECK(gort_select(cs, N, false) == -1);
    int x = 5;
    gort_chan_send(c[37], &x);
    int i = gort_select(cs, N, true);
    CHECK((i == 37 || i == 37 + N / 2) && vals[i] == 5);
    for (int k = 0; k < N / 2; k++)
        gort_chan_free(c[k]);
}

static void test_select_many(void **state)
{
    (void)state;
    run_main(many_body, NULL);
}

/* ---- timers in select ------------------------------------------------------------------- */

static void timers_body(void *arg)
{
    (void)arg;
    /* gort_after fires once, after its delay */
    int64_t t0 = gort_nanotime();
    gort_chan_t *t = gort_after(ms(20));
    int64_t when = 0;
    CHECK(gort_chan_recv(t, &when));
    CHECK(when - t0 >= ms(20) && gort_nanotime() - t0 < ms(500));
    gort_chan_free(t);
    /* a select times out */
    gort_chan_t *never = gort_chan_make(sizeof(int), 0);
    t = gort_after(ms(10));
    int v;
    gort_select_case_t cs[2] = {{.chan = never, .dir = GORT_SELECT_RECV, .elem = &v},
                                {.chan = t, .dir = GORT_SELECT_RECV, .elem = &when}};
    CHECK(gort_select(cs, 2, true) == 1);
    gort_chan_free(t);
    /* freed before it fires: stopped, nothing breaks */
    for (int i = 0; i < 100; i++)
        gort_chan_free(gort_after(ms(1 + i % 3)));
    gort_sleep(ms(10));
    /* non-positive delay: ready at once */
    t = gort_after(0);
    CHECK(gort_chan_recv(t, &when));
    gort_chan_free(t);
    /* a ticker ticks, drops ticks nobody takes, and stops */
    gort_ticker_t *tk = gort_ticker_new(ms(5));
    CHECK(tk != NULL && gort_ticker_new(0) == NULL);
    int ticks = 0;
    t0 = gort_nanotime();
    while (ticks < 5) {
        CHECK(gort_chan_recv(gort_ticker_chan(tk), &when));
        ticks++;
    }
    CHECK(gort_nanotime() - t0 >= ms(20));
    gort_sleep(ms(30)); /* several periods, one buffered tick at most */
    CHECK(gort_chan_len(gort_ticker_chan(tk)) <= 1);
    gort_ticker_stop(tk);
    gort_chan_tryrecv(gort_ticker_chan(tk), NULL, NULL);
    gort_sleep(ms(20));
    CHECK(gort_chan_len(gort_ticker_chan(tk)) == 0); /* stopped: no more ticks */
    gort_ticker_free(tk);
    gort_chan_free(never);
}

static void test_timers(void **state)
{
    (void)state;
    run_main(timers_body, NULL);
}

/* Issue 12, 1: tickers of 1 ns .. 100 us made, received from once and
 * freed in a loop, on every P at once. A periodic timer re-armed before its
 * callback had run let a second M send on the channel being freed (heap
 * corruption on 2 Ps within ~3,000 iterations); ticks also went backwards.
 * Each goroutine churns for 1.5 s; the ticks of one long-lived 1 us ticker
 * read meanwhile must never go backwards. */
static int64_t churn_until;

static void ticker_churner(void *arg)
{
    long seed = (long)arg;
    static const int64_t periods[] = {1, 10, 100, 1000, 10 * 1000, 100 * 1000};
    for (long i = 0; gort_nanotime() < churn_until; i++) {
        gort_ticker_t *tk = gort_ticker_new(periods[(i + seed) % 6]);
        CHECK(tk != NULL);
        int64_t when;
        CHECK(gort_chan_recv(gort_ticker_chan(tk), &when));
        if (i % 3 == 0)
            gort_ticker_stop(tk);
        gort_ticker_free(tk);
    }
    gort_wg_done(&wg);
}

static void ticker_churn_body(void *arg)
{
    (void)arg;
    churn_until = gort_nanotime() + ms(1500);
    int n = gort_maxprocs(0) * 2;
    gort_wg_add(&wg, n);
    for (long i = 0; i < n; i++)
        gort_go(ticker_churner, (void *)i);
    gort_ticker_t *tk = gort_ticker_new(1000);
    int64_t last = 0, when;
    long ticks = 0;
    while (gort_nanotime() < churn_until) {
        CHECK(gort_chan_recv(gort_ticker_chan(tk), &when));
        CHECK(when >= last); /* ticks never go backwards */
        last = when;
        ticks++;
    }
    gort_ticker_free(tk);
    gort_wg_wait(&wg);
    CHECK(ticks > 10);
}

static void test_ticker_churn(void **state)
{
    (void)state;
    run_main(ticker_churn_body, NULL);
}

/* The timer watcher (the M asleep until the earliest timer) has one waker
 * per sleep (proc.c, "Waking an idle M"). Sleepers here keep adding timers
 * earlier than the one it watches, so that a re-arm wakes it, while the
 * timers that fire keep readying goroutines, so that rt_startm takes idle
 * Ms, the watcher often first. Both used to wake the same sleep: the
 * second wakeup, when it landed after the watcher's clear, woke its next
 * rt_stopm without a P (ticker_churn crashed so about once in 30 to 100
 * runs under ASan). The runtime throws on any second wakeup now, so a
 * regression fails here at once. More Ps than CPUs: more idle Ms. */
static int64_t rearm_until;

static void rearm_sleeper(void *arg)
{
    long seed = (long)arg;
    for (long i = 0; gort_nanotime() < rearm_until; i++)
        gort_sleep((i + seed) % 4 == 0 ? ms(1) : ((i * 7 + seed) % 50 + 1) * 1000);
    gort_wg_done(&wg);
}

static void timer_rearm_body(void *arg)
{
    (void)arg;
    int procs = gort_maxprocs(0);
    gort_maxprocs(procs < 4 ? 4 : procs);
    rearm_until = gort_nanotime() + ms(500);
    int n = gort_maxprocs(0) * 2;
    gort_wg_add(&wg, n);
    for (long i = 0; i < n; i++)
        gort_go(rearm_sleeper, (void *)i);
    gort_wg_wait(&wg);
    gort_maxprocs(procs);
}

static void test_timer_rearm_wakeups(void **state)
{
    (void)state;
    run_main(timer_rearm_body, NULL);
}

/* Issue 12, 2 and 3: deadlines past the end of time never fire (Go caps
 * them); they used to overflow to "now" (gort_after fired at once) or to a
 * ticker that was always due (one P looped in checktimers for ever). */
static void timer_overflow_body(void *arg)
{
    (void)arg;
    int64_t huge[] = {INT64_MAX, INT64_MAX - 1, INT64_MAX / 2 + 1, INT64_MAX - gort_nanotime() / 2};
    gort_chan_t *after[4];
    gort_ticker_t *tk[4];
    for (int i = 0; i < 4; i++) {
        after[i] = gort_after(huge[i]);
        tk[i] = gort_ticker_new(huge[i]);
        CHECK(after[i] != NULL && tk[i] != NULL);
    }
    /* a short timer still fires, and main still runs: nothing is stuck */
    gort_chan_t *soon = gort_after(ms(20));
    int64_t when;
    int v;
    gort_select_case_t cs[2] = {{.chan = soon, .dir = GORT_SELECT_RECV, .elem = &when},
                                {.chan = after[0], .dir = GORT_SELECT_RECV, .elem = &v}};
    CHECK(gort_select(cs, 2, true) == 0);
    gort_sleep(ms(20));
    for (int i = 0; i < 4; i++) {
        CHECK(gort_chan_len(after[i]) == 0);
        CHECK(gort_chan_len(gort_ticker_chan(tk[i])) == 0);
        gort_chan_free(after[i]);
        gort_ticker_free(tk[i]);
    }
    gort_chan_free(soon);
    /* gort_sleep with a huge duration from another goroutine: parked, not woken */
    CHECK(gort_maxprocs(0) >= 1);
}

static void test_timer_overflow(void **state)
{
    (void)state;
    run_main(timer_overflow_body, NULL);
}

/* ---- threads gort does not manage ------------------------------------------------------- */

static gort_chan_t *fin, *fout;

static void doubler(void *arg)
{
    (void)arg;
    long v;
    while (gort_chan_recv(fin, &v)) {
        v *= 2;
        gort_chan_send(fout, &v);
    }
    gort_chan_close(fout);
}

static void boot(void *arg) { (void)arg; }

static void test_foreign_thread(void **state)
{
    (void)state;
    run_main(boot, NULL);
    fin = gort_chan_make(sizeof(long), 0);
    fout = gort_chan_make(sizeof(long), 0);
    gort_go(doubler, NULL);
    for (long i = 0; i < 1000; i++) { /* this thread blocks on the channels */
        long r;
        gort_chan_send(fin, &i);
        assert_true(gort_chan_recv(fout, &r));
        assert_int_equal(r, 2 * i);
    }
    gort_chan_close(fin);
    assert_false(gort_chan_recv(fout, NULL));
    gort_chan_free(fin);
    gort_chan_free(fout);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo),           cmocka_unit_test(test_chain_10000),
        cmocka_unit_test(test_sieve),          cmocka_unit_test(test_doubleselect),
        cmocka_unit_test(test_nonblock),       cmocka_unit_test(test_zerosize),
        cmocka_unit_test(test_close),          cmocka_unit_test(test_select),
        cmocka_unit_test(test_select_wake),    cmocka_unit_test(test_select_fairness),
        cmocka_unit_test(test_select_many),    cmocka_unit_test(test_timers),
        cmocka_unit_test(test_ticker_churn),   cmocka_unit_test(test_timer_overflow),
        cmocka_unit_test(test_timer_rearm_wakeups),
        cmocka_unit_test(test_foreign_thread),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
