/* e2e_initcycle.c - an init dependency cycle is a fatal error naming it. */
#include <gort.h>

GORT_INIT_AFTER(cyc_x, "cyc_y") {}
GORT_INIT_AFTER(cyc_y, "cyc_x") {}
GORT_INIT_AFTER(needs_missing, "no_such_init") {}

int gort_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return 0;
}
