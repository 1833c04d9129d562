/* e2e_million.c - one million goroutines parked at once, on the default
 * vm.max_map_count (65530): stacks must not cost a mapping each. Checks
 * that all run, that the process's mapping count stays small, and prints
 * the guard mode and resident bytes per parked goroutine. */
#include <gort.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gort_waitgroup_t started, gate, done;

static void parked(void *arg)
{
    (void)arg;
    gort_wg_done(&started);
    gort_wg_wait(&gate);
    gort_wg_done(&done);
}

static long maps_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return -1;
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

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

int gort_main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    long rss0 = rss_kb();
    gort_wg_add(&gate, 1);
    gort_wg_add(&started, n);
    gort_wg_add(&done, n);
    for (long i = 0; i < n; i++)
        gort_go(parked, NULL);
    gort_wg_wait(&started);
    long maps = maps_count();
    long rss = rss_kb();
    printf("parked=%lld maps=%ld rss_per_goroutine=%.0f bytes\n", (long long)gort_num_goroutine() - 1, maps,
           (double)(rss - rss0) * 1024.0 / n);
    gort_wg_done(&gate);
    gort_wg_wait(&done);
    if (maps < 0 || maps > 10000) {
        printf("FAIL: too many mappings\n");
        return 1;
    }
    printf("released all\n");
    return 0;
}
