/* switch_x86_64_sysv_elf_gas.S - goroutine context switch, x86-64 SysV ELF.
 *
 * Saved context, on the goroutine's own stack, g->sp pointing at its bottom:
 *
 *   +--------------------------------------------------------+
 *   |  offset |  0x00  |  0x08 |  0x10 |  0x18 |  0x20 |  0x28 |  0x30 |  0x38  |
 *   |---------|--------|-------|-------|-------|-------|-------|-------|--------|
 *   |  slot   | MXCSR/ |  r15  |  r14  |  r13  |  r12  |  rbx  |  rbp  |  PC    |
 *   |         | x87 CW |       |       |       |       |       |       | (ret)  |
 *   +--------------------------------------------------------+
 *
 * Only callee-saved state is kept: the switch is a function call, so the
 * caller has already saved everything the ABI lets a callee clobber. MXCSR
 * and the x87 control word are callee-saved "control bits" in the SysV ABI.
 * No system call, no signal mask: a switch is ~20 instructions.
 *
 * CET: functions start with endbr64 when built with -fcf-protection, and the
 * object is marked IBT-compatible only. It is NOT shadow-stack compatible
 * (a switch changes stacks under a `ret`), so SHSTK is never claimed. */

#include "cet_x86_64.h"

        .text

/* void rt_mcall_asm(void **save_sp, void (*fn)(void *), void *arg, void *new_sp)
 *      rdi = save_sp, rsi = fn, rdx = arg, rcx = new_sp */
        .globl  rt_mcall_asm
        .hidden rt_mcall_asm
        .type   rt_mcall_asm, @function
        .p2align 4
rt_mcall_asm:
        .cfi_startproc
        ENDBR
        pushq   %rbp                    /* callee-saved integer registers */
        .cfi_adjust_cfa_offset 8
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        subq    $8, %rsp                /* room for the FP control words */
        .cfi_adjust_cfa_offset 8
        stmxcsr (%rsp)                  /* SSE control/status */
        fnstcw  4(%rsp)                 /* x87 control word */
        movq    %rsp, (%rdi)            /* publish the saved SP in g->sp */
        movq    %rcx, %rsp              /* switch to the g0 stack (16-aligned) */
        movq    %rdx, %rdi              /* fn's argument */
        callq   *%rsi                   /* fn(arg); must not return */
        ud2
        .cfi_endproc
        .size   rt_mcall_asm, .-rt_mcall_asm

/* void rt_switch_asm(void **save_sp, void *new_sp)   rdi = save_sp, rsi = new_sp
 * Goroutine to goroutine: save this context exactly as rt_mcall_asm does
 * (so either can resume the other) and resume new_sp. Returns when some
 * later switch resumes *save_sp. */
        .globl  rt_switch_asm
        .hidden rt_switch_asm
        .type   rt_switch_asm, @function
        .p2align 4
rt_switch_asm:
        .cfi_startproc
        ENDBR
        pushq   %rbp                    /* callee-saved integer registers */
        .cfi_adjust_cfa_offset 8
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        subq    $8, %rsp                /* FP control words */
        .cfi_adjust_cfa_offset 8
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)            /* publish our saved SP */
        movq    %rsi, %rsp              /* adopt the other goroutine's stack */
        ldmxcsr (%rsp)                  /* and restore its context */
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret                             /* into its rt_switch_asm/rt_mcall_asm call, or rt_gostart_asm */
        .cfi_endproc
        .size   rt_switch_asm, .-rt_switch_asm

/* void rt_gogo_asm(void *sp)   rdi = saved SP; does not return */
        .globl  rt_gogo_asm
        .hidden rt_gogo_asm
        .type   rt_gogo_asm, @function
        .p2align 4
rt_gogo_asm:
        .cfi_startproc
        ENDBR
        movq    %rdi, %rsp              /* adopt the goroutine's stack */
        ldmxcsr (%rsp)                  /* restore SSE control */
        fldcw   4(%rsp)                 /* restore x87 control word */
        addq    $8, %rsp
        popq    %r15                    /* callee-saved registers */
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret                             /* resume after rt_mcall_asm, or rt_gostart_asm */
        .cfi_endproc
        .size   rt_gogo_asm, .-rt_gogo_asm

/* rt_gostart_asm: entered by `ret` from rt_gogo_asm with r12 = g and
 * %rsp 16-byte aligned. The return address is undefined, so unwinders and
 * debuggers stop here: this is the bottom of every goroutine's stack. */
        .globl  rt_gostart_asm
        .hidden rt_gostart_asm
        .type   rt_gostart_asm, @function
        .p2align 4
rt_gostart_asm:
        .cfi_startproc
        .cfi_undefined rip
        ENDBR
        xorl    %ebp, %ebp              /* outermost frame for FP walkers */
        movq    %r12, %rdi              /* g */
        callq   rt_gostart              /* runs fn(arg), then goexit; no return */
        ud2
        .cfi_endproc
        .size   rt_gostart_asm, .-rt_gostart_asm

/* void rt_entersyscall(void), and the public gort_entersyscall: the same code.
 * Between entersyscall and exitsyscall the thread runs on without a P, and
 * the collector cannot stop it; it scans the goroutine's stack from the SP
 * the caller will have after this returns, and the callee-saved registers
 * as they are here (a C function could not see its caller's values: its
 * own prologue may have replaced them). They go to rt_entersyscall_regs(
 * uintptr_t regs[7]): rbx rbp r12 r13 r14 r15, then that SP. */
        .globl  rt_entersyscall
        .hidden rt_entersyscall
        .type   rt_entersyscall, @function
        .globl  gort_entersyscall
        .type   gort_entersyscall, @function
        .p2align 4
rt_entersyscall:
gort_entersyscall:
        .cfi_startproc
        ENDBR
        subq    $56, %rsp               /* 7 slots; keeps the call 16-aligned */
        .cfi_adjust_cfa_offset 56
        movq    %rbx, 0(%rsp)
        movq    %rbp, 8(%rsp)
        movq    %r12, 16(%rsp)
        movq    %r13, 24(%rsp)
        movq    %r14, 32(%rsp)
        movq    %r15, 40(%rsp)
        leaq    64(%rsp), %rax          /* the caller's SP once we return */
        movq    %rax, 48(%rsp)
        movq    %rsp, %rdi
        callq   rt_entersyscall_regs
        addq    $56, %rsp
        .cfi_adjust_cfa_offset -56
        ret
        .cfi_endproc
        .size   rt_entersyscall, .-rt_entersyscall
        .size   gort_entersyscall, .-gort_entersyscall

        .section .note.GNU-stack,"",@progbits

GORT_CET_NOTE
