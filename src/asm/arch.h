/* src/asm/arch.h - the porting interface: everything architecture-specific
 * the runtime needs, and nothing else. One implementation per arch:
 *
 *   switch_<arch>_<abi>_<format>_<as>.S   rt_mcall_asm, rt_switch_asm, rt_gogo_asm,
 *                                          rt_gostart_asm
 *   rt0_<arch>_<abi>_<format>_<as>.S      gort__rt0_go
 *   this header                            getg/setg, spin hint, initial frame
 *
 * Context model (Go's gobuf reduced to one word): a goroutine that is not
 * running is described by the stack pointer saved in g->sp. The callee-saved
 * registers, the FP control words and the resume address live on the
 * goroutine's own stack just below that point, so a switch touches one
 * cache line of stack and never enters the kernel.
 *
 * To port: write the two .S files and the RT_ARCH_* block below (saved-frame
 * size, initial frame builder, TLS accessors). aarch64 AAPCS64 saves
 * x19-x30, d8-d15 and FPCR in the same scheme. */
#ifndef GORT_ARCH_H
#define GORT_ARCH_H

#include <stdint.h>
#include <stddef.h>

/* Save the current context on the current stack, store the SP to *save_sp,
 * switch to new_sp (a g0 stack top, 16-byte aligned) and call fn(arg) there.
 * fn must not return. Returns when something later resumes *save_sp with
 * rt_gogo_asm. */
void rt_mcall_asm(void **save_sp, void (*fn)(void *), void *arg, void *new_sp);
/* Save the current context like rt_mcall_asm and resume new_sp (saved by
 * either function or built by rt_arch_initframe): a direct goroutine to
 * goroutine switch, one save and one restore. */
void rt_switch_asm(void **save_sp, void *new_sp);
/* Restore a context saved by rt_mcall_asm (or built by rt_arch_initframe)
 * and continue there. */
__attribute__((noreturn)) void rt_gogo_asm(void *sp);
/* First code a new goroutine runs: calls rt_gostart(g) with g taken from
 * the initial frame; never returns. */
void rt_gostart_asm(void);

#if defined(__x86_64__)

/* Saved frame, from g->sp upwards (8-byte slots):
 *   sp+0   MXCSR (low 4 bytes), x87 control word (bytes 4-5)
 *   sp+8   r15     sp+16  r14     sp+24  r13     sp+32  r12
 *   sp+40  rbx     sp+48  rbp     sp+56  return address (resume PC) */
#define RT_ARCH_FRAME_SIZE 64
#define RT_ARCH_FRAME_PC 56
#define RT_ARCH_FRAME_FP 48

/* Build the first frame of a goroutine whose stack ends at hi (16-aligned)
 * so that rt_gogo_asm "returns" into rt_gostart_asm with r12 = g and the
 * stack 16-byte aligned. Returns the SP to store in g->sp. */
static inline void *rt_arch_initframe(uintptr_t hi, void *g)
{
    uint64_t *sp = (uint64_t *)(hi - RT_ARCH_FRAME_SIZE);
    sp[0] = 0x1F80u | ((uint64_t)0x037Fu << 32); /* default MXCSR, x87 CW */
    sp[1] = 0;                                   /* r15 */
    sp[2] = 0;                                   /* r14 */
    sp[3] = 0;                                   /* r13 */
    sp[4] = (uint64_t)(uintptr_t)g;              /* r12: argument for rt_gostart */
    sp[5] = 0;                                   /* rbx */
    sp[6] = 0;                                   /* rbp = 0 ends frame-pointer walks */
    sp[7] = (uint64_t)(uintptr_t)rt_gostart_asm; /* resume PC */
    return sp;
}

/* The current G lives in a thread-local slot. The compiler may cache a
 * thread-local *address* across a call (it assumes a function never changes
 * threads), and a goroutine can resume on another thread, so every read
 * goes through volatile asm that re-reads %fs. Initial-exec model: works in
 * the shared library and relaxes to local-exec when linked statically. */
/* RT_ARCH_TLS_SLOT(name, sym): rt_arch_get<name>() / rt_arch_set<name>(v)
 * for the initial-exec thread-local pointer `sym`, through volatile asm. */
#define RT_ARCH_TLS_SLOT(name, sym)                                                       \
    extern __thread void *sym __attribute__((tls_model("initial-exec")));                \
    static inline void *rt_arch_get##name(void)                                           \
    {                                                                                     \
        void *v;                                                                          \
        __asm__ volatile("movq " #sym "@gottpoff(%%rip), %0\n\t"                         \
                         "movq %%fs:(%0), %0"                                             \
                         : "=r"(v));                                                      \
        return v;                                                                         \
    }                                                                                     \
    static inline void rt_arch_set##name(void *v)                                         \
    {                                                                                     \
        uintptr_t off;                                                                    \
        __asm__ volatile("movq " #sym "@gottpoff(%%rip), %0\n\t"                         \
                         "movq %1, %%fs:(%0)"                                             \
                         : "=&r"(off)                                                     \
                         : "r"(v)                                                         \
                         : "memory");                                                     \
    }

RT_ARCH_TLS_SLOT(g, rt_tls_g)
/* A second slot: the mcache of the P this thread holds (NULL without a P),
 * so the allocator's fast path finds it in one load instead of g->m->p. */
RT_ARCH_TLS_SLOT(mcache, rt_tls_mcache)

/* Spin-wait hint (Go's procyield uses PAUSE). */
static inline void rt_arch_pause(void) { __asm__ volatile("pause" ::: "memory"); }

static inline uint64_t rt_arch_cputicks(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static inline uintptr_t rt_arch_getsp(void)
{
    uintptr_t sp;
    __asm__ volatile("movq %%rsp, %0" : "=r"(sp));
    return sp;
}

#else
#error "gort: this architecture has no port yet (see src/asm/arch.h)"
#endif

#endif /* GORT_ARCH_H */
