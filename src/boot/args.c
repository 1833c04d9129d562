/* args.c - argc/argv/envp/auxv and osinit (Go: runtime1.go args,
 * os_linux.go sysargs/osinit).
 *
 * When gort owns main, rt0 hands us the argv and envp the kernel laid out;
 * the auxiliary vector follows envp's NULL. Embedded (gort_run), glibc
 * passes the same three to our ELF constructor. If neither gave an envp we
 * read /proc/self/auxv, and as a last resort take defaults (page size from
 * sysconf, randomness from the clock).
 *
 * osinit: ncpu = CPUs in our affinity mask (sched_getaffinity), as Go's
 * getproccount. The core/L3/NUMA topology comes from hwloc, discovered in
 * the background (rt_topology_init, from sysmon) because it is slow. */
#include "boot.h"
#include "../sched/sched.h"
#include "../debug/debug.h"

#include <elf.h>
#include <fcntl.h>
#include <hwloc.h>
#include <sched.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

int rt_argc;
char **rt_argv;
char **rt_envp;
uintptr_t rt_pagesize = 4096;
uint8_t rt_startup_random[16];
uint64_t rt_hwcap, rt_hwcap2;
int32_t rt_topo_cores, rt_topo_packages, rt_topo_numa, rt_topo_pus, rt_topo_l3;
int16_t rt_cpu_core[RT_MAXCPU], rt_cpu_l3[RT_MAXCPU], rt_cpu_node[RT_MAXCPU];
int16_t rt_cpu_spread[RT_MAXCPU];
int32_t rt_ncpu_spread;
int32_t rt_topo_ntiers = 1;
uint32_t rt_topo_ready;

static bool have_random;

static void auxv_entry(uint64_t tag, uint64_t val)
{
    switch (tag) {
    case AT_RANDOM:
        if (val != 0) {
            memcpy(rt_startup_random, (const void *)(uintptr_t)val, 16);
            have_random = true;
        }
        break;
    case AT_PAGESZ:
        rt_pagesize = (uintptr_t)val;
        break;
    case AT_HWCAP:
        rt_hwcap = val;
        break;
    case AT_HWCAP2:
        rt_hwcap2 = val;
        break;
    default:
        break;
    }
}

static bool read_proc_auxv(void)
{
    int fd = open("/proc/self/auxv", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    Elf64_auxv_t buf[64];
    bool any = false;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        for (size_t i = 0; i < (size_t)n / sizeof(buf[0]); i++) {
            if (buf[i].a_type == AT_NULL)
                goto done;
            auxv_entry(buf[i].a_type, buf[i].a_un.a_val);
            any = true;
        }
    }
done:
    close(fd);
    return any;
}

void rt_args(int argc, char **argv, char **envp)
{
    rt_argc = argc;
    rt_argv = argv;
    rt_envp = envp;
    bool got = false;
    if (envp != NULL) {
        char **p = envp;
        while (*p != NULL)
            p++;
        Elf64_auxv_t *av = (Elf64_auxv_t *)(p + 1);
        /* Only trust it if it looks like an auxv (AT_PAGESZ present). */
        for (int i = 0; i < 64 && av[i].a_type != AT_NULL; i++) {
            if (av[i].a_type == AT_PAGESZ)
                got = true;
        }
        if (got)
            for (int i = 0; av[i].a_type != AT_NULL; i++)
                auxv_entry(av[i].a_type, av[i].a_un.a_val);
    }
    if (!got && !read_proc_auxv()) {
        long ps = sysconf(_SC_PAGESIZE);
        if (ps > 0)
            rt_pagesize = (uintptr_t)ps;
    }
    if (!have_random) {
        uint64_t t = rt_arch_cputicks();
        for (int i = 0; i < 16; i++) {
            t = t * 6364136223846793005ull + 1442695040888963407ull;
            rt_startup_random[i] = (uint8_t)(t >> 56);
        }
    }
}

/* Topology (cores, packages, NUMA nodes) from hwloc. Loading it reads
 * /proc/cpuinfo and sysfs files per CPU (1-1.5 ms on 2 CPUs, more on large
 * machines), so it never runs on the start-up path: sysmon calls this from
 * its own thread once the program is running. Until then the counts read 0
 * and rt_topo_ready 0. */
typedef struct cpuinfo {
    int cpu, smt, node, l3, core;
} cpuinfo;

/* Spread order: one CPU of every core before any second hyperthread, and
 * within that by NUMA node, then L3, so Ps with neighbouring ids share the
 * nearest caches. */
