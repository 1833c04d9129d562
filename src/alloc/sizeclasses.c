/* sizeclasses.c - Go's allocator size classes, computed at start-up
 * (Go: src/runtime/mksizeclasses.go, whose output is sizeclasses.go; the
 * rules and numbers here are those of Go 1.19).
 *
 * What a size class is
 * --------------------
 * A small object (1 .. 32 KiB) is not given exactly the bytes it asks for:
 * its size is rounded up to one of 67 size classes (class 0 stands for
 * "large": an object with a span of its own). Every span of a class is the
 * same run of allocnpages 8 KiB pages, cut into objects of class_to_size
 * bytes. Objects of one class are interchangeable, so a span needs only a
 * bitmap (one bit an object) and an object's index is (p - base) / size,
 * which divmagic turns into a multiply and a shift.
 *
 * Why these bounds
 * ----------------
 * Two kinds of waste, each held to about 1/8 (12.5%):
 *   - round-up waste: a request rounded up to its class. Classes are spaced
 *     by their own size / 8 (powers of two), so the next class is at most
 *     ~12.5% bigger. Below 128 bytes alignment wins instead: 8-byte steps up
 *     to 32, 16-byte steps from 32 (objects of 32 bytes and more are 16-byte
 *     aligned), so tiny classes waste more in relative terms (8 -> 87.5%
 *     worst case for a 1-byte object);
 *   - tail waste: the bytes at the end of a span that no whole object fits
 *     in. allocnpages is the smallest page count whose tail is at most 1/8
 *     of the span.
 * They multiply, so the worst case is ~1.266x, but in practice small sizes
 * lose on round-up and big ones on the tail, rarely both (see the "max
 * waste" column of Go's table).
 *
 * The algorithm (as in mksizeclasses.go)
 * --------------------------------------
 *  1. Walk size = 8, 16, 24, ... 32768 with a step `align` that is bumped at
 *     each power of two: 16 from 32, size/8 from 128, 256 from 2048.
 *  2. For each candidate, npages = the fewest pages with tail <= span/8.
 *  3. If the previous class has the same npages and the same objects per
 *     span, the candidate replaces that class's size (a bigger object for
 *     free) instead of making a new class.
 *  4. Afterwards, grow every class to the biggest size that still fits the
 *     same number of objects in its span, rounded down to a multiple of 128
 *     (e.g. 8448 -> 9472, 6 objects in 7 pages): the lookup tables for sizes
 *     above 1024 work in 128-byte steps, so sizes there must stay multiples
 *     of 128.
 *  5. There must be exactly 68 classes including class 0 (RT_NUM_SIZE_CLASSES).
 *
 * divmagic (Go 1.19's form): m = floor((2^32 - 1) / size) + 1, and
 * n / size == (n * m) >> 32 for every offset 0 <= n <= npages * 8 KiB. That
 * holds when Lemire, Kaser and Kurz's bound ("Faster Remainder by Direct
 * Computation", arXiv:1902.01961, algorithm 2) needs at most 32 fractional
 * bits; init checks it, as mksizeclasses.go does.
 *
 * Lookup: size_to_class8[i] is the smallest class with size >= 8*i (sizes up
 * to 1016), size_to_class128[i] the smallest with size >= 1024 + 128*i.
 *
 * Invariants (checked by rt_sizeclasses_init, which aborts if one fails):
 *   - class_to_size[0] == 0 and class_to_size is strictly increasing, ends
 *     at RT_MAX_SMALL_SIZE; every size is a multiple of 8, sizes >= 32 are
 *     multiples of 16, sizes > 1024 multiples of 128;
 *   - class 2 is 16 bytes (the tiny allocator's block, RT_TINY_SPANCLASS);
 *   - every class's span holds at least one object and at most
 *     RT_MAX_OBJS_PER_SPAN, and its tail waste is <= span / 8;
 *   - divmagic is exact over the whole span;
 *   - rt_size_to_class(s) is the smallest class whose size >= s.
 *
 * Unlike Go, which generates sizeclasses.go once and compiles the tables in,
 * gort computes them at start-up (microseconds); tests/test_sizeclasses.c
 * compares the result with Go 1.19's published table. */
