/* src/os/os.h - the porting interface to the operating system: every
 * mmap, munmap, mprotect, madvise, futex, tgkill and similar call the
 * runtime makes goes through here (Go: mem.go's sys* functions,
 * os_linux.go, lock_futex.go; mimalloc: include/mimalloc/prim.h). One
 * implementation file per OS:
 *
 *   os_linux.c   Linux (x86-64; aarch64 uses the same file: nothing below
 *                is architecture-specific)
 *
 * The states of address space and which call moves between them are
 * described at the top of os_linux.c.
 *
 * Conventions
 *   - Errors are values: a function returning int returns 0 (or a count)
 *     on success and a negative errno on failure; a function returning a
 *     pointer returns NULL on failure and, if err is not NULL, stores the
 *     negative errno in *err (0 on success). Callers never read errno after
 *     these calls. (The Linux file calls libc, so errno itself may change.)
 *   - Sizes and addresses given to the memory functions are multiples of
 *     the OS page size (rt_pagesize, src/boot/boot.h), except where said.
 *   - Every function is one or two system calls with no locks and no
 *     allocation, so all may be called without a P, from sysmon, and (but
 *     rt_sysGuardInstall, which keeps a descriptor) from signal handlers.
 *   - Nothing here is on a hot path: each function enters the kernel (~1 us
 *     on this machine kind), so an out-of-line call costs nothing
 *     measurable, and the header has no inline wrappers. The lock and note
 *     fast paths (src/sched/lock.c) never call in here.
 *
 * Porting: implement every function below in os_<name>.c and select it in
 * CMakeLists.txt. Where an OS lacks a feature, the contract says what to
 * return (e.g. rt_sysGuardInstall: -EINVAL makes the stack allocator fall
 * back to rt_sysFault guards). The collector's dirty-page tracking (DESIGN
 * 4.3: userfaultfd write-protect + PAGEMAP_SCAN, mprotect fallback) will
 * add its calls here too.
 *
 * Exceptions: none. `grep -rn "\<\(mmap\|munmap\|madvise\|mprotect\|syscall\)("
 * src` shows only src/os/ and one comment in src/alloc/mheap.c's essay
 * (the plain `syscall(` pattern also matches rt_entersyscall and friends).
 * The ELF reader's file mapping goes through rt_sysMapFile. Libc calls
 * outside the memory, futex and thread-signalling families stay where
 * they are used: clock_gettime and nanosleep (time.c, sysmon.c),
 * sigaction and sigaltstack (fatal.c, preempt.c), sched_getaffinity and
 * sysconf (args.c), getpid (preempt.c). */
#ifndef GORT_OS_H
#define GORT_OS_H

#include <stddef.h>
#include <stdint.h>

/* ---- memory ---------------------------------------------------------------- */

/* Flags for rt_sysAlloc. A port may ignore both. */
enum {
    /* Sparse: the range will be touched here and there (a map indexed by
     * address, a stack chunk). Do not charge it against the commit limit
     * (Linux MAP_NORESERVE); pages still appear only when touched. */
    RT_SYS_NORESERVE = 1 << 0,
    /* The range will hold stacks (Linux MAP_STACK). */
    RT_SYS_STACK = 1 << 1,
};

/* Reserve n bytes of address space: None -> Reserved. Any access faults;
 * no memory and no commit charge are taken. hint is only a hint (NULL: the
 * kernel chooses); the result is page-aligned, no more. Returns the base,
 * or NULL with *err set (-ENOMEM: address space or mapping count
 * exhausted). */
void *rt_sysReserve(void *hint, size_t n, int *err);

/* Make [v, v+n), inside one reservation, readable and writable: Reserved ->
 * Ready. Pages never touched read as zero; they are committed one by one on
 * first touch. Returns 0, or -ENOMEM (commit limit, mapping count: every
 * call may split a mapping in two). */
int rt_sysMap(void *v, size_t n);

/* Reserve and map n bytes of zeroed, readable and writable memory in one
 * call: None -> Ready (runtime metadata, stack chunks, signal stacks).
 * flags: RT_SYS_*. Returns the page-aligned base, or NULL with *err set. */
void *rt_sysAlloc(size_t n, int flags, int *err);

