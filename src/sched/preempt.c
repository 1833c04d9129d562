/* preempt.c - asynchronous preemption (Go: preempt.go, signal_unix.go
 * doSigPreempt / isAsyncSafePoint, preempt_amd64.s).
 *
 * A goroutine that runs for 10 ms without passing through the scheduler
 * (a tight loop that calls nothing) would hold its P for ever. sysmon's
 * retake notices (the P's schedtick has not moved for 10 ms), sets the G's
 * preempt flag and sends SIGURG to the M running it (tgkill; at most once
 * a millisecond per P). The handler decides whether the interrupted point
 * is an async-safe point:
 *   - the thread runs that very goroutine (m->curg), which is _Grunning,
 *     holds a P, has its preempt flag set, and the M holds no runtime lock
 *     (m->locks == 0: this also covers user callbacks the runtime makes
 *     while it holds one);
 *   - the goroutine did not opt out (gort_preempt_off);
 *   - the PC is in the main executable's code: not in libgort, not in libc,
 *     the dynamic loader, the vDSO or any other shared library (code whose
 *     locks and invariants we cannot see);
 *   - the goroutine's stack has room (16 KiB) for the trampoline's frame.
 * If not, the handler returns and sysmon asks again later. If it is, the
 * handler makes the goroutine call rt_asyncpreempt_asm when the signal
 * returns (src/asm/preempt_*.S: the frame goes below the red zone), which
 * saves every register incl. the vector state (XSAVE), calls
 * rt_asyncpreempt2 to yield, and returns to the interrupted instruction.
 *
 * The preempted goroutine resumes on the same thread: the code it was in
 * may hold the address of a thread-local variable (errno, say) in a
 * register, which another thread would make wrong. So rt_asyncpreempt2
 * wires it to its M for the yield (as lockOSThread does), and the M hands
 * its P on while it waits (two futex wake-ups per preemption, at most one
 * preemption per 10 ms).
 *
 * Off: in sanitizer builds (their runtimes are linked into the executable,
 * so "in the executable" does not mean "user code"), under Valgrind, when
 * libgort is linked statically (same reason), when the program installed
 * its own SIGURG handler, and with GORTDEBUG=asyncpreemptoff=1. The
 * goroutine then yields at its next gort call that checks the flag. */
#include "sched.h"
#include "../boot/boot.h"
#include "../debug/debug.h"
#include "../os/os.h"

#include <errno.h>
#include <gort.h>
#include <link.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>
#include <cpuid.h>

#if defined(GORT_VALGRIND)
#include <valgrind/valgrind.h>
#endif

void rt_asyncpreempt_asm(void);
void rt_asyncpreempt2(void) __attribute__((used));

/* Read by the trampoline. */
uint32_t rt_xsave_size = 512;
uint8_t rt_have_xsave;

static uintptr_t exe_lo, exe_hi; /* executable segments of the main program */
static bool async_on;
static pid_t pid;

#define PREEMPT_STACK_ROOM (16 * 1024)

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    /* The first object is the main program. */
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < lo)
            lo = a;
        if (a + ph->p_memsz > hi)
            hi = a + ph->p_memsz;
    }
    exe_lo = lo;
    exe_hi = hi;
    return 1; /* stop after the first */
}

static inline bool in_exe(uintptr_t pc) { return pc >= exe_lo && pc < exe_hi; }

static void sigurg(int sig, siginfo_t *info, void *uctx)
{
    (void)sig;
    (void)info;
    int saved = errno;
    ucontext_t *uc = uctx;
    rt_g *gp = rt_getg();
    rt_m *mp = gp != NULL ? gp->m : NULL;
    if (mp == NULL || gp == mp->g0 || rt_load_relaxed(&mp->curg) != gp || mp->p == NULL)
        goto out;
    if (!rt_load_relaxed(&gp->preempt) || rt_readgstatus(gp) != G_RUNNING || mp->locks != 0 ||
        gp->preemptoff != 0 || mp->throwing != 0)
        goto out;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    if (!in_exe(pc))
        goto out; /* not user code: try again at the next request */
    /* iretq frame below the red zone, 16-aligned */
    uintptr_t frame = (sp - 128 - 5 * 8) & ~(uintptr_t)15;
    if (gp->stk.hi == 0 || frame < gp->stk.lo + PREEMPT_STACK_ROOM || sp > gp->stk.hi)
        goto out;
    uint64_t cs, ss;
    __asm__ volatile("movq %%cs, %0" : "=r"(cs));
    __asm__ volatile("movq %%ss, %0" : "=r"(ss));
    uint64_t *f = (uint64_t *)frame;
    f[0] = pc;
    f[1] = cs;
    f[2] = (uint64_t)uc->uc_mcontext.gregs[REG_EFL];
    f[3] = sp;
    f[4] = ss;
    uc->uc_mcontext.gregs[REG_RSP] = (greg_t)frame;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)rt_asyncpreempt_asm;
out:
    errno = saved;
}

/* Called by the trampoline, on the preempted goroutine's stack, with all of
 * its registers saved: yield, staying on this thread. */
void rt_asyncpreempt2(void)
{
    rt_g *gp = rt_getg();
    rt_m *mp = gp->m;
    bool wire = gp->lockedm == NULL;
    if (wire) {
        gp->lockedm = mp;
        mp->lockedg = gp;
    }
    rt_gosched();
    if (wire) {
        rt_m *now = gp->m;
        if (now != mp)
            rt_throw("asyncpreempt: goroutine resumed on another thread");
        now->lockedg = NULL;
        gp->lockedm = NULL;
    }
}

void rt_preemptinit(void)
{
    pid = getpid();
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 26)) && (c & (1u << 27))) {
        unsigned a2, b2, c2, d2;
        __cpuid_count(0xd, 0, a2, b2, c2, d2);
        if (b2 >= 576) {
            rt_have_xsave = 1;
            rt_xsave_size = b2;
        }
    }
    if (!rt_have_xsave)
        rt_xsave_size = 512;
    rt_xsave_size += 64; /* room for the 64-byte alignment */
#if defined(GORT_ASAN) || defined(GORT_TSAN)
    return;
#endif
#if defined(GORT_VALGRIND)
    if (RUNNING_ON_VALGRIND)
        return;
#endif
    if (rt_debug.asyncpreemptoff)
        return;
    dl_iterate_phdr(phdr_cb, NULL);
    if (exe_hi == 0 || in_exe((uintptr_t)rt_preemptinit) || in_exe((uintptr_t)&write))
        return; /* libgort or libc inside the executable: we could not tell them apart */
    struct sigaction cur;
    if (sigaction(SIGURG, NULL, &cur) != 0 || (cur.sa_flags & SA_SIGINFO) || cur.sa_handler != SIG_DFL)
        return; /* the program's own SIGURG */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = sigurg;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(SIGURG, &sa, NULL) == 0)
        rt_store(&async_on, true);
}

/* sysmon: ask gp (running on mp) to yield; signal its thread. */
void rt_preemptone(rt_m *mp, rt_g *gp)
{
    rt_store_relaxed(&gp->preempt, true);
    int tid = rt_load_relaxed(&mp->tid);
    if (rt_load_relaxed(&async_on) && tid > 0)
        rt_sysTgkill(pid, tid, SIGURG);
}

GORT_API void gort_preempt_off(void)
{
    rt_g *gp = rt_curg();
    if (gp != NULL)
        gp->preemptoff++;
}

GORT_API void gort_preempt_on(void)
{
    rt_g *gp = rt_curg();
    if (gp != NULL && gp->preemptoff > 0)
        gp->preemptoff--;
}
