/* fatal.c - how the runtime dies (Go: panic.go throw/fatal/fatalpanic,
 * traceback.go, signal_unix.go sighandler).
 *
 * Three entry points, one path (die):
 *   rt_panic(msg)  "panic: msg" - Go's unrecovered panic: a misuse the
 *                  program made (go of nil func, negative WaitGroup counter).
 *                  Prints the current goroutine (all with GORTTRACEBACK=all).
 *   rt_fatal(msg)  "fatal error: msg" - a fault Go reports with fatal():
 *                  deadlock, unlock of unlocked mutex. Prints every goroutine.
 *   rt_throw(msg)  "fatal error: msg" - a broken runtime invariant.
 * All exit with status 2 (GORTTRACEBACK=crash: abort, for a core dump).
 * The first M to die prints; any other M that dies meanwhile blocks
 * forever, so two messages never interleave. Printing is malloc-free
 * (stack buffer + write(2)) so it works from signal handlers and with the
 * heap corrupted.
 *
 * Goroutine dumps follow Go's layout:
 *     goroutine 1 [semacquire]:
 *     gort_wg_wait(...)
 *             /usr/lib/libgort.so.0 +0x1a2b
 *     main_worker(...)
 *             /path/prog +0x1149
 *     created by gort_main
 *             /path/prog +0x11c0
 * The running goroutine is unwound with libgcc's unwinder (works without
 * frame pointers and through the signal frame of a stack overflow). A
 * parked goroutine is walked by frame pointers from its saved context:
 * libgort is built with them, so frames stay readable at least down to the
 * user function that blocked; build your code with -fno-omit-frame-pointer
 * for full traces. Leading runtime-internal frames are hidden unless
 * GORTTRACEBACK=system, as Go hides runtime.* frames.
 *
 * SIGQUIT (if the program left it at its default, or inherited it ignored
 * while gort owns main, as Go): "SIGQUIT: quit" and a dump of every
 * goroutine with its wait reason, exit status 2, as Go. The dump stops
 * nobody: a goroutine running on another thread is printed as running,
 * without its stack, so spinning goroutines cannot hold the report up.
 *
 * Every fatal report exits within 5 s of its last progress (a SIGALRM
 * watchdog, re-armed per goroutine printed), so a report that blocks on
 * something (a loader lock) still ends the process with status 2.
 *
 * Signals (handlers run on each M's alternate signal stack; each installed
 * only where the program left the default), as Go's sighandler/sigpanic:
 *   SIGSEGV, SIGBUS  in a goroutine's guard page: "fatal error: stack
 *                    overflow"; below 4 KiB: the nil-dereference panic;
 *                    elsewhere: "unexpected fault address 0x..." and
 *                    "fatal error: fault" (every goroutine);
 *   SIGFPE           "panic: runtime error: integer divide by zero" (or
 *                    integer overflow, floating point error);
 *   SIGILL           "SIGILL: illegal instruction", PC line, every goroutine;
 *   SIGABRT          "SIGABRT: abort", PC line, every goroutine, then the
 *                    process dies of SIGABRT (core dumps keep working);
 * each with Go's "[signal SIGxxx: ... code= addr= pc=]" line where Go
 * prints one. A fault on a thread gort does not run goroutines on goes to
 * the previous disposition. GORTTRACEBACK=crash aborts after the report. */
#include "debug.h"
#include "../sched/sched.h"
#include "../boot/boot.h"
#include "../stack/stack.h"
#include "../os/os.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>
#include <unwind.h>

enum { DIE_PANIC, DIE_FATAL, DIE_THROW };

/* ---- printing ------------------------------------------------------------------ */

void rt_vprintf(const char *fmt, va_list ap)
{
    char buf[1024];
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(buf))
        n = sizeof(buf) - 1;
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(2, p, (size_t)n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        n -= (int)w;
    }
}

void rt_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rt_vprintf(fmt, ap);
    va_end(ap);
}