/* Unmap [v, v+n) whatever its state: -> None. Part of a mapping may be
 * freed (trimming an over-sized reservation). Returns 0 or -EINVAL. */
int rt_sysFree(void *v, size_t n);

/* Give the pages of a Ready range back to the OS; the range stays Ready and
 * mapped. Contents are lost: the next read of any page returns zeros (the
 * heap's zero bitmap relies on it) and the next write faults in a fresh
 * page. No rt_sysUsed is needed before reuse on Linux. Returns 0 or
 * -errno; failure only leaves the pages resident. */
int rt_sysUnused(void *v, size_t n);

/* Ask the OS not to back [v, v+n) with transparent huge pages (a stack
 * chunk: a 2 MiB page would commit the first pages of many stacks at
 * once). Advisory: returns 0, or -EINVAL where unsupported; ignore it. */
int rt_sysNoHugePage(void *v, size_t n);

/* Make [v, v+n) fault on any access: Ready -> Reserved. On Linux the
 * contents stay (mprotect) but must not be relied on. Every call may split
 * a mapping (+2 towards vm.max_map_count). Returns 0 or -ENOMEM (mapping
 * count exhausted). */
int rt_sysFault(void *v, size_t n);

/* Turn n ranges [addrs[i], addrs[i]+len) of Ready anonymous memory into
 * guard regions: any access faults, the mapping is not split (no VMA cost),
 * contents are lost (Linux 6.13+ MADV_GUARD_INSTALL; batched into one
 * process_madvise call where the kernel allows). Returns 0 when all n are
 * guards, else the negative errno of the first range that failed (-EINVAL:
 * the kernel has no guard regions) with *ndone (if not NULL) = the number
 * of leading ranges that are guards. Not for concurrent use: callers
 * serialise (the stack pool holds its lock). */
int rt_sysGuardInstall(const uintptr_t *addrs, int n, size_t len, int *ndone);

/* Map n bytes of the file fd from offset 0, read-only and private (the ELF
 * reader of the fatal path). fd may be closed afterwards. Returns the base,
 * or NULL with *err set. */
const void *rt_sysMapFile(int fd, size_t n, int *err);

/* The kernel's limit on mappings per process (vm.max_map_count), or a
 * negative errno when it cannot be read. Reads /proc without stdio. */
long rt_sysMaxMapCount(void);

/* The most memory one object can ever be backed by, in bytes: what the
 * kernel's overcommit policy would let one mapping commit. Heuristic and
 * always-overcommit (vm.overcommit_memory 0 and 1): RAM + swap; strict
 * (2): CommitLimit. 0 when it cannot be read. */
uint64_t rt_sysCommitLimit(void);

/* ---- futexes (Go: futexsleep / futexwakeup) ----------------------------------- */

/* If *addr == val, sleep until woken by rt_futexwakeup on addr, until ns
 * nanoseconds have passed (ns < 0: no timeout), or spuriously. The check
 * and the sleep are atomic against rt_futexwakeup. Process-private.
 * Returns 0 (woken, or spurious), -EAGAIN (*addr != val), -ETIMEDOUT or
 * -EINTR; callers re-check their condition whatever the result. */
int rt_futexsleep(uint32_t *addr, uint32_t val, int64_t ns);

/* Wake up to cnt threads sleeping in rt_futexsleep on addr. Returns how
 * many were woken (>= 0), or a negative errno (a bad address: a runtime
 * bug; callers throw "futexwakeup failed"). */
int rt_futexwakeup(uint32_t *addr, int cnt);

/* ---- threads ----------------------------------------------------------------- */

/* The calling thread's kernel id (what rt_sysTgkill takes). */
int rt_sysGettid(void);
/* This thread's stack, [*lo, *hi) (pthread_getattr_np; for the main
 * thread it reads /proc/self/maps). 0, or -1 when unknown (*lo = *hi = 0). */
int rt_sysThreadStack(uintptr_t *lo, uintptr_t *hi);

/* Send signal sig to thread tid of process pid (getpid()). Returns 0 or
 * -errno (-ESRCH: the thread has exited). Async-signal-safe. */
int rt_sysTgkill(int pid, int tid, int sig);

/* Give up the CPU to another runnable thread (sched_yield). Also declared
 * in src/sched/sched.h, where it was defined before this layer existed. */
void rt_osyield(void);

#endif
