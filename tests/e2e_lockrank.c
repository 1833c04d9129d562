/* e2e_lockrank.c - the lock-rank checker (src/sched/lock.h) catches a
 * wrong lock order. Built against the runtime's internals (static library);
 * the failing cases are registered only for builds with GORT_LOCKRANK.
 *
 *   ordered     sched.lock's rank, then the page heap's: fine, exit 0
 *   inverted    the page heap's rank, then sched.lock's: "lock ordering
 *               problem: acquiring rank 10 while holding rank 80"
 *   highest     rank 80 held, a leaf taken and released, then rank 40: the
 *               lock taken and released in between does not hide rank 80
 *   unranked    a lock with no rank: "has no rank"
 *   leaf        a lock taken while a leaf is held
 *   chan_order  two channel locks in decreasing address order
 *   chan_ok     three channel locks in increasing address order, released
 *               in any order, then again: fine */
#include "../src/sched/sched.h"

#include <stdio.h>
#include <string.h>

static rt_lock a, b, c;

int main(int argc, char **argv)
{
    const char *m = argc > 1 ? argv[1] : "";
    if (!strcmp(m, "ordered")) {
        rt_lock_init(&a, RT_RANK_SCHED);
        rt_lock_init(&b, RT_RANK_MHEAP);
        rt_lock_acquire(&a);
        rt_lock_acquire(&b);
        rt_lock_release(&b);
        rt_lock_release(&a);
    } else if (!strcmp(m, "inverted")) {
        rt_lock_init(&a, RT_RANK_MHEAP);
        rt_lock_init(&b, RT_RANK_SCHED);
        rt_lock_acquire(&a);
        rt_lock_acquire(&b);
    } else if (!strcmp(m, "highest")) {
        rt_lock_init(&a, RT_RANK_SCHED);
        rt_lock_init(&b, RT_RANK_MHEAP);
        rt_lock_init(&c, RT_RANK_TIMERS);
        rt_lock_acquire(&b);
        rt_lock_acquire_rank(&a, RT_RANK_LEAF); /* most recent is a leaf ... */
        rt_lock_release(&a);                  /* ... released: 80 is still held */
        rt_lock_acquire(&c);
    } else if (!strcmp(m, "unranked")) {
        rt_lock_acquire(&a);
    } else if (!strcmp(m, "leaf")) {
        rt_lock_init(&a, RT_RANK_LEAF);
        rt_lock_init(&b, RT_RANK_LEAF);
        rt_lock_acquire(&a);
        rt_lock_acquire(&b);
    } else if (!strcmp(m, "chan_order") || !strcmp(m, "chan_ok")) {
        static rt_lock ch[3];
        for (int i = 0; i < 3; i++)
            rt_lock_init(&ch[i], RT_RANK_CHAN);
        if (!strcmp(m, "chan_order")) {
            rt_lock_acquire(&ch[1]);
            rt_lock_acquire(&ch[0]);
        } else {
            for (int round = 0; round < 2; round++) {
                for (int i = 0; i < 3; i++)
                    rt_lock_acquire(&ch[i]);
                rt_lock_release(&ch[1]);
                rt_lock_release(&ch[0]);
                rt_lock_release(&ch[2]);
            }
            rt_lock_init(&a, RT_RANK_SCHED);
            rt_lock_acquire(&ch[2]);
            rt_lock_acquire(&a); /* a higher rank after a channel */
            rt_lock_release(&a);
            rt_lock_release(&ch[2]);
        }
    } else {
        fprintf(stderr, "unknown case %s\n", m);
        return 100;
    }
    printf("%s ok\n", m);
    return 0;
}
