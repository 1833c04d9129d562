/* cet_x86_64.h - included by every x86-64 .S file: the ENDBR macro and,
 * after all code (GORT_CET_NOTE), the GNU property note that marks the
 * object IBT-compatible. Never SHSTK: a goroutine switch changes stacks
 * under a `ret` (switch_x86_64_sysv_elf_gas.S explains). */
#ifndef GORT_CET_X86_64_H
#define GORT_CET_X86_64_H

#if defined(__CET__) && (__CET__ & 1)
#define ENDBR endbr64
/* NT_GNU_PROPERTY_TYPE_0, "GNU", GNU_PROPERTY_X86_FEATURE_1_AND = IBT */
#define GORT_CET_NOTE                          \
        .section .note.gnu.property, "a";      \
        .p2align 3;                            \
        .long 4;                               \
        .long 16;                              \
        .long 5;                               \
        .asciz "GNU";                          \
        .long 0xc0000002;                      \
        .long 4;                               \
        .long 1;                               \
        .p2align 3
#else
#define ENDBR
#define GORT_CET_NOTE
#endif

#endif
