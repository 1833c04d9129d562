/* test_topology.c - placement from hwloc (src/boot/args.c): the spread
 * order Ps are homed in and the steal tiers (rt_cpu_distance), on synthetic
 * topologies that stand for machines larger than the one the test runs on. */
#define _GNU_SOURCE
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../src/boot/boot.h"

/* Two packages (one NUMA node each), two L3s per package, four cores per
 * L3, two hyperthreads per core: 32 PUs numbered in tree order, so PU i is
 * on core i/2, L3 i/8, node i/16. */
#define TWO_SOCKETS "pack:2 numa:1 l3:2 core:4 pu:2"
static void two_sockets(void **state)
{
    (void)state;
    assert_int_equal(rt_topology_load(TWO_SOCKETS, NULL), 0);
    assert_int_equal(rt_topo_packages, 2);
    assert_int_equal(rt_topo_numa, 2);
    assert_int_equal(rt_topo_l3, 4);
    assert_int_equal(rt_topo_cores, 16);
    assert_int_equal(rt_topo_pus, 32);
    assert_int_equal(rt_ncpu_spread, 32);
    for (int c = 0; c < 32; c++) {
        assert_int_equal(rt_cpu_core[c], c / 2);
        assert_int_equal(rt_cpu_l3[c], c / 8);
        assert_int_equal(rt_cpu_node[c], c / 16);
    }
    /* One PU of every core first, in node, L3, core order; then the
     * second hyperthreads in the same order. */
    for (int i = 0; i < 16; i++) {
        assert_int_equal(rt_p_homecpu(i), 2 * i);
        assert_int_equal(rt_p_homecpu(16 + i), 2 * i + 1);
    }
    assert_int_equal(rt_p_homecpu(32), rt_p_homecpu(0)); /* more Ps than CPUs: round robin */
    assert_int_equal(rt_topo_tiers(), 3);
    assert_int_equal(rt_cpu_distance(0, 1), 0);  /* hyperthread sibling */
    assert_int_equal(rt_cpu_distance(0, 6), 0);  /* same L3 */
    assert_int_equal(rt_cpu_distance(0, 8), 1);  /* other L3, same node */
    assert_int_equal(rt_cpu_distance(0, 15), 1);
    assert_int_equal(rt_cpu_distance(0, 16), 2); /* other package */
    assert_int_equal(rt_cpu_distance(31, 0), 2);
    assert_int_equal(rt_cpu_distance(-1, 5), 0); /* unknown: no preference */
    /* P0 and P1 are homed on different cores of one L3; P0 and P4 on
     * different L3s. */
    assert_int_equal(rt_cpu_distance(rt_p_homecpu(0), rt_p_homecpu(1)), 0);
    assert_int_equal(rt_cpu_distance(rt_p_homecpu(0), rt_p_homecpu(4)), 1);
    assert_int_equal(rt_cpu_distance(rt_p_homecpu(0), rt_p_homecpu(8)), 2);
}

/* One node, two L3s (as on a chiplet CPU): two tiers. */
static void two_l3s(void **state)
{
    (void)state;
    assert_int_equal(rt_topology_load("l3:2 core:3 pu:1", NULL), 0);
    assert_int_equal(rt_topo_numa, 1);
    assert_int_equal(rt_topo_l3, 2);
    assert_int_equal(rt_ncpu_spread, 6);
    assert_int_equal(rt_topo_tiers(), 2);
    assert_int_equal(rt_cpu_distance(0, 2), 0);
    assert_int_equal(rt_cpu_distance(0, 3), 1);
    for (int i = 0; i < 6; i++)
        assert_int_equal(rt_p_homecpu(i), i);
}

/* One L3, SMT: a single tier (stealing stays Go's random order), but the
 * spread order still puts one PU per core first. */
static void one_l3(void **state)
{
    (void)state;
    assert_int_equal(rt_topology_load("core:4 pu:2", NULL), 0);
    assert_int_equal(rt_topo_tiers(), 1);
    static const int want[8] = {0, 2, 4, 6, 1, 3, 5, 7};
    for (int i = 0; i < 8; i++)
        assert_int_equal(rt_p_homecpu(i), want[i]);
}

/* A process confined to one L3 of a two-socket machine has nothing to
 * order: one tier. Confined to both L3s of one socket: two. */
static void confined(void **state)
{
    (void)state;
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c = 8; c < 16; c++) /* the second L3 of package 0 */
        CPU_SET(c, &set);
    assert_int_equal(rt_topology_load(TWO_SOCKETS, &set), 0);
    assert_int_equal(rt_ncpu_spread, 8);
    assert_int_equal(rt_topo_tiers(), 1);
    static const int want[8] = {8, 10, 12, 14, 9, 11, 13, 15};
    for (int i = 0; i < 8; i++)
        assert_int_equal(rt_p_homecpu(i), want[i]);
    for (int c = 0; c < 8; c++)
        CPU_SET(c, &set);
    assert_int_equal(rt_topology_load(TWO_SOCKETS, &set), 0);
    assert_int_equal(rt_topo_tiers(), 2);
    CPU_SET(16, &set);
    assert_int_equal(rt_topology_load(TWO_SOCKETS, &set), 0);
    assert_int_equal(rt_topo_tiers(), 3);
    assert_int_equal(rt_ncpu_spread, 17);
}

/* A description hwloc rejects leaves an error, not a half-made topology. */
static void bad_description(void **state)
{
    (void)state;
    assert_int_equal(rt_topology_load("core:4 pu:2", NULL), 0);
    assert_int_equal(rt_topology_load("frobnicate:3", NULL), -1);
    assert_int_equal(rt_ncpu_spread, 8);
}

/* This machine: every CPU of the affinity mask is placed once. */
static void this_machine(void **state)
{
    (void)state;
    cpu_set_t set;
    CPU_ZERO(&set);
    assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
    assert_int_equal(rt_topology_load(NULL, NULL), 0);
    assert_int_equal(rt_ncpu_spread, CPU_COUNT(&set));
    cpu_set_t seen;
    CPU_ZERO(&seen);
    for (int i = 0; i < rt_ncpu_spread; i++) {
        int c = rt_p_homecpu(i);
        assert_true(c >= 0 && CPU_ISSET(c, &set));
        assert_false(CPU_ISSET(c, &seen));
        CPU_SET(c, &seen);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_sockets),  cmocka_unit_test(two_l3s),      cmocka_unit_test(one_l3),
        cmocka_unit_test(confined),
        cmocka_unit_test(bad_description), cmocka_unit_test(this_machine),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
