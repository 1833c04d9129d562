/* test_os.c - the OS layer (src/os/os.h) on its own, without booting the
 * runtime: address-space states, futexes, thread calls.
 *
 * Whether a page faults is checked without crashing the test: write(2)
 * from an inaccessible page fails with EFAULT (the kernel's copy faults),
 * /proc/self/maps shows the protection, and a forked child that touches
 * the page must die of SIGSEGV. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../src/os/os.h"

#define PG 4096u

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Can the kernel read the byte at p? (write(2) to a pipe: EFAULT if not) */
static bool readable(const void *p)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    ssize_t r = write(fds[1], p, 1);
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    if (r != 1)
        assert_int_equal(e, EFAULT);
    return r == 1;
}

/* Does a child touching p die of SIGSEGV? */
static bool touch_faults(volatile char *p)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        (void)*p;
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV;
}

/* The permissions /proc/self/maps shows for the mapping holding p, and
 * the number of mappings overlapping [lo, hi). */
static void maps_of(uintptr_t p, char perms[5], uintptr_t lo, uintptr_t hi, int *noverlap)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[512];
    strcpy(perms, "?");
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long a, b;
        char pr[5];
        if (sscanf(line, "%lx-%lx %4s", &a, &b, pr) != 3)
            continue;
        if (p >= a && p < b)
            memcpy(perms, pr, 5);
        if (a < hi && b > lo)
            n++;
    }
    fclose(f);
    if (noverlap != NULL)
        *noverlap = n;
}

static void reserve_map_unused(void **state)
{
    (void)state;
    int err = 1;
    size_t n = 64 * PG;
    char *r = rt_sysReserve(NULL, n, &err);
    assert_non_null(r);
    assert_int_equal(err, 0);
    assert_int_equal((uintptr_t)r % PG, 0);
    /* Reserved: no access */
    assert_false(readable(r));
    char perms[5];
    maps_of((uintptr_t)r, perms, 0, 0, NULL);
    assert_string_equal(perms, "---p");
    /* Ready: the middle 16 pages, zero until written */
    char *v = r + 16 * PG;
    assert_int_equal(rt_sysMap(v, 16 * PG), 0);
    maps_of((uintptr_t)v, perms, 0, 0, NULL);
    assert_string_equal(perms, "rw-p");
    for (size_t i = 0; i < 16 * PG; i += PG)
        assert_int_equal(v[i], 0);
    memset(v, 0xa5, 16 * PG);
    assert_false(readable(r + 15 * PG)); /* still reserved around it */
    assert_false(readable(r + 32 * PG));
    /* Unused: still mapped, reads zero again */
    assert_int_equal(rt_sysUnused(v + 4 * PG, 8 * PG), 0);
    for (size_t i = 0; i < 16 * PG; i++)
        assert_int_equal((unsigned char)v[i], i >= 4 * PG && i < 12 * PG ? 0 : 0xa5);
    v[5 * PG] = 1; /* and is writable */
    assert_int_equal(v[5 * PG], 1);
    assert_int_equal(rt_sysNoHugePage(v, 16 * PG), 0);
    /* Free, in parts */
    assert_int_equal(rt_sysFree(r, 16 * PG), 0);
    assert_int_equal(rt_sysFree(r + 16 * PG, 48 * PG), 0);
}

static void alloc_zeroed(void **state)
{
    (void)state;
    int flags[] = {0, RT_SYS_NORESERVE, RT_SYS_NORESERVE | RT_SYS_STACK};
    for (int k = 0; k < 3; k++) {
        int err = 1;
        size_t n = 256 * 1024;
        unsigned char *p = rt_sysAlloc(n, flags[k], &err);
        assert_non_null(p);
        assert_int_equal(err, 0);
        for (size_t i = 0; i < n; i += 512)
            assert_int_equal(p[i], 0);
        p[n - 1] = 7;
        assert_int_equal(rt_sysFree(p, n), 0);
    }
    /* errors are values */
    int err = 0;
    assert_null(rt_sysAlloc(0, 0, &err));
    assert_int_equal(err, -EINVAL);
    assert_int_equal(rt_sysMap((void *)1, PG), -EINVAL);
    assert_int_equal(rt_sysFree((void *)1, PG), -EINVAL);
}

static void fault_page(void **state)
{
    (void)state;
    char *p = rt_sysAlloc(4 * PG, 0, NULL);
    assert_non_null(p);
    memset(p, 1, 4 * PG);
    assert_int_equal(rt_sysFault(p + PG, PG), 0);
    char perms[5];
    maps_of((uintptr_t)(p + PG), perms, 0, 0, NULL);
    assert_string_equal(perms, "---p");
    maps_of((uintptr_t)p, perms, 0, 0, NULL);
    assert_string_equal(perms, "rw-p");
    assert_false(readable(p + PG));
    assert_true(readable(p));
    assert_true(readable(p + 2 * PG));
    assert_true(touch_faults(p + PG));
    assert_false(touch_faults(p + 2 * PG));
    /* back to Ready */
    assert_int_equal(rt_sysMap(p + PG, PG), 0);
    assert_true(readable(p + PG));
    rt_sysFree(p, 4 * PG);
}

