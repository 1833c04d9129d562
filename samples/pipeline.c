/* pipeline.c - fan-out / fan-in over channels, with select and a timeout.
 *
 * A generator goroutine sends numbers into `jobs`; N workers receive from it,
 * do some work and send results into `results`; main collects the results
 * with a select that also watches a timer channel, so a stuck pipeline
 * cannot hang it. Closing `jobs` is how the generator says "no more", and
 * the last worker to finish closes `results` (a WaitGroup tells it).
 *
 *   pipeline [workers] [jobs] [timeout_ms]                          */
#include <gort.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct result {
    long n;
    uint64_t collatz_steps;
} result;

static gort_chan_t *jobs, *results;
static gort_waitgroup_t workers;
static long njobs;

static void generator(void *arg)
{
    (void)arg;
    for (long n = 1; n <= njobs; n++)
        gort_chan_send(jobs, &n);
    gort_chan_close(jobs); /* workers' receives now drain, then return false */
}

static uint64_t collatz(long n)
{
    uint64_t steps = 0;
    for (uint64_t x = (uint64_t)n; x != 1; steps++)
        x = (x & 1) ? 3 * x + 1 : x / 2;
    return steps;
}

static void worker(void *arg)
{
    (void)arg;
    long n;
    while (gort_chan_recv(jobs, &n)) {
        result r = {n, collatz(n)};
        gort_chan_send(results, &r);
    }
    gort_wg_done(&workers);
}

static void closer(void *arg)
{
    (void)arg;
    gort_wg_wait(&workers);
    gort_chan_close(results);
}

int gort_main(int argc, char **argv)
{
    int nworkers = argc > 1 ? atoi(argv[1]) : 8;
    njobs = argc > 2 ? atol(argv[2]) : 200000;
    long timeout_ms = argc > 3 ? atol(argv[3]) : 10000;
    if (nworkers < 1 || njobs < 1 || timeout_ms < 1) {
        fprintf(stderr, "usage: pipeline [workers>=1] [jobs>=1] [timeout_ms>=1]\n");
        return 2;
    }
    jobs = gort_chan_make(sizeof(long), 64);
    results = gort_chan_make(sizeof(result), 64);
    gort_chan_t *timeout = gort_after(timeout_ms * 1000 * 1000);

    int64_t t0 = gort_nanotime();
    gort_wg_add(&workers, nworkers);
    gort_go(generator, NULL);
    for (int i = 0; i < nworkers; i++)
        gort_go(worker, NULL);
    gort_go(closer, NULL);

    long received = 0, longest = 0;
    uint64_t most = 0;
    for (;;) {
        result r;
        int64_t when;
        gort_select_case_t cs[] = {
            {.chan = results, .dir = GORT_SELECT_RECV, .elem = &r},
            {.chan = timeout, .dir = GORT_SELECT_RECV, .elem = &when},
        };
        int k = gort_select(cs, 2, true);
        if (k == 1) {
            printf("pipeline: timed out after %ld ms with %ld of %ld results\n", timeout_ms, received, njobs);
            return 1;
        }
        if (!cs[0].ok)
            break; /* results closed: everything arrived */
        received++;
        if (r.collatz_steps > most) {
            most = r.collatz_steps;
            longest = r.n;
        }
    }
    double ms = (double)(gort_nanotime() - t0) / 1e6;
    printf("pipeline: %d workers, %ld jobs through 2 channels in %.1f ms (%.0f ns/job), GOMAXPROCS=%d\n",
           nworkers, received, ms, ms * 1e6 / (double)received, gort_maxprocs(0));
    printf("longest Collatz chain below %ld: %ld (%llu steps)\n", njobs + 1, longest, (unsigned long long)most);
    gort_chan_free(timeout);
    gort_chan_free(jobs);
    gort_chan_free(results);
    return received == njobs ? 0 : 1;
}