/* ---- frames --------------------------------------------------------------------- */

#define MAXFRAMES 100

static bool is_public(const char *name) { return name != NULL && strncmp(name, "gort_", 5) == 0; }

static void printframe(uintptr_t pc, bool retaddr)
{
    rt_syminfo si;
    /* A return address points after the call: look up pc-1 so the frame
     * is attributed to the calling function. */
    if (rt_symbolize(retaddr ? pc - 1 : pc, &si)) {
        rt_printf("%s(...)\n\t%s +0x%lx\n", si.name ? si.name : "?", si.module,
                  (unsigned long)(si.modoff + (retaddr ? 1 : 0)));
    } else {
        rt_printf("?(...)\n\t? pc=0x%lx\n", (unsigned long)pc);
    }
}

/* Print frames[0..n), hiding leading runtime-internal ones (everything
 * before the first public gort_ function) unless GORTTRACEBACK=system. */
static void printframes(const uintptr_t *pcs, int n, int first_is_pc, bool truncated)
{
    int start = 0;
    if (rt_debug.traceback < RT_TB_SYSTEM) {
        for (int i = 0; i < n; i++) {
            rt_syminfo si;
            if (rt_symbolize(i == 0 && first_is_pc ? pcs[i] : pcs[i] - 1, &si) && is_public(si.name)) {
                start = i;
                break;
            }
        }
    }
    for (int i = start; i < n; i++)
        printframe(pcs[i], !(i == 0 && first_is_pc));
    if (truncated)
        rt_printf("...additional frames elided...\n");
}

typedef struct unwstate {
    uintptr_t pcs[MAXFRAMES];
    int n;
    bool truncated;
} unwstate;

static _Unwind_Reason_Code unwind_cb(struct _Unwind_Context *ctx, void *arg)
{
    unwstate *st = arg;
    uintptr_t pc = (uintptr_t)_Unwind_GetIP(ctx);
    if (pc == 0)
        return _URC_END_OF_STACK;
    if (st->n == MAXFRAMES) {
        st->truncated = true;
        return _URC_END_OF_STACK;
    }
    st->pcs[st->n++] = pc;
    return _URC_NO_REASON;
}

/* The calling thread's own stack, from here. */
static void traceback_self(int skip)
{
    unwstate st = {.n = 0};
    _Unwind_Backtrace(unwind_cb, &st);
    if (skip > st.n)
        skip = st.n;
    printframes(st.pcs + skip, st.n - skip, 0, st.truncated);
}

/* A goroutine that is not running: walk frame pointers from its context. */
/* (It reads another goroutine's stack without stopping anybody: during a
 * fatal report that goroutine may be running still, and the racy read is
 * the point. ThreadSanitizer is told so, as for schedtrace.) */
__attribute__((no_sanitize("thread"))) static void traceback_parked(rt_g *gp)
{
    uintptr_t sp = (uintptr_t)gp->sp;
    uintptr_t lo = gp->stk.lo, hi = gp->stk.hi;
    if (sp < lo || sp + RT_ARCH_FRAME_SIZE > hi)
        return;
    uintptr_t pcs[MAXFRAMES];
    int n = 0;
    pcs[n++] = *(uintptr_t *)(sp + RT_ARCH_FRAME_PC);
    uintptr_t fp = *(uintptr_t *)(sp + RT_ARCH_FRAME_FP);
    bool truncated = false;
    while (fp >= sp && fp + 16 <= hi && (fp & 7) == 0) {
        uintptr_t ret = ((uintptr_t *)fp)[1];
        uintptr_t next = ((uintptr_t *)fp)[0];
        if (ret == 0)
            break;
        if (n == MAXFRAMES) {
            truncated = true;
            break;
        }
        pcs[n++] = ret;
        if (next <= fp)
            break;
        fp = next;
    }
    printframes(pcs, n, 0, truncated);
}