#include "malloc.h"

#include <stdio.h>
#include <stdlib.h>

uint16_t rt_class_to_size[RT_NUM_SIZE_CLASSES];
uint8_t rt_class_to_allocnpages[RT_NUM_SIZE_CLASSES];
uint32_t rt_class_to_divmagic[RT_NUM_SIZE_CLASSES];
uint16_t rt_class_to_nelems[RT_NUM_SIZE_CLASSES];
uint8_t rt_size_to_class8[RT_SMALL_SIZE_MAX / RT_SMALL_SIZE_DIV + 1];
uint8_t rt_size_to_class128[(RT_MAX_SMALL_SIZE - RT_SMALL_SIZE_MAX) / RT_LARGE_SIZE_DIV + 1];

static int sizeclasses_done; /* atomic: tables published */

static void sc_fatal(const char *msg, long a, long b)
{
    fprintf(stderr, "fatal error: sizeclasses: %s (%ld, %ld)\n", msg, a, b);
    abort();
}

static bool ispow2(uint32_t x) { return x != 0 && (x & (x - 1)) == 0; }

static int bitlen(uint64_t x)
{
    int n = 0;
    while (x != 0) {
        n++;
        x >>= 1;
    }
    return n;
}

/* Lemire et al.'s algorithm 2: the fewest fractional bits F such that
 * n / d == floor(n * ceil(2^F / d) / 2^F) for every n < 2^N, N the bit length
 * of the largest offset in the span. */
static int divmagic_bits(uint32_t d, uint32_t max)
{
    if (ispow2(d))
        return bitlen(d) - 1;
    int N = bitlen(max);
    for (int L = 0; N + L < 64; L++)
        if (d <= ((UINT64_C(1) << (N + L)) % d) + (UINT64_C(1) << L))
            return N + L;
    return 64;
}

typedef struct {
    uint32_t size;
    uint32_t npages;
} sc_class;

/* Steps 1-3 and 4 above; returns the number of classes (including 0). */
static int make_classes(sc_class *cl, int cap)
{
    int n = 0;
    cl[n++] = (sc_class){0, 0}; /* class 0: large objects */

    uint32_t align = 8;
    for (uint32_t size = align; size <= RT_MAX_SMALL_SIZE; size += align) {
        if (ispow2(size)) { /* bump the step at each power of two */
            if (size >= 2048)
                align = 256;
            else if (size >= 128)
                align = size / 8;
            else if (size >= 32)
                align = 16;
        }
        if (!ispow2(align))
            sc_fatal("step is not a power of two", (long)size, (long)align);

        /* fewest pages whose tail waste is at most 1/8 of the span */
        uint32_t span = RT_PAGE_SIZE;
        while (span % size > span / 8)
            span += RT_PAGE_SIZE;
        uint32_t npages = span / RT_PAGE_SIZE;

        /* same span, same object count as the previous class: the bigger
         * size costs nothing, so take it over instead of adding a class */
        if (n > 1 && cl[n - 1].npages == npages && span / cl[n - 1].size == span / size) {
            cl[n - 1].size = size;
            continue;
        }
        if (n == cap)
            sc_fatal("too many size classes", (long)n, (long)size);
        cl[n++] = (sc_class){size, npages};
    }

    /* the biggest object that still fits as many per span, kept a multiple
     * of RT_LARGE_SIZE_DIV so that size_to_class128 stays exact */
    for (int i = 1; i < n; i++) {
        uint32_t span = cl[i].npages * (uint32_t)RT_PAGE_SIZE;
        uint32_t grown = (span / (span / cl[i].size)) & ~(uint32_t)(RT_LARGE_SIZE_DIV - 1);
        if (grown > cl[i].size)
            cl[i].size = grown;
    }
    return n;
}

