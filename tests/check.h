/* check.h - helpers shared by the cmocka suites.
 *
 * cmocka reports a failed assertion by longjmp'ing to its runner, which
 * must not happen from a goroutine's stack. Inside goroutines use CHECK(),
 * which records the first failure; the test body then calls run_main()
 * (gort_run + assert that no CHECK failed) on the runner's thread.
 *
 * Every test binary takes an optional test-name filter as argv[1] (passed
 * to cmocka_set_test_filter), so ctest runs each test in its own process
 * with its own timeout. */
#ifndef GORT_TEST_CHECK_H
#define GORT_TEST_CHECK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <gort.h>

static char check_failed[512];
static int check_nfail;

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond) && __atomic_fetch_add(&check_nfail, 1, __ATOMIC_SEQ_CST) == 0)             \
            snprintf(check_failed, sizeof(check_failed), "%s:%d: CHECK(%s)", __FILE__, __LINE__, \
                     #cond);                                                                   \
    } while (0)

static inline void run_main(void (*fn)(void *), void *arg)
{
    int r = gort_run(fn, arg);
    assert_int_equal(r, 0);
    if (__atomic_load_n(&check_nfail, __ATOMIC_SEQ_CST) != 0)
        fail_msg("%s", check_failed);
}


#endif
