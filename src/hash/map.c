/* map.c - gort_map_t: a swiss table split into bounded tables (Go 1.24's
 * internal/runtime/maps; abseil's flat_hash_map and Rust's hashbrown for
 * the group probing). Our own code.
 *
 * Structures
 *
 *   gort_map   header: the directory, the sizes, the seed, the writing
 *              flag. An empty map has no directory and no table.
 *   directory  2^global_depth table pointers, indexed by the hash's top
 *              global_depth bits (extendible hashing). A table of local
 *              depth ld owns 2^(global_depth - ld) consecutive entries,
 *              aligned: every key whose top ld bits are its own.
 *   table      a 64-byte header followed by cap control bytes (one per
 *              slot, in aligned groups of 16), and a separate array of
 *              cap slots (key, then value at val_off). cap is a power of
 *              two, 16..1024.
 *
 * A control byte is EMPTY, DELETED (a tombstone) or the low 7 bits of the
 * key's hash (h2); the hash's bits 7.. pick the first group (h1), the top
 * bits the table. Invariants, per table (rt_map_check verifies them):
 *
 *   used = full control bytes;   tombstones = DELETED control bytes;
 *   EMPTY control bytes = cap/8 + growth_left   (so every probe ends);
 *   map.used = sum of the tables' used, each table counted once.
 *
 * Lookup (get, and the first half of put and delete):
 *   1. hash the key (4- and 8-byte bytewise keys: one inlined multiply of
 *      the key's halves with the map's secrets, rt_maphash64; others
 *      gort_hash or the user's hash);
 *   2. table = directory[hash >> (64 - global_depth)];
 *   3. group = h1 & (groups - 1); load its 16 control bytes, compare them
 *      all with h2 in one SSE2 instruction (group.h, the porting header),
 *      compare the keys of the matching slots;
 *   4. a group with an EMPTY byte ends the probe (absent); otherwise the
 *      next group, triangular steps (1, 2, 3, ... groups: every group once).
 *
 * Insert puts a new key in the first EMPTY or DELETED slot of its probe
 * sequence. Delete writes EMPTY when the slot's group already has an EMPTY
 * byte (no probe ever went past this group, so none can be cut short),
 * else DELETED. Tombstones are reused by inserts and dropped when a table
 * is rebuilt; a table that runs out of EMPTY slots with at least cap/8
 * tombstones is rebuilt at the same capacity instead of growing, so a long
 * delete/insert churn neither degrades probes nor grows the map.
 *
 * Growth, per table, never the whole map: a table that runs out of EMPTY
 * slots (load 7/8) is rebuilt at twice its capacity up to 1024 slots; a
 * 1024-slot table splits into two 1024-slot tables by the next hash bit
 * (local depth + 1), and only then, when its local depth equals the global
 * depth, the directory doubles (a copy of its pointers). Work bound per
 * operation:
 *
 *   get          one table; probes of at most cap/16 groups (1.1 on
 *                average at full load);
 *   put          the above, plus at most one table rebuild: 1024 slots
 *                scanned and at most 896 keys rehashed and copied, plus,
 *                at most once per doubling, a directory copy of
 *                2^global_depth pointers (16 K pointers, 128 KiB, at 10M
 *                keys);
 *   delete       the lookup, plus at most one shrink (a table under 1/16
 *                full is rebuilt at the capacity that puts it near 44%
 *                load: at most 63 keys rehashed) or one merge of two
 *                buddy tables holding 128 keys or fewer together (the
 *                reverse of a split): at most 1024 slots scanned.
 *                The thresholds are low on purpose: emptying a map
 *                rehashes about 0.4 keys per deleted key (at 1/8 and
 *                3/8 it was 1.3, and with string keys each rehash reads
 *                the string: deletes cost 2.3x Go's).
 *
 * So memory follows deletions down: emptied tables shrink to 16 slots and
 * merge back (the directory keeps its size: 8 bytes per 1024-slot table at
 * the largest size it had). Go 1.24 neither shrinks nor merges.
 *
 * Iteration (Go 1.24's): a random directory offset and a random slot
 * offset; each table is walked once, at the first directory entry it
 * owns. If the table being walked is replaced by a growth (an insert
 * during the iteration), the walk goes on over the old table, kept alive
 * in the map's graveyard while iterations are in progress, and looks each
 * key up in the live map: deleted keys are skipped, current values
 * returned. Deletes during an iteration never restructure (no shrink or
 * merge while m->iterators > 0), so deleted slots are merely skipped.
 *
 * Concurrent misuse (Go's hashWriting): put, delete and clear set the
 * writing flag around their work and check it on both sides; get, len and
 * iteration check it. A relaxed atomic load and store each (plain moves
 * on x86-64): best effort, as in Go, and free.
 *
 * Memory: every table, directory and header comes from gort_alloc;
 * tables are noscan (gort_alloc_noscan_uninit, control bytes set, slots
 * left for the keys to fill) unless GORT_MAP_KEY_POINTERS or
 * GORT_MAP_VAL_POINTERS asks for scanned, zeroed memory (deleted slots are
 * then cleared, so the collector does not keep their referents alive).
 *
 * Rejected: Go 1.19's buckets with overflow chains and incremental
 * evacuation (two lines per probe, and a growth keeps both arrays alive);
 * one flat table (abseil: a growth rehashes everything, 2x memory at that
 * moment, and the worst insert is O(n)); 8-byte groups with the control
 * word inside the group (Go 1.24: one line fewer on a hit for small slots,
 * but misses then touch slot memory too, and SSE2 takes 16 at once). */