static int cmpcpu(const void *a, const void *b)
{
    const cpuinfo *x = a, *y = b;
    if (x->smt != y->smt)
        return x->smt - y->smt;
    if (x->node != y->node)
        return x->node - y->node;
    if (x->l3 != y->l3)
        return x->l3 - y->l3;
    if (x->core != y->core)
        return x->core - y->core;
    return x->cpu - y->cpu;
}

/* allowed: the CPUs Ps may be homed on (NULL: every PU of topo). */
static void topology_cpus(hwloc_topology_t topo, const cpu_set_t *allowed)
{
    static cpuinfo list[RT_MAXCPU];
    int n = 0;
    int npu = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    for (int i = 0; i < npu && n < RT_MAXCPU; i++) {
        hwloc_obj_t pu = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, (unsigned)i);
        if (pu == NULL || pu->os_index >= RT_MAXCPU || (allowed != NULL && !CPU_ISSET(pu->os_index, allowed)))
            continue;
        hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_CORE, pu);
        hwloc_obj_t l3 = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_L3CACHE, pu);
        int node = pu->nodeset != NULL ? hwloc_bitmap_first(pu->nodeset) : -1;
        list[n++] = (cpuinfo){(int)pu->os_index, core != NULL ? (int)pu->sibling_rank : 0, node,
                              l3 != NULL ? (int)l3->logical_index : -1, core != NULL ? (int)core->logical_index : -1};
    }
    if (n == 0)
        return;
    qsort(list, (size_t)n, sizeof(list[0]), cmpcpu);
    for (int i = 0; i < n; i++) {
        int c = list[i].cpu;
        rt_cpu_core[c] = (int16_t)list[i].core;
        rt_cpu_l3[c] = (int16_t)list[i].l3;
        rt_cpu_node[c] = (int16_t)list[i].node;
        rt_cpu_spread[i] = (int16_t)c;
    }
    rt_ncpu_spread = n;
    /* Tiers from the CPUs we may run on, not the whole machine: a process
     * confined to one L3 has nothing to order. */
    int nodes[2] = {list[0].node, list[0].node}, l3s[2] = {list[0].l3, list[0].l3};
    for (int i = 1; i < n; i++) {
        if (list[i].node != nodes[0])
            nodes[1] = list[i].node;
        if (list[i].l3 != l3s[0])
            l3s[1] = list[i].l3;
    }
    rt_topo_ntiers = nodes[1] != nodes[0] ? 3 : l3s[1] != l3s[0] ? 2 : 1;
    rt_store_rel(&rt_topo_ready, 1);
}

int rt_topology_load(const char *synthetic, const cpu_set_t *allowed)
{
    cpu_set_t set;
    if (synthetic == NULL) { /* this machine: the CPUs we may run on */
        if (sched_getaffinity(0, sizeof(set), &set) != 0)
            return -1;
        allowed = &set;
    }
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0)
        return -1;
    int rc = -1;
    /* Only the L3s among the caches, and no I/O devices. Groups and dies
     * stay (hwloc's defaults): NUMA nodes hang from them on some machines,
     * and without them a PU's nodeset widens to every node. */
    hwloc_topology_set_cache_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE);
    hwloc_topology_set_icache_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE);
    hwloc_topology_set_type_filter(topo, HWLOC_OBJ_L3CACHE, HWLOC_TYPE_FILTER_KEEP_ALL);
    hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE);
    if (synthetic != NULL ? hwloc_topology_set_synthetic(topo, synthetic) != 0
                          : hwloc_topology_set_flags(topo, HWLOC_TOPOLOGY_FLAG_IS_THISSYSTEM) != 0)
        goto out;
    if (hwloc_topology_load(topo) == 0) {
        rt_store_relaxed(&rt_topo_packages, hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE));
        rt_store_relaxed(&rt_topo_numa, hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE));
        rt_store_relaxed(&rt_topo_pus, hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU));
        rt_store_relaxed(&rt_topo_l3, hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_L3CACHE));
        rt_store_rel(&rt_topo_cores, hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE));
        topology_cpus(topo, allowed);
        rc = 0;
    }
out:
    hwloc_topology_destroy(topo);
    return rc;
}

void rt_topology_init(void)
{
    (void)rt_topology_load(NULL, NULL);
}

void rt_osinit(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        rt_ncpu = CPU_COUNT(&set);
    if (rt_ncpu < 1)
        rt_ncpu = 1;
}
