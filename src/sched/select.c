/* select.c - gort_select (Go: select.go selectgo).
 *
 *   1. pollorder: a uniformly random permutation of the cases (Fisher-Yates
 *      with fastrandn), so among ready cases each is equally likely;
 *      lockorder: the cases sorted by channel address, so two selects on
 *      the same channels lock them in the same order (no deadlock). NULL
 *      channels are left out of both: a nil channel is never ready.
 *   2. Lock every distinct channel in lockorder.
 *   3. Pass 1, in pollorder: the first case that can proceed now (a waiting
 *      partner, buffer data/room, a closed channel for a receive) is done,
 *      everything is unlocked, and its partner (if any) woken.
 *   4. No case ready: block == false returns -1 (the default case).
 *   5. Pass 2: one sudog per case, all sharing one waiter on this stack, is
 *      queued on every channel (in lockorder); park, releasing all the
 *      locks once the G is _Gwaiting.
 *   6. Woken by the channel op that won the waiter's selectdone CAS (it set
 *      waiter.fired): lock everything again, unlink the other sudogs,
 *      unlock, report the fired case. A send case woken by close panics.
 *
 * Sudogs and orders live on this stack for up to SMALL cases and in a malloc'd
 * block beyond (a goroutine's stack is 256 KiB by default). */
#include "sched.h"
#include "../debug/debug.h"

#include <gort.h>

#include <stdlib.h>
#include <string.h>

#define SMALL 16
#define MAXCASES 65536

typedef struct selstate {
    gort_select_case_t *cases;
    uint16_t *lockorder;
    int nlock; /* cases with a non-NULL channel */
} selstate;

static void sellock(selstate *st)
{
    gort_chan_t *last = NULL;
    for (int i = 0; i < st->nlock; i++) {
        gort_chan_t *c = st->cases[st->lockorder[i]].chan;
        if (c != last)
            rt_lock_acquire(rt_chan_lock(c));
        last = c;
    }
}

static void selunlock(selstate *st)
{
    /* Reverse order; each distinct channel once (duplicates are adjacent). */
    for (int i = st->nlock - 1; i >= 0; i--) {
        gort_chan_t *c = st->cases[st->lockorder[i]].chan;
        if (i > 0 && st->cases[st->lockorder[i - 1]].chan == c)
            continue;
        rt_lock_release(rt_chan_lock(c));
    }
}

/* unlockf for the park: release every channel lock once the G is waiting. */
static bool selparkcommit(rt_g *gp, void *arg)
{
    (void)gp;
    selunlock((selstate *)arg);
    return true;
}

static void sortlock(gort_select_case_t *cases, uint16_t *lo, int n)
{
    /* insertion sort by channel address: n is small in practice */
    for (int i = 1; i < n; i++) {
        uint16_t k = lo[i];
        uintptr_t key = (uintptr_t)cases[k].chan;
        int j = i - 1;
        while (j >= 0 && (uintptr_t)cases[lo[j]].chan > key) {
            lo[j + 1] = lo[j];
            j--;
        }
        lo[j + 1] = k;
    }
}

static int cmpcase(const void *a, const void *b, void *arg)
{
    gort_select_case_t *cases = arg;
    uintptr_t x = (uintptr_t)cases[*(const uint16_t *)a].chan, y = (uintptr_t)cases[*(const uint16_t *)b].chan;
    return x < y ? -1 : x > y;
}

static int selectgo(gort_select_case_t *cases, int n, bool block);

GORT_API int gort_select(gort_select_case_t *cases, int n, bool block)
{
    int i = selectgo(cases, n, block);
    rt_preemptpoint(); /* a non-blocking select in a polling loop */
    return i;
}

