/*
 * Unit tests of imapd/imap_compress.c and the stream filter hook of
 * common/stream.c: on a socketpair, the server side is a struct stream
 * switched to COMPRESS=DEFLATE (RFC 4978), the client side uses zlib
 * directly. Lines both ways, a command with a synchronising literal
 * through imap_cmd_read, the tagged OK in clear, a large write and a
 * large read, a highly compressed overlong line, corrupt input, the end
 * of the client's DEFLATE stream, and refusals (twice, pending input).
 */
#include "config.h"

#include <sys/socket.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "imap.h"
#include "imap_parse.h"
#include "stream.h"
#include "util.h"

struct client {
	int		fd;
	z_stream	def, inf;
	unsigned char	ibuf[4096];
	int		inf_end;
};

struct pair {
	struct stream	s;
	struct client	c;
};

static void
pair_open(struct pair *p, int start)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	stream_init(&p->s, sv[0], sv[0], 5000);
	memset(&p->c, 0, sizeof(p->c));
	p->c.fd = sv[1];
	assert_int_equal(deflateInit2(&p->c.def, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	assert_int_equal(inflateInit2(&p->c.inf, -15), Z_OK);
	if (start)
		assert_int_equal(imap_compress_start(&p->s), 0);
}

static void
pair_close(struct pair *p)
{
	stream_close(&p->s, 1);
	close(p->c.fd);
	deflateEnd(&p->c.def);
	inflateEnd(&p->c.inf);
}

/* The client compresses len bytes and sends them (flush: Z_SYNC_FLUSH or Z_FINISH). */
static void
client_send(struct client *c, const void *data, size_t len, int flush)
{
	unsigned char out[8192];
	int z;

	c->def.next_in = (unsigned char *)(uintptr_t)data;
	c->def.avail_in = (uInt)len;
	do {
		c->def.next_out = out;
		c->def.avail_out = sizeof(out);
		z = deflate(&c->def, flush);
		assert_true(z == Z_OK || z == Z_STREAM_END || z == Z_BUF_ERROR);
		assert_int_equal(write_all(c->fd, out, sizeof(out) - c->def.avail_out), 0);
	} while (c->def.avail_out == 0);
	assert_int_equal(c->def.avail_in, 0);
}

static void
client_puts(struct client *c, const char *s)
{
	client_send(c, s, strlen(s), Z_SYNC_FLUSH);
}

/* The client reads and inflates exactly want bytes into out. 0 or -1. */
static int
client_recv(struct client *c, void *out, size_t want)
{
	struct pollfd pfd;
	ssize_t n;
	int z;

	c->inf.next_out = out;
	c->inf.avail_out = (uInt)want;
	while (c->inf.avail_out > 0) {
		if (c->inf.avail_in == 0) {
			pfd.fd = c->fd;
			pfd.events = POLLIN;
			if (poll(&pfd, 1, 5000) != 1)
				return -1;
			if ((n = read(c->fd, c->ibuf, sizeof(c->ibuf))) <= 0)
				return -1;
			c->inf.next_in = c->ibuf;
			c->inf.avail_in = (uInt)n;
		}
		z = inflate(&c->inf, Z_SYNC_FLUSH);
		if (z != Z_OK && z != Z_BUF_ERROR)
			return -1;
	}
	return 0;
}

/* Nothing more is waiting for the client (the server sent exactly that). */
static void
client_nothing_more(struct client *c)
{
	struct pollfd pfd = { c->fd, POLLIN, 0 };

	assert_int_equal(c->inf.avail_in, 0);
	assert_int_equal(poll(&pfd, 1, 50), 0);
}

static void
test_lines(void **state)
{
	struct pair p;
	char buf[256];
	ssize_t n;

	(void)state;
	pair_open(&p, 0);
	/* the tagged OK goes out in clear, the rest compressed (RFC 4978 3) */
	assert_int_equal(stream_puts(&p.s, "a OK DEFLATE active\r\n"), 0);
	assert_int_equal(imap_compress_start(&p.s), 0);
	n = read(p.c.fd, buf, sizeof(buf));
	assert_int_equal(n, 21);
	assert_memory_equal(buf, "a OK DEFLATE active\r\n", 21);
	assert_int_equal(imap_compress_start(&p.s), -1);	/* already on */

	/* server to client: each flush is whole at once */
	assert_int_equal(stream_puts(&p.s, "* 3 EXISTS\r\n"), 0);
	assert_int_equal(stream_flush(&p.s), 0);
	assert_int_equal(client_recv(&p.c, buf, 12), 0);
	assert_memory_equal(buf, "* 3 EXISTS\r\n", 12);
	client_nothing_more(&p.c);
	assert_int_equal(stream_printf(&p.s, "* %d RECENT\r\nb OK done\r\n", 1), 0);
	assert_int_equal(stream_flush(&p.s), 0);
	assert_int_equal(client_recv(&p.c, buf, 23), 0);
	assert_memory_equal(buf, "* 1 RECENT\r\nb OK done\r\n", 23);
	client_nothing_more(&p.c);
	assert_int_equal(stream_flush(&p.s), 0);	/* nothing buffered: nothing sent */
	client_nothing_more(&p.c);

	/* client to server, pipelined, and split mid-line */
	client_puts(&p.c, "c NOOP\r\nd CHE");
	client_puts(&p.c, "CK\r\n");
	assert_int_equal(stream_getline(&p.s, buf, 100), 8);
	assert_string_equal(buf, "c NOOP\r\n");
	assert_int_equal(stream_getline(&p.s, buf, 100), 9);
	assert_string_equal(buf, "d CHECK\r\n");
	pair_close(&p);
}

/* imap_cmd_read over DEFLATE: "+ OK" comes back compressed. */
static void
test_cmd_read(void **state)
{
	static const struct imap_limits lim = { IMAP_LINE_MAX, 1 << 20, 2 << 20, 1 };
	struct imap_cmd cmd;
	struct pair p;
	char err[128], buf[64];

	(void)state;
	pair_open(&p, 1);
	imap_cmd_init(&cmd);
	client_puts(&p.c, "a LOGIN {5}\r\nsmith {6+}\r\nsesame\r\nb SELECT INBOX\r\n");
	assert_int_equal(imap_cmd_read(&p.s, &cmd, &lim, err, sizeof(err)), IMAP_READ_OK);
	assert_string_equal(cmd.name, "LOGIN");
	assert_int_equal(cmd.nargs, 2);
	assert_string_equal(cmd.args[0].str, "smith");
	assert_string_equal(cmd.args[1].str, "sesame");
	assert_int_equal(client_recv(&p.c, buf, 6), 0);
	assert_memory_equal(buf, "+ OK\r\n", 6);
	client_nothing_more(&p.c);
	assert_int_equal(imap_cmd_read(&p.s, &cmd, &lim, err, sizeof(err)), IMAP_READ_OK);
	assert_string_equal(cmd.tag, "b");
	imap_cmd_free(&cmd);
	pair_close(&p);
}

struct big {
	struct pair	*p;
	unsigned char	*data;
	size_t		 len;
	int		 ok;
};

static void
fill(unsigned char *d, size_t len)
{
	uint32_t x = 1;
	size_t i;

	/* text-like runs and incompressible stretches */
	for (i = 0; i < len; i++) {
		x = x * 1664525 + 1013904223;
		d[i] = (i / 65536) % 2 ? (unsigned char)(x >> 24) :
		    (unsigned char)("IMAP compress test line\r\n"[i % 25]);
	}
}

static void *
big_reader(void *arg)
{
	struct big *b = arg;
	unsigned char *got = xmalloc(b->len);

	b->ok = client_recv(&b->p->c, got, b->len) == 0 &&
	    memcmp(got, b->data, b->len) == 0;
	free(got);
	return NULL;
}

static void *
big_writer(void *arg)
{
	struct big *b = arg;

	client_send(&b->p->c, b->data, b->len, Z_SYNC_FLUSH);
	b->ok = 1;
	return NULL;
}

static void
test_large(void **state)
{
	struct pair p;
	struct big b;
	pthread_t th;
	size_t n = 4 << 20, got;
	unsigned char *in;
	ssize_t r;

	(void)state;
	pair_open(&p, 1);
	b.p = &p;
	b.data = xmalloc(n);
	b.len = n;
	b.ok = 0;
	fill(b.data, n);
	/* one large write, over STREAM_WMAX: flushed in parts on the way */
	assert_int_equal(pthread_create(&th, NULL, big_reader, &b), 0);
	assert_int_equal(stream_write(&p.s, b.data, n), 0);
	assert_int_equal(stream_flush(&p.s), 0);
	pthread_join(th, NULL);
	assert_true(b.ok);
	/* and a large upload */
	b.ok = 0;
	in = xmalloc(n);
	assert_int_equal(pthread_create(&th, NULL, big_writer, &b), 0);
	for (got = 0; got < n; got += (size_t)r) {
		r = stream_read(&p.s, in + got, n - got);
		assert_true(r > 0);
	}
	pthread_join(th, NULL);
	assert_true(b.ok);
	assert_memory_equal(in, b.data, n);
	free(in);
	free(b.data);
	pair_close(&p);
}

/* 8 MB of one byte compress to a few KB: the line limit still holds. */
static void
test_bomb(void **state)
{
	struct pair p;
	size_t n = 8 << 20;
	char *a = xmalloc(n), buf[1024];

	(void)state;
	pair_open(&p, 1);
	memset(a, 'a', n);
	client_send(&p.c, a, n, Z_NO_FLUSH);
	client_puts(&p.c, "\nx NOOP\n");
	assert_int_equal(stream_getline(&p.s, buf, 1000), STREAM_TOOLONG);
	assert_int_equal(stream_getline(&p.s, buf, 1000), 7);
	assert_string_equal(buf, "x NOOP\n");
	free(a);
	pair_close(&p);
}

static void
test_end_and_errors(void **state)
{
	struct pair p;
	char buf[64];

	(void)state;
	/* the client ends its DEFLATE stream: what came before, then EOF */
	pair_open(&p, 1);
	client_send(&p.c, "a LOGOUT\r\n", 10, Z_FINISH);
	assert_int_equal(stream_getline(&p.s, buf, 60), 10);
	assert_int_equal(stream_getline(&p.s, buf, 60), STREAM_EOF);
	pair_close(&p);

	/* not DEFLATE data */
	pair_open(&p, 1);
	assert_int_equal(write_all(p.c.fd, "\xff\xff\xff\xff garbage\r\n", 14), 0);
	assert_int_equal(stream_getline(&p.s, buf, 60), STREAM_ERR);
	pair_close(&p);

	/* the peer closes: EOF */
	pair_open(&p, 1);
	shutdown(p.c.fd, SHUT_WR);
	assert_int_equal(stream_getline(&p.s, buf, 60), STREAM_EOF);
	pair_close(&p);

	/* the client sent more before the OK: refused, the stream stays clear */
	pair_open(&p, 0);
	assert_int_equal(write_all(p.c.fd, "a COMPRESS DEFLATE\r\nb NOOP\r\n", 28), 0);
	assert_int_equal(stream_getline(&p.s, buf, 60), 20);
	assert_int_equal(imap_compress_start(&p.s), -1);
	assert_int_equal(stream_getline(&p.s, buf, 60), 8);
	assert_string_equal(buf, "b NOOP\r\n");
	pair_close(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_cmd_read),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_bomb),
		cmocka_unit_test(test_end_and_errors),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
