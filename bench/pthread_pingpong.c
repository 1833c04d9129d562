/* pthread_pingpong.c - the "vs threads" row: two threads passing a token
 * with a mutex and two condition variables, ns per round trip. */
#include <pthread.h>
#include "bench_util.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cping = PTHREAD_COND_INITIALIZER, cpong = PTHREAD_COND_INITIALIZER;
static int turn; /* 0: ping's turn to be answered by pong ... */
static long n;

static void *ponger(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (long i = 0; i < n; i++) {
        while (turn != 1)
            pthread_cond_wait(&cping, &mu);
        turn = 0;
        pthread_cond_signal(&cpong);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

int main(int argc, char **argv)
{
    n = argc > 1 ? atol(argv[1]) : 100000;
    pthread_t t;
    pthread_create(&t, NULL, ponger, NULL);
    double t0 = now_ns();
    pthread_mutex_lock(&mu);
    for (long i = 0; i < n; i++) {
        turn = 1;
        pthread_cond_signal(&cping);
        while (turn != 0)
            pthread_cond_wait(&cpong, &mu);
    }
    pthread_mutex_unlock(&mu);
    double t1 = now_ns();
    pthread_join(t, NULL);
    RESULT("pthread_pingpong_ns_per_roundtrip", (t1 - t0) / n, "ns");
    return 0;
}