#include "hash.h"
#include "group.h"
#include "../debug/debug.h"
#include "../sched/sched.h"

#include <gort.h>

#include <string.h>

#define TAB_MIN 16u
#define TAB_MAX 1024u
#define TAB_HDR 64u
#define MERGE_MAX (TAB_MAX / 8)       /* buddies merge at 128 keys together */
#define SHRINK_BELOW(cap) ((cap) / 16)  /* a table shrinks under 1/16 load */

enum { K_U64, K_U32, K_BYTES, K_CUSTOM };

typedef struct rt_table {
    uint32_t used;              /* full slots */
    uint32_t cap;               /* slots: a power of two, TAB_MIN..TAB_MAX */
    uint32_t growth_left;       /* EMPTY slots an insert may still take */
    uint32_t tombstones;        /* DELETED slots */
    uint8_t local_depth;
    uint8_t pad[7];
    struct rt_table *next_dead; /* graveyard link */
    uint8_t *slots;
} rt_table;
_Static_assert(sizeof(rt_table) <= TAB_HDR, "table header");

/* A directory entry: the table, and what a lookup needs without reading
 * the table's header (a cache miss of its own): the slots' address, and
 * in its low 4 bits (slots are 16-byte aligned) log2 of the groups. */
typedef struct rt_dirent {
    rt_table *t;
    uintptr_t sl;
} rt_dirent;
static inline rt_dirent tab_dirent(const rt_table *t)
{
    return (rt_dirent){(rt_table *)t, (uintptr_t)t->slots | (uintptr_t)__builtin_ctz(t->cap / 16)};
}

struct gort_map {
    uint32_t writing;           /* Go's hashWriting: relaxed atomic */
    uint8_t global_depth;
    uint8_t dshift;             /* 63 - global_depth */
    uint8_t kind;               /* K_* */
    bool noscan;
    struct rt_dirent *dir;      /* NULL until the first put */
    size_t used;
    uint64_t seed;              /* per map, as Go 1.24: for hash_fn and gort_hash */
    uint64_t pseed;             /* seed premixed for the inlined hashes */
    uint64_t hmul;              /* rt_maphash64's second secret, per map */
    uint32_t key_size, val_size, val_off, slot_size;
    gort_map_hash_fn hash_fn;
    gort_map_eq_fn eq_fn;
    uint64_t seq;               /* bumped by clear: older iterations end */
    uint32_t iterators;         /* atomic: iterations in progress (readers may
                                 * iterate concurrently) */
    uint32_t iterations;        /* atomic: iterations started (their start) */
    rt_table *graveyard;        /* tables replaced while iterators > 0; taken
                                 * atomically by the last iteration to end */
};

/* Per-map seeds: a process-wide count mixed with the process's hash keys,
 * so they differ between runs and GORTDEBUG=hashseed fixes them (with the
 * maps created in the same order, the same map iterates in the same order
 * in every run). */
static uint64_t map_count;
static uint64_t map_seed(void)
{
    uint64_t n = __atomic_add_fetch(&map_count, 1, __ATOMIC_RELAXED);
    return rt_hash_mix(n ^ rt_hashkey[2], rt_hashkey[3] ^ 0x9e3779b97f4a7c15ull);
}

static inline uint8_t *tab_ctrl(const rt_table *t) { return (uint8_t *)t + TAB_HDR; }
static inline uint8_t *tab_slot(const gort_map_t *m, const rt_table *t, uint32_t i)
{
    return t->slots + (size_t)i * m->slot_size;
}
static inline uint32_t dir_index(const gort_map_t *m, uint64_t h) { return (uint32_t)((h >> 1) >> m->dshift); }
static inline uint32_t tab_span(const gort_map_t *m, const rt_table *t)
{
    return 1u << (m->global_depth - t->local_depth);
}

/* ---- concurrent misuse ------------------------------------------------------- */

__attribute__((noinline, cold, noreturn)) static void misuse(const char *msg) { rt_throw(msg); }

