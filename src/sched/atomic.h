/* src/sched/atomic.h - the runtime's atomics (Go: runtime/internal/atomic).
 *
 * GCC/Clang builtins on plain fields, so that public types stay plain C
 * structs that are valid when zero-initialised. rt_load/rt_store/rt_xadd/
 * rt_xchg/rt_cas are sequentially consistent (Go's atomics are); the _acq,
 * _rel and _relaxed forms say in their name what they give, and each use
 * says why that is enough. Part of the scheduler's internal interface:
 * include sched.h. */
#ifndef GORT_SCHED_ATOMIC_H
#define GORT_SCHED_ATOMIC_H

#include <stdbool.h>

#define RT_CACHELINE 64
#define rt_likely(x) __builtin_expect(!!(x), 1)
#define rt_unlikely(x) __builtin_expect(!!(x), 0)

/* Atomics: GCC/Clang builtins on plain fields, so public types stay plain
 * C structs that are valid when zero-initialised. */
#define rt_load(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define rt_load_acq(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define rt_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define rt_store(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define rt_store_rel(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define rt_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define rt_xadd(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define rt_xchg(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define rt_cas(p, old, new_) \
    __extension__({ __typeof__(*(p)) o_ = (old); \
        __atomic_compare_exchange_n((p), &o_, (new_), false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED); })
#define rt_cas_rel(p, old, new_) \
    __extension__({ __typeof__(*(p)) o_ = (old); \
        __atomic_compare_exchange_n((p), &o_, (new_), false, __ATOMIC_RELEASE, __ATOMIC_RELAXED); })

#endif /* GORT_SCHED_ATOMIC_H */
