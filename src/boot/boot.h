/* src/boot/boot.h - bootstrap (Go: proc.go schedinit, runtime1.go args and
 * parsedebugvars, os_linux.go osinit/sysargs, cpu/ package). Design in boot.c. */
#ifndef GORT_BOOT_H
#define GORT_BOOT_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <sched.h> /* cpu_set_t (the build defines _GNU_SOURCE) */

struct rt_g;

/* ---- options.c: every runtime setting in one table ---------------------- */

/* GORTDEBUG=name=value,... (integers; stackguard also takes a name).
 * X(name, default, description) */
#define RT_DEBUG_OPTIONS(X)                                                              \
    X(inittrace, 0, "print one line per init function (Go's inittrace format)")        \
    X(schedtrace, 0, "print a SCHED line every N ms")                                  \
    X(scheddetail, 0, "with schedtrace: also print every P, M and G")                  \
    X(gctrace, 0, "print one line per garbage collection")                             \
    X(checkfree, 0, "1: gort_free checks the object is allocated (catches a free of an object the collector reclaimed)") \
    X(asyncpreemptoff, 0, "1: no signal-based preemption of goroutines that run 10 ms without yielding") \
    X(bindps, 0, "1: bind each M to the CPU its P is homed on (hwloc spread order)") \
    X(stealtiers, 1, "0: steal in Go's flat random order even on machines with several L3s or NUMA nodes") \
    X(checkdead, 1, "detect 'all goroutines are asleep' deadlocks (0 disables)")       \
    X(spinus, 50, "microseconds an idle M spins looking for work before it sleeps")    \
    X(stackguard, 0, "stack overflow protection: 0/auto, 1/madvise, 2/mprotect, 3/canary") \
    X(stackguardbudget, -1, "mprotect guard pages before canaries (-1: from vm.max_map_count)") \
    X(stackscavenge, 1, "return idle and deep stacks' pages to the OS in the background") \
    X(hashseed, -1, "N >= 0: fixed hash keys (same hashes and map order in every run); -1: from AT_RANDOM") \
    X(aeshashmin, -1, "keys of N bytes and more take the AES hash (-1: the measured default)") \
    X(netpoll, 0, "the I/O poller: 0/auto (io_uring, else epoll), 1/io_uring, 2/epoll")

typedef struct rt_debug_vars {
#define RT_DEBUG_FIELD(name, def, desc) int32_t name;
    RT_DEBUG_OPTIONS(RT_DEBUG_FIELD)
#undef RT_DEBUG_FIELD
    int32_t traceback;         /* GORTTRACEBACK, RT_TB_* */
    int64_t stacksize;         /* GORTSTACKSIZE: default goroutine stack, bytes */
    int32_t maxprocs_env;      /* GORTMAXPROCS (0: unset or invalid) */
    uint64_t cpu_off;          /* GORTDEBUG cpu.<feature>=off mask (RT_CPU_*) */
} rt_debug_vars;

extern rt_debug_vars rt_debug;

void rt_parsedebugvars(void);
void rt_parsedebug_gortdebug(void); /* GORTDEBUG only, quietly (alginit before boot) */
const char *rt_getenv(const char *name);
void rt_print_options(void);

/* ---- args.c: argc/argv/envp/auxv ----------------------------------------- */

extern int rt_argc;
extern char **rt_argv;
extern char **rt_envp;
extern uintptr_t rt_pagesize;
extern uint8_t rt_startup_random[16];
extern uint64_t rt_hwcap, rt_hwcap2;

void rt_args(int argc, char **argv, char **envp);
void rt_osinit(void);
void rt_topology_init(void); /* slow (hwloc): sysmon runs it in the background */
/* The body of rt_topology_init: synthetic NULL loads this machine (CPUs of
 * the affinity mask only); otherwise an hwloc synthetic description such as
 * "pack:2 l3:2 core:4 pu:2" (tests), restricted to the PUs in allowed
 * (NULL: all of them). 0 or -1. */
