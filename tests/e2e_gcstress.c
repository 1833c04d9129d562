/* e2e_gcstress.c - the collector's random-graph stress (issue 14): a
 * graph of gort objects reachable only through the roots the collector
 * documents - globals, goroutine stacks, a registered malloc'd table,
 * interior pointers, a buffered channel, pointer bytes that read(2) put
 * into a gort buffer - is mutated by one goroutine per P, which move edges
 * between nodes and allocate garbage (scribbled over, so a live node freed
 * by mistake is soon overwritten) at a high rate, while collections run.
 * After every checker round (at least one collection since the last), the
 * whole graph is walked with the mutators paused: every node must still
 * hold what its id says.
 *
 *   e2e_gcstress [rounds]     default 200; prints "gcstress ok N cycles" */
#include <gort.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NEDGE 4
#define NGLOBAL 64
#define NTABLE 64
#define NLOCAL 16
#define NCHAN 32
#define NPIPE 8

typedef struct node {
    uint64_t id, check;
    struct node *edge[NEDGE];
    uint64_t payload[3];
} node;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dull;
    return x ^ (x >> 33);
}

static uint64_t nextid = 1;

static node *newnode(void)
{
    node *n = gort_alloc(sizeof(node));
    n->id = __atomic_fetch_add(&nextid, 1, __ATOMIC_RELAXED);
    n->check = mix(n->id);
    for (int i = 0; i < 3; i++)
        n->payload[i] = mix(n->id + (uint64_t)i + 1);
    return n;
}

static int bad(const node *n)
{
    if (n->check != mix(n->id))
        return 1;
    for (int i = 0; i < 3; i++)
        if (n->payload[i] != mix(n->id + (uint64_t)i + 1))
            return 1;
    return 0;
}

/* roots */
static node *globals[NGLOBAL];
static node **table;                     /* malloc'd, registered */
static char *interior[NGLOBAL];          /* (char *)node + 24 */
static gort_chan_t *ch;                  /* buffered node pointers */
static node **pipebuf;                   /* a scan-class gort buffer that read(2) fills */
static gort_rwmutex_t world;             /* mutators read-lock a step; the checker write-locks */
static uint32_t stop;
static gort_waitgroup_t wg;
static int nprocs;
static node **locals[64];                /* each mutator's stack array, for the checker */

/* Mutators share the roots and the nodes: every pointer is loaded and
 * stored atomically (acquire/release publishes a new node's contents). */
#define LD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define ST(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static node *pick(uint64_t *s, node **mine)
{
    switch (rnd(s) % 5) {
    case 0: return LD(globals[rnd(s) % NGLOBAL]);
    case 1: return LD(table[rnd(s) % NTABLE]);
    case 2: {
        char *p = LD(interior[rnd(s) % NGLOBAL]);
        return p ? (node *)(p - 24) : NULL;
    }
    case 3: return LD(pipebuf[rnd(s) % NPIPE]);
    default: return mine[rnd(s) % NLOCAL];
    }
}

static void store(uint64_t *s, node **mine, node *n)
{
    switch (rnd(s) % 5) {
    case 0: ST(globals[rnd(s) % NGLOBAL], n); break;
    case 1: ST(table[rnd(s) % NTABLE], n); break;
    case 2: ST(interior[rnd(s) % NGLOBAL], n ? (char *)n + 24 : NULL); break;
    case 3: {
        node *old;
        bool ok;
        if (gort_chan_tryrecv(ch, &old, &ok) && old != NULL && rnd(s) % 2)
            mine[rnd(s) % NLOCAL] = old; /* out of the channel onto the stack */
        gort_chan_trysend(ch, &n);
        break;
    }
    default: mine[rnd(s) % NLOCAL] = n; break;
    }
}

static void mutator(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t s = mix((uint64_t)id + 99) | 1;
    node *mine[NLOCAL]; /* this goroutine's stack: a root */
    memset(mine, 0, sizeof(mine));
    ST(locals[id], mine);
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        gort_rwmutex_rlock(&world);
        for (int k = 0; k < 64; k++) {
            node *a = pick(&s, mine), *b = pick(&s, mine);
            uint64_t op = rnd(&s) % 10;
            switch (op < 4 ? 0 : op < 7 ? 1 : op < 9 ? 2 : 3) {
            case 0: /* a new node, linked under a or stored in a root */
            {
                node *n = newnode();
                n->edge[0] = b;
                if (a != NULL)
                    ST(a->edge[rnd(&s) % NEDGE], n);
                else
                    store(&s, mine, n);
                break;
            }
            case 1: /* move an edge from b to a: the case a missing barrier gets wrong */
                if (a != NULL && b != NULL) {
                    int i = (int)(rnd(&s) % NEDGE), j = (int)(rnd(&s) % NEDGE);
                    ST(a->edge[i], LD(b->edge[j]));
                    ST(b->edge[j], NULL);
                }
                break;
            case 2: /* a root takes a node reachable from another */
                if (b != NULL)
                    store(&s, mine, LD(b->edge[rnd(&s) % NEDGE]));
                break;
            default: /* drop a root */
                store(&s, mine, NULL);
                break;
            }
            /* garbage, scribbled over: reuse of a wrongly freed node shows */
            for (int g = 0; g < 4; g++) {
                size_t sz = sizeof(node) + (size_t)(rnd(&s) % 3) * 16;
                void *x = rnd(&s) % 2 ? gort_alloc(sz) : gort_alloc_noscan(sz);
                memset(x, 0xab, sz);
            }
        }
        gort_rwmutex_runlock(&world);
    }
    ST(locals[id], (node **)NULL);
    gort_wg_done(&wg);
}

