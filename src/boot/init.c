/* init.c - registered init functions (Go: the package inittasks run by
 * runtime.main's doInit, and GODEBUG=inittrace=1).
 *
 * GORT_INIT(name) expands to an ELF constructor that only links an entry
 * into a list (constructors run before main and must not use the runtime).
 * The runtime main goroutine then runs them once, each after its declared
 * dependencies (depth-first, in registration order otherwise), so inits
 * may spawn goroutines, sleep and use channels like Go package inits.
 * A dependency cycle or an unknown dependency is a fatal error naming it.
 * An entry registered after the inits ran (a library dlopen'ed later) runs
 * at registration time, its dependencies having to be done already. */
#include "boot.h"
#include "../sched/sched.h"
#include "../debug/debug.h"

#include <gort.h>
#include <stdio.h>
#include <string.h>

static gort_init_entry_t *inits, **inits_tail = &inits;
static bool inits_done;
static rt_lock initlock = {0, RT_RANK_INIT};
int64_t rt_runtime_init_time;

enum { INIT_NEW = 0, INIT_RUNNING = 1, INIT_DONE = 2 };

static void runone(gort_init_entry_t *e, int depth);

GORT_API void gort_init_register(gort_init_entry_t *e)
{
    if (e == NULL || e->fn == NULL || e->name == NULL)
        return;
    e->next = NULL;
    e->state = INIT_NEW;
    rt_lock_acquire(&initlock);
    bool late = inits_done;
    *inits_tail = e;
    inits_tail = &e->next;
    rt_lock_release(&initlock);
    if (late)
        runone(e, 0);
}

static gort_init_entry_t *find(const char *name, size_t len)
{
    for (gort_init_entry_t *e = inits; e != NULL; e = e->next)
        if (strlen(e->name) == len && strncmp(e->name, name, len) == 0)
            return e;
    return NULL;
}

/* Go's inittrace counts the heap bytes and objects an init allocated. */
static void heapcounts(uint64_t *bytes, uint64_t *allocs)
{
    gort_memstats_t ms;
    gort_read_memstats(&ms);
    *bytes = ms.TotalAlloc;
    *allocs = ms.Mallocs;
}

/* Go's fmtNSAsMS: whole ms from 10 ms up, else two significant digits
 * with at most three decimals ("0.025", "0.22", "1.5"). */
static void fmt_ms(char *buf, size_t n, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    if (ns >= 10000000) {
        snprintf(buf, n, "%lld", (long long)(ns / 1000000));
        return;
    }
    int64_t x = ns / 1000;
    if (x == 0) {
        snprintf(buf, n, "0");
        return;
    }
    int dec = 3;
    while (x >= 100) {
        x /= 10;
        dec--;
    }
    int64_t p = 1;
    for (int i = 0; i < dec; i++)
        p *= 10;
    if (dec == 0)
        snprintf(buf, n, "%lld", (long long)x);
    else
        snprintf(buf, n, "%lld.%0*lld", (long long)(x / p), dec, (long long)(x % p));
}

void rt_inittrace_line(const char *name, int64_t start, int64_t end, uint64_t bytes, uint64_t allocs)
{
    char at[32], clk[32];
    fmt_ms(at, sizeof(at), start - rt_runtime_init_time);
    fmt_ms(clk, sizeof(clk), end - start);
    rt_printf("init %s @%s ms, %s ms clock, %llu bytes, %llu allocs\n", name, at, clk,
              (unsigned long long)bytes, (unsigned long long)allocs);
}

static void runone(gort_init_entry_t *e, int depth)
{
    if (e->state == INIT_DONE)
        return;
    if (e->state == INIT_RUNNING)
        rt_throwf("initialization cycle: init %s depends on itself", e->name);
    if (depth > 10000)
        rt_throw("initialization dependency chain too deep");
    e->state = INIT_RUNNING;
    const char *d = e->deps != NULL ? e->deps : "";
    while (*d) {
        while (*d == ' ' || *d == ',' || *d == '\t')
            d++;
        const char *s = d;
        while (*d && *d != ' ' && *d != ',' && *d != '\t')
            d++;
        if (d > s) {
            gort_init_entry_t *dep = find(s, (size_t)(d - s));
            if (dep == NULL)
                rt_throwf("init %s depends on unknown init %.*s", e->name, (int)(d - s), s);
            runone(dep, depth + 1);
        }
    }
    int64_t start = 0;
    uint64_t b0 = 0, a0 = 0;
    if (rt_debug.inittrace) {
        heapcounts(&b0, &a0);
        start = rt_nanotime();
    }
    e->fn();
    if (rt_debug.inittrace) {
        int64_t end = rt_nanotime();
        uint64_t b1, a1;
        heapcounts(&b1, &a1);
        rt_inittrace_line(e->name, start, end, b1 - b0, a1 - a0);
    }
    e->state = INIT_DONE;
}

void rt_doinits(void)
{
    for (gort_init_entry_t *e = inits; e != NULL; e = e->next)
        runone(e, 0);
    rt_lock_acquire(&initlock);
    inits_done = true;
    rt_lock_release(&initlock);
    /* entries registered while we ran (none expected) */
    for (gort_init_entry_t *e = inits; e != NULL; e = e->next)
        runone(e, 0);
}
