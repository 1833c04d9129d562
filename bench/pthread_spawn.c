/* pthread_spawn.c - the "vs threads" row for spawn: pthread_create + join
 * of a thread that does nothing, one at a time. */
#include <pthread.h>
#include "bench_util.h"

static void *noop(void *arg) { return arg; }

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, noop, NULL) != 0)
            return 1;
        pthread_join(t, NULL);
    }
    double t1 = now_ns();
    RESULT("pthread_create_join_ns", (t1 - t0) / n, "ns");
    return 0;
}
