/* Built from outside with: cc prog_main.c $(pkg-config --cflags --libs gort)
 * gort owns main; this file defines gort_main only. */
#include <gort.h>
#include <stdio.h>

static gort_waitgroup_t wg;
static long sum;

static void add(void *arg)
{
    __atomic_add_fetch(&sum, (long)arg, __ATOMIC_SEQ_CST);
    gort_wg_done(&wg);
}

int gort_main(int argc, char **argv)
{
    (void)argv;
    for (long i = 1; i <= 100; i++) {
        gort_wg_add(&wg, 1);
        gort_go(add, (void *)i);
    }
    gort_wg_wait(&wg);
    printf("sum=%ld argc=%d\n", sum, argc);
    return sum == 5050 ? 3 : 1; /* 3: proves the exit status is gort_main's */
}
