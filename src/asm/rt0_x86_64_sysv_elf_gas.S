/* rt0_x86_64_sysv_elf_gas.S - entry into the runtime when gort owns main.
 *
 * Go's rt0_go takes argc/argv off the initial stack and runs args, osinit,
 * schedinit, newproc(runtime.main), mstart. A C program is entered by libc
 * (_start -> __libc_start_main -> main), so libgort_main's main() tail-calls
 * here with argc, argv, envp and the user's gort_main. This stub records the
 * stack pointer the main thread had on entry (the top of M0's g0 stack: the
 * scheduler on the main thread reuses the process stack from here down) and
 * enters the C bootstrap with an aligned stack.
 *
 *   int gort__rt0_go(int argc, char **argv, char **envp, int (*umain)(int, char **))
 *        edi = argc, rsi = argv, rdx = envp, rcx = umain
 *   -> rt_bootstrap(argc, argv, envp, umain, g0_sp)   r8 = g0_sp
 */
#include "cet_x86_64.h"

        .text
        .globl  gort__rt0_go
        .type   gort__rt0_go, @function
        .p2align 4
gort__rt0_go:
        .cfi_startproc
        ENDBR
        pushq   %rbp                    /* standard frame: debuggers see main below us */
        .cfi_adjust_cfa_offset 8
        .cfi_offset rbp, -16
        movq    %rsp, %rbp
        .cfi_def_cfa_register rbp
        andq    $-16, %rsp              /* SysV call alignment */
        movq    %rsp, %r8               /* g0 stack top for M0 */
        callq   rt_bootstrap            /* does not return: exit(gort_main(...)) */
        ud2
        .cfi_endproc
        .size   gort__rt0_go, .-gort__rt0_go

        .section .note.GNU-stack,"",@progbits

GORT_CET_NOTE
