/* options.c - every runtime setting, read once from the environment at
 * schedinit (Go: runtime1.go parsedebugvars, GOTRACEBACK, GOMAXPROCS).
 *
 *   GORTMAXPROCS=n     number of Ps (default: CPUs in the affinity mask);
 *                      invalid values are ignored, as Go ignores them
 *   GORTTRACEBACK=none|single|all|system|crash   (default single)
 *   GORTSTACKSIZE=n[k|m|g]   default goroutine stack size (default 256k)
 *   GORTDEBUG=name=val,...   the table in boot.h (RT_DEBUG_OPTIONS), plus
 *                      cpu.<feature>=off; GORTDEBUG=help lists the table.
 * Unknown GORTDEBUG names are ignored, as Go ignores unknown GODEBUG keys. */
#include "boot.h"
#include "../debug/debug.h"
#include "../stack/stack.h"

#include <gort.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

rt_debug_vars rt_debug = {
#define RT_DEBUG_DEFAULT(name, def, desc) .name = def,
    RT_DEBUG_OPTIONS(RT_DEBUG_DEFAULT)
#undef RT_DEBUG_DEFAULT
    .traceback = RT_TB_SINGLE,
    .stacksize = 0,
    .maxprocs_env = 0,
    .cpu_off = 0,
};

const char *rt_getenv(const char *name) { return getenv(name); }

/* Parse a decimal integer; false if s is not entirely one. */
static bool atoi64(const char *s, size_t n, int64_t *out)
{
    if (n == 0)
        return false;
    bool neg = false;
    size_t i = 0;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
        if (n == 1)
            return false;
    }
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return true;
}

static const char *const guardnames[] = {"auto", "madvise", "mprotect", "canary"};

static void setopt(const char *key, size_t klen, const char *val, size_t vlen)
{
    if (klen > 4 && strncmp(key, "cpu.", 4) == 0) {
        char name[32];
        size_t l = klen - 4 < sizeof(name) - 1 ? klen - 4 : sizeof(name) - 1;
        memcpy(name, key + 4, l);
        name[l] = 0;
        if (vlen == 3 && strncmp(val, "off", 3) == 0)
            rt_debug.cpu_off |= rt_cpu_bit_by_name(name);
        return;
    }
    int64_t v;
    if (klen == 10 && strncmp(key, "stackguard", 10) == 0) {
        for (int i = 0; i < 4; i++)
            if (strlen(guardnames[i]) == vlen && strncmp(val, guardnames[i], vlen) == 0) {
                rt_debug.stackguard = i;
                return;
            }
    }
    if (klen == 7 && strncmp(key, "netpoll", 7) == 0) {
        static const char *const pollnames[] = {"auto", "io_uring", "epoll"};
        for (int i = 0; i < 3; i++)
            if (strlen(pollnames[i]) == vlen && strncmp(val, pollnames[i], vlen) == 0) {
                rt_debug.netpoll = i;
                return;
            }
    }
    if (!atoi64(val, vlen, &v) || v > INT32_MAX || v < INT32_MIN)
        return;
#define RT_DEBUG_SET(name, def, desc)                                        \
    if (klen == sizeof(#name) - 1 && strncmp(key, #name, klen) == 0) { \
        rt_debug.name = (int32_t)v;                                          \
        return;                                                              \
    }
    RT_DEBUG_OPTIONS(RT_DEBUG_SET)
#undef RT_DEBUG_SET
}

void rt_print_options(void)
{
    rt_printf("GORTDEBUG options (name=default: description):\n");
#define RT_DEBUG_PRINT(name, def, desc) rt_printf("  %s=%d: %s (now %d)\n", #name, def, desc, rt_debug.name);
    RT_DEBUG_OPTIONS(RT_DEBUG_PRINT)
#undef RT_DEBUG_PRINT
    rt_printf("  cpu.<feature>=off: mask a CPU feature (sse2 ssse3 sse41 sse42 aes avx avx2 ...)\n");
    rt_printf("Environment: GORTMAXPROCS, GORTTRACEBACK=none|single|all|system|crash, "
              "GORTSTACKSIZE=n[k|m|g]\n");
}

static int64_t parsesize(const char *s)
{
    size_t n = strlen(s);
    int64_t mult = 1;
    if (n > 0) {
        char c = s[n - 1];
        if (c == 'k' || c == 'K')
            mult = 1024;
        else if (c == 'm' || c == 'M')
            mult = 1024 * 1024;
        else if (c == 'g' || c == 'G')
            mult = 1024 * 1024 * 1024;
        if (mult != 1)
            n--;
    }
    int64_t v;
    if (!atoi64(s, n, &v) || v <= 0 || v > (INT64_MAX / mult))
        return -1;
    return v * mult;
}

/* GORTDEBUG's name=value pairs; true if it asked for help. */
static bool parse_gortdebug(void)
{
    const char *s = rt_getenv("GORTDEBUG");
    bool help = false;
    if (s != NULL) {
        while (*s) {
            const char *end = strchr(s, ',');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            const char *eq = memchr(s, '=', len);
            if (eq != NULL)
                setopt(s, (size_t)(eq - s), eq + 1, len - (size_t)(eq - s) - 1);
            else if (len == 4 && strncmp(s, "help", 4) == 0)
                help = true;
            s += len;
            if (*s == ',')
                s++;
        }
    }
    return help;
}

void rt_parsedebug_gortdebug(void) { (void)parse_gortdebug(); }

void rt_parsedebugvars(void)
{
    bool help = parse_gortdebug();
    const char *tb = rt_getenv("GORTTRACEBACK");
    if (tb != NULL) {
        static const char *const tbn[] = {"none", "single", "all", "system", "crash"};
        int64_t v;
        for (int i = 0; i < 5; i++)
            if (strcmp(tb, tbn[i]) == 0)
                rt_debug.traceback = i;
        if (strcmp(tb, "0") == 0)
            rt_debug.traceback = RT_TB_NONE;
        else if (strcmp(tb, "1") == 0)
            rt_debug.traceback = RT_TB_ALL; /* Go: GOTRACEBACK=1 means all */
        else if (strcmp(tb, "2") == 0)
            rt_debug.traceback = RT_TB_SYSTEM;
        else if (atoi64(tb, strlen(tb), &v) && v > 2)
            rt_debug.traceback = RT_TB_SYSTEM;
    }
    const char *mp = rt_getenv("GORTMAXPROCS");
    if (mp != NULL) {
        int64_t v;
        if (atoi64(mp, strlen(mp), &v) && v > 0)
            rt_debug.maxprocs_env = v > GORT_MAXPROCS_LIMIT ? GORT_MAXPROCS_LIMIT : (int32_t)v;
    }
    const char *ss = rt_getenv("GORTSTACKSIZE");
    if (ss != NULL) {
        int64_t v = parsesize(ss);
        if (v > 0 && rt_stack_order_for((size_t)v) >= 0)
            rt_debug.stacksize = v;
        else if (v > 0)
            rt_printf("runtime: ignoring GORTSTACKSIZE=%s: out of range (16k..1g)\n", ss);
        else
            rt_printf("runtime: ignoring invalid GORTSTACKSIZE=%s (a size in 16k..1g)\n", ss);
    }
    if (help) {
        rt_print_options();
        _exit(0);
    }
}
