/*
 * imap_compress: COMPRESS=DEFLATE (RFC 4978) as a stream filter
 * (common/stream.h): raw DEFLATE (RFC 1951, zlib windowBits -15) both
 * ways, between the stream's buffers and the connection (over TLS when
 * there is TLS, RFC 4978 3). Runs in imapd's session process, as the
 * mail owner.
 *
 * Each stream_flush() deflates what is buffered with Z_SYNC_FLUSH, so
 * that every response goes out whole at once (RFC 4978 4) and the
 * client never waits on bytes kept in the compressor. Input is inflated
 * at most one stream buffer at a time: a small, highly compressed input
 * cannot make us hold more than that, and the command reader's limits
 * apply to the inflated bytes as they do to clear ones.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "imap.h"
#include "stream.h"
#include "util.h"

#define COMPRESS_BUF	16384
/* RFC 4978 4: "keep it at 1-5"; responses compress well at the cheapest level */
#define COMPRESS_LEVEL	Z_BEST_SPEED

struct compress {
	z_stream	in;		/* inflate: from the client */
	z_stream	out;		/* deflate: to the client */
	int		in_end;		/* the client ended its DEFLATE stream */
	unsigned char	ibuf[COMPRESS_BUF];
	unsigned char	obuf[COMPRESS_BUF];
};

static ssize_t
compress_read(struct stream *s, void *ctx, void *buf, size_t n)
{
	struct compress *c = ctx;
	ssize_t r;
	int z;

	for (;;) {
		if (c->in_end)
			return 0;
		if (c->in.avail_in == 0) {
			if ((r = stream_raw_read(s, c->ibuf, sizeof(c->ibuf))) <= 0)
				return r;
			c->in.next_in = c->ibuf;
			c->in.avail_in = (uInt)r;
		}
		c->in.next_out = buf;
		c->in.avail_out = n > COMPRESS_BUF ? COMPRESS_BUF : (uInt)n;
		z = inflate(&c->in, Z_SYNC_FLUSH);
		if (z == Z_STREAM_END)
			c->in_end = 1;
		else if (z != Z_OK && z != Z_BUF_ERROR) {
			errno = EPROTO;	/* not DEFLATE data */
			return -1;
		}
		if (c->in.next_out != buf)
			return (ssize_t)((unsigned char *)c->in.next_out - (unsigned char *)buf);
	}
}

static int
compress_write(struct stream *s, void *ctx, const void *buf, size_t n)
{
	struct compress *c = ctx;
	const unsigned char *p = buf;
	size_t chunk;
	int z;

	/* Z_SYNC_FLUSH once, after the last of it */
	do {
		chunk = n > COMPRESS_BUF ? COMPRESS_BUF : n;
		c->out.next_in = (unsigned char *)(uintptr_t)p;
		c->out.avail_in = (uInt)chunk;
		p += chunk;
		n -= chunk;
		do {
			c->out.next_out = c->obuf;
			c->out.avail_out = sizeof(c->obuf);
			z = deflate(&c->out, n == 0 ? Z_SYNC_FLUSH : Z_NO_FLUSH);
			if (z == Z_STREAM_ERROR)
				return -1;
			if (c->out.avail_out < sizeof(c->obuf) &&
			    stream_raw_write(s, c->obuf, sizeof(c->obuf) - c->out.avail_out) == -1)
				return -1;
		} while (c->out.avail_out == 0);
	} while (n > 0);
	return 0;
}

static void
compress_free(void *ctx)
{
	struct compress *c = ctx;

	inflateEnd(&c->in);
	deflateEnd(&c->out);
	/* it held the session's traffic */
	secure_zero(c, sizeof(*c));
	free(c);
}

static const struct stream_filter compress_filter = {
	compress_read, compress_write, compress_free
};

int
imap_compress_start(struct stream *s)
{
	struct compress *c;

	if (s->filter != NULL)
		return -1;	/* the caller answers BAD [COMPRESSIONACTIVE] */
	c = xcalloc(1, sizeof(*c));
	if (inflateInit2(&c->in, -15) != Z_OK) {
		free(c);
		return -1;
	}
	if (deflateInit2(&c->out, COMPRESS_LEVEL, Z_DEFLATED, -15, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		inflateEnd(&c->in);
		free(c);
		return -1;
	}
	/* the tagged OK goes out in clear; everything after it compressed */
	if (stream_set_filter(s, &compress_filter, c) == -1) {
		compress_free(c);
		return -1;
	}
	return 0;
}
