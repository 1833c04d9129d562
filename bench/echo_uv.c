/* echo_uv.c - the libuv peer of bench/echo_gort.c (comparison only): a TCP
 * echo server on 127.0.0.1:PORT, one event loop, written the fast way:
 * each connection reads into its own buffer (alloc_cb hands it out, no
 * allocation per read) and answers with uv_try_write; only a partial or
 * refused (EAGAIN) try_write copies the rest into a uv_write request.
 * TCP_NODELAY on each connection, as Go's net package sets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct conn {
    uv_tcp_t tcp;
    char buf[4096];
};

struct wreq {
    uv_write_t req;
    uv_buf_t buf;
    char data[];
};

static uv_loop_t *loop;

static void on_close(uv_handle_t *h) { free(h); } /* tcp is the first member of conn */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    struct conn *c = (struct conn *)h;
    *buf = uv_buf_init(c->buf, sizeof(c->buf));
}

static void on_write(uv_write_t *req, int status)
{
    if (status < 0 && !uv_is_closing((uv_handle_t *)req->handle))
        uv_close((uv_handle_t *)req->handle, on_close);
    free(req);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    if (nread < 0) {
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (nread == 0)
        return;
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)nread);
    int w = uv_try_write(s, &b, 1);
    if (w == nread)
        return;
    if (w < 0 && w != UV_EAGAIN) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    size_t off = w > 0 ? (size_t)w : 0, rest = (size_t)nread - off;
    struct wreq *r = malloc(sizeof(*r) + rest);
    if (r == NULL)
        abort();
    memcpy(r->data, buf->base + off, rest);
    r->buf = uv_buf_init(r->data, (unsigned)rest);
    if (uv_write(&r->req, s, &r->buf, 1, on_write) < 0) {
        free(r);
        uv_close((uv_handle_t *)s, on_close);
    }
}

static void on_conn(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct conn *c = malloc(sizeof(*c));
    if (c == NULL)
        abort();
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 9000;
    loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", port, &addr);
    int r = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&server, SOMAXCONN, on_conn);
    if (r != 0) {
        fprintf(stderr, "echo_uv: 127.0.0.1:%d: %s\n", port, uv_strerror(r));
        return 1;
    }
    return uv_run(loop, UV_RUN_DEFAULT);
}
