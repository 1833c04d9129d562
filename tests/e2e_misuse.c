/* e2e_misuse.c - misuse found by the bad-input sweep (issue 12): each case
 * must end with Go's kind of message naming the goroutine and exit status
 * 2, never a hang, a silent death or corruption. Run by ctest through
 * expect.sh (tests/CMakeLists.txt, "misuse.*").
 *
 * Freed channels (item 4): send, recv, close, select, len, trysend after
 * gort_chan_free; a double gort_chan_free; a double free of a gort_after
 * channel (fired or not); gort_chan_free of a ticker's channel; a double
 * gort_ticker_free. Each used to wait for ever on a lock word malloc had
 * overwritten, because the poisoning store was dropped as dead.
 *
 * Sync (items 10, 11): a gort_once_do whose function calls gort_goexit
 * marks the Once done, as Go (it used to deadlock the next call); a
 * release past 2^32 - 1 units of a gort_sema_t is a fatal error (it
 * wrapped to 0).
 *
 * GORTSTACKSIZE (item 9): 16k..1g, bounds included, one warning for every
 * value out of range (deep900k needs GORTSTACKSIZE=1m to pass).
 *
 * A frame larger than the guard page (item 12) is caught as a stack
 * overflow: the programs built against gort get -fstack-clash-protection.
 *
 * Signals (items 5 and 7): an integer divide by zero, __builtin_trap
 * (SIGILL) and abort() in a goroutine died silently with 136/132/134; a
 * fault at a non-nil address was called a nil dereference. */
#include <gort.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gort_chan_t *freed_chan(size_t cap)
{
    gort_chan_t *c = gort_chan_make(sizeof(int), cap);
    gort_chan_free(c);
    /* churn malloc a little, as a program would before the misuse */
    for (int i = 0; i < 100; i++)
        free(malloc((size_t)(16 + i * 8)));
    return c;
}