static inline void write_begin(gort_map_t *m)
{
    if (rt_load_relaxed(&m->writing))
        misuse("concurrent map writes");
    rt_store_relaxed(&m->writing, 1);
}
static inline void write_end(gort_map_t *m)
{
    if (!rt_load_relaxed(&m->writing))
        misuse("concurrent map writes");
    rt_store_relaxed(&m->writing, 0);
}
static inline void read_check(const gort_map_t *m)
{
    if (rt_load_relaxed(&m->writing))
        misuse("concurrent map read and map write");
}

/* ---- hashing and equality, specialised by kind ----------------------------------- */

__attribute__((always_inline)) static inline uint64_t hashkey(const gort_map_t *m, const void *key, int kind)
{
    switch (kind) {
    case K_U64: {
        uint64_t v;
        memcpy(&v, key, 8);
        return rt_maphash64(v, m->pseed, m->hmul);
    }
    case K_U32: {
        uint32_t v;
        memcpy(&v, key, 4);
        return rt_maphash64(v, m->pseed, m->hmul);
    }
    case K_BYTES:
        if (m->key_size < rt_aeshash_min)
            return rt_memhash_portable(key, m->key_size, m->pseed);
        return rt_memhash_aes(key, m->key_size, m->seed);
    default:
        return m->hash_fn(key, m->seed);
    }
}

__attribute__((always_inline)) static inline bool keyeq(const gort_map_t *m, const void *a, const void *b, int kind)
{
    switch (kind) {
    case K_U64: {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        return x == y;
    }
    case K_U32: {
        uint32_t x, y;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        return x == y;
    }
    case K_BYTES:
        return memcmp(a, b, m->key_size) == 0;
    default:
        return m->eq_fn(a, b);
    }
}

static uint64_t hashkey_any(const gort_map_t *m, const void *key) { return hashkey(m, key, m->kind); }

static void map_reseed(gort_map_t *m)
{
    m->seed = map_seed();
    m->pseed = rt_hash_premix(m->seed);
    m->hmul = rt_hash_mix(m->seed ^ rt_hashkey[3], rt_hashkey[2]);
}

/* ---- tables -------------------------------------------------------------------- */

/* memcpy of the sizes maps use most, inline (with a size only known at
 * run time memcpy is a library call: 13% of a 2M-key benchmark's time). */
static inline void copy_n(void *d, const void *src, size_t n)
{
    switch (n) {
    case 4:
        memcpy(d, src, 4);
        break;
    case 8:
        memcpy(d, src, 8);
        break;
    case 16:
        memcpy(d, src, 16);
        break;
    case 24:
        memcpy(d, src, 24);
        break;
    case 32:
        memcpy(d, src, 32);
        break;
    default:
        memcpy(d, src, n);
    }
}

static size_t tab_bytes(const gort_map_t *m, uint32_t cap) { return TAB_HDR + cap + (size_t)cap * m->slot_size; }

/* Two objects: the header with the control bytes (small, scanned: it
 * points to the slots), and the slots (noscan unless the flags say keys
 * or values hold pointers). The headers and control bytes of all tables
 * then lie together in the small-object spans, a few MiB for millions of
 * keys: a miss touches only them, and their pages stay in the TLB (with
 * the slots in the same object, every table's control bytes sat on a
 * page of their own: a hit cost two page walks, 76 ns against abseil's
 * 38 at 2M keys). */
static rt_table *tab_new(gort_map_t *m, uint32_t cap, uint8_t ld)
{
    rt_table *t = gort_alloc_uninit(TAB_HDR + cap);
    size_t sb = (size_t)cap * m->slot_size;
    t->slots = m->noscan ? gort_alloc_noscan_uninit(sb) : gort_alloc(sb);
    t->used = 0;
    t->cap = cap;
    t->growth_left = cap - cap / 8;
    t->tombstones = 0;
    t->local_depth = ld;
    t->next_dead = NULL;
    memset(tab_ctrl(t), RT_CTRL_EMPTY, cap);
    return t;
}

static void tab_free(rt_table *t)
{
    gort_free(t->slots);
    gort_free(t);
}

/* A table the map no longer points to: freed, or kept for iterations in
 * progress that may still walk it. */
static void tab_retire(gort_map_t *m, rt_table *t)
{
    if (rt_load_relaxed(&m->iterators) > 0) {
        t->next_dead = m->graveyard;
        rt_store_rel(&m->graveyard, t);
    } else {
        tab_free(t);
    }
}

static void graveyard_free(gort_map_t *m)
{
    for (rt_table *t = __atomic_exchange_n(&m->graveyard, NULL, __ATOMIC_ACQ_REL), *nx; t != NULL; t = nx) {
        nx = t->next_dead;
        tab_free(t);
    }
}

