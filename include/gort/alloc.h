/* gort/alloc.h - the gort heap: Go's size-class allocator (mcache per P,
 * mcentral per span class, mheap over 64 MiB arenas).
 *
 * Memory from gort_alloc is zeroed. Objects up to 32 KiB come from size
 * classes, larger ones get their own span. A pointer-free object should be
 * allocated with gort_alloc_noscan (the collector never scans it, and tiny
 * ones, under 16 bytes, are packed together).
 *
 * Errors: an impossible size (overflow, more than the address space) returns
 * NULL; running out of memory otherwise is "fatal error: out of memory", as in
 * Go. gort_free of a pointer gort did not allocate, or of one already freed,
 * is a fatal error naming the address. */
#ifndef GORT_ALLOC_H
#define GORT_ALLOC_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <gort/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Zeroed memory that may hold pointers (scanned by the collector). n == 0
 * returns a unique non-NULL pointer (Go's zerobase) that must not be
 * dereferenced. Callable from any thread. */
GORT_API void *gort_alloc(size_t n);
/* Zeroed memory that holds no pointers (never scanned). */
GORT_API void *gort_alloc_noscan(size_t n);
/* As gort_alloc / gort_alloc_noscan, without zeroing (malloc's contract):
 * the contents are unspecified. For C code that initialises what it
 * allocates anyway; zeroing is most of the cost of a small allocation. */
GORT_API void *gort_alloc_uninit(size_t n);
GORT_API void *gort_alloc_noscan_uninit(size_t n);
/* Free p early (p may be NULL). The object must not be used afterwards. */
GORT_API void gort_free(void *p);
/* The usable size of the object at p (its size class), >= the size asked. */
GORT_API size_t gort_usable_size(void *p);
/* debug.FreeOSMemory: return every free page to the OS now. */
GORT_API void gort_free_os_memory(void);

/* ---- the collector (docs/gc.md) --------------------------------------------
 * gort_alloc'd objects are reclaimed once nothing the collector can see
 * points to them: goroutine stacks, the data and bss of loaded modules,
 * other gort_alloc'd (scan) objects, buffered channels, goroutine-local
 * values, registered ranges. Memory from malloc/mmap, threads that are not
 * goroutines and thread-local variables are NOT seen: a gort pointer kept
 * only there must be registered, or the object may be freed under it.
 * Interior pointers keep their object alive. Objects never move. */

/* runtime.GC: run a full collection (mark and sweep) and return after it.
 * Callable from any thread. */
GORT_API void gort_gc(void);
/* Scan [p, p+len) as a root on every cycle until gort_gc_remove_roots(p).
 * For gort pointers kept in malloc'd or mmap'd memory. Removing an address
 * that was never added is a fatal error. */
GORT_API void gort_gc_add_roots(void *p, size_t len);
GORT_API void gort_gc_remove_roots(void *p);
/* debug.SetGCPercent: the heap may grow to live * (1 + pct/100) before the
 * next cycle (default 100, or GORTGC); pct < 0 turns the collector off
 * (GORTGC=off). Returns the previous setting. */
GORT_API int gort_set_gc_percent(int pct);
/* debug.SetMemoryLimit: a soft limit on the runtime's memory (default
 * INT64_MAX: none, or GORTMEMLIMIT, e.g. 512MiB); collections run more
 * often near it. bytes < 0 only queries. Returns the previous limit. */
GORT_API int64_t gort_set_memory_limit(int64_t bytes);
/* A thread that is not a goroutine and keeps gort pointers on its stack or
 * in its registers: the collector stops it with a signal (SIGPWR, as
 * bdwgc) during each cycle and scans its stack. A thread is registered
 * automatically by its first gort_alloc or gort_free, and unregistered
 * when it exits. A system call it is blocked in may see EINTR. Calls from
 * a goroutine do nothing (goroutine stacks are always scanned). */
GORT_API void gort_gc_register_thread(void);
GORT_API void gort_gc_unregister_thread(void);
/* runtime.SetFinalizer: once the object at p (the start of a gort object,
 * not a tiny one) is found unreachable, fn(p) runs on the finalizer
 * goroutine; the object is kept for that call and freed later unless fn
 * stores p somewhere. Objects p refers to stay alive until then, so
 * finalizers run in dependency order (a cycle of finalizable objects is
 * never collected, as in Go). fn NULL removes the finalizer; setting a
 * second one is a fatal error, as is gort_free of an object that has one
 * (reported under GORTDEBUG=checkfree=1; clear it first). */
GORT_API void gort_set_finalizer(void *p, void (*fn)(void *));
/* runtime.KeepAlive: p stays reachable up to this call. */
GORT_API void gort_keep_alive(void *p);

#define GORT_NUM_SIZE_CLASSES 68

/* runtime.MemStats, Go's field names. */
typedef struct gort_memstats {
    uint64_t Alloc;         /* bytes of allocated heap objects (== HeapAlloc) */
    uint64_t TotalAlloc;    /* cumulative bytes allocated */
    uint64_t Sys;           /* bytes obtained from the OS */
    uint64_t Lookups;
    uint64_t Mallocs;       /* cumulative objects allocated */
    uint64_t Frees;         /* cumulative objects freed */
    uint64_t HeapAlloc;     /* bytes in allocated heap objects */
    uint64_t HeapSys;       /* bytes of heap memory obtained from the OS */
    uint64_t HeapIdle;      /* bytes in idle (unused) spans */
    uint64_t HeapInuse;     /* bytes in in-use spans */
    uint64_t HeapReleased;  /* bytes of physical memory returned to the OS */
    uint64_t HeapObjects;   /* allocated heap objects */
    uint64_t StackInuse;    /* bytes of goroutine stack reservations in use */
    uint64_t StackSys;
    uint64_t MSpanInuse;    /* bytes of allocated mspan structures */
    uint64_t MSpanSys;
    uint64_t MCacheInuse;   /* bytes of allocated mcache structures */
    uint64_t MCacheSys;
    uint64_t BuckHashSys;
    uint64_t GCSys;         /* bytes of garbage collection metadata */
    uint64_t OtherSys;
    uint64_t NextGC;
    uint64_t LastGC;
    uint64_t PauseTotalNs;
    uint64_t PauseNs[256];
    uint64_t PauseEnd[256];
    uint32_t NumGC;
    uint32_t NumForcedGC;
    double GCCPUFraction;
    bool EnableGC;
    bool DebugGC;
    struct {
        uint32_t Size;      /* the class's object size */
        uint64_t Mallocs;
        uint64_t Frees;
    } BySize[61];           /* as Go's MemStats: the first 61 classes */
} gort_memstats_t;

GORT_API void gort_read_memstats(gort_memstats_t *ms);

#ifdef __cplusplus
}
#endif
#endif /* GORT_ALLOC_H */
