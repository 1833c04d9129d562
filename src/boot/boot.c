/* boot.c - bringing the runtime up, as Go's rt0_go does.
 *
 * gort owns main (libgort_main's main() -> gort__rt0_go in src/asm):
 *
 *   rt0 stub      records the main thread's stack top (M0's g0 stack)
 *   rt_args       argc, argv, envp, auxv (AT_RANDOM, AT_PAGESZ, AT_HWCAP)
 *   rt_osinit     ncpu from the affinity mask (the hwloc topology is
 *                 discovered later, in the background, by sysmon)
 *   rt_schedinit  self-check, options table (GORTDEBUG, GORTMAXPROCS,
 *                 GORTTRACEBACK, GORTSTACKSIZE), cpuinit (refuses to run
 *                 without required features), alginit (AES or portable
 *                 hash, keys from AT_RANDOM), checkfds, stackinit,
 *                 mallocinit (size classes, arena map), signals,
 *                 procresize(GORTMAXPROCS or ncpu), M0 takes P0
 *   newproc       the runtime main goroutine (goroutine 1)
 *   mstart        M0 enters schedule() and never returns
 *
 *   runtime_main  starts sysmon, runs GORT_INIT functions in dependency
 *                 order, calls gort_main; exit(its value) when it returns,
 *                 whatever other goroutines are doing.
 *
 * Embedded (gort_run): the first call boots the same way from the ELF
 * constructor's argc/argv/envp, except that no thread becomes M0: all Ps
 * start idle and Ms are created as goroutines become runnable. The calling
 * thread parks on a futex until its main goroutine returns.
 *
 * The process-wide state is set once; a second boot is a no-op. */
#include "boot.h"
#include "../gc/gc.h"
#include "../os/os.h"
#include "../sched/sched.h"
#include "../debug/debug.h"
#include "../stack/stack.h"
#include "../sysmon/sysmon.h"
#include "../alloc/malloc.h"
#include "../hash/hash.h"

#include <gort.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint32_t rt_booted;

GORT_API const char *gort_version(void) { return GORT_LIB_VERSION; }

/* ---- self-check (Go: runtime.check) --------------------------------------- */

void rt_selfcheck(void)
{
    _Static_assert(sizeof(int32_t) == 4 && sizeof(int64_t) == 8, "int sizes");
    _Static_assert(sizeof(void *) == 8, "gort needs a 64-bit target");
    _Static_assert(sizeof(rt_g *) == sizeof(uintptr_t), "pointer size");
    uint32_t z = 1;
    if (!rt_cas(&z, 1, 2) || z != 2)
        rt_throw("cas1");
    if (rt_cas(&z, 5, 6) || z != 2)
        rt_throw("cas2");
    uint64_t z64 = (uint64_t)1 << 40;
    if (rt_xadd(&z64, 1) != ((uint64_t)1 << 40) + 1)
        rt_throw("xadd64");
    if (rt_xchg(&z64, 7) != ((uint64_t)1 << 40) + 1 || z64 != 7)
        rt_throw("xchg64");
    int64_t t0 = rt_nanotime(), t1 = rt_nanotime();
    if (t0 <= 0 || t1 < t0)
        rt_throw("nanotime is not monotonic");
    if ((rt_pagesize & (rt_pagesize - 1)) != 0 || rt_pagesize < 4096)
        rt_throwf("unsupported page size %lu", (unsigned long)rt_pagesize);
    if (RT_ARCH_FRAME_SIZE % 16 != 0)
        rt_throw("bad saved-frame size");
}

/* checkfds: make sure 0, 1 and 2 are open, so a later open() cannot hand
 * out fd 2 and have runtime errors written into a user file. */
static void checkfds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (nfd < 0) {
            static const char msg[] = "runtime: cannot open /dev/null for a closed standard fd\n";
            (void)!write(2, msg, sizeof(msg) - 1);
            _exit(2);
        }
        if (nfd != fd) {
            dup2(nfd, fd);
            close(nfd);
        }
    }
}

static int64_t schedinit_start;

void rt_schedinit(bool m0_here)
{
    schedinit_start = rt_nanotime();
    if (rt_runtime_init_time == 0)
        rt_runtime_init_time = schedinit_start;
    rt_parsedebugvars();
    rt_selfcheck();
    rt_cpuinit();
    rt_alginit();
    if (rt_debug.inittrace)
        rt_alginit_trace();
    checkfds();
    rt_stackinit();
    rt_mallocinit_all();
    rt_gcinit();
    rt_initsig(m0_here);
    rt_preemptinit();
    int32_t procs = rt_ncpu;
    if (rt_debug.maxprocs_env > 0)
        procs = rt_debug.maxprocs_env;
    if (procs > GORT_MAXPROCS_LIMIT)
        procs = GORT_MAXPROCS_LIMIT;
    rt_schedinit_procs(procs);
    if (m0_here)
        rt_m0_init();
    rt_store(&rt_booted, 1);
}

/* ---- runtime main ------------------------------------------------------------- */

static int (*user_main)(int, char **);

/* Main goroutines get what a C main() expects: an 8 MiB stack (committed
 * lazily, so it costs only what is touched), or the default if larger. */