/* Smallest capacity that holds n keys at most 7/16 full. */
static uint32_t cap_for(uint32_t n)
{
    uint32_t c = TAB_MIN;
    while (c < TAB_MAX && (uint64_t)n * 16 > (uint64_t)c * 7)
        c <<= 1;
    return c;
}

/* Insert a key known to be absent into t, which has room: used by the
 * rebuilds (no tombstones in a fresh table, so the first free slot of the
 * probe is EMPTY). */
static void tab_place(gort_map_t *m, rt_table *t, const uint8_t *slot, uint64_t h)
{
    uint8_t *ctrl = tab_ctrl(t);
    uint32_t gmask = t->cap / RT_GROUP - 1, g = (uint32_t)(h >> 7) & gmask;
    for (uint32_t i = 1;; i++) {
        uint32_t f = rt_group_empty(rt_group_load(ctrl + g * RT_GROUP));
        if (f != 0) {
            uint32_t s = g * RT_GROUP + (uint32_t)__builtin_ctz(f);
            ctrl[s] = (uint8_t)(h & 0x7f);
            copy_n(tab_slot(m, t, s), slot, m->slot_size);
            t->used++;
            t->growth_left--;
            return;
        }
        g = (g + i) & gmask;
    }
}

/* Point the directory entries [first, first + span) at t. */
static void dir_set(gort_map_t *m, uint32_t first, uint32_t span, rt_table *t)
{
    for (uint32_t i = 0; i < span; i++)
        m->dir[first + i] = tab_dirent(t);
}

/* The first directory entry of the table that entry idx points to. */
static uint32_t dir_first(const gort_map_t *m, uint32_t idx) { return idx & ~(tab_span(m, m->dir[idx].t) - 1); }

static void dir_grow(gort_map_t *m)
{
    uint32_t n = 1u << m->global_depth;
    rt_dirent *nd = gort_alloc((size_t)n * 2 * sizeof(rt_dirent));
    for (uint32_t i = 0; i < n; i++)
        nd[2 * i] = nd[2 * i + 1] = m->dir[i];
    gort_free(m->dir);
    m->dir = nd;
    m->global_depth++;
    m->dshift = (uint8_t)(63 - m->global_depth);
}

static void tab_check(gort_map_t *m, rt_table *t);

/* Copy every key of src into dst, or into dst and dst2 by the hash bit
 * just below the top `bit` bits (a split). */
static void tab_move(gort_map_t *m, rt_table *src, rt_table *dst, rt_table *dst2, uint32_t bit)
{
    uint8_t *ctrl = tab_ctrl(src);
    for (uint32_t s = 0; s < src->cap; s++) {
        if (ctrl[s] & 0x80)
            continue;
        uint8_t *slot = tab_slot(m, src, s);
        uint64_t h = hashkey_any(m, slot);
        rt_table *d = dst2 != NULL && ((h << bit) >> 63) ? dst2 : dst;
        tab_place(m, d, slot, h);
    }
}

/* t has no EMPTY slot to give: rebuild it (tombstones), grow it, or split
 * it. Bounded: one table's slots. idx: a directory entry of t. */
static void tab_rehash(gort_map_t *m, rt_table *t, uint32_t idx)
{
    uint32_t first = dir_first(m, idx), span = tab_span(m, t);
    if (t->tombstones >= t->cap / 8 || t->cap < TAB_MAX) {
        uint32_t cap = t->tombstones >= t->cap / 8 ? t->cap : t->cap * 2;
        rt_table *nt = tab_new(m, cap, t->local_depth);
        tab_move(m, t, nt, NULL, 0);
        dir_set(m, first, span, nt);
        if (RT_DEBUG_CHECKS)
            tab_check(m, nt);
        tab_retire(m, t);
        return;
    }
    /* Split a full-size table by the next hash bit. */
    if (t->local_depth == m->global_depth) {
        dir_grow(m);
        first *= 2;
        span = 2;
    }
    uint8_t ld = (uint8_t)(t->local_depth + 1);
    rt_table *left = tab_new(m, TAB_MAX, ld), *right = tab_new(m, TAB_MAX, ld);
    tab_move(m, t, left, right, t->local_depth);
    dir_set(m, first, span / 2, left);
    dir_set(m, first + span / 2, span / 2, right);
    if (RT_DEBUG_CHECKS) {
        tab_check(m, left);
        tab_check(m, right);
    }
    tab_retire(m, t);
}

/* After a delete left t small: shrink it, or merge it with its buddy
 * (the table that differs in the last bit of its local depth). */