#define CHECKV(c) \
    do { if (!(c)) { printf("check failed: %s\n", #c); return 1; } } while (0)

static volatile int zero;

static void divide(void *arg)
{
    *(volatile int *)arg = 100 / zero;
}

static void trap(void *arg)
{
    (void)arg;
    __builtin_trap();
}

static void aborter(void *arg)
{
    (void)arg;
    abort();
}

static void wild(void *arg)
{
    (void)arg;
    *(volatile int *)(uintptr_t)0xdeadbeef = 1;
}

static int once_runs;
static gort_once_t once;
static gort_waitgroup_t wg;

static void once_fn_exits(void *arg)
{
    (void)arg;
    once_runs++;
    gort_goexit();
}

static void once_fn(void *arg)
{
    (void)arg;
    once_runs++;
}

static void once_goroutine(void *arg)
{
    (void)arg;
    gort_once_do(&once, once_fn_exits, NULL);
    printf("gort_goexit returned\n");
}

static void wg_done_on_exit(void *arg)
{
    gort_wg_done(&wg);
    once_goroutine(arg);
}

static volatile char sink;

/* Recurse until about `arg` bytes of stack are in use. */
__attribute__((noinline)) static void recurse(long left)
{
    volatile char buf[1024];
    buf[0] = (char)left;
    if (left > 1024)
        recurse(left - 1024);
    sink = buf[0];
}

static void deep(void *arg)
{
    recurse((long)arg);
    gort_wg_done(&wg);
}

/* A frame four times the 16 KiB stack: with -fstack-clash-protection (a
 * usage requirement of gort::main) its pages are probed from the top, so
 * the first probe below the stack hits the guard page: "stack overflow".
 * Without it, buf[0] would land 48 KiB below, in another goroutine's stack. */
static void touch_impl(volatile char *p, size_t n)
{
    p[0] = 1;
    p[n - 1] = 2;
}
/* called through a volatile pointer: the array's address escapes, so no
 * compiler may shrink it */
static void (*volatile touch)(volatile char *, size_t) = touch_impl;

__attribute__((noinline)) static void bigframe(void *arg)
{
    volatile char buf[64 << 10];
    touch(buf, sizeof(buf));
    sink = buf[0] + (char)(long)arg;
}

static void run_and_wait(void (*fn)(void *), void *arg)
{
    gort_go(fn, arg);
    gort_sleep(10LL * 1000 * 1000 * 1000);
}

int gort_main(int argc, char **argv)
{
    const char *m = argc > 1 ? argv[1] : "";
    int v = 1;
    if (!strcmp(m, "freed_send")) {
        gort_chan_send(freed_chan(0), &v);
    } else if (!strcmp(m, "freed_send_buffered")) {
        gort_chan_send(freed_chan(4), &v);
    } else if (!strcmp(m, "freed_recv")) {
        gort_chan_recv(freed_chan(0), &v);
    } else if (!strcmp(m, "freed_close")) {
        gort_chan_close(freed_chan(1));
    } else if (!strcmp(m, "freed_trysend")) {
        gort_chan_trysend(freed_chan(1), &v);
    } else if (!strcmp(m, "freed_len")) {
        (void)gort_chan_len(freed_chan(1));
    } else if (!strcmp(m, "freed_select")) {
        gort_chan_t *ok = gort_chan_make(sizeof(int), 0);
        gort_select_case_t cs[2] = {{.chan = ok, .dir = GORT_SELECT_RECV, .elem = &v},
                                    {.chan = freed_chan(0), .dir = GORT_SELECT_RECV, .elem = &v}};
        gort_select(cs, 2, true);
    } else if (!strcmp(m, "double_chan_free")) {
        gort_chan_free(freed_chan(2));
    } else if (!strcmp(m, "double_after_free")) {
        gort_chan_t *t = gort_after(1000);
        gort_sleep(2 * 1000 * 1000);
        gort_chan_free(t);
        gort_chan_free(t);
    } else if (!strcmp(m, "double_after_free_unfired")) {
        gort_chan_t *t = gort_after(1000LL * 1000 * 1000);
        gort_chan_free(t);
        gort_chan_free(t);
    } else if (!strcmp(m, "free_ticker_chan")) {
        gort_ticker_t *tk = gort_ticker_new(1000 * 1000);
        gort_chan_free(gort_ticker_chan(tk));
    } else if (!strcmp(m, "double_ticker_free")) {
        gort_ticker_t *tk = gort_ticker_new(1000);
        gort_chan_recv(gort_ticker_chan(tk), NULL);
        gort_ticker_free(tk);
        gort_ticker_free(tk);
    } else if (!strcmp(m, "freed_ticker_chan")) {
        gort_ticker_t *tk = gort_ticker_new(1000);
        gort_ticker_free(tk);
        gort_chan_recv(gort_ticker_chan(tk), NULL);
    } else if (!strcmp(m, "divide_by_zero")) {
        run_and_wait(divide, &v);
    } else if (!strcmp(m, "sigill")) {
        run_and_wait(trap, NULL);
    } else if (!strcmp(m, "abort")) {
        run_and_wait(aborter, NULL);
    } else if (!strcmp(m, "fault_address")) {
        run_and_wait(wild, NULL);
    } else if (!strcmp(m, "nil_deref_offset")) {
        struct big {
            char pad[0x18];
            int field;
        };
        struct big *volatile nil = NULL;
        ((volatile struct big *)nil)->field = 1; /* a field of a NULL struct pointer: addr=0x18 */
    } else if (!strcmp(m, "once_goexit")) {
        gort_wg_add(&wg, 1);
        gort_go(wg_done_on_exit, NULL);
        gort_wg_wait(&wg);
        gort_sleep(10 * 1000 * 1000); /* the goroutine has run once_do and exited */
        gort_once_do(&once, once_fn, NULL); /* must not block, must not run */
        printf("once ok, runs=%d\n", once_runs);
        return once_runs == 1 ? 0 : 1;
    } else if (!strcmp(m, "deep900k")) {
        gort_wg_add(&wg, 1);
        gort_go(deep, (void *)(900L * 1024));
        gort_wg_wait(&wg);
        printf("deep ok\n");
        return 0;
    } else if (!strcmp(m, "big_frame")) {
        gort_go_stack(bigframe, NULL, 16 << 10);
        gort_sleep(10LL * 1000 * 1000 * 1000);
    } else if (!strcmp(m, "sema_overflow")) {
        gort_sema_t s = GORT_SEMA_INIT(UINT32_MAX);
        gort_sema_release(&s);
    } else if (!strcmp(m, "sema_max")) {
        gort_sema_t s = GORT_SEMA_INIT(UINT32_MAX - 1);
        gort_sema_release(&s); /* up to 2^32 - 1 units is fine */
        CHECKV(gort_sema_tryacquire(&s));
        printf("sema ok\n");
        return 0;
    } else {
        fprintf(stderr, "unknown case %s\n", m);
        return 100;
    }
    printf("%s: no error\n", m);
    return 1;
}