static void guard_install(void **state)
{
    (void)state;
    size_t n = 40 * PG;
    char *p = rt_sysAlloc(n, RT_SYS_NORESERVE | RT_SYS_STACK, NULL);
    assert_non_null(p);
    memset(p, 1, n);
    /* 20 guards: more than one process_madvise batch */
    uintptr_t g[20];
    for (int i = 0; i < 20; i++)
        g[i] = (uintptr_t)p + (uintptr_t)(2 * i) * PG;
    int done = -1;
    int err = rt_sysGuardInstall(g, 20, PG, &done);
    if (err == -EINVAL && done == 0) {
        rt_sysFree(p, n);
        skip(); /* kernel older than 6.13: no MADV_GUARD_INSTALL */
    }
    assert_int_equal(err, 0);
    assert_int_equal(done, 20);
    for (int i = 0; i < 20; i++) {
        assert_false(readable((void *)g[i]));
        assert_true(readable((void *)(g[i] + PG)));
        assert_int_equal(p[(2 * i + 1) * PG], 1); /* neighbours keep their contents */
    }
    assert_true(touch_faults(p + 6 * PG));
    assert_false(touch_faults(p + 7 * PG));
    /* no VMA split: one mapping covers the whole range */
    char perms[5];
    int nmaps;
    maps_of((uintptr_t)p, perms, (uintptr_t)p, (uintptr_t)p + n, &nmaps);
    assert_string_equal(perms, "rw-p");
    assert_int_equal(nmaps, 1);
    /* installing again is harmless; a range not mapped fails with its count */
    assert_int_equal(rt_sysGuardInstall(g, 1, PG, NULL), 0);
    rt_sysFree(p, n);
    err = rt_sysGuardInstall(g, 1, PG, &done);
    assert_true(err < 0);
    assert_int_equal(done, 0);
}

static void futex_timeout(void **state)
{
    (void)state;
    uint32_t word = 5;
    /* value differs: no sleep */
    int64_t t0 = now_ns();
    assert_int_equal(rt_futexsleep(&word, 4, 1000000000), -EAGAIN);
    assert_true(now_ns() - t0 < 500000000);
    /* value matches: sleeps about the timeout */
    const int64_t ns = 50000000;
    t0 = now_ns();
    int r = rt_futexsleep(&word, 5, ns);
    int64_t took = now_ns() - t0;
    assert_int_equal(r, -ETIMEDOUT);
    assert_true(took >= ns - 1000000);      /* the kernel never wakes early */
    assert_true(took < ns + 2000000000LL);  /* generous: shared, sanitised machines */
    /* no waiters: nobody to wake */
    assert_int_equal(rt_futexwakeup(&word, 1), 0);
}

static uint32_t wake_word;
static int sleeper_ready, sleeper_tid, sleeper_done;

static void *sleeper(void *arg)
{
    (void)arg;
    __atomic_store_n(&sleeper_tid, rt_sysGettid(), __ATOMIC_SEQ_CST);
    __atomic_store_n(&sleeper_ready, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&wake_word, __ATOMIC_SEQ_CST) == 0)
        rt_futexsleep(&wake_word, 0, -1);
    __atomic_store_n(&sleeper_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* The state letter of thread tid in /proc/self/task/<tid>/stat. */
static char thread_state(int tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    assert_true(n > 0);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')'); /* "tid (comm) S ..." */
    assert_non_null(rp);
    return rp[2];
}

static void futex_wake(void **state)
{
    (void)state;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, sleeper, NULL), 0);
    while (!__atomic_load_n(&sleeper_ready, __ATOMIC_SEQ_CST))
        sched_yield();
    int tid = __atomic_load_n(&sleeper_tid, __ATOMIC_SEQ_CST);
    /* wait until it is asleep in the kernel (10 s at most) */
    int64_t t0 = now_ns();
    while (thread_state(tid) != 'S' && now_ns() - t0 < 10000000000LL)
        usleep(1000);
    assert_int_equal(thread_state(tid), 'S');
    usleep(20000);
    assert_false(__atomic_load_n(&sleeper_done, __ATOMIC_SEQ_CST));
    __atomic_store_n(&wake_word, 1, __ATOMIC_SEQ_CST);
    assert_int_equal(rt_futexwakeup(&wake_word, 1), 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(__atomic_load_n(&sleeper_done, __ATOMIC_SEQ_CST));
}

static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig)
{
    (void)sig;
    got_usr1 = 1;
}

static void threads(void **state)
{
    (void)state;
    assert_int_equal(rt_sysGettid(), (int)syscall(SYS_gettid));
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
    assert_int_equal(rt_sysTgkill(getpid(), rt_sysGettid(), SIGUSR1), 0);
    for (int i = 0; i < 1000 && !got_usr1; i++)
        usleep(1000);
    assert_true(got_usr1);
    assert_int_equal(rt_sysTgkill(getpid(), 0x7ffffff0, SIGUSR1), -ESRCH);
    rt_osyield();
}

static void proc_files(void **state)
{
    (void)state;
    long m = rt_sysMaxMapCount();
    assert_true(m > 0 || m == -ENOENT);
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    int err = 1;
    const unsigned char *p = rt_sysMapFile(fd, PG, &err);
    close(fd);
    assert_non_null(p);
    assert_int_equal(err, 0);
    assert_memory_equal(p, "\177ELF", 4);
    assert_int_equal(rt_sysFree((void *)p, PG), 0);
    assert_null(rt_sysMapFile(-1, PG, &err));
    assert_int_equal(err, -EBADF);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reserve_map_unused),
        cmocka_unit_test(alloc_zeroed),
        cmocka_unit_test(fault_page),
        cmocka_unit_test(guard_install),
        cmocka_unit_test(futex_timeout),
        cmocka_unit_test(futex_wake),
        cmocka_unit_test(threads),
        cmocka_unit_test(proc_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
