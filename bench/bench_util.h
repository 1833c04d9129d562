/* bench_util.h - shared helpers for the C benchmarks: every benchmark prints
 * "RESULT <name> <value> <unit>" lines that bench/run collects, next to the
 * same lines from the Go and pthread peers. */
#ifndef GORT_BENCH_UTIL_H
#define GORT_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A /proc/self/status field in bytes (VmRSS, VmPTE, ...). */
static inline long status_bytes(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    while (f != NULL && fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            kb = atol(line + n + 1);
    if (f != NULL)
        fclose(f);
    return kb * 1024;
}

/* Resident set size in bytes. Page tables are not in it: VmPTE. */
static inline long rss_bytes(void) { return status_bytes("VmRSS"); }

/* xorshift64*: the same sequence as the Go peers' (bench/go). */
static inline uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

#define RESULT(name, value, unit) printf("RESULT %s %.1f %s\n", name, (double)(value), unit)

#endif
