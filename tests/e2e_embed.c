/* e2e_embed.c - a program with its own main() that embeds gort with
 * gort_run (no libgort_main): runs twice, from two threads at once, and
 * checks the documented error results. */
#include <gort.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>

static long total;

typedef struct job {
    gort_waitgroup_t wg; /* one per gort_run: they may run concurrently */
    long add;
} job;

static void child(void *arg)
{
    job *j = arg;
    __atomic_add_fetch(&total, j->add, __ATOMIC_SEQ_CST);
    gort_wg_done(&j->wg);
}

static void body(void *arg)
{
    job *j = arg;
    for (long i = 0; i < 1000; i++) {
        gort_wg_add(&j->wg, 1);
        gort_go(child, j);
    }
    gort_wg_wait(&j->wg);
}

static void *thread(void *arg)
{
    return (void *)(long)gort_run(body, arg);
}

static int reentry_result;
static void reenter(void *arg)
{
    (void)arg;
    reentry_result = gort_run(body, &(job){.add = 0});
}

int main(void)
{
    if (gort_run(NULL, NULL) != -EINVAL)
        return 1;
    job j1 = {.add = 1}, j2 = {.add = 2}, j3 = {.add = 3};
    if (gort_run(body, &j1) != 0 || total != 1000)
        return 2;
    pthread_t a, b;
    pthread_create(&a, NULL, thread, &j2);
    pthread_create(&b, NULL, thread, &j3);
    void *ra, *rb;
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    if (ra != NULL || rb != NULL || total != 1000 + 2000 + 3000)
        return 3;
    if (gort_run(reenter, NULL) != 0 || reentry_result != -EDEADLK)
        return 4;
    printf("embed ok total=%ld\n", total);
    return 0;
}
