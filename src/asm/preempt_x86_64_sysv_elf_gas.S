/* preempt_x86_64_sysv_elf_gas.S - async preemption trampoline, x86-64 SysV
 * ELF (Go: preempt_amd64.s asyncPreempt).
 *
 * The SIGURG handler (src/sched/preempt.c) does not switch goroutines in
 * the signal frame. It makes the interrupted goroutine *call* this code when
 * the handler returns: below the interrupted stack pointer, past the 128-byte
 * red zone a leaf function may be using, it writes an iretq frame holding
 * the interrupted RIP, CS, RFLAGS, RSP and SS, and points the context's RSP
 * at it and RIP here. On the goroutine's stack this code then saves every
 * register, calls rt_asyncpreempt2 (an ordinary C call: it yields like
 * gort_yield), restores everything and iretq's back: iretq loads RSP and RIP
 * together, so no register and no byte of the red zone is touched.
 *
 *   higher addresses
 *   +--------------------------+  <- interrupted RSP
 *   |  red zone (128 bytes)    |     untouched
 *   +--------------------------+
 *   |  SS                      |  +0x20
 *   |  interrupted RSP         |  +0x18
 *   |  interrupted RFLAGS      |  +0x10      iretq frame (handler)
 *   |  CS                      |  +0x08
 *   |  interrupted RIP         |  +0x00  <- RSP on entry here (16-aligned)
 *   +--------------------------+
 *   |  rax rbx ... r15 (15)    |            general registers
 *   +--------------------------+
 *   |  XSAVE area (64-aligned, rt_xsave_size bytes; FXSAVE without XSAVE)
 *   +--------------------------+  <- RSP during the C call (16-aligned)
 *
 * XSAVE saves what XCR0 enables (x87, SSE, AVX, AVX-512...), so the vector
 * registers of the interrupted code survive whatever the C code uses. */

#include "cet_x86_64.h"

        .text

        .globl  rt_asyncpreempt_asm
        .hidden rt_asyncpreempt_asm
        .type   rt_asyncpreempt_asm, @function
        .p2align 4
rt_asyncpreempt_asm:
        ENDBR
        pushq   %rax
        pushq   %rbx
        pushq   %rcx
        pushq   %rdx
        pushq   %rsi
        pushq   %rdi
        pushq   %rbp
        pushq   %r8
        pushq   %r9
        pushq   %r10
        pushq   %r11
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        movq    %rsp, %rbx              /* rbx: callee-saved, the GPR block */
        movl    rt_xsave_size(%rip), %ecx
        subq    %rcx, %rsp
        andq    $-64, %rsp              /* XSAVE needs 64-byte alignment */
        cld                             /* the ABI's DF=0 for the C call */
        cmpb    $0, rt_have_xsave(%rip)
        je      1f
        /* zero the 64-byte XSAVE header: XRSTOR faults on garbage in it */
        movq    $0, 512(%rsp)
        movq    $0, 520(%rsp)
        movq    $0, 528(%rsp)
        movq    $0, 536(%rsp)
        movq    $0, 544(%rsp)
        movq    $0, 552(%rsp)
        movq    $0, 560(%rsp)
        movq    $0, 568(%rsp)
        movl    $-1, %eax               /* every component XCR0 enables */
        movl    $-1, %edx
        xsave64 (%rsp)
        jmp     2f
1:      fxsave64 (%rsp)
2:      call    rt_asyncpreempt2        /* may return on another thread */
        cmpb    $0, rt_have_xsave(%rip)
        je      3f
        movl    $-1, %eax
        movl    $-1, %edx
        xrstor64 (%rsp)
        jmp     4f
3:      fxrstor64 (%rsp)
4:      movq    %rbx, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %r11
        popq    %r10
        popq    %r9
        popq    %r8
        popq    %rbp
        popq    %rdi
        popq    %rsi
        popq    %rdx
        popq    %rcx
        popq    %rbx
        popq    %rax
        iretq                           /* RIP, CS, RFLAGS, RSP, SS at once */
        .size   rt_asyncpreempt_asm, .-rt_asyncpreempt_asm

        .section .note.GNU-stack, "", @progbits

GORT_CET_NOTE
