/* echo_gort.c - gort's TCP echo server for bench/run echo (load from
 * bench/echo_load, a separate process): gort_listen_tcp on 127.0.0.1:PORT,
 * gort_accept in the main goroutine, one goroutine per connection that
 * loops gort_read (up to 4 KiB) / gort_write until the read returns <= 0.
 * TCP_NODELAY on each connection, as Go's net package sets (the peer is
 * bench/go/echo; bench/echo_uv.c is the libuv one). */
#include <gort.h>
#include <gort/io.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    for (;;) {
        ssize_t n = gort_read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        if (gort_write(fd, buf, (size_t)n) != n)
            break;
    }
    gort_close(fd);
}

int gort_main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 9000;
    int lfd = gort_listen_tcp("127.0.0.1", port, 0);
    if (lfd < 0) {
        fprintf(stderr, "echo_gort: 127.0.0.1:%d: %s\n", port, strerror(-lfd));
        return 1;
    }
    for (;;) {
        int fd = gort_accept(lfd, NULL, NULL);
        if (fd < 0) {
            fprintf(stderr, "echo_gort: accept: %s\n", strerror(-fd));
            return 1;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        gort_go(serve, (void *)(intptr_t)fd);
    }
}
