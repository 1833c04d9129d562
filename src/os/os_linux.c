/* os_linux.c - the OS layer on Linux (Go: mem_linux.go, mem.go,
 * os_linux.go, lock_futex.go; mimalloc: src/prim/unix/prim.c). The
 * contract of each function is in os.h; this file says how and why.
 *
 * States of address space
 * -----------------------
 * As Go's mem.go, a range of address space is in one of these states:
 *
 *   None      not mapped: the addresses belong to no one.
 *   Reserved  mapped PROT_NONE with MAP_NORESERVE. The runtime owns the
 *             addresses (one VMA), but they hold no memory and are not
 *             charged against the commit limit; any access faults.
 *   Ready     readable and writable. A page takes memory only once it is
 *             touched; a page never touched, or given back with
 *             rt_sysUnused, reads as zero.
 *   Guard     a page of a Ready mapping that faults on any access, without
 *             a VMA of its own (Linux 6.13+ guard regions).
 *
 *                rt_sysReserve              rt_sysMap
 *         None -----------------> Reserved ------------> Ready <--+
 *          ^ |                       ^                    | |     | rt_sysUnused
 *          | |                       +--- rt_sysFault ----+ +-----+ (pages back,
 *          | |                                              |       read zero)
 *          | +----------- rt_sysAlloc (both steps) -------->|
 *          +------------- rt_sysFree (from any state) ------+
 *
 *   rt_sysGuardInstall: pages of a Ready mapping -> Guard (until rt_sysFree)
 *
 * Go has one more state, Prepared: reserved, not backed, and needing
 * sysUsed before use (so an OS that must recommit can do it there). Linux
 * needs no such step: a page given back with MADV_DONTNEED is refaulted,
 * zeroed, by the next touch, so Prepared and Ready are one state here and
 * there is no rt_sysUsed. A port to an OS that decommits (Windows'
 * MEM_DECOMMIT) adds rt_sysUsed and calls it where the heap reuses
 * scavenged pages (region_take in src/alloc/mheap.c counts them).
 *
 * Who uses which
 * --------------
 *   heap regions (src/alloc/mheap.c)   Reserve 64 MiB arenas, Map them 4 MiB
 *                                      chunk by chunk, Unused when scavenging,
 *                                      Free to trim the alignment slack
 *   runtime metadata (persistentalloc, Alloc (plain, or NORESERVE for big
 *   arena map, tiny-alloc state,        sparse tables), never freed
 *   signal stacks)
 *   goroutine stacks (src/stack)       Alloc(NORESERVE|STACK) 256 MiB chunks,
 *                                      NoHugePage, GuardInstall (or Fault on
 *                                      older kernels), Unused when scavenging
 *   runtime locks and notes            futexsleep / futexwakeup
 *   async preemption, M start          Tgkill, Gettid
 *
 * Why these calls
 * ---------------
 * MAP_NORESERVE. Linux charges a private writable mapping against the
 * commit limit when it becomes writable (at mmap, or at the mprotect that
 * makes a PROT_NONE reservation writable), whether or not a page is ever
 * touched. The heap's arenas, the 32 MiB arena map and 256 MiB stack chunks
 * are mostly never touched, so they are all mapped MAP_NORESERVE: with the
 * default heuristic overcommit (vm.overcommit_memory=0) they then cost
 * nothing until used. Under strict accounting (=2) the kernel ignores
 * MAP_NORESERVE, and rt_sysMap or rt_sysAlloc fail with ENOMEM once the
 * limit is reached; the callers report that as "out of memory".
 *
 * mprotect to map, not mmap(MAP_FIXED). Go's sysMap remaps the range with
 * MAP_FIXED. mprotect keeps the reservation's MAP_NORESERVE, never replaces
 * a mapping by mistake (MAP_FIXED silently would), and adjacent chunks made
 * writable merge back into one VMA. rt_sysFault is mprotect too (Go remaps
 * PROT_NONE and drops the pages): the stack allocator calls it on guard
 * pages of live chunks, where keeping one mapping matters more.
 *
 * MADV_DONTNEED, not MADV_FREE. MADV_FREE is cheaper (the kernel reclaims
 * the pages only under memory pressure) but the pages stay in RSS until
 * then, and a page written again before reclaim keeps its old contents.
 * The heap marks scavenged pages as known-zero and skips clearing them on
 * reuse (Go's needzero), so it needs DONTNEED's guarantee that the next
 * read returns zeros. Go went back from MADV_FREE to MADV_DONTNEED in 1.16
 * for the RSS reason alone.
 *
 * Guards. MADV_GUARD_INSTALL (Linux 6.13, value 102; glibc's headers may
 * lack it) marks pages in the page tables, so a guard splits no VMA and a
 * million guarded stacks stay far below vm.max_map_count. One
 * process_madvise call on a pidfd of this process installs a batch (0.8 us
 * per guard here, against 3 us for one madvise each); when that fails
 * (no pidfd_open, a kernel that refuses the advice through
 * process_madvise, a child after fork holding its parent's pidfd) the
 * pidfd is dropped and single madvise calls take over. A kernel without
 * guard regions answers EINVAL, and the stack allocator falls back to
 * rt_sysFault (mprotect: +2 VMAs per guard, budgeted from
 * rt_sysMaxMapCount) and then to canaries (src/stack/stack.c).
 *
 * Futexes. FUTEX_WAIT_PRIVATE / FUTEX_WAKE_PRIVATE: the words are never
 * shared with another process, and private futexes skip the shared-mapping
 * lookup. The timeout is relative (CLOCK_MONOTONIC).
 *
 * errno. Every function reads errno right after the failing call and
 * returns it. A goroutine may resume on another thread between two runtime
 * calls (DESIGN 4.4), and errno is per thread, so nothing may read errno
 * later. */
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MAP_STACK
#define MAP_STACK 0
#endif