static void print_created_by(rt_g *gp)
{
    if (gp->gopc == 0 || gp->goid == 1)
        return;
    rt_syminfo si;
    if (rt_symbolize(gp->gopc - 1, &si))
        rt_printf("created by %s\n\t%s +0x%lx\n", si.name ? si.name : "?", si.module,
                  (unsigned long)si.modoff + 1);
}

/* "goroutine N [running]:", the frames of this thread (skipping `skip` of
 * the caller's), "created by". Always inlined: the skip counts are the
 * caller's frames. */
static inline __attribute__((always_inline)) void print_running(rt_g *gp, int skip)
{
    rt_printf("goroutine %lld [running]:\n", (long long)gp->goid);
    traceback_self(skip);
    print_created_by(gp);
}

static const char *statusname(rt_g *gp, uint32_t s)
{
    switch (s) {
    case G_IDLE:
        return "idle";
    case G_RUNNABLE:
        return "runnable";
    case G_RUNNING:
        return "running";
    case G_SYSCALL:
        return "syscall";
    case G_WAITING:
        return gp->waitreason < WR_COUNT && gp->waitreason != WR_ZERO ? rt_waitreason_names[gp->waitreason]
                                                                      : "waiting";
    case G_DEAD:
        return "dead";
    default:
        return "???";
    }
}

__attribute__((no_sanitize("thread"))) void rt_dump_goroutine(rt_g *gp, bool running_here)
{
    uint32_t s = rt_readgstatus(gp);
    rt_printf("goroutine %lld [%s", (long long)gp->goid, statusname(gp, s));
    if (gp->lockedm != NULL)
        rt_printf(", locked to thread");
    rt_printf("]:\n");
    if (running_here) {
        traceback_self(0);
    } else if (s == G_RUNNING || s == G_SYSCALL) {
        rt_printf("\tgoroutine running on other thread; stack unavailable\n");
    } else if (!gp->started) {
        rt_syminfo si;
        if (gp->fn != NULL && rt_symbolize((uintptr_t)gp->fn, &si))
            rt_printf("%s(...)\n\t%s +0x%lx\n", si.name ? si.name : "?", si.module, (unsigned long)si.modoff);
    } else {
        traceback_parked(gp);
    }
    print_created_by(gp);
}

typedef struct dumpall {
    rt_g *except;
} dumpall;

static uint32_t dying;
static void dying_progress(void);

static bool dump_one(rt_g *gp, void *arg)
{
    dumpall *d = arg;
    uint32_t s = rt_readgstatus(gp);
    if (gp == d->except || s == G_IDLE || s == G_DEAD)
        return true;
    if (gp->sysg && rt_debug.traceback < RT_TB_SYSTEM)
        return true;
    if (rt_load_relaxed(&dying))
        dying_progress();
    rt_printf("\n");
    rt_dump_goroutine(gp, false);
    return true;
}

void rt_dump_all(rt_g *except)
{
    dumpall d = {except};
    rt_foreachg(dump_one, &d);
}

/* ---- dying ------------------------------------------------------------------------ */

__attribute__((noreturn)) static void finish(void)
{
    if (rt_debug.traceback >= RT_TB_CRASH) {
        signal(SIGABRT, SIG_DFL);
        abort();
    }
    _exit(2);
}

#define DYING_TIMEOUT_S 5
#define STR_(x) #x
#define STR(x) STR_(x)

static void dying_timeout(int sig)
{
    (void)sig;
    static const char msg[] = "\nruntime: fatal error report made no progress for " STR(DYING_TIMEOUT_S) " s; exiting\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    finish();
}

/* The report moved on (a goroutine printed): push the deadline back, so a
 * long dump (a million goroutines) is not cut, only a stuck one. */
