/* pread.c - file reads from many goroutines: 64 goroutines read a 256 MiB
 * file with 64 KiB gort_pread calls at striped offsets (goroutine g reads
 * blocks g, g+64, g+128, ... wrapping around), 2 GiB in all, page cache
 * warm. Peer: bench/go/pread (os.File.ReadAt).
 *
 *   bench_pread FILE [TOTAL_MIB [GOROUTINES]]
 *
 * FILE is made (256 MiB, the same bytes as the Go peer's) if it is absent
 * or has another size, then read once from start to end so that the timed
 * reads hit the page cache. Reports MiB/s and the wall time of the timed
 * reads (from the first gort_go to the end of gort_wg_wait). Making and
 * warming the file use plain write(2)/read(2): setup, not the benchmark. */
#include <gort.h>
#include <gort/io.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>
#include "bench_util.h"

#define FILE_SIZE (256L << 20)
#define BLOCK (64L << 10)

static int fd;
static long per, ng;
static gort_waitgroup_t wg;
static atomic_long bad;

static void fail(const char *what, int err)
{
    fprintf(stderr, "pread: %s: %s\n", what, strerror(err));
    exit(1);
}

static void make_file(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size == FILE_SIZE)
        return;
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
    int w = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w < 0)
        fail(tmp, errno);
    static char buf[BLOCK];
    for (long b = 0; b < FILE_SIZE / BLOCK; b++) {
        memset(buf, (unsigned char)(b * 7 + 1), sizeof(buf));
        if (write(w, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
            fail(tmp, errno ? errno : EIO);
    }
    if (close(w) != 0 || rename(tmp, path) != 0)
        fail(path, errno);
}

static void reader(void *arg)
{
    long g = (long)(intptr_t)arg, nblocks = FILE_SIZE / BLOCK;
    char *buf = malloc(BLOCK);
    if (buf == NULL)
        fail("malloc", ENOMEM);
    for (long k = 0; k < per; k++) {
        long b = (g + ng * k) % nblocks;
        ssize_t n = gort_pread(fd, buf, BLOCK, (off_t)(b * BLOCK));
        if (n != BLOCK || buf[0] != (char)(unsigned char)(b * 7 + 1))
            atomic_fetch_add(&bad, 1);
    }
    free(buf);
    gort_wg_done(&wg);
}

int gort_main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_pread FILE [TOTAL_MIB [GOROUTINES]]\n");
        return 2;
    }
    long total_mib = argc > 2 ? atol(argv[2]) : 2048;
    ng = argc > 3 ? atol(argv[3]) : 64;
    if (total_mib <= 0 || ng <= 0)
        return 2;
    make_file(argv[1]);
    fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail(argv[1], errno);
    /* warm the page cache: one sequential pass (plain read(2): setup, not
     * the benchmark) */
    static char buf[1 << 20];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        ;
    if (n < 0)
        fail(argv[1], errno);
    per = (total_mib << 20) / BLOCK / ng;
    double t0 = now_ns();
    gort_wg_add(&wg, ng);
    for (long g = 0; g < ng; g++)
        gort_go(reader, (void *)(intptr_t)g);
    gort_wg_wait(&wg);
    double el = now_ns() - t0;
    if (atomic_load(&bad) != 0) {
        fprintf(stderr, "pread: %ld short or wrong reads\n", (long)atomic_load(&bad));
        return 1;
    }
    double bytes = (double)per * (double)ng * BLOCK;
    RESULT("pread_mib_per_s", bytes / (1 << 20) / (el / 1e9), "MiB/s");
    RESULT("pread_ms", el / 1e6, "ms");
    return 0;
}