static int main_stack_order(void)
{
    int o = rt_stack_order_for((size_t)8 << 20);
    return o > rt_stack_default_order ? o : rt_stack_default_order;
}
static uint32_t inits_ran;
static uint32_t inits_sema; /* waiters for a concurrent first init */

static void runtime_inits(void)
{
    /* The first main goroutine runs the inits; others wait for them. */
    if (rt_cas(&inits_ran, 0, 1)) {
        if (rt_debug.inittrace)
            rt_inittrace_line("runtime", schedinit_start, rt_nanotime(), 0, 0);
        rt_sysmon_start();
        rt_gcenable();
        rt_doinits();
        rt_store(&inits_ran, 2);
        rt_semrelease(&inits_sema, false);
        return;
    }
    while (rt_load(&inits_ran) != 2) {
        rt_semacquire(&inits_sema, false, WR_SEMACQUIRE);
        rt_semrelease(&inits_sema, false);
    }
}

static void runtime_main(void *arg)
{
    (void)arg;
    rt_main_started(1);
    runtime_inits();
    int ret = user_main(rt_argc, rt_argv);
    rt_malloc_exitcheck();
    fflush(NULL);
    exit(ret);
}

int rt_bootstrap(int argc, char **argv, char **envp, int (*umain)(int, char **), void *g0_sp)
    __attribute__((used));
/* gort_main when a constructor's gort_run booted the runtime first: the
 * main goroutine of a gort_run that never returns (exit ends the process).
 * It drops gort_run's wake-up, so a gort_goexit here behaves as in
 * goroutine 1 of a normal boot: the program runs until the others end. */
static void ctor_booted_main(void *arg)
{
    (void)arg;
    rt_curg()->mainrun = NULL;
    int ret = user_main(rt_argc, rt_argv);
    rt_malloc_exitcheck();
    fflush(NULL);
    exit(ret);
}

int rt_bootstrap(int argc, char **argv, char **envp, int (*umain)(int, char **), void *g0_sp)
{
    if (rt_load(&rt_booted)) {
        /* A constructor called gort_run before main() (issue 12): the
         * runtime is already up, embedded, with no M0. This thread runs no
         * goroutines; it waits, as gort_run's caller does, while gort_main
         * runs as a main goroutine and exits the process. */
        user_main = umain;
        gort_run(ctor_booted_main, NULL);
        for (;;)
            pause();
    }
    rt_args(argc, argv, envp);
    rt_osinit();
    rt_schedinit(true);
    user_main = umain;
    rt_newproc(runtime_main, NULL, (uintptr_t)__builtin_return_address(0), main_stack_order(), false);
    rt_mstart_m0(g0_sp);
}

/* ---- embedding: gort_run ------------------------------------------------------ */

static int ctor_argc;
static char **ctor_argv, **ctor_envp;

/* glibc passes (argc, argv, envp) to ELF constructors. */
__attribute__((constructor)) static void rt_args_ctor(int argc, char **argv, char **envp)
{
    ctor_argc = argc;
    ctor_argv = argv;
    ctor_envp = envp;
}

static void boot_embedded(void)
{
    if (rt_load(&rt_booted))
        return; /* gort owns main and is already up */
    rt_args(ctor_argc, ctor_argv, ctor_envp);
    rt_osinit();
    rt_schedinit(false);
    rt_noM0_init();
}

typedef struct runarg {
    void (*fn)(void *);
    void *arg;
    rt_note done;
} runarg;

/* Signal gort_run's thread when its main goroutine ends, by return or by
 * gort_goexit. */
void rt_main_goexit_hook(rt_g *gp)
{
    runarg *ra = gp->mainrun;
    if (ra == NULL)
        return;
    gp->mainrun = NULL;
    rt_main_started(-1);
    rt_notewakeup(&ra->done);
}

static void run_main(void *arg)
{
    runarg *ra = arg;
    rt_g *gp = rt_curg();
    gp->mainrun = ra;
    rt_main_started(1);
    runtime_inits();
    ra->fn(ra->arg);
    rt_main_goexit_hook(gp);
}

/* The top (highest address) of this thread's stack, or 0 if unknown.
 * pthread_getattr_np reads /proc/self/maps for the main thread: once per
 * thread is enough. */
static uintptr_t callerstacktop(void)
{
    static __thread uintptr_t top;
    uintptr_t lo;
    if (top == 0)
        rt_sysThreadStack(&lo, &top);
    return top;
}

GORT_API int gort_run(void (*fn)(void *), void *arg)
{
    if (fn == NULL)
        return -EINVAL;
    if (rt_load(&rt_booted) && rt_curg() != NULL)
        return -EDEADLK;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (!rt_load(&rt_booted))
        pthread_once(&once, boot_embedded);
    runarg ra = {fn, arg, {0}};
    /* While it waits, the caller's frames above this one may hold gort
     * pointers (allocated before or by earlier gort_run calls): a root. */
    uintptr_t top = callerstacktop(), here = (uintptr_t)__builtin_frame_address(0);
    if (top > here)
        rt_gc_addroot_internal((void *)here, top - here);
    rt_newproc(run_main, &ra, (uintptr_t)__builtin_return_address(0), main_stack_order(), false);
    rt_notesleep(&ra.done);
    if (top > here)
        rt_gc_removeroot_internal((void *)here);
    return 0;
}
