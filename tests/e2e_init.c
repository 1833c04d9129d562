/* e2e_init.c - GORT_INIT functions run before gort_main, after their
 * dependencies, in goroutine context. Prints the order; the ctest checks it
 * (and inittrace's format with GORTDEBUG=inittrace=1). */
#include <gort.h>
#include <stdio.h>
#include <string.h>

static char order[64];

static void add(char c)
{
    size_t n = strlen(order);
    order[n] = c;
    order[n + 1] = 0;
}

/* Registered in this (file) order: c, b, a. Dependencies force a, b, c. */
GORT_INIT_AFTER(init_c, "init_b")
{
    add('c');
}
GORT_INIT_AFTER(init_b, "init_a")
{
    add('b');
    gort_sleep(1000000); /* inits run in a goroutine: they may block */
}
GORT_INIT(init_a)
{
    add('a');
}

int gort_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("order=%s goid=%llu\n", order, (unsigned long long)gort_goid());
    return strcmp(order, "abc") == 0 ? 0 : 1;
}
