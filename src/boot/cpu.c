/* cpu.c - CPU feature detection (Go: internal/cpu, runtime cpuinit).
 *
 * CPUID leaves 1 and 7 give the features; AVX use additionally needs the OS
 * to save YMM state (OSXSAVE + XGETBV). A feature is "required" when the
 * compiler was told it may use it (its __SSE4_2__, __AVX2__, ... macro is
 * defined for this build), plus the x86-64 baseline (SSE2). A CPU lacking a
 * required feature gets a clear message and exit status 2 before any code
 * that could execute a missing instruction runs, as Go refuses to run a
 * GOAMD64=v3 binary on a v1 machine.
 *
 * GORTDEBUG=cpu.<name>=off masks a feature, as GODEBUG=cpu.<name>=off does:
 * optional features (AES for hashing) are then not used, and masking a
 * required one exercises the refusal path. */
#include "boot.h"
#include "../debug/debug.h"

#include <cpuid.h>
#include <string.h>
#include <unistd.h>

uint64_t rt_cpu_features;
bool rt_useAeshash;

static const struct {
    uint64_t bit;
    const char *name;
} names[] = {
    {RT_CPU_SSE2, "sse2"},     {RT_CPU_SSE3, "sse3"},   {RT_CPU_SSSE3, "ssse3"},
    {RT_CPU_SSE41, "sse41"},   {RT_CPU_SSE42, "sse42"}, {RT_CPU_POPCNT, "popcnt"},
    {RT_CPU_AES, "aes"},       {RT_CPU_PCLMUL, "pclmulqdq"}, {RT_CPU_AVX, "avx"},
    {RT_CPU_AVX2, "avx2"},     {RT_CPU_BMI1, "bmi1"},   {RT_CPU_BMI2, "bmi2"},
    {RT_CPU_ERMS, "erms"},     {RT_CPU_FMA, "fma"},     {RT_CPU_CX16, "cx16"},
    {RT_CPU_OSXSAVE, "osxsave"}, {RT_CPU_AVX512F, "avx512f"}, {RT_CPU_VAES, "vaes"},
};

const char *rt_cpu_name(uint64_t bit)
{
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].bit == bit)
            return names[i].name;
    return "?";
}

uint64_t rt_cpu_bit_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(names[i].name, name) == 0)
            return names[i].bit;
    if (strcmp(name, "all") == 0)
        return ~(uint64_t)RT_CPU_SSE2; /* Go: cpu.all=off disables optional ones */
    return 0;
}

/* What this build's compiler flags assume. */
static uint64_t required(void)
{
    uint64_t r = RT_CPU_SSE2;
#ifdef __SSE3__
    r |= RT_CPU_SSE3;
#endif
#ifdef __SSSE3__
    r |= RT_CPU_SSSE3;
#endif
#ifdef __SSE4_1__
    r |= RT_CPU_SSE41;
#endif
#ifdef __SSE4_2__
    r |= RT_CPU_SSE42;
#endif
#ifdef __POPCNT__
    r |= RT_CPU_POPCNT;
#endif
#ifdef __AVX__
    r |= RT_CPU_AVX;
#endif
#ifdef __AVX2__
    r |= RT_CPU_AVX2;
#endif
#ifdef __BMI__
    r |= RT_CPU_BMI1;
#endif
#ifdef __BMI2__
    r |= RT_CPU_BMI2;
#endif
#ifdef __FMA__
    r |= RT_CPU_FMA;
#endif
#ifdef __GCC_HAVE_SYNC_COMPARE_AND_SWAP_16
    r |= RT_CPU_CX16;
#endif
    return r;
}

static uint64_t detect(void)
{
    unsigned a, b, c, d;
    uint64_t f = 0;
    unsigned maxleaf = __get_cpuid_max(0, NULL);
    if (maxleaf >= 1 && __get_cpuid(1, &a, &b, &c, &d)) {
        if (d & bit_SSE2) f |= RT_CPU_SSE2;
        if (c & bit_SSE3) f |= RT_CPU_SSE3;
        if (c & bit_SSSE3) f |= RT_CPU_SSSE3;
        if (c & bit_SSE4_1) f |= RT_CPU_SSE41;
        if (c & bit_SSE4_2) f |= RT_CPU_SSE42;
        if (c & bit_POPCNT) f |= RT_CPU_POPCNT;
        if (c & bit_AES) f |= RT_CPU_AES;
        if (c & bit_PCLMUL) f |= RT_CPU_PCLMUL;
        if (c & bit_FMA) f |= RT_CPU_FMA;
        if (c & bit_CMPXCHG16B) f |= RT_CPU_CX16;
        if (c & bit_OSXSAVE) f |= RT_CPU_OSXSAVE;
        bool osavx = false;
        if ((c & bit_OSXSAVE) && (c & bit_AVX)) {
            unsigned lo, hi;
            __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
            osavx = (lo & 6) == 6; /* XMM and YMM state enabled by the OS */
            if (osavx)
                f |= RT_CPU_AVX;
        }
        if (maxleaf >= 7) {
            __cpuid_count(7, 0, a, b, c, d);
            if (osavx && (b & bit_AVX2)) f |= RT_CPU_AVX2;
            if (b & bit_BMI) f |= RT_CPU_BMI1;
            if (b & bit_BMI2) f |= RT_CPU_BMI2;
            if (b & (1u << 9)) f |= RT_CPU_ERMS;
            if (osavx && (b & bit_AVX512F)) f |= RT_CPU_AVX512F;
            if (osavx && (c & (1u << 9))) f |= RT_CPU_VAES;
        }
    }
    return f;
}

void rt_cpuinit(void)
{
    uint64_t have = detect() & ~rt_debug.cpu_off;
    rt_cpu_features = have;
    uint64_t missing = required() & ~have;
    if (missing != 0) {
        rt_printf("runtime: this program was built for CPU features this machine lacks (or "
                  "GORTDEBUG masked):");
        for (int i = 0; i < 64; i++)
            if (missing & (1ull << i))
                rt_printf(" %s", rt_cpu_name(1ull << i));
        rt_printf("\n");
        rt_printf("fatal error: required CPU feature missing\n");
        _exit(2);
    }
    rt_useAeshash = (have & (RT_CPU_AES | RT_CPU_SSSE3 | RT_CPU_SSE41)) ==
                    (RT_CPU_AES | RT_CPU_SSSE3 | RT_CPU_SSE41);
}
