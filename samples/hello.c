/* hello.c - the smallest gort program: gort owns main, gort_main is
 * goroutine 1. Spawns a few goroutines and waits for them. */
#include <gort.h>
#include <stdio.h>

static gort_waitgroup_t wg;

static void greet(void *arg)
{
    printf("hello from goroutine %llu (%s)\n", (unsigned long long)gort_goid(), (const char *)arg);
    gort_wg_done(&wg);
}

int gort_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    static const char *names[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++) {
        gort_wg_add(&wg, 1);
        gort_go(greet, (void *)names[i]);
    }
    gort_wg_wait(&wg);
    printf("main: %lld goroutine(s) left, GOMAXPROCS=%d\n", (long long)gort_num_goroutine(), gort_maxprocs(0));
    return 0;
}
