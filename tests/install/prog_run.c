/* Built from outside: a program with its own main() embedding gort. */
#include <gort.h>
#include <stdio.h>

static int ran;
static void body(void *arg)
{
    (void)arg;
    ran = gort_goid() != 0;
}

int main(void)
{
    int r = gort_run(body, NULL);
    printf("gort_run=%d ran=%d\n", r, ran);
    return r == 0 && ran ? 0 : 1;
}
