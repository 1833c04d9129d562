/* test_map.c - gort_map_t: operations against a reference, every key
 * size and custom keys, growth and shrinking, tombstone churn, iteration
 * with deletes, inserts and clears, adversarial keys, noscan memory, and
 * concurrent readers. rt_map_check verifies the structure's invariants. */
#include "check.h"
#include "../src/hash/hash.h"
#include "../src/alloc/malloc.h"
#define GORT_GROUP_SWAR /* test the portable group primitives here */
#include "../src/hash/group.h"

#include <stdlib.h>

static uint64_t rng = 0x9876543;
static uint64_t rnd(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void test_basic(void **state)
{
    (void)state;
    gort_map_t *m = gort_map_new(8, 8);
    assert_non_null(m);
    uint64_t k = 1;
    assert_null(gort_map_get(m, &k));
    assert_false(gort_map_delete(m, &k));
    assert_int_equal(gort_map_len(m), 0);
    const uint64_t n = 200000;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key = i * 7919, v = i;
        uint64_t *p = gort_map_put(m, &key, &v);
        assert_true(*p == i);
    }
    assert_int_equal(gort_map_len(m), n);
    rt_map_check(m);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key = i * 7919, *p = gort_map_get(m, &key);
        assert_non_null(p);
        assert_true(*p == i);
        key++;
        assert_null(gort_map_get(m, &key));
    }
    /* overwrite; NULL val keeps an existing value, zeroes a new one */
    k = 7919 * 5;
    uint64_t v = 99;
    gort_map_put(m, &k, &v);
    assert_true(*(uint64_t *)gort_map_get(m, &k) == 99);
    assert_true(*(uint64_t *)gort_map_put(m, &k, NULL) == 99);
    k = 3;
    assert_true(*(uint64_t *)gort_map_put(m, &k, NULL) == 0);
    assert_int_equal(gort_map_len(m), n + 1);
    for (uint64_t i = 0; i < n; i += 2) {
        uint64_t key = i * 7919;
        assert_true(gort_map_delete(m, &key));
        assert_false(gort_map_delete(m, &key));
    }
    assert_int_equal(gort_map_len(m), n / 2 + 1);
    rt_map_check(m);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key = i * 7919;
        assert_true((gort_map_get(m, &key) != NULL) == (i % 2 == 1));
    }
    gort_map_clear(m);
    assert_int_equal(gort_map_len(m), 0);
    assert_null(gort_map_get(m, &k));
    gort_map_put(m, &k, &v);
    assert_int_equal(gort_map_len(m), 1);
    gort_map_free(m);
    gort_map_free(NULL);
    assert_null(gort_map_new(0, 8));
    assert_null(gort_map_new_custom(8, 8, NULL, NULL, 8));
}

/* Every key size (bytewise, 1..40) with several value sizes, against a
 * reference array: random puts and deletes. */
static void test_sizes(void **state)
{
    (void)state;
    static const size_t vs[] = {0, 1, 3, 8, 16, 24};
    for (size_t ks = 1; ks <= 40; ks += ks < 10 ? 1 : 7)
        for (size_t vi = 0; vi < sizeof(vs) / sizeof(vs[0]); vi++) {
            size_t vsz = vs[vi];
            gort_map_t *m = gort_map_new(ks, vsz);
            enum { N = 3000 };
            static uint8_t keys[N][40], vals[N][24];
            static bool in[N];
            memset(in, 0, sizeof(in));
            for (int i = 0; i < N; i++) {
                for (size_t b = 0; b < ks; b++)
                    keys[i][b] = (uint8_t)rnd();
                memcpy(keys[i], &i, ks < 2 ? ks : 2); /* distinct keys */
                for (size_t b = 0; b < vsz; b++)
                    vals[i][b] = (uint8_t)rnd();
            }
            int nkeys = ks == 1 ? 256 : N;
            size_t len = 0;
            for (int op = 0; op < 20000; op++) {
                int i = (int)(rnd() % (uint64_t)nkeys);
                if (rnd() % 3 != 0) {
                    uint8_t *p = gort_map_put(m, keys[i], vals[i]);
                    assert_non_null(p);
                    assert_true(vsz == 0 || memcmp(p, vals[i], vsz) == 0);
                    assert_true(((uintptr_t)p & ((vsz & -vsz) > 16 ? 15 : ((vsz & -vsz) - 1))) == 0 || vsz == 0);
                    len += !in[i];
                    in[i] = true;
                } else {
                    assert_true(gort_map_delete(m, keys[i]) == in[i]);
                    len -= in[i];
                    in[i] = false;
                }
            }
            assert_int_equal(gort_map_len(m), len);
            for (int i = 0; i < nkeys; i++) {
                uint8_t *p = gort_map_get(m, keys[i]);
                assert_true((p != NULL) == in[i]);
                if (p != NULL && vsz > 0)
                    assert_memory_equal(p, vals[i], vsz);
            }
            rt_map_check(m);
            gort_map_free(m);
        }
}

