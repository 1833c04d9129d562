/* gls.c - goroutine-local storage.
 *
 * Keys are process-wide slots (at most GORT_GLS_KEYS), handed out once and
 * never reused. Each G gets its value array on its first gort_gls_set, so a
 * goroutine that never uses GLS costs nothing. When a goroutine exits, the
 * destructor of each non-NULL value runs (up to 4 passes, as pthread keys,
 * if destructors set values again); the array is then cleared and kept with
 * the dead G for its next life. Values never leak between goroutines. */
#include "sched.h"
#include "../debug/debug.h"

#include <gort.h>
#include <errno.h>
#include <stdlib.h>

static uint32_t nkeys;
static void (*dtors[GORT_GLS_KEYS])(void *);

GORT_API int gort_gls_key_create(gort_gls_key_t *key, void (*dtor)(void *))
{
    if (key == NULL)
        return -EINVAL;
    for (;;) {
        uint32_t n = rt_load(&nkeys);
        if (n >= GORT_GLS_KEYS)
            return -EAGAIN;
        /* Publish the destructor before the key becomes usable. */
        if (rt_cas(&nkeys, n, n + 1)) {
            rt_store(&dtors[n], dtor);
            key->id = n + 1; /* 0 is never a valid key: catches unset keys */
            return 0;
        }
    }
}

GORT_API void *gort_gls_get(gort_gls_key_t key)
{
    rt_g *gp = rt_curg();
    if (gp == NULL || gp->gls == NULL || key.id == 0 || key.id > GORT_GLS_KEYS)
        return NULL;
    return gp->gls[key.id - 1];
}

GORT_API int gort_gls_set(gort_gls_key_t key, void *value)
{
    if (key.id == 0 || key.id > rt_load(&nkeys))
        return -EINVAL;
    rt_g *gp = rt_curg();
    if (gp == NULL)
        return -EPERM;
    if (gp->gls == NULL) {
        if (value == NULL)
            return 0;
        gp->gls = calloc(GORT_GLS_KEYS, sizeof(void *));
        if (gp->gls == NULL)
            return -ENOMEM;
    }
    gp->gls[key.id - 1] = value;
    return 0;
}

void rt_gls_destroy(rt_g *gp)
{
    if (gp->gls == NULL)
        return;
    uint32_t n = rt_load(&nkeys);
    for (int pass = 0; pass < 4; pass++) {
        bool again = false;
        for (uint32_t i = 0; i < n; i++) {
            void *v = gp->gls[i];
            if (v == NULL)
                continue;
            gp->gls[i] = NULL;
            void (*d)(void *) = rt_load(&dtors[i]);
            if (d != NULL) {
                d(v);
                again = true;
            }
        }
        if (!again)
            break;
    }
    for (uint32_t i = 0; i < n; i++)
        gp->gls[i] = NULL;
}