static void tab_shrink(gort_map_t *m, rt_table *t, uint32_t idx)
{
    uint32_t first = dir_first(m, idx), span = tab_span(m, t);
    if (t->local_depth > 0 && t->used <= MERGE_MAX / 2) {
        uint32_t bfirst = first ^ span;
        rt_table *b = m->dir[bfirst].t;
        if (b->local_depth == t->local_depth && t->used + b->used <= MERGE_MAX) {
            rt_table *nt = tab_new(m, cap_for(t->used + b->used), (uint8_t)(t->local_depth - 1));
            tab_move(m, t, nt, NULL, 0);
            tab_move(m, b, nt, NULL, 0);
            dir_set(m, first < bfirst ? first : bfirst, span * 2, nt);
            if (RT_DEBUG_CHECKS)
                tab_check(m, nt);
            tab_retire(m, t);
            tab_retire(m, b);
            return;
        }
    }
    if (t->cap > TAB_MIN && t->used < SHRINK_BELOW(t->cap)) {
        rt_table *nt = tab_new(m, cap_for(t->used), t->local_depth);
        tab_move(m, t, nt, NULL, 0);
        dir_set(m, first, span, nt);
        if (RT_DEBUG_CHECKS)
            tab_check(m, nt);
        tab_retire(m, t);
    }
}

/* ---- lookup --------------------------------------------------------------------- */

__attribute__((always_inline)) static inline uint8_t *tab_find(const gort_map_t *m, const rt_dirent *e, const void *key,
                                                                uint64_t h, int kind)
{
    const uint8_t *ctrl = tab_ctrl(e->t); /* an address: the header is not read */
    uint8_t *slots = (uint8_t *)(e->sl & ~(uintptr_t)15);
    uint32_t gmask = (1u << (e->sl & 15)) - 1, g = (uint32_t)(h >> 7) & gmask;
    uint8_t h2 = (uint8_t)(h & 0x7f);
    for (uint32_t i = 1;; i++) {
        rt_group grp = rt_group_load(ctrl + g * RT_GROUP);
        for (uint32_t mk = rt_group_match(grp, h2); mk != 0; mk &= mk - 1) {
            uint8_t *slot = slots + (size_t)(g * RT_GROUP + (uint32_t)__builtin_ctz(mk)) * m->slot_size;
            if (__builtin_expect(keyeq(m, slot, key, kind), 1))
                return slot;
        }
        if (__builtin_expect(rt_group_empty(grp) != 0, 1))
            return NULL;
        g = (g + i) & gmask;
    }
}

__attribute__((always_inline)) static inline void *get_impl(gort_map_t *m, const void *key, int kind)
{
    read_check(m);
    if (m->dir == NULL)
        return NULL;
    uint64_t h = hashkey(m, key, kind);
    uint8_t *slot = tab_find(m, &m->dir[dir_index(m, h)], key, h, kind);
    return slot != NULL ? slot + m->val_off : NULL;
}

static uint8_t *find_any(gort_map_t *m, const void *key)
{
    if (m->dir == NULL)
        return NULL;
    uint64_t h = hashkey_any(m, key);
    return tab_find(m, &m->dir[dir_index(m, h)], key, h, m->kind);
}

__attribute__((noinline)) static void *get_other(gort_map_t *m, const void *key)
{
    switch (m->kind) {
    case K_U32:
        return get_impl(m, key, K_U32);
    case K_BYTES:
        return get_impl(m, key, K_BYTES);
    default:
        return get_impl(m, key, K_CUSTOM);
    }
}

/* 8-byte keys inline here, the rest out of line: the fast path then needs
 * no callee-saved registers (a function that may call the user's hash
 * saved six of them on every lookup). */
GORT_API void *gort_map_get(gort_map_t *m, const void *key)
{
    if (m == NULL) /* Go: reading a nil map finds nothing */
        return NULL;
    if (__builtin_expect(m->kind == K_U64, 1))
        return get_impl(m, key, K_U64);
    return get_other(m, key);
}

/* ---- insert ------------------------------------------------------------------------ */

static void dir_init(gort_map_t *m)
{
    m->dir = gort_alloc(sizeof(rt_dirent));
    m->dir[0] = tab_dirent(tab_new(m, TAB_MIN, 0));
    m->global_depth = 0;
    m->dshift = 63;
}

