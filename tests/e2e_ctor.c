/* e2e_ctor.c - gort_run called from an ELF constructor in a program whose
 * main belongs to gort (gort::main): the constructor boots the runtime
 * embedded and runs its goroutines; main() then finds it up and runs
 * gort_main as a main goroutine (issue 12, item 6: this used to return 0
 * from the constructor and then crash in the normal boot with SIGSEGV). */
#include <gort.h>

#include <stdio.h>

static int from_ctor;
static gort_waitgroup_t wg;

static void child(void *arg)
{
    (void)arg;
    from_ctor += 10;
    gort_wg_done(&wg);
}

static void ctor_fn(void *arg)
{
    (void)arg;
    gort_wg_add(&wg, 1);
    gort_go(child, NULL);
    gort_wg_wait(&wg);
    from_ctor += 1;
}

__attribute__((constructor)) static void early(void)
{
    int rc = gort_run(ctor_fn, NULL);
    printf("constructor's gort_run returned %d\n", rc);
}

int gort_main(int argc, char **argv)
{
    (void)argv;
    gort_wg_add(&wg, 1);
    gort_go(child, NULL);
    gort_wg_wait(&wg);
    printf("gort_main ran: argc=%d from_ctor=%d goroutine=%llu\n", argc, from_ctor,
           (unsigned long long)gort_goid());
    fflush(stdout);
    return 3;
}