static void dying_progress(void)
{
    struct itimerval it = {.it_value = {.tv_sec = DYING_TIMEOUT_S}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void enter_dying(void)
{
    if (rt_xchg(&dying, 1) != 0) {
        /* Another M is already printing its fatal error: wait for exit. */
        for (;;)
            pause();
    }
    /* The report reads other goroutines' stacks and the symbol tables
     * without stopping anybody; should it ever block (a loader lock held
     * by a thread that cannot run, say), the process still exits with
     * status 2 within DYING_TIMEOUT_S seconds. SIGALRM is the program's,
     * but the program is dying. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = dying_timeout;
    sigfillset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    dying_progress();
}

/* The body of every fatal path. cur: the user G running here, if any. */
__attribute__((noreturn)) static void die(int kind, const char *msg, int skipframes)
{
    enter_dying();
    rt_g *g = rt_getg();
    rt_m *mp = g != NULL ? g->m : NULL;
    rt_g *cur = rt_curg();
    if (mp != NULL)
        mp->throwing = 1;
    if (kind == DIE_PANIC)
        rt_printf("panic: %s\n", msg);
    else
        rt_printf("fatal error: %s\n", msg);
    int level = rt_debug.traceback;
    if (level > RT_TB_NONE) {
        if (cur != NULL) {
            rt_printf("\n");
            print_running(cur, skipframes);
        }
        if (kind != DIE_PANIC || level >= RT_TB_ALL || cur == NULL)
            rt_dump_all(cur);
    }
    finish();
}

void rt_throw(const char *msg) { die(DIE_THROW, msg, 1); }
void rt_fatal(const char *msg) { die(DIE_FATAL, msg, 1); }
void rt_panic(const char *msg) { die(DIE_PANIC, msg, 1); }

void rt_throwf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    die(DIE_THROW, buf, 1);
}

void rt_assert_fail(const char *cond, const char *file, int line)
{
    rt_throwf("assertion failed: %s (%s:%d)", cond, file, line);
}

static void overflow_message(rt_g *gp, uintptr_t sp)
{
    rt_printf("runtime: goroutine stack exceeds %lu-byte limit\n", (unsigned long)(gp->stk.hi - gp->stk.lo));
    rt_printf("runtime: sp=0x%lx stack=[0x%lx, 0x%lx]\n", (unsigned long)sp, (unsigned long)gp->stk.lo,
              (unsigned long)gp->stk.hi);
}

void rt_stack_overflow_canary(rt_g *gp)
{
    enter_dying();
    overflow_message(gp, rt_arch_getsp());
    rt_printf("fatal error: stack overflow (canary at the stack's low end was overwritten; "
              "stackguard=canary mode)\n\n");
    print_running(gp, 1);
    if (rt_debug.traceback >= RT_TB_ALL)
        rt_dump_all(gp);
    finish();
}

/* ---- signals ---------------------------------------------------------------------- */

#define ALTSTACK_SIZE (64 * 1024)

/* The dispositions gort replaced (a fault on a thread gort does not run
 * goroutines on goes there). */
static struct sigaction oldact[NSIG];

/* Go's names (signal_linux.go sigtable), printed as "SIGSEGV: segmentation
 * violation" in the [signal ...] line and at the head of a dump. */
static const char *signame(int sig)
{
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV: segmentation violation";
    case SIGBUS:
        return "SIGBUS: bus error";
    case SIGFPE:
        return "SIGFPE: floating-point exception";
    case SIGILL:
        return "SIGILL: illegal instruction";
    case SIGABRT:
        return "SIGABRT: abort";
    case SIGQUIT:
        return "SIGQUIT: quit";
    default:
        return "signal";
    }
}

static void chain(int sig, siginfo_t *info, void *uctx)
{
    struct sigaction *old = &oldact[sig];
    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction != NULL) {
        old->sa_sigaction(sig, info, uctx);
        return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN && old->sa_handler != NULL) {
        old->sa_handler(sig);
        return;
    }
    /* Default action: re-raise on return with the default disposition. */
    signal(sig, SIG_DFL);
}