/* The class invariants listed at the top of the file. */
static void check_classes(const sc_class *cl, int n)
{
    if (n != RT_NUM_SIZE_CLASSES)
        sc_fatal("number of size classes has changed", (long)n, (long)RT_NUM_SIZE_CLASSES);
    if (cl[0].size != 0 || cl[0].npages != 0)
        sc_fatal("class 0 is not the large-object class", (long)cl[0].size, (long)cl[0].npages);
    if (cl[n - 1].size != RT_MAX_SMALL_SIZE)
        sc_fatal("last class is not the largest small size", (long)cl[n - 1].size, (long)RT_MAX_SMALL_SIZE);
    if (cl[2].size != RT_TINY_SIZE)
        sc_fatal("class 2 is not the tiny block size", (long)cl[2].size, (long)RT_TINY_SIZE);
    for (int i = 1; i < n; i++) {
        uint32_t size = cl[i].size, span = cl[i].npages * (uint32_t)RT_PAGE_SIZE;
        if (size <= cl[i - 1].size)
            sc_fatal("class sizes not increasing", (long)i, (long)size);
        if (size % 8 != 0 || (size >= 32 && size % 16 != 0) ||
            (size > RT_SMALL_SIZE_MAX && size % RT_LARGE_SIZE_DIV != 0))
            sc_fatal("class size misaligned", (long)i, (long)size);
        if (cl[i].npages == 0 || cl[i].npages > UINT8_MAX)
            sc_fatal("class npages out of range", (long)i, (long)cl[i].npages);
        if (span / size == 0 || span / size > RT_MAX_OBJS_PER_SPAN)
            sc_fatal("objects per span out of range", (long)i, (long)(span / size));
        if (span % size > span / 8)
            sc_fatal("tail waste above 1/8 of the span", (long)i, (long)(span % size));
        if (divmagic_bits(size, span) > 32)
            sc_fatal("size class needs more than 32 bits of divmagic", (long)i, (long)size);
    }
}

/* Smallest class whose size is >= size, by a forward sweep: `from` is the
 * answer for a smaller size (the tables are filled in increasing order). */
static int smallest_class(const sc_class *cl, int n, uint32_t size, int from)
{
    int c = from;
    while (c < n && cl[c].size < size)
        c++;
    if (c == n)
        sc_fatal("no class holds size", (long)size, (long)n);
    return c;
}

/* Idempotent: later calls return at once. The first call must not race
 * another (mallocinit runs it during boot, before any allocation). */
void rt_sizeclasses_init(void)
{
    if (__atomic_load_n(&sizeclasses_done, __ATOMIC_ACQUIRE))
        return;

    sc_class cl[RT_NUM_SIZE_CLASSES + 1];
    int n = make_classes(cl, RT_NUM_SIZE_CLASSES + 1);
    check_classes(cl, n);

    for (int i = 0; i < n; i++) {
        rt_class_to_size[i] = (uint16_t)cl[i].size;
        rt_class_to_allocnpages[i] = (uint8_t)cl[i].npages;
        /* n / size == (n * m) >> 32 over the span (see divmagic_bits) */
        rt_class_to_divmagic[i] = cl[i].size == 0 ? 0 : UINT32_MAX / cl[i].size + 1;
        rt_class_to_nelems[i] = cl[i].size == 0 ? 0 : (uint16_t)(((size_t)cl[i].npages << RT_PAGE_SHIFT) / cl[i].size);
    }

    int c = 0;
    for (uint32_t i = 0; i < sizeof(rt_size_to_class8); i++) {
        c = smallest_class(cl, n, i * RT_SMALL_SIZE_DIV, c);
        rt_size_to_class8[i] = (uint8_t)c;
    }
    c = 0;
    for (uint32_t i = 0; i < sizeof(rt_size_to_class128); i++) {
        c = smallest_class(cl, n, RT_SMALL_SIZE_MAX + i * RT_LARGE_SIZE_DIV, c);
        rt_size_to_class128[i] = (uint8_t)c;
    }

    __atomic_store_n(&sizeclasses_done, 1, __ATOMIC_RELEASE);
}
