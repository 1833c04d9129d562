/* e2e_map.c - the map and hashing as a program sees them: concurrent
 * misuse ends the process with Go's messages, GORTDEBUG=hashseed fixes
 * hashes and iteration order across runs, a hash taken in a constructor
 * (before the runtime boots) equals the same hash afterwards, and
 * gort_hash_impl reports the choice (cpu.aes=off: portable).
 *
 *   e2e_map writes | readwrite | iterwrite   two goroutines misuse a map
 *   e2e_map order                             hashes and an iteration order
 *   e2e_map early                             constructor hash == later hash
 *   e2e_map impl                              prints gort_hash_impl() */
#include <gort.h>
#include <stdio.h>
#include <string.h>

static gort_map_t *m;
static volatile int stop;

static void writer(void *arg)
{
    uint64_t base = (uint64_t)(uintptr_t)arg;
    for (uint64_t i = 0; !stop; i++) {
        uint64_t k = base + (i & 0xfff);
        gort_map_put(m, &k, &i);
        if (i % 3 == 0)
            gort_map_delete(m, &k);
    }
}

static void reader(void *arg)
{
    (void)arg;
    for (uint64_t i = 0; !stop; i++) {
        uint64_t k = i & 0xfff;
        (void)gort_map_get(m, &k);
    }
}

static void iterator(void *arg)
{
    (void)arg;
    while (!stop) {
        gort_map_iter_t it;
        gort_map_iter_init(&it, m);
        while (gort_map_iter_next(&it))
            ;
    }
}

static uint64_t early_hash;
static const char early_key[] = "hashed before the runtime booted";
__attribute__((constructor)) static void early(void) { early_hash = gort_hash_str(early_key, 42); }

int gort_main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "writes") || !strcmp(mode, "readwrite") || !strcmp(mode, "iterwrite")) {
        m = gort_map_new(8, 8);
        for (uint64_t k = 0; k < 4096; k++)
            gort_map_put(m, &k, &k);
        gort_go(writer, (void *)(uintptr_t)0);
        if (!strcmp(mode, "writes"))
            gort_go(writer, (void *)(uintptr_t)0x800);
        else if (!strcmp(mode, "readwrite"))
            gort_go(reader, NULL);
        else
            gort_go(iterator, NULL);
        gort_sleep(20LL * 1000 * 1000 * 1000);
        stop = 1;
        printf("no error\n");
        return 0;
    }
    if (!strcmp(mode, "order")) {
        gort_map_t *om = gort_map_new(8, 0);
        for (uint64_t k = 0; k < 20; k++)
            gort_map_put(om, &k, NULL);
        gort_map_iter_t it;
        gort_map_iter_init(&it, om);
        printf("order");
        while (gort_map_iter_next(&it))
            printf(" %llu", (unsigned long long)*(const uint64_t *)it.key);
        printf("\nhash %016llx %016llx\n", (unsigned long long)gort_hash_u64(1, 2),
               (unsigned long long)gort_hash("0123456789abcdef0123456789abcdef", 32, 3));
        return 0;
    }
    if (!strcmp(mode, "early")) {
        uint64_t now = gort_hash_str(early_key, 42);
        printf("early %s\n", now == early_hash && now != 0 ? "equal" : "DIFFERENT");
        return 0;
    }
    if (!strcmp(mode, "nilput")) {
        gort_map_t *nilmap = NULL;
        uint64_t k = 1;
        if (gort_map_get(nilmap, &k) == NULL && !gort_map_delete(nilmap, &k) && gort_map_len(nilmap) == 0)
            printf("nil reads ok\n");
        fflush(stdout);
        gort_map_put(nilmap, &k, &k);
        printf("no error\n");
        return 0;
    }
    if (!strcmp(mode, "impl")) {
        printf("impl %s\n", gort_hash_impl());
        return 0;
    }
    return 1;
}
