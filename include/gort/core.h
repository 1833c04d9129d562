/* gort/core.h - entry points, goroutines, time, goroutine-local storage, init.
 *
 * Error convention: calls that can fail return 0 or a negative errno value
 * (-EINVAL, ...); they never report errors only through errno, because a
 * goroutine may resume on another thread (see docs/api.md). Misuse that Go
 * reports as a panic or fatal error (go of a nil function, a negative
 * WaitGroup counter, unlock of an unlocked mutex, a stack overflow, a
 * deadlock) ends the process with Go's message and exit status 2. */
#ifndef GORT_CORE_H
#define GORT_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <gort/export.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GORT_VERSION_MAJOR 0
#define GORT_VERSION_MINOR 1
#define GORT_VERSION_PATCH 0

/* The version of the library the program runs against, "MAJOR.MINOR.PATCH"
 * (the macros above are the headers' version; a program can compare the
 * two). A static string. */
GORT_API const char *gort_version(void);

/* ---- entry ------------------------------------------------------------ */

/* Defined by the user when gort owns main (link with libgort_main, which
 * pkg-config's "gort" does): runs as the main goroutine (goroutine 1). When
 * it returns the process exits with its value, whether or not other
 * goroutines are still running (as Go's main). */
int gort_main(int argc, char **argv);

/* Embedding: boot the runtime if needed, run fn(arg) as a main goroutine
 * and return when it returns; the calling thread only waits. Goroutines
 * still running when it returns keep running on the runtime's threads;
 * gort_run may be called again (also concurrently from several threads).
 * Returns 0, -EINVAL if fn is NULL, -EDEADLK if called from a goroutine
 * (the goroutine would wait on itself). */
GORT_API int gort_run(void (*fn)(void *), void *arg);

/* ---- goroutines --------------------------------------------------------- */

/* `go fn(arg)`. A NULL fn is Go's "go of nil func value" panic. Callable
 * from any thread once the runtime is running. */
GORT_API void gort_go(void (*fn)(void *), void *arg);

/* gort_go with a stack of at least stack_size bytes (rounded up to a
 * power-of-two size class, 16 KiB .. 1 GiB). Returns 0, or -EINVAL for a
 * NULL fn or a size out of range. */
GORT_API int gort_go_stack(void (*fn)(void *), void *arg, size_t stack_size);

GORT_API void gort_yield(void);              /* runtime.Gosched */
GORT_API GORT_NORETURN void gort_goexit(void); /* runtime.Goexit */
GORT_API uint64_t gort_goid(void);           /* 0 outside a goroutine */

/* GOMAXPROCS. n <= 0 only queries. Values above GORT_MAXPROCS_LIMIT are
 * clamped to it. Returns the previous value. Changing it stops the world
 * briefly, as Go does. */
#define GORT_MAXPROCS_LIMIT 1024
GORT_API int gort_maxprocs(int n);
GORT_API int64_t gort_num_goroutine(void);

/* runtime.LockOSThread: wire the calling goroutine to its thread. Calls
 * nest; the goroutine is unwired after as many unlocks as locks. A goroutine
 * that exits while wired is unwired first. No-op outside a goroutine. */
GORT_API void gort_lock_os_thread(void);
GORT_API void gort_unlock_os_thread(void);

/* Blocking calls (Go: entersyscall / exitsyscall). Bracket a call that may
 * block the thread - read() on a pipe, a DNS lookup, a long computation in a
 * library - so that it does not hold the goroutine's P: if the call takes
 * longer than sysmon's tick (20 us) while other goroutines wait, the P is
 * handed to another thread; gort_exitsyscall takes a P back (the old one if
 * it is still free, which costs no lock and no system call). Between the two
 * calls the goroutine must not block, yield or exit in gort (channels,
 * mutexes, sleep, gort_yield...: a fatal error naming the goroutine);
 * allocating and gort_go are fine (they behave as from a thread without a
 * P). Nesting is a fatal error. From a thread gort does not run: no-ops.
 * errno set by the call must be read before gort_exitsyscall: the goroutine
 * may continue on another thread. */
GORT_API void gort_entersyscall(void);
GORT_API void gort_exitsyscall(void);
/* gort_entersyscall(); r = fn(arg); gort_exitsyscall(); return r. */
GORT_API void *gort_syscall_block(void *(*fn)(void *), void *arg);

/* Asynchronous preemption. A goroutine that runs 10 ms without passing
 * through the scheduler is interrupted by a signal (SIGURG, as in Go) at an
 * instruction of the main executable's own code and yields; it resumes on
 * the same thread. Code that must not be interrupted that way - a section
 * holding a pthread mutex or spin lock that other goroutines take - is
 * bracketed by gort_preempt_off / gort_preempt_on (they nest; per goroutine;
 * no-ops outside a goroutine). GORTDEBUG=asyncpreemptoff=1 turns it off. */
GORT_API void gort_preempt_off(void);
GORT_API void gort_preempt_on(void);

/* ---- time --------------------------------------------------------------- */

GORT_API int64_t gort_nanotime(void);        /* monotonic, ns */
/* Parks only the goroutine (per-P timer heap). ns <= 0 returns at once.
 * Outside a goroutine it sleeps the thread (nanosleep). */
GORT_API void gort_sleep(int64_t ns);

/* ---- goroutine-local storage -------------------------------------------- */

/* A key names one slot in every goroutine. Values start NULL in each new
 * goroutine; the destructor (if any) runs with the non-NULL value when the
 * goroutine exits. At most GORT_GLS_KEYS keys exist per process. */
#define GORT_GLS_KEYS 64
typedef struct gort_gls_key { uint32_t id; } gort_gls_key_t;
GORT_API int gort_gls_key_create(gort_gls_key_t *key, void (*dtor)(void *)); /* 0 or -EAGAIN */
GORT_API void *gort_gls_get(gort_gls_key_t key);              /* NULL outside a goroutine */
GORT_API int gort_gls_set(gort_gls_key_t key, void *value);   /* 0, -EINVAL, -EPERM outside a goroutine */

/* ---- registered init functions ------------------------------------------ */

/* GORT_INIT(name) { ... } defines an init function run by the runtime main
 * goroutine before gort_main (or before the first gort_run's fn), like a Go
 * package init. GORT_INIT_AFTER(name, "a b") runs it after the inits named
 * a and b. Names are C identifiers; an unknown dependency or a cycle is a
 * fatal error. GORTDEBUG=inittrace=1 prints one line per init. */
typedef struct gort_init_entry {
    const char *name;
    void (*fn)(void);
    const char *deps;               /* space- or comma-separated names */
    struct gort_init_entry *next;   /* runtime use */
    int state;                      /* runtime use */
} gort_init_entry_t;
GORT_API void gort_init_register(gort_init_entry_t *e);

#define GORT_INIT_AFTER(name, deps)                                           \
    static void gort__init_fn_##name(void);                                   \
    __attribute__((constructor)) static void gort__init_reg_##name(void)      \
    {                                                                         \
        static gort_init_entry_t e = {#name, gort__init_fn_##name, deps, 0, 0}; \
        gort_init_register(&e);                                               \
    }                                                                         \
    static void gort__init_fn_##name(void)
#define GORT_INIT(name) GORT_INIT_AFTER(name, "")

#ifdef __cplusplus
}
#endif
#endif /* GORT_CORE_H */