/* String keys through a custom hash and equality: the key stored is a
 * pointer to the string. And struct keys with padding, compared by fields. */
static uint64_t strhash(const void *k, uint64_t seed)
{
    const char *s;
    memcpy(&s, k, sizeof(s));
    return gort_hash_str(s, seed);
}
static bool streq(const void *a, const void *b)
{
    const char *x, *y;
    memcpy(&x, a, sizeof(x));
    memcpy(&y, b, sizeof(y));
    return strcmp(x, y) == 0;
}
typedef struct {
    uint8_t tag;  /* 7 bytes of padding follow: not compared */
    uint64_t id;
} skey;
static uint64_t skhash(const void *k, uint64_t seed)
{
    const skey *s = k;
    return gort_hash_u64(s->id * 256 + s->tag, seed);
}
static bool skeq(const void *a, const void *b)
{
    const skey *x = a, *y = b;
    return x->tag == y->tag && x->id == y->id;
}

static void test_custom(void **state)
{
    (void)state;
    gort_map_t *m = gort_map_new_custom(sizeof(char *), sizeof(int), strhash, streq, GORT_MAP_KEY_POINTERS);
    enum { N = 20000 };
    static char bufs[N][32], probe[32];
    for (int i = 0; i < N; i++) {
        snprintf(bufs[i], sizeof(bufs[i]), "key-%d-%d", i & 0xffff, (i & 0xffff) * 31);
        char *p = bufs[i];
        gort_map_put(m, &p, &i);
    }
    for (int i = 0; i < N; i++) {
        snprintf(probe, sizeof(probe), "key-%d-%d", i & 0xffff, (i & 0xffff) * 31); /* another address, same string */
        char *p = probe;
        int *v = gort_map_get(m, &p);
        assert_non_null(v);
        assert_int_equal(*v, i);
    }
    char *miss = "nope";
    assert_null(gort_map_get(m, &miss));
    rt_map_check(m);
    gort_map_free(m);

    m = gort_map_new_custom(sizeof(skey), 8, skhash, skeq, 0);
    for (uint64_t i = 0; i < 5000; i++) {
        skey k;
        memset(&k, (int)i, sizeof(k)); /* garbage in the padding */
        k.tag = (uint8_t)(i % 3);
        k.id = i;
        gort_map_put(m, &k, &i);
    }
    for (uint64_t i = 0; i < 5000; i++) {
        skey k;
        memset(&k, 0xab, sizeof(k));
        k.tag = (uint8_t)(i % 3);
        k.id = i;
        uint64_t *v = gort_map_get(m, &k);
        assert_non_null(v);
        assert_true(*v == i);
    }
    assert_int_equal(gort_map_len(m), 5000);
    gort_map_free(m);
}

/* A long delete/insert churn at a constant size: tombstones are reused or
 * rebuilt away, the map does not grow, probes stay short. */
static void test_churn(void **state)
{
    (void)state;
    gort_map_t *m = gort_map_new_custom(8, 8, NULL, NULL, 0);
    enum { LIVE = 20000 };
    static uint64_t live[LIVE];
    for (int i = 0; i < LIVE; i++) {
        live[i] = rnd();
        gort_map_put(m, &live[i], &live[i]);
    }
    rt_map_stats st0, st;
    rt_map_stats_get(m, &st0);
    uint64_t maxslots = 0;
    for (int op = 0; op < 2000000; op++) {
        int i = (int)(rnd() % LIVE);
        assert_true(gort_map_delete(m, &live[i]));
        live[i] = rnd();
        gort_map_put(m, &live[i], &live[i]);
        if (op % 100000 == 0) {
            rt_map_stats_get(m, &st);
            if (st.slots > maxslots)
                maxslots = st.slots;
            assert_true(st.tombstones + LIVE <= st.slots * 7 / 8);
            assert_true(st.max_probe <= 8);
        }
    }
    rt_map_stats_get(m, &st);
    assert_int_equal(gort_map_len(m), LIVE);
    assert_true(maxslots <= 2 * st0.slots);
    assert_true(st.max_probe <= 8);
    rt_map_check(m);
    for (int i = 0; i < LIVE; i++)
        assert_true(*(uint64_t *)gort_map_get(m, &live[i]) == live[i]);
    gort_map_free(m);
}

