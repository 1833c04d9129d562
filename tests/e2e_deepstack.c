/* e2e_deepstack.c - pages that deep call chains dirtied go back to the OS.
 * 200 goroutines each recurse ~160 KiB deep and park there (RSS grows by
 * ~32 MiB), then unwind and exit. sysmon's background pass must return the
 * deep stacks' pages: RSS drops back close to where it started. */
#include <gort.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 200
#define DEPTH_KB 160

static gort_waitgroup_t deep, gate, done;

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f != NULL && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            v = atol(line + 6);
    if (f)
        fclose(f);
    return v;
}

__attribute__((noinline)) static int dig(int kb)
{
    volatile char page[1024];
    memset((char *)page, kb, sizeof(page));
    if (kb > 0)
        return dig(kb - 1) + page[7];
    gort_wg_done(&deep);
    gort_wg_wait(&gate); /* parked at full depth */
    return page[3];
}

static void digger(void *arg)
{
    (void)arg;
    dig(DEPTH_KB);
    gort_wg_done(&done);
}

int gort_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    long rss0 = rss_kb();
    gort_wg_add(&gate, 1);
    gort_wg_add(&deep, N);
    gort_wg_add(&done, N);
    for (int i = 0; i < N; i++)
        gort_go(digger, NULL);
    gort_wg_wait(&deep);
    long rss1 = rss_kb();
    gort_wg_done(&gate);
    gort_wg_wait(&done);
    long rss2 = rss1;
    for (int i = 0; i < 100 && rss2 - rss0 > (rss1 - rss0) / 4; i++) {
        gort_sleep(50 * 1000 * 1000);
        rss2 = rss_kb();
    }
    printf("rss before %ld KiB, deep %ld KiB, after exit %ld KiB\n", rss0, rss1, rss2);
    if (rss1 - rss0 < N * DEPTH_KB / 2) {
        printf("FAIL: the stacks did not get deep\n");
        return 1;
    }
    if (rss2 - rss0 > (rss1 - rss0) / 4) {
        printf("FAIL: deep stack pages were not returned\n");
        return 1;
    }
    printf("returned\n");
    return 0;
}