/* ---- the checker --------------------------------------------------------------- */

static node **stack_;
static size_t nstack, capstack;
static size_t seen, broken;
static gort_map_t *visited;

static void visit(node *n)
{
    if (n == NULL)
        return;
    uintptr_t k = (uintptr_t)n;
    if (gort_map_get(visited, &k) != NULL)
        return;
    char one = 1;
    gort_map_put(visited, &k, &one);
    if (nstack == capstack) {
        capstack = capstack ? capstack * 2 : 1024;
        stack_ = realloc(stack_, capstack * sizeof(*stack_));
    }
    stack_[nstack++] = n;
}

static void walk(void)
{
    visited = gort_map_new(sizeof(uintptr_t), 1);
    nstack = seen = broken = 0;
    gort_chan_t *tmp = gort_chan_make(sizeof(node *), NCHAN);
    node *x;
    bool ok;
    while (gort_chan_tryrecv(ch, &x, &ok)) { /* look at the channel's contents, put them back */
        visit(x);
        gort_chan_trysend(tmp, &x);
    }
    while (gort_chan_tryrecv(tmp, &x, &ok))
        gort_chan_trysend(ch, &x);
    gort_chan_free(tmp);
    for (int i = 0; i < NGLOBAL; i++) {
        visit(globals[i]);
        visit(interior[i] ? (node *)(interior[i] - 24) : NULL);
    }
    for (int i = 0; i < NTABLE; i++)
        visit(table[i]);
    for (int i = 0; i < NPIPE; i++)
        visit(pipebuf[i]);
    for (int p = 0; p < nprocs; p++) {
        node **l = LD(locals[p]);
        if (l != NULL)
            for (int i = 0; i < NLOCAL; i++)
                visit(l[i]);
    }
    while (nstack > 0) { /* stack_ is malloc'd, but every node on it is also in a root's graph */
        node *n = stack_[--nstack];
        seen++;
        if (bad(n)) {
            if (broken++ < 5)
                fprintf(stderr, "node %p (id %llu): contents changed: a live object was freed\n", (void *)n,
                        (unsigned long long)n->id);
            continue;
        }
        for (int i = 0; i < NEDGE; i++)
            visit(n->edge[i]);
    }
    gort_map_free(visited);
}

/* Pointers through a pipe into a gort buffer: the kernel writes them. */
static void pipe_roundtrip(int fds[2])
{
    node *out[NPIPE];
    for (int i = 0; i < NPIPE; i++)
        out[i] = globals[i] != NULL ? globals[i] : newnode();
    if (gort_write(fds[1], out, sizeof(out)) != (ssize_t)sizeof(out) ||
        gort_read(fds[0], pipebuf, sizeof(out)) != (ssize_t)sizeof(out)) {
        fprintf(stderr, "pipe round trip failed\n");
        exit(1);
    }
}

int gort_main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 200;
    nprocs = gort_maxprocs(0);
    if (nprocs > 64)
        nprocs = 64;
    table = calloc(NTABLE, sizeof(node *));
    gort_gc_add_roots(table, NTABLE * sizeof(node *));
    ch = gort_chan_make(sizeof(node *), NCHAN);
    pipebuf = gort_alloc(NPIPE * sizeof(node *)); /* held by a global: scanned */
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    for (int i = 0; i < NGLOBAL; i++)
        globals[i] = newnode();
    pipe_roundtrip(fds);
    gort_wg_add(&wg, nprocs);
    for (int p = 0; p < nprocs; p++)
        gort_go(mutator, (void *)(intptr_t)p);
    gort_memstats_t ms;
    uint32_t last = 0;
    size_t maxseen = 0;
    for (int r = 0; r < rounds; r++) {
        gort_sleep(2 * 1000 * 1000);
        if (r % 10 == 0)
            gort_gc();
        gort_rwmutex_lock(&world);
        gort_read_memstats(&ms);
        if (ms.NumGC == last) { /* not collected since the last walk: later */
            gort_rwmutex_unlock(&world);
            r--;
            continue;
        }
        last = ms.NumGC;
        pipe_roundtrip(fds);
        walk();
        gort_rwmutex_unlock(&world);
        if (broken != 0) {
            fprintf(stderr, "gcstress: %zu of %zu live nodes broken after %u cycles\n", broken, seen, ms.NumGC);
            return 1;
        }
        if (seen > maxseen)
            maxseen = seen;
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    gort_wg_wait(&wg);
    gort_read_memstats(&ms);
    printf("gcstress ok %u cycles (up to %zu live nodes)\n", ms.NumGC, maxseen);
    return 0;
}