/* Memory follows deletions down: after deleting almost everything the map
 * is back to a few small tables. */
static void test_shrink(void **state)
{
    (void)state;
    gort_map_t *m = gort_map_new_custom(8, 8, NULL, NULL, 0);
    const uint64_t n = 500000;
    for (uint64_t i = 0; i < n; i++)
        gort_map_put(m, &i, &i);
    rt_map_stats big, st;
    rt_map_stats_get(m, &big);
    for (uint64_t i = 0; i < n - 10; i++)
        assert_true(gort_map_delete(m, &i));
    rt_map_check(m);
    rt_map_stats_get(m, &st);
    assert_true(st.tables <= 8);
    assert_true(st.bytes <= big.bytes / 50);
    for (uint64_t i = n - 10; i < n; i++)
        assert_true(*(uint64_t *)gort_map_get(m, &i) == i);
    /* and grows again */
    for (uint64_t i = 0; i < n; i++)
        gort_map_put(m, &i, &i);
    assert_int_equal(gort_map_len(m), n);
    rt_map_check(m);
    gort_map_free(m);
}

static gort_map_t *fill_map(uint64_t n, uint64_t mul)
{
    gort_map_t *m = gort_map_new(8, 8);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t k = i * mul;
        gort_map_put(m, &k, &i);
    }
    return m;
}

static void test_iter(void **state)
{
    (void)state;
    const uint64_t n = 100000;
    gort_map_t *m = fill_map(n, 1);
    uint8_t *seen = calloc(n, 1);
    gort_map_iter_t it;
    gort_map_iter_init(&it, m);
    uint64_t first = 0, cnt = 0;
    while (gort_map_iter_next(&it)) {
        uint64_t k = *(const uint64_t *)it.key;
        assert_true(k < n && *(uint64_t *)it.val == k);
        assert_int_equal(seen[k]++, 0);
        if (cnt++ == 0)
            first = k;
    }
    assert_true(cnt == n);
    assert_false(gort_map_iter_next(&it));
    /* a random start: another iteration begins elsewhere (almost surely
     * within a few tries) */
    bool moved = false;
    for (int t = 0; t < 10 && !moved; t++) {
        gort_map_iter_init(&it, m);
        assert_true(gort_map_iter_next(&it));
        moved = *(const uint64_t *)it.key != first;
        gort_map_iter_stop(&it);
    }
    assert_true(moved);
    /* an empty map, and a small one */
    gort_map_t *e = gort_map_new(8, 0);
    gort_map_iter_init(&it, e);
    assert_false(gort_map_iter_next(&it));
    uint64_t k = 5;
    gort_map_put(e, &k, NULL);
    gort_map_iter_init(&it, e);
    assert_true(gort_map_iter_next(&it));
    assert_true(*(const uint64_t *)it.key == 5);
    assert_false(gort_map_iter_next(&it));
    gort_map_free(e);
    free(seen);
    gort_map_free(m);
}

/* Deleting during an iteration: the current key and keys not reached yet
 * (those are never produced), every other key exactly once. */
static void test_iter_delete(void **state)
{
    (void)state;
    const uint64_t n = 60000;
    gort_map_t *m = fill_map(n, 1);
    uint8_t *seen = calloc(n, 1), *deleted = calloc(n, 1);
    gort_map_iter_t it;
    gort_map_iter_init(&it, m);
    while (gort_map_iter_next(&it)) {
        uint64_t k = *(const uint64_t *)it.key;
        assert_false(deleted[k]);
        assert_int_equal(seen[k]++, 0);
        if (k % 3 == 0) { /* delete the current one */
            assert_true(gort_map_delete(m, &k));
            deleted[k] = 1;
        }
        uint64_t o = rnd() % n; /* and a random other one */
        if (!deleted[o] && gort_map_delete(m, &o))
            deleted[o] = 1;
    }
    for (uint64_t k = 0; k < n; k++)
        assert_true(seen[k] || deleted[k]);
    rt_map_check(m);
    free(seen);
    free(deleted);
    gort_map_free(m);
}