__attribute__((always_inline)) static inline void *put_impl(gort_map_t *m, const void *key, const void *val, int kind)
{
    uint64_t h = hashkey(m, key, kind);
    write_begin(m);
    if (m->dir == NULL)
        dir_init(m);
    uint8_t h2 = (uint8_t)(h & 0x7f);
    for (;;) {
        uint32_t idx = dir_index(m, h);
        rt_table *t = m->dir[idx].t;
        uint8_t *ctrl = tab_ctrl(t);
        uint32_t gmask = t->cap / RT_GROUP - 1, g = (uint32_t)(h >> 7) & gmask;
        uint32_t slot_i = UINT32_MAX;
        for (uint32_t i = 1;; i++) {
            rt_group grp = rt_group_load(ctrl + g * RT_GROUP);
            for (uint32_t mk = rt_group_match(grp, h2); mk != 0; mk &= mk - 1) {
                uint8_t *slot = tab_slot(m, t, g * RT_GROUP + (uint32_t)__builtin_ctz(mk));
                if (keyeq(m, slot, key, kind)) {
                    if (val != NULL)
                        copy_n(slot + m->val_off, val, m->val_size);
                    write_end(m);
                    return slot + m->val_off;
                }
            }
            if (slot_i == UINT32_MAX) {
                uint32_t f = rt_group_free(grp);
                if (f != 0)
                    slot_i = g * RT_GROUP + (uint32_t)__builtin_ctz(f);
            }
            if (rt_group_empty(grp) != 0)
                break;
            g = (g + i) & gmask;
        }
        bool was_empty = ctrl[slot_i] == RT_CTRL_EMPTY;
        if (was_empty && t->growth_left == 0) {
            tab_rehash(m, t, idx);
            continue;
        }
        if (was_empty)
            t->growth_left--;
        else
            t->tombstones--;
        ctrl[slot_i] = h2;
        t->used++;
        m->used++;
        uint8_t *slot = tab_slot(m, t, slot_i);
        if (kind == K_U64)
            memcpy(slot, key, 8);
        else
            copy_n(slot, key, m->key_size);
        if (val != NULL)
            copy_n(slot + m->val_off, val, m->val_size);
        else
            memset(slot + m->val_off, 0, m->val_size);
        write_end(m);
        return slot + m->val_off;
    }
}

GORT_API void *gort_map_put(gort_map_t *m, const void *key, const void *val)
{
    if (m == NULL)
        rt_panic("assignment to entry in nil map");
    switch (m->kind) {
    case K_U64:
        return put_impl(m, key, val, K_U64);
    case K_U32:
        return put_impl(m, key, val, K_U32);
    case K_BYTES:
        return put_impl(m, key, val, K_BYTES);
    default:
        return put_impl(m, key, val, K_CUSTOM);
    }
}

/* ---- delete -------------------------------------------------------------------------- */

__attribute__((always_inline)) static inline bool delete_impl(gort_map_t *m, const void *key, int kind)
{
    if (m->dir == NULL) {
        read_check(m);
        return false;
    }
    uint64_t h = hashkey(m, key, kind);
    write_begin(m);
    uint32_t idx = dir_index(m, h);
    rt_table *t = m->dir[idx].t;
    uint8_t *slot = tab_find(m, &m->dir[idx], key, h, kind);
    if (slot == NULL) {
        write_end(m);
        return false;
    }
    uint32_t s = (uint32_t)((size_t)(slot - t->slots) / m->slot_size);
    uint8_t *ctrl = tab_ctrl(t);
    if (rt_group_empty(rt_group_load(ctrl + (s & ~(RT_GROUP - 1)))) != 0) {
        ctrl[s] = RT_CTRL_EMPTY;
        t->growth_left++;
    } else {
        ctrl[s] = RT_CTRL_DELETED;
        t->tombstones++;
    }
    t->used--;
    m->used--;
    if (!m->noscan)
        memset(slot, 0, m->slot_size);
    if (((t->local_depth > 0 && t->used <= MERGE_MAX / 2) || (t->cap > TAB_MIN && t->used < SHRINK_BELOW(t->cap))) &&
        rt_load_relaxed(&m->iterators) == 0)
        tab_shrink(m, t, idx);
    write_end(m);
    return true;
}

GORT_API bool gort_map_delete(gort_map_t *m, const void *key)
{
    if (m == NULL)
        return false;
    switch (m->kind) {
    case K_U64:
        return delete_impl(m, key, K_U64);
    case K_U32:
        return delete_impl(m, key, K_U32);
    case K_BYTES:
        return delete_impl(m, key, K_BYTES);
    default:
        return delete_impl(m, key, K_CUSTOM);
    }
}

/* ---- creation, clear, free ------------------------------------------------------------- */

static uint32_t align_of_size(size_t n)
{
    uint32_t a = 1;
    while (a < 16 && n % (a * 2) == 0)
        a *= 2;
    return a;
}

GORT_API gort_map_t *gort_map_new_custom(size_t key_size, size_t val_size, gort_map_hash_fn hash_fn,
                                         gort_map_eq_fn eq_fn, unsigned flags)
{
    if (key_size == 0 || key_size > 65536 || val_size > 65536 || (hash_fn == NULL) != (eq_fn == NULL) ||
        (flags & ~(GORT_MAP_KEY_POINTERS | GORT_MAP_VAL_POINTERS)) != 0)
        return NULL;
    rt_alg_check();
    gort_map_t *m = gort_alloc(sizeof(*m));
    uint32_t ka = align_of_size(key_size), va = val_size ? align_of_size(val_size) : 1;
    uint32_t a = ka > va ? ka : va;
    m->key_size = (uint32_t)key_size;
    m->val_size = (uint32_t)val_size;
    m->val_off = (uint32_t)((key_size + va - 1) & ~(size_t)(va - 1));
    m->slot_size = (m->val_off + (uint32_t)val_size + a - 1) & ~(a - 1);
    m->hash_fn = hash_fn;
    m->eq_fn = eq_fn;
    m->noscan = flags == 0;
    m->kind = hash_fn != NULL ? K_CUSTOM : key_size == 8 ? K_U64 : key_size == 4 ? K_U32 : K_BYTES;
    map_reseed(m);
    return m;
}