static bool find_smashed(rt_g *gp, void *arg)
{
    rt_g **out = arg;
    uint32_t s = rt_readgstatus(gp);
    if (s == G_IDLE || s == G_DEAD || gp->stk.hi == 0 || gp->stk.guard != RT_GUARD_CANARY)
        return true;
    if (!rt_stack_canary_ok(&gp->stk)) {
        *out = gp;
        return false;
    }
    return true;
}

/* In canary mode an overflow can run into a neighbouring stack and crash
 * somewhere else later: name the goroutine whose canary is gone. */
static rt_g *smashed_canary(void)
{
    rt_g *found = NULL;
    if (rt_stack_guard_mode() == RT_GUARD_CANARY)
        rt_foreachg(find_smashed, &found);
    return found;
}

/* Synchronous faults: SIGSEGV, SIGBUS, SIGFPE. In a goroutine, Go's
 * sigpanic; elsewhere, the program's handler or the default. */
static void sighandler(int sig, siginfo_t *info, void *uctx)
{
    ucontext_t *uc = uctx;
    uintptr_t addr = (uintptr_t)info->si_addr;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    rt_g *g = rt_getg();
    rt_m *mp = g != NULL ? g->m : NULL;
    rt_g *gp = rt_curg();
    if (rt_load(&dying)) {
        chain(sig, info, uctx);
        return;
    }
    rt_g *smashed = smashed_canary();
    if (gp == NULL && smashed == NULL) {
        chain(sig, info, uctx);
        return;
    }
    enter_dying();
    if (mp != NULL)
        mp->throwing = 1;
    if (smashed != NULL && smashed != gp) {
        rt_printf("runtime: goroutine %lld overflowed its stack [0x%lx, 0x%lx) (canary overwritten)\n",
                  (long long)smashed->goid, (unsigned long)smashed->stk.lo, (unsigned long)smashed->stk.hi);
        rt_printf("fatal error: stack overflow\n\n");
        rt_dump_goroutine(smashed, false);
        finish();
    }
    /* Overflow: the fault is in the guard page, or the stack pointer has
     * left the stack downwards (a canary-mode stack has no guard to hit). */
    bool overflow = false;
    if (gp->stk.hi != 0) {
        /* A touch of the guard page (a faulting push leaves sp at lo), or
         * the stack pointer below the stack: canary mode has no guard to
         * hit, so anywhere down to just below the stack's chunk. */
        uintptr_t base = rt_stack_chunk_base(gp->stk.lo);
        overflow = (addr >= gp->stk.lo - 4096 && addr < gp->stk.lo) ||
                   (sp < gp->stk.lo && (gp->stk.lo - sp < gp->stk.hi - gp->stk.lo ||
                                        (base != 0 && sp + 65536 >= base)));
    }
    /* Go's sigpanic, case by case: a fault below 4 KiB is a nil
     * dereference (a panic); any other fault address is "unexpected fault
     * address" and a throw (all goroutines); SIGFPE is a divide panic. */
    bool all = rt_debug.traceback >= RT_TB_ALL;
    if (overflow) {
        overflow_message(gp, sp);
        rt_printf("fatal error: stack overflow\n");
    } else {
        if (sig == SIGFPE) {
            rt_printf("panic: runtime error: %s\n", info->si_code == FPE_INTDIV   ? "integer divide by zero"
                                                   : info->si_code == FPE_INTOVF ? "integer overflow"
                                                                                 : "floating point error");
        } else if (addr < 4096) {
            rt_printf("panic: runtime error: invalid memory address or nil pointer dereference\n");
        } else {
            rt_printf("unexpected fault address 0x%lx\n", (unsigned long)addr);
            rt_printf("fatal error: fault\n");
            all = true;
        }
        rt_printf("[signal %s code=0x%x addr=0x%lx pc=0x%lx]\n", signame(sig), info->si_code,
                  (unsigned long)addr, (unsigned long)pc);
    }
    if (rt_debug.traceback > RT_TB_NONE) {
        /* Unwinds through the signal frame into the goroutine's stack;
         * skip our own two frames and the kernel's sigreturn trampoline. */
        rt_printf("\n");
        print_running(gp, 3);
        if (all)
            rt_dump_all(gp);
    }
    finish();
}