/* Inserting during an iteration, enough to grow and split every table
 * several times: every original key exactly once, no crash. */
static void test_iter_insert(void **state)
{
    (void)state;
    const uint64_t n = 20000;
    gort_map_t *m = fill_map(n, 2); /* even keys */
    uint64_t *seen = calloc(n * 2, 1);
    uint64_t next = 1, cnt = 0;
    gort_map_iter_t it;
    gort_map_iter_init(&it, m);
    while (gort_map_iter_next(&it)) {
        uint64_t k = *(const uint64_t *)it.key;
        if (k % 2 == 0 && k < 2 * n) {
            assert_int_equal(((uint8_t *)seen)[k]++, 0);
            assert_true(*(uint64_t *)it.val == k / 2);
            cnt++;
        }
        for (int j = 0; j < 10 && next < 400000; j++, next += 2) /* odd keys: new, 10x the map */
            gort_map_put(m, &next, &next);
    }
    assert_true(cnt == n);
    rt_map_stats st;
    rt_map_stats_get(m, &st);
    assert_int_equal(st.graveyard, 0); /* released when the iteration ended */
    rt_map_check(m);
    /* clear during an iteration ends it */
    gort_map_iter_init(&it, m);
    assert_true(gort_map_iter_next(&it));
    gort_map_clear(m);
    assert_false(gort_map_iter_next(&it));
    free(seen);
    gort_map_free(m);
}

/* Adversarial keys: keys chosen to collide in a map's group bits and h2
 * under one seed spread normally in a map with another seed. Under the
 * attacked seed (a user hash that ignores the map's seed) they pile into
 * long probes, and the map is still correct. */
static uint64_t attacked_seed = 0x5eed;
static uint64_t fixed_hash(const void *k, uint64_t seed)
{
    (void)seed;
    uint64_t v;
    memcpy(&v, k, 8);
    return gort_hash_u64(v, attacked_seed);
}
static bool eq8(const void *a, const void *b) { return memcmp(a, b, 8) == 0; }

static void test_adversarial(void **state)
{
    (void)state;
    enum { N = 800 };
    static uint64_t keys[N];
    int n = 0;
    /* same h2 and first group in a 1024-slot table: 13 low bits, and the
     * same top bit (one side of the first split) */
    uint64_t want = gort_hash_u64(0, attacked_seed);
    for (uint64_t x = 1; n < N; x++) {
        uint64_t h = gort_hash_u64(x, attacked_seed);
        if (((h ^ want) & 0x1fff) == 0 && ((h ^ want) >> 63) == 0)
            keys[n++] = x;
    }
    gort_map_t *good = gort_map_new_custom(8, 8, NULL, NULL, 0), *bad = gort_map_new_custom(8, 8, fixed_hash, eq8, 0);
    for (int i = 0; i < N; i++) {
        gort_map_put(good, &keys[i], &keys[i]);
        gort_map_put(bad, &keys[i], &keys[i]);
    }
    rt_map_stats sg, sb;
    rt_map_stats_get(good, &sg);
    rt_map_stats_get(bad, &sb);
    assert_true(sg.max_probe <= 6);
    assert_true(sb.max_probe >= 20); /* the attack works where the seed is known */
    rt_map_check(good);
    rt_map_check(bad);
    for (int i = 0; i < N; i++) {
        assert_true(*(uint64_t *)gort_map_get(good, &keys[i]) == keys[i]);
        assert_true(*(uint64_t *)gort_map_get(bad, &keys[i]) == keys[i]);
    }
    gort_map_free(good);
    gort_map_free(bad);
}