/* Go's selectgo (steps above). */
static int selectgo(gort_select_case_t *cases, int n, bool block)
{
    if (n < 0 || n > MAXCASES || (n > 0 && cases == NULL))
        rt_throwf("gort_select: bad case list (n=%d)", n);
    uint16_t pollbuf[SMALL], lockbuf[SMALL];
    rt_sudog sgbuf[SMALL];
    uint16_t *pollorder = pollbuf, *lockorder = lockbuf;
    rt_sudog *sgs = sgbuf;
    void *heap = NULL;
    if (n > SMALL) {
        heap = malloc((size_t)n * (2 * sizeof(uint16_t) + sizeof(rt_sudog)));
        if (heap == NULL)
            rt_throw("gort_select: out of memory");
        sgs = heap;
        pollorder = (uint16_t *)(sgs + n);
        lockorder = pollorder + n;
    }

    /* 1. orders; NULL channels are never ready and take no part. */
    int np = 0;
    for (int i = 0; i < n; i++) {
        if (cases[i].dir != GORT_SELECT_SEND && cases[i].dir != GORT_SELECT_RECV)
            rt_throwf("gort_select: case %d has no direction (GORT_SELECT_SEND or GORT_SELECT_RECV)", i);
        if (cases[i].chan == NULL)
            continue;
        uint32_t j = rt_fastrandn((uint32_t)np + 1);
        pollorder[np] = pollorder[j];
        pollorder[j] = (uint16_t)i;
        np++;
    }
    if (np == 0) {
        free(heap);
        if (!block)
            return -1;
        rt_chan_block_forever(n == 0 ? WR_SELECT_NO_CASES : WR_SELECT);
    }
    memcpy(lockorder, pollorder, (size_t)np * sizeof(uint16_t));
    if (np <= 32)
        sortlock(cases, lockorder, np);
    else
        qsort_r(lockorder, (size_t)np, sizeof(uint16_t), cmpcase, cases);
    selstate st = {cases, lockorder, np};

    /* 2-3. lock all, take the first case that can proceed. */
    sellock(&st);
    for (int k = 0; k < np; k++) {
        int i = pollorder[k];
        gort_select_case_t *cs = &cases[i];
        rt_sudog *wake = NULL;
        bool done;
        if (cs->dir == GORT_SELECT_SEND) {
            if (rt_chan_closed_locked(cs->chan)) {
                selunlock(&st);
                free(heap);
                rt_panic("send on closed channel");
            }
            done = rt_chan_try_send_locked(cs->chan, cs->elem, &wake);
        } else {
            bool received = false;
            done = rt_chan_try_recv_locked(cs->chan, cs->elem, &received, &wake);
            if (done)
                cs->ok = received;
        }
        if (done) {
            selunlock(&st);
            if (wake != NULL)
                rt_sudog_wake(wake);
            free(heap);
            return i;
        }
    }

    /* 4. default */
    if (!block) {
        selunlock(&st);
        free(heap);
        return -1;
    }

    /* 5. queue on every channel and park */
    rt_waiter w = {.g = rt_curg()};
    for (int k = 0; k < np; k++) {
        int i = lockorder[k];
        rt_sudog *sg = &sgs[i];
        memset(sg, 0, sizeof(*sg));
        sg->w = &w;
        sg->c = cases[i].chan;
        sg->elem = cases[i].elem;
        sg->isselect = true;
        rt_waitq_enqueue(rt_chan_queue(cases[i].chan, cases[i].dir == GORT_SELECT_SEND), sg);
    }
    if (w.g != NULL) {
        rt_park(selparkcommit, &st, WR_SELECT);
    } else {
        selunlock(&st);
        rt_notesleep(&w.note);
    }

    /* 6. woken: withdraw the other cases */
    rt_sudog *fired = w.fired;
    sellock(&st);
    for (int k = 0; k < np; k++) {
        int i = lockorder[k];
        if (&sgs[i] != fired)
            rt_waitq_remove(rt_chan_queue(cases[i].chan, cases[i].dir == GORT_SELECT_SEND), &sgs[i]);
    }
    selunlock(&st);
    int casi = (int)(fired - sgs);
    bool success = fired->success;
    free(heap);
    if (casi < 0 || casi >= n)
        rt_throw("gort_select: woken by an unknown case");
    if (cases[casi].dir == GORT_SELECT_SEND) {
        if (!success)
            rt_panic("send on closed channel");
    } else {
        cases[casi].ok = success;
    }
    return casi;
}