GORT_API gort_map_t *gort_map_new(size_t key_size, size_t val_size)
{
    return gort_map_new_custom(key_size, val_size, NULL, NULL, GORT_MAP_KEY_POINTERS | GORT_MAP_VAL_POINTERS);
}

GORT_API size_t gort_map_len(gort_map_t *m)
{
    if (m == NULL)
        return 0;
    read_check(m);
    return m->used;
}

/* Every table once (at its first directory entry). */
static void free_tables(gort_map_t *m, bool retire)
{
    if (m->dir == NULL)
        return;
    uint32_t n = 1u << m->global_depth;
    for (uint32_t i = 0; i < n;) {
        rt_table *t = m->dir[i].t;
        i += tab_span(m, t);
        if (retire)
            tab_retire(m, t);
        else
            tab_free(t);
    }
    gort_free(m->dir);
    m->dir = NULL;
    m->global_depth = 0;
    m->dshift = 63;
}

GORT_API void gort_map_clear(gort_map_t *m)
{
    if (m == NULL)
        return;
    write_begin(m);
    free_tables(m, true);
    m->used = 0;
    m->seq++;
    /* Go 1.24 picks a new seed on clear: keys that collided stop doing so. */
    map_reseed(m);
    write_end(m);
}

GORT_API void gort_map_free(gort_map_t *m)
{
    if (m == NULL)
        return;
    write_begin(m);
    free_tables(m, false);
    graveyard_free(m);
    gort_free(m);
}

/* ---- iteration --------------------------------------------------------------------------- */

GORT_API void gort_map_iter_init(gort_map_iter_t *it, gort_map_t *m)
{
    memset(it, 0, sizeof(*it));
    it->m = m;
    if (m == NULL || m->dir == NULL) {
        it->done = 1;
        return;
    }
    read_check(m);
    it->seq = m->seq;
    it->global_depth = m->global_depth;
    /* A different start for every iteration (from the map's seed, so
     * fixed by GORTDEBUG=hashseed as the seed is). */
    uint32_t n = __atomic_fetch_add(&m->iterations, 1, __ATOMIC_RELAXED);
    uint64_t r = rt_hash_mix(m->seed ^ rt_hashkey[1], n ^ rt_hashkey[0]);
    it->dir_idx = r >> 32 & ((1u << m->global_depth) - 1);
    it->ent_off = (uint32_t)r;
    __atomic_add_fetch(&m->iterators, 1, __ATOMIC_ACQ_REL);
}

GORT_API void gort_map_iter_stop(gort_map_iter_t *it)
{
    if (it->done)
        return;
    it->done = 1;
    gort_map_t *m = it->m;
    if (__atomic_sub_fetch(&m->iterators, 1, __ATOMIC_ACQ_REL) == 0 && rt_load_relaxed(&m->graveyard) != NULL)
        graveyard_free(m);
}

GORT_API bool gort_map_iter_next(gort_map_iter_t *it)
{
    gort_map_t *m = it->m;
    if (it->done)
        return false;
    if (rt_load_relaxed(&m->writing))
        misuse("concurrent map iteration and map write");
    if (it->seq != m->seq || m->dir == NULL) { /* cleared */
        gort_map_iter_stop(it);
        return false;
    }
    if (it->global_depth != m->global_depth) { /* the directory doubled: same place, new scale */
        int sh = m->global_depth - it->global_depth;
        it->dir_idx <<= sh;
        it->dir_off *= (int64_t)1 << sh;
        it->global_depth = m->global_depth;
    }
    uint32_t dirlen = 1u << m->global_depth;
    while (it->dir_off < (int64_t)dirlen) {
        uint32_t idx = (uint32_t)((it->dir_idx + (uint64_t)it->dir_off) & (dirlen - 1));
        rt_table *t = it->tab;
        if (t == NULL) {
            t = m->dir[idx].t;
            uint32_t first = idx & ~(tab_span(m, t) - 1);
            /* The random start may fall inside a table's entries: start
             * at its first instead (only the first table can be entered
             * in its middle: later ones begin where the one before ends). */
            it->dir_idx -= idx - first;
            idx = first;
            it->tab = t;
            it->ent_idx = 0;
        }
        bool live = m->dir[idx].t == t;
        uint8_t *ctrl = tab_ctrl(t);
        while (it->ent_idx < t->cap) {
            uint32_t s = (it->ent_idx + it->ent_off) & (t->cap - 1);
            it->ent_idx++;
            if (ctrl[s] & 0x80)
                continue;
            uint8_t *slot = tab_slot(m, t, s);
            if (!live && (slot = find_any(m, slot)) == NULL)
                continue; /* replaced by a growth, and deleted since */
            it->key = slot;
            it->val = slot + m->val_off;
            return true;
        }
        it->dir_off += tab_span(m, t); /* a split table's halves too */
        it->tab = NULL;
    }
    gort_map_iter_stop(it);
    return false;
}