int rt_topology_load(const char *synthetic, const cpu_set_t *allowed);
extern int32_t rt_topo_cores, rt_topo_packages, rt_topo_numa, rt_topo_pus, rt_topo_l3;
/* Placement (args.c, from hwloc once sysmon has run rt_topology_init; valid
 * after rt_topo_ready reads 1): per CPU (os index) its core, L3 and NUMA
 * node; rt_cpu_spread: the CPUs in the order Ps are homed on them. */
#define RT_MAXCPU 1024
extern int16_t rt_cpu_core[RT_MAXCPU], rt_cpu_l3[RT_MAXCPU], rt_cpu_node[RT_MAXCPU];
extern int16_t rt_cpu_spread[RT_MAXCPU];
extern int32_t rt_ncpu_spread;
extern uint32_t rt_topo_ready;
/* The CPU P number id is homed on, or -1 before the topology is known. */
static inline int rt_p_homecpu(int32_t id)
{
    if (!__atomic_load_n(&rt_topo_ready, __ATOMIC_ACQUIRE) || rt_ncpu_spread == 0)
        return -1;
    return rt_cpu_spread[id % rt_ncpu_spread];
}
/* Steal tiers (proc.c's stealwork): how many nearness classes are worth
 * telling apart among the CPUs of the affinity mask. One unless they span
 * several L3s or NUMA nodes. */
extern int32_t rt_topo_ntiers;
static inline int rt_topo_tiers(void)
{
    if (!__atomic_load_n(&rt_topo_ready, __ATOMIC_ACQUIRE) || !rt_debug.stealtiers)
        return 1;
    return rt_topo_ntiers;
}
/* The tier of CPU b seen from CPU a: 0 same core or L3, 1 same NUMA node,
 * 2 further. */
static inline int rt_cpu_distance(int a, int b)
{
    if (a < 0 || b < 0)
        return 0;
    if (rt_cpu_core[a] == rt_cpu_core[b] || (rt_cpu_l3[a] >= 0 && rt_cpu_l3[a] == rt_cpu_l3[b]))
        return 0;
    return rt_cpu_node[a] == rt_cpu_node[b] ? 1 : 2;
}

/* ---- cpu.c ----------------------------------------------------------------- */

enum {
    RT_CPU_SSE2 = 1u << 0,
    RT_CPU_SSE3 = 1u << 1,
    RT_CPU_SSSE3 = 1u << 2,
    RT_CPU_SSE41 = 1u << 3,
    RT_CPU_SSE42 = 1u << 4,
    RT_CPU_POPCNT = 1u << 5,
    RT_CPU_AES = 1u << 6,
    RT_CPU_PCLMUL = 1u << 7,
    RT_CPU_AVX = 1u << 8,
    RT_CPU_AVX2 = 1u << 9,
    RT_CPU_BMI1 = 1u << 10,
    RT_CPU_BMI2 = 1u << 11,
    RT_CPU_ERMS = 1u << 12,
    RT_CPU_FMA = 1u << 13,
    RT_CPU_CX16 = 1u << 14,
    RT_CPU_OSXSAVE = 1u << 15,
    RT_CPU_AVX512F = 1u << 16,
    RT_CPU_VAES = 1u << 17,     /* with AVX: AES on 256-bit registers */
};
extern uint64_t rt_cpu_features; /* after masking by GORTDEBUG cpu.*=off */
void rt_cpuinit(void);
const char *rt_cpu_name(uint64_t bit);
uint64_t rt_cpu_bit_by_name(const char *name);
extern bool rt_useAeshash;

/* ---- init.c: registered init functions (GORT_INIT) -------------------------- */

void rt_doinits(void);
void rt_inittrace_line(const char *name, int64_t start, int64_t end, uint64_t bytes, uint64_t allocs);
extern int64_t rt_runtime_init_time;

/* ---- boot.c ---------------------------------------------------------------- */

extern uint32_t rt_booted;          /* atomic: schedinit done */
void rt_schedinit(bool m0_here);
void rt_main_goexit_hook(struct rt_g *gp);
void rt_selfcheck(void);

#endif /* GORT_BOOT_H */
