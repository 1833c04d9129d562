/* src/debug/debug.h - fatal errors, tracebacks, signals (Go: panic.go's
 * throw/fatalpanic, traceback.go, signal_unix.go). Design in fatal.c. */
#ifndef GORT_DEBUG_H
#define GORT_DEBUG_H

#include <stdarg.h>
#include <stdint.h>
#include <stdbool.h>

struct rt_g;
struct rt_m;

/* Traceback levels (GORTTRACEBACK): none=0, single=1, all=2, system=3 (all
 * with runtime goroutines), crash=4 (system, then SIGABRT for a core). */
enum { RT_TB_NONE = 0, RT_TB_SINGLE = 1, RT_TB_ALL = 2, RT_TB_SYSTEM = 3, RT_TB_CRASH = 4 };

/* "fatal error: msg" + goroutine dump, exit status 2. For broken invariants
 * and misuse Go reports with throw/fatal. Never returns. */
__attribute__((noreturn)) void rt_throw(const char *msg);
__attribute__((noreturn, format(printf, 1, 2))) void rt_throwf(const char *fmt, ...);
/* "panic: msg" + "[recovered]"-less dump, exit status 2: Go's unrecovered
 * panic (send on closed channel, negative WaitGroup counter, ...). */
__attribute__((noreturn)) void rt_panic(const char *msg);
/* "fatal error: msg" where the condition is the user's (deadlock): dumps
 * all goroutines as Go does for that case. */
__attribute__((noreturn)) void rt_fatal(const char *msg);

/* The debug tier (CMake GORT_DEBUG, as mimalloc's MI_DEBUG):
 *   0  release: rt_assert compiles to nothing;
 *   1  rt_assert(cond) checks cond and throws "assertion failed: cond";
 *   2  also the expensive consistency checks (RT_DEBUG_CHECKS): the run
 *      queues, stacks, heap, spans and free caches are verified at every
 *      stop-the-world (rt_debug_checkall in src/sched/stw.c).
 * Conditions must have no side effects: tier 0 does not evaluate them. */
#if !defined(GORT_DEBUG)
#define GORT_DEBUG 0
#endif
#define RT_DEBUG_CHECKS (GORT_DEBUG >= 2)
__attribute__((noreturn, cold)) void rt_assert_fail(const char *cond, const char *file, int line);
#if GORT_DEBUG >= 1
#define rt_assert(cond) (__builtin_expect(!!(cond), 1) ? (void)0 : rt_assert_fail(#cond, __FILE__, __LINE__))
#else
#define rt_assert(cond) ((void)sizeof(!(cond)))
#endif

/* Unbuffered, malloc-free printing to stderr; safe on the fatal path and in
 * signal handlers (uses a stack buffer and write(2)). */
__attribute__((format(printf, 1, 2))) void rt_printf(const char *fmt, ...);
void rt_vprintf(const char *fmt, va_list ap);

/* One goroutine's header and (where possible) backtrace, Go's format. */
void rt_dump_goroutine(struct rt_g *gp, bool running_here);
void rt_dump_all(struct rt_g *except);

/* symtab.c: PC -> module, function and offsets (malloc-free). */
typedef struct rt_syminfo {
    const char *module;
    const char *name;   /* NULL if unknown */
    uintptr_t modoff;   /* pc - module load bias: give it to addr2line -e module */
    uintptr_t funcoff;
} rt_syminfo;
bool rt_symbolize(uintptr_t pc, rt_syminfo *out);

/* A goroutine overflowed a canary-guarded stack (found on a switch). */
__attribute__((noreturn)) void rt_stack_overflow_canary(struct rt_g *gp);

/* Signals: process-wide handlers (rt_initsig, from schedinit) and the
 * per-M alternate signal stack (rt_minitsignals, on every new M). */
void rt_initsig(bool owns_main); /* owns_main: gort owns main (rt0), not gort_run */
void rt_minitsignals(struct rt_m *mp);

#endif /* GORT_DEBUG_H */