/* Noscan memory when the flags say no pointers; scanned otherwise. */
static void test_noscan(void **state)
{
    (void)state;
    gort_map_t *a = gort_map_new_custom(8, 8, NULL, NULL, 0), *b = gort_map_new(8, 8),
               *c = gort_map_new_custom(8, 8, NULL, NULL, GORT_MAP_VAL_POINTERS);
    uint64_t k = 1;
    gort_map_put(a, &k, &k);
    gort_map_put(b, &k, &k);
    gort_map_put(c, &k, &k);
    rt_map_stats sa, sb, sc;
    rt_map_stats_get(a, &sa);
    rt_map_stats_get(b, &sb);
    rt_map_stats_get(c, &sc);
    assert_true(sa.noscan && !sb.noscan && !sc.noscan);
    /* the tables' memory: span class noscan bit (small tables) */
    assert_true(rt_pageinfo(sa.first_table) >> 8 & 1);
    assert_false(rt_pageinfo(sb.first_table) >> 8 & 1);
    assert_false(rt_pageinfo(sc.first_table) >> 8 & 1);
    gort_map_free(a);
    gort_map_free(b);
    gort_map_free(c);
}

/* Readers on every P at once (get, len, iteration): fine, as in Go. */
static gort_map_t *shared;
static gort_waitgroup_t rwg;
static void reader(void *arg)
{
    uint64_t base = (uint64_t)(uintptr_t)arg;
    for (int r = 0; r < 5; r++) {
        for (uint64_t i = 0; i < 50000; i++) {
            uint64_t k = (i + base) % 50000;
            uint64_t *v = gort_map_get(shared, &k);
            CHECK(v != NULL && *v == k);
        }
        gort_map_iter_t it;
        uint64_t cnt = 0;
        gort_map_iter_init(&it, shared);
        while (gort_map_iter_next(&it))
            cnt++;
        CHECK(cnt == 50000 && gort_map_len(shared) == 50000);
    }
    gort_wg_done(&rwg);
}
static void readers_main(void *arg)
{
    (void)arg;
    shared = fill_map(50000, 1);
    for (uint64_t i = 0; i < 4; i++) {
        gort_wg_add(&rwg, 1);
        gort_go(reader, (void *)(uintptr_t)(i * 977));
    }
    gort_wg_wait(&rwg);
    gort_map_free(shared);
}
static void test_concurrent_readers(void **state)
{
    (void)state;
    run_main(readers_main, NULL);
}

/* The SWAR group primitives (targets without SSE2) against the obvious. */
static void test_group_swar(void **state)
{
    (void)state;
    uint8_t ctrl[16] __attribute__((aligned(16)));
    static const uint8_t pick[] = {RT_CTRL_EMPTY, RT_CTRL_DELETED, 0, 1, 0x7f, 0x55, 0x2a};
    for (int t = 0; t < 200000; t++) {
        for (int i = 0; i < 16; i++)
            ctrl[i] = rnd() % 2 ? pick[rnd() % sizeof(pick)] : (uint8_t)(rnd() & 0x7f);
        uint8_t h2 = (uint8_t)(rnd() % 2 ? ctrl[rnd() % 16] & 0x7f : rnd() & 0x7f);
        rt_group g = rt_group_load(ctrl);
        uint32_t em = 0, fr = 0, ma = 0;
        for (int i = 0; i < 16; i++) {
            em |= (uint32_t)(ctrl[i] == RT_CTRL_EMPTY) << i;
            fr |= (uint32_t)(ctrl[i] >= 0x80) << i;
            ma |= (uint32_t)(ctrl[i] == h2) << i;
        }
        assert_int_equal(rt_group_empty(g), em);
        assert_int_equal(rt_group_free(g), fr);
        uint32_t got = rt_group_match(g, h2);
        assert_int_equal(got & ma, ma); /* every true match; false ones only above a true one */
        uint32_t extra = got & ~ma;
        if (extra != 0)
            assert_true(ma != 0 && (uint32_t)__builtin_ctz(extra) > (uint32_t)__builtin_ctz(ma));
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),       cmocka_unit_test(test_sizes),        cmocka_unit_test(test_custom),
        cmocka_unit_test(test_churn),       cmocka_unit_test(test_shrink),       cmocka_unit_test(test_iter),
        cmocka_unit_test(test_iter_delete), cmocka_unit_test(test_iter_insert),  cmocka_unit_test(test_adversarial),
        cmocka_unit_test(test_noscan),      cmocka_unit_test(test_concurrent_readers), cmocka_unit_test(test_group_swar),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
