/* worker_pool.c - a fixed pool of worker goroutines draining a job queue.
 *
 * The pattern a C server copies: N workers, a queue guarded by a
 * gort_mutex_t, a WaitGroup to know when all work is done. Each job counts
 * the primes in a range of numbers; jobs that would block (here: a
 * simulated 1 ms I/O wait with gort_sleep) park only their goroutine, so
 * 64 workers keep 2 cores busy.
 *
 *   worker_pool [workers] [jobs]                               */
#include <gort.h>

#include <stdio.h>
#include <stdlib.h>

typedef struct job {
    long lo, hi;
    struct job *next;
} job;

static gort_mutex_t qmu;       /* guards queue and total */
static job *queue;
static long total_primes;
static gort_waitgroup_t workers_done;

static job *take(void)
{
    gort_mutex_lock(&qmu);
    job *j = queue;
    if (j != NULL)
        queue = j->next;
    gort_mutex_unlock(&qmu);
    return j;
}

static long count_primes(long lo, long hi)
{
    long n = 0;
    for (long x = lo < 2 ? 2 : lo; x < hi; x++) {
        int prime = 1;
        for (long d = 2; d * d <= x; d++)
            if (x % d == 0) {
                prime = 0;
                break;
            }
        n += prime;
    }
    return n;
}

static void worker(void *arg)
{
    (void)arg;
    job *j;
    while ((j = take()) != NULL) {
        gort_sleep(1000 * 1000); /* stands in for a blocking call: parks only this goroutine */
        long n = count_primes(j->lo, j->hi);
        gort_mutex_lock(&qmu);
        total_primes += n;
        gort_mutex_unlock(&qmu);
        free(j);
    }
    gort_wg_done(&workers_done);
}

int gort_main(int argc, char **argv)
{
    int nworkers = argc > 1 ? atoi(argv[1]) : 64;
    int njobs = argc > 2 ? atoi(argv[2]) : 2000;
    if (nworkers < 1 || njobs < 1) {
        fprintf(stderr, "usage: worker_pool [workers>=1] [jobs>=1]\n");
        return 2;
    }
    const long span = 2000;
    for (int i = njobs - 1; i >= 0; i--) {
        job *j = malloc(sizeof(*j));
        if (j == NULL)
            return 1;
        j->lo = i * span;
        j->hi = (i + 1) * span;
        j->next = queue;
        queue = j;
    }
    int64_t t0 = gort_nanotime();
    gort_wg_add(&workers_done, nworkers);
    for (int i = 0; i < nworkers; i++)
        gort_go(worker, NULL);
    gort_wg_wait(&workers_done);
    double ms = (double)(gort_nanotime() - t0) / 1e6;
    printf("worker_pool: %d workers, %d jobs (each with a 1 ms blocking wait), GOMAXPROCS=%d\n", nworkers,
           njobs, gort_maxprocs(0));
    printf("primes below %ld: %ld\n", njobs * span, total_primes);
    printf("wall %.1f ms; %d ms of waiting overlapped %.0fx\n", ms, njobs, njobs / ms);
    return 0;
}