/* Signals Go throws on (the _SigThrow path of sighandler): SIGQUIT, a
 * SIGILL in a goroutine, SIGABRT. "SIGQUIT: quit" (Go's name), the PC line,
 * then every goroutine with its wait reason; exit status 2, except that
 * SIGABRT then dies by SIGABRT, as a C program's abort() must (core dumps,
 * a parent's WTERMSIG). See rt_initsig for when each is installed. */
static void sigthrow(int sig, siginfo_t *info, void *uctx)
{
    ucontext_t *uc = uctx;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    rt_g *g = rt_getg();
    rt_m *mp = g != NULL ? g->m : NULL;
    rt_g *gp = rt_curg();
    if (sig == SIGILL && (rt_load(&dying) || gp == NULL)) {
        chain(sig, info, uctx); /* not a goroutine's: the program's or the default */
        return;
    }
    if (sig == SIGABRT && rt_load(&dying)) { /* abort() inside a fatal report */
        signal(SIGABRT, SIG_DFL);
        return;
    }
    enter_dying();
    if (mp != NULL)
        mp->throwing = 1;
    rt_printf("%s\n", signame(sig));
    rt_printf("PC=0x%lx m=%lld sigcode=%d\n", (unsigned long)pc, (long long)(mp != NULL ? mp->id : -1),
              info->si_code);
    if (rt_debug.traceback > RT_TB_NONE) {
        if (gp != NULL) {
            rt_printf("\n");
            print_running(gp, 3);
        }
        rt_dump_all(gp);
    }
    if (sig == SIGABRT) {
        /* Die of the signal itself: default disposition, and the raise is
         * delivered when this handler returns (the mask blocks it until
         * then); abort() would do the same if we returned to it. */
        signal(SIGABRT, SIG_DFL);
        raise(SIGABRT);
        return;
    }
    finish();
}

void rt_initsig(bool owns_main)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigfillset(&sa.sa_mask);
    /* Faults and throw signals get gort's handler only where the program
     * left the default disposition (its own handler wins). */
    static const struct {
        int sig;
        void (*h)(int, siginfo_t *, void *);
    } table[] = {
        {SIGSEGV, sighandler}, {SIGBUS, sighandler}, {SIGFPE, sighandler},
        {SIGILL, sigthrow},    {SIGABRT, sigthrow},  {SIGQUIT, sigthrow},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        int sig = table[i].sig;
        struct sigaction cur;
        if (sigaction(sig, NULL, &cur) != 0 || (cur.sa_flags & SA_SIGINFO))
            continue;
        /* SIGQUIT: as Go, also when the program was started with it
         * ignored (a background job of a non-interactive shell inherits
         * SIG_IGN for SIGINT and SIGQUIT; Go keeps only SIGHUP and SIGINT
         * ignored), but only when gort owns main: an embedding program
         * that ignores SIGQUIT may mean it. */
        if (cur.sa_handler != SIG_DFL && !(sig == SIGQUIT && owns_main && cur.sa_handler == SIG_IGN))
            continue;
        sa.sa_sigaction = table[i].h;
        sigaction(sig, &sa, &oldact[sig]);
    }
    /* Load the unwinder's frame tables now, not inside a signal handler. */
    unwstate st = {.n = 0};
    _Unwind_Backtrace(unwind_cb, &st);
}

void rt_minitsignals(rt_m *mp)
{
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE) && cur.ss_size >= ALTSTACK_SIZE / 2)
        return; /* the thread already has one (e.g. the program's) */
    void *p = rt_sysAlloc(ALTSTACK_SIZE, 0, NULL);
    if (p == NULL)
        return;
    stack_t ss = {.ss_sp = p, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) == 0)
        mp->altstack = p;
    else
        rt_sysFree(p, ALTSTACK_SIZE);
}