/* ---- memory ---------------------------------------------------------------- */

static void *map(void *hint, size_t n, int prot, int flags, int fd, int *err)
{
    void *p = mmap(hint, n, prot, flags, fd, 0);
    int e = p == MAP_FAILED ? -errno : 0;
    if (err != NULL)
        *err = e;
    return e == 0 ? p : NULL;
}

static int result(int r) { return r == 0 ? 0 : -errno; }

void *rt_sysReserve(void *hint, size_t n, int *err)
{
    return map(hint, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, err);
}

int rt_sysMap(void *v, size_t n) { return result(mprotect(v, n, PROT_READ | PROT_WRITE)); }

void *rt_sysAlloc(size_t n, int flags, int *err)
{
    int mf = MAP_PRIVATE | MAP_ANONYMOUS;
    if (flags & RT_SYS_NORESERVE)
        mf |= MAP_NORESERVE;
    if (flags & RT_SYS_STACK)
        mf |= MAP_STACK;
    return map(NULL, n, PROT_READ | PROT_WRITE, mf, -1, err);
}

int rt_sysFree(void *v, size_t n) { return result(munmap(v, n)); }

int rt_sysUnused(void *v, size_t n) { return result(madvise(v, n, MADV_DONTNEED)); }

int rt_sysNoHugePage(void *v, size_t n) { return result(madvise(v, n, MADV_NOHUGEPAGE)); }

int rt_sysFault(void *v, size_t n) { return result(mprotect(v, n, PROT_NONE)); }

/* A pidfd of this process for process_madvise: -2 not opened yet, -1
 * unavailable (single madvise calls from then on). Callers serialise. */
static int self_pidfd = -2;

#define GUARD_BATCH 16 /* iovecs per process_madvise call */

int rt_sysGuardInstall(const uintptr_t *addrs, int n, size_t len, int *ndone)
{
    int i = 0;
    if (self_pidfd == -2)
        self_pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    while (self_pidfd >= 0 && i < n) {
        struct iovec iov[GUARD_BATCH];
        int k = n - i < GUARD_BATCH ? n - i : GUARD_BATCH;
        for (int j = 0; j < k; j++)
            iov[j] = (struct iovec){(void *)addrs[i + j], len};
        long r = syscall(SYS_process_madvise, self_pidfd, iov, (size_t)k, MADV_GUARD_INSTALL, 0);
        if (r != (long)((size_t)k * len)) {
            close(self_pidfd);
            self_pidfd = -1; /* single madvise calls below (guards are idempotent) */
            break;
        }
        i += k;
    }
    for (; i < n; i++) {
        if (madvise((void *)addrs[i], len, MADV_GUARD_INSTALL) != 0) {
            int e = -errno;
            if (ndone != NULL)
                *ndone = i;
            return e;
        }
    }
    if (ndone != NULL)
        *ndone = n;
    return 0;
}

const void *rt_sysMapFile(int fd, size_t n, int *err) { return map(NULL, n, PROT_READ, MAP_PRIVATE, fd, err); }

/* Read a small /proc file into buf (NUL-terminated); its length or a
 * negative errno. */
static ssize_t readproc(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t r = read(fd, buf, n - 1);
    int e = errno;
    close(fd);
    if (r < 0)
        return e > 0 ? -e : -EIO;
    buf[r] = '\0';
    return r;
}

uint64_t rt_sysCommitLimit(void)
{
    char buf[4096];
    if (readproc("/proc/sys/vm/overcommit_memory", buf, sizeof(buf)) > 0 && buf[0] == '2' &&
        readproc("/proc/meminfo", buf, sizeof(buf)) > 0) {
        const char *p = strstr(buf, "CommitLimit:");
        if (p != NULL)
            return (uint64_t)strtoull(p + 12, NULL, 10) << 10; /* kB */
    }
    struct sysinfo si;
    if (sysinfo(&si) != 0)
        return 0;
    return ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
}

long rt_sysMaxMapCount(void)
{
    char buf[32];
    ssize_t r = readproc("/proc/sys/vm/max_map_count", buf, sizeof(buf));
    if (r < 0)
        return (long)r;
    char *end;
    long v = strtol(buf, &end, 10);
    if (end == buf || v < 0)
        return -EINVAL;
    return v;
}

/* ---- futexes ------------------------------------------------------------------ */

int rt_futexsleep(uint32_t *addr, uint32_t val, int64_t ns)
{
    struct timespec ts, *tsp = NULL;
    if (ns >= 0) {
        ts = (struct timespec){.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
        tsp = &ts;
    }
    return result((int)syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, tsp, NULL, 0));
}

int rt_futexwakeup(uint32_t *addr, int cnt)
{
    long r = syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, (uint32_t)cnt, NULL, NULL, 0);
    return r >= 0 ? (int)r : -errno;
}

/* ---- threads ------------------------------------------------------------------ */

int rt_sysGettid(void) { return (int)syscall(SYS_gettid); }

int rt_sysThreadStack(uintptr_t *lo, uintptr_t *hi)
{
    pthread_attr_t a;
    void *addr = NULL;
    size_t size = 0;
    *lo = *hi = 0;
    if (pthread_getattr_np(pthread_self(), &a) != 0)
        return -1;
    int r = pthread_attr_getstack(&a, &addr, &size);
    pthread_attr_destroy(&a);
    if (r != 0 || addr == NULL)
        return -1;
    *lo = (uintptr_t)addr;
    *hi = (uintptr_t)addr + size;
    return 0;
}

int rt_sysTgkill(int pid, int tid, int sig) { return result((int)syscall(SYS_tgkill, pid, tid, sig)); }

void rt_osyield(void) { sched_yield(); }