/* ---- checks and statistics ---------------------------------------------------------------- */

static void tab_check(gort_map_t *m, rt_table *t)
{
    uint32_t full = 0, del = 0, empty = 0;
    uint8_t *ctrl = tab_ctrl(t);
    for (uint32_t s = 0; s < t->cap; s++) {
        uint8_t c = ctrl[s];
        if (c == RT_CTRL_EMPTY)
            empty++;
        else if (c == RT_CTRL_DELETED)
            del++;
        else if (c & 0x80)
            rt_throwf("mapcheck: bad control byte %#x", c);
        else {
            full++;
            uint8_t *slot = tab_slot(m, t, s);
            uint64_t h = hashkey_any(m, slot);
            if ((h & 0x7f) != c)
                rt_throw("mapcheck: control byte does not match the key's hash");
            rt_dirent de = tab_dirent(t);
            if (tab_find(m, &de, slot, h, m->kind) != slot)
                rt_throw("mapcheck: key not found where it is");
        }
    }
    if (full != t->used || del != t->tombstones || empty != t->cap / 8 + t->growth_left)
        rt_throwf("mapcheck: table counts used=%u tombstones=%u growth_left=%u cap=%u, control bytes %u full %u "
                  "deleted %u empty",
                  t->used, t->tombstones, t->growth_left, t->cap, full, del, empty);
}

void rt_map_check(gort_map_t *m)
{
    if (m->dir == NULL) {
        if (m->used != 0)
            rt_throw("mapcheck: no directory but used != 0");
        return;
    }
    uint32_t n = 1u << m->global_depth;
    size_t used = 0;
    for (uint32_t i = 0; i < n;) {
        rt_table *t = m->dir[i].t;
        if (t->local_depth > m->global_depth)
            rt_throw("mapcheck: local depth above global depth");
        uint32_t span = tab_span(m, t);
        if (i & (span - 1))
            rt_throw("mapcheck: table not aligned in the directory");
        for (uint32_t j = 0; j < span; j++)
            if (m->dir[i + j].t != t || m->dir[i + j].sl != tab_dirent(t).sl)
                rt_throw("mapcheck: table does not own its directory range");
        tab_check(m, t);
        /* every key belongs to this table's directory range */
        for (uint32_t s = 0; s < t->cap; s++)
            if (!(tab_ctrl(t)[s] & 0x80)) {
                uint32_t di = dir_index(m, hashkey_any(m, tab_slot(m, t, s)));
                if (di < i || di >= i + span)
                    rt_throw("mapcheck: key in the wrong table");
            }
        used += t->used;
        i += span;
    }
    if (used != m->used)
        rt_throwf("mapcheck: map says %zu keys, tables hold %zu", m->used, used);
}

void rt_map_stats_get(gort_map_t *m, rt_map_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->bytes = sizeof(*m);
    for (rt_table *t = m->graveyard; t != NULL; t = t->next_dead)
        st->graveyard++;
    st->noscan = m->noscan;
    if (m->dir == NULL)
        return;
    uint32_t n = 1u << m->global_depth;
    st->dirlen = n;
    st->global_depth = m->global_depth;
    st->bytes += (uint64_t)n * sizeof(rt_dirent);
    for (uint32_t i = 0; i < n;) {
        rt_table *t = m->dir[i].t;
        if (st->tables++ == 0)
            st->first_table = (uintptr_t)t->slots;
        st->slots += t->cap;
        st->tombstones += t->tombstones;
        st->bytes += tab_bytes(m, t->cap);
        for (uint32_t s = 0; s < t->cap; s++) {
            if (tab_ctrl(t)[s] & 0x80)
                continue;
            uint64_t h = hashkey_any(m, tab_slot(m, t, s));
            uint32_t gmask = t->cap / RT_GROUP - 1, g = (uint32_t)(h >> 7) & gmask, probe = 0;
            for (uint32_t k = 1; g != s / RT_GROUP; k++, probe++)
                g = (g + k) & gmask;
            if (probe > st->max_probe)
                st->max_probe = probe;
        }
        i += tab_span(m, t);
    }
}
