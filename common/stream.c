/*
 * stream: buffered, bounded, time-limited I/O on a socket or an fd pair,
 * in clear or over TLS (OpenSSL). Runs in every daemon that talks to a
 * peer, after the privilege drop (DESIGN.md rule 1): it never needs root.
 *
 * Every wait goes through poll() with the stream's timeout; the fds are
 * switched to non-blocking mode so that a half-received TLS record or a
 * full socket buffer can never block past it. SSL_read/SSL_write/the
 * handshake retry on WANT_READ/WANT_WRITE under one deadline. A plain
 * socket may instead wait in recv() itself, bounded by SO_RCVTIMEO
 * (stream_block_reads: smtpd's sessions before any STARTTLS, issue 12).
 *
 * An optional filter (struct stream_filter: imapd's COMPRESS=DEFLATE)
 * sits between the buffers and the connection: stream_fill() takes its
 * input from the filter's read, stream_flush() hands the buffered output
 * to the filter's write, and the filter talks to the connection through
 * stream_raw_read()/stream_raw_write(). Without one nothing changes.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "stream.h"
#include "util.h"

static void
stream_setup(struct stream *s, int rfd, int wfd, int timeout_ms)
{
	/*
	 * All but rbuf, which is read only below rlen: pages of it that no
	 * read reaches are never touched (a stream on the stack or in .bss
	 * of a forked process then costs no private memory for them).
	 */
	_Static_assert(offsetof(struct stream, rpos) - offsetof(struct stream, rbuf) -
	    STREAM_RBUF < sizeof(size_t), "rbuf is followed by rpos");
	memset(s, 0, offsetof(struct stream, rbuf));
	memset(&s->rpos, 0, sizeof(*s) - offsetof(struct stream, rpos));
	s->rfd = rfd;
	s->wfd = wfd;
	s->timeout_ms = timeout_ms;
}

void
stream_init(struct stream *s, int rfd, int wfd, int timeout_ms)
{
	stream_setup(s, rfd, wfd, timeout_ms);
	/*
	 * Non-blocking, so that poll() bounds every wait (see the top);
	 * stream_close(s, 0) gives back only what changed here (an fd
	 * accepted with SOCK_NONBLOCK costs one fcntl, and none at close).
	 */
	s->r_blocking = fd_set_nonblock_changed(rfd, 1) == 1;
	if (wfd != rfd)
		s->w_blocking = fd_set_nonblock_changed(wfd, 1) == 1;
}

/*
 * O_NONBLOCK alone, in one system call (FIONBIO; F_SETFL would need the
 * other flags from an F_GETFL first). 0 or -1.
 */
static int
stream_fionbio(int fd, int on)
{
	return ioctl(fd, FIONBIO, &on);
}

/* Back to non-blocking reads under poll() (TLS). SO_RCVTIMEO then waits
 * for nothing. */
static void
stream_unblock_reads(struct stream *s)
{
	if (!s->rblock)
		return;
	s->rblock = 0;
	(void)stream_fionbio(s->rfd, 1);
}

int
stream_block_reads(struct stream *s)
{
	struct timeval tv;

	if (s->rblock)
		return 0;
	if (s->rfd < 0 || s->rfd != s->wfd || s->ssl != NULL ||
	    s->filter != NULL || s->timeout_ms <= 0)
		return -1;
	/* (After stream_init the fd is non-blocking: one FIONBIO below.) */
	tv.tv_sec = s->timeout_ms / 1000;
	tv.tv_usec = (s->timeout_ms % 1000) * 1000;
	/* ENOTSOCK (a pipe): stays under poll(). */
	if (setsockopt(s->rfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1)
		return -1;
	if (stream_fionbio(s->rfd, 0) == -1)
		return -1;	/* still non-blocking: the timeout waits for nothing */
	s->rblock = 1;
	return 0;
}

void
stream_init_sock(struct stream *s, int fd, int timeout_ms)
{
	stream_setup(s, fd, fd, timeout_ms);
	/* No F_GETFL first: the mode is not given back (stream.h). */
	if (stream_block_reads(s) == -1)
		stream_init(s, fd, fd, timeout_ms);
}

void
stream_close(struct stream *s, int close_fds)
{
	if (s->filter != NULL) {
		s->filter->free(s->filter_ctx);
		s->filter = NULL;
		s->filter_ctx = NULL;
	}
	if (s->ssl != NULL) {
		/* Best effort close_notify; never wait for the peer's. */
		if (!s->failed)
			SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (s->wbuf != NULL) {
		secure_zero(s->wbuf, s->wcap);
		free(s->wbuf);
	}
	s->wbuf = NULL;
	s->wlen = s->wcap = 0;
	secure_zero(s->rbuf, sizeof(s->rbuf));
	s->rpos = s->rlen = 0;
	if (close_fds) {
		if (s->rfd >= 0)
			close(s->rfd);
		if (s->wfd >= 0 && s->wfd != s->rfd)
			close(s->wfd);
	} else if (s->rblock) {
		/* stream_block_reads: the caller closes it now (stream.h). */
		s->rblock = 0;
	} else {
		/* Hand the fds back in the blocking mode they came in. */
		if (s->rfd >= 0 && s->r_blocking)
			fd_set_nonblock(s->rfd, 0);
		if (s->wfd >= 0 && s->wfd != s->rfd && s->w_blocking)
			fd_set_nonblock(s->wfd, 0);
	}
	s->rfd = s->wfd = -1;
}

/* Wait until fd is ready for events, at most until deadline (ms). 0 or -1. */
static int
stream_wait(int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int r;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return 0;	/* readable, writable, HUP or ERR: let I/O tell */
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

static int64_t
stream_deadline(const struct stream *s)
{
	return now_ms() + (s->timeout_ms > 0 ? s->timeout_ms : 1);
}

/*
 * After an SSL call returned r <= 0: wait as OpenSSL asks and return 1 to
 * retry, 0 for a clean EOF, -1 for an error or timeout.
 */
static int
stream_ssl_retry(struct stream *s, int r, int64_t deadline)
{
	int e = SSL_get_error(s->ssl, r);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		return stream_wait(s->rfd, POLLIN, deadline) == 0 ? 1 : -1;
	case SSL_ERROR_WANT_WRITE:
		return stream_wait(s->wfd, POLLOUT, deadline) == 0 ? 1 : -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == EINTR)
			return 1;
		if (ERR_peek_error() == 0 && errno == 0) {
			errno = ECONNRESET;
			return 0;	/* EOF without close_notify */
		}
		/* FALLTHROUGH */
	default:
		ERR_clear_error();
		if (errno == 0 || errno == EAGAIN)
			errno = EPROTO;
		return -1;
	}
}

/* One plain read: bytes, 0 at EOF, -1 on error or timeout. */
static ssize_t
stream_plain_read(struct stream *s, void *buf, size_t n, int64_t deadline)
{
	ssize_t r;

	for (;;) {
		/* stream_block_reads: recv waits, SO_RCVTIMEO bounds it. */
		r = s->rblock ? recv(s->rfd, buf, n, 0) : read(s->rfd, buf, n);
		if (r >= 0)
			return r;
		if (errno == EINTR) {
			if (s->rblock && now_ms() >= deadline) {
				errno = ETIMEDOUT;
				return -1;
			}
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (s->rblock) {	/* SO_RCVTIMEO ran out */
			errno = ETIMEDOUT;
			return -1;
		}
		if (stream_wait(s->rfd, POLLIN, deadline) == -1)
			return -1;
	}
}

static ssize_t
stream_ssl_read(struct stream *s, void *buf, size_t n, int64_t deadline)
{
	int r, k;

	for (;;) {
		ERR_clear_error();
		errno = 0;
		r = SSL_read(s->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
		if (r > 0)
			return r;
		if ((k = stream_ssl_retry(s, r, deadline)) != 1)
			return k;
	}
}

/* Refill rbuf (which must be empty). >0, STREAM_EOF or STREAM_ERR. */
static ssize_t
stream_fill(struct stream *s)
{
	ssize_t r;

	/* Answers to pipelined commands go out before we wait for more. */
	if (s->wlen > 0 && stream_flush(s) == -1)
		return STREAM_ERR;
	s->rpos = s->rlen = 0;
	/*
	 * We answered and have read nothing since: the peer is still reading
	 * our answer, so a read now would only say EAGAIN. Wait first (two
	 * system calls per command instead of three; issue 12).
	 */
	if (s->replied && s->filter == NULL && s->ssl == NULL && !s->rblock &&
	    stream_wait(s->rfd, POLLIN, stream_deadline(s)) == -1)
		return STREAM_ERR;
	s->replied = 0;
	if (s->filter != NULL)
		r = s->filter->read(s, s->filter_ctx, s->rbuf, sizeof(s->rbuf));
	else
		r = stream_raw_read(s, s->rbuf, sizeof(s->rbuf));
	if (r < 0)
		return STREAM_ERR;
	s->rlen = (size_t)r;
	return r;
}

ssize_t
stream_raw_read(struct stream *s, void *buf, size_t n)
{
	int64_t deadline = stream_deadline(s);

	if (s->ssl != NULL)
		return stream_ssl_read(s, buf, n, deadline);
	return stream_plain_read(s, buf, n, deadline);
}

/* Drop input up to and including the next LF. 1 when found, EOF or ERR. */
static ssize_t
stream_skipline(struct stream *s)
{
	char *lf;
	ssize_t r;

	for (;;) {
		if (s->rpos == s->rlen && (r = stream_fill(s)) <= 0)
			return r;
		lf = memchr(s->rbuf + s->rpos, '\n', s->rlen - s->rpos);
		if (lf != NULL) {
			s->rpos = (size_t)(lf - s->rbuf) + 1;
			return 1;
		}
		s->rpos = s->rlen;
	}
}

ssize_t
stream_getline(struct stream *s, char *buf, size_t max)
{
	size_t len = 0, n;
	char *lf;
	ssize_t r;

	for (;;) {
		if (s->rpos == s->rlen) {
			r = stream_fill(s);
			if (r == STREAM_EOF && len > 0)
				break;	/* a last line without LF */
			if (r <= 0)
				return r;
		}
		lf = memchr(s->rbuf + s->rpos, '\n', s->rlen - s->rpos);
		n = lf != NULL ? (size_t)(lf - (s->rbuf + s->rpos)) + 1 : s->rlen - s->rpos;
		if (n > max - len) {
			r = stream_skipline(s);
			buf[len] = '\0';
			return r == 1 ? STREAM_TOOLONG : r;
		}
		memcpy(buf + len, s->rbuf + s->rpos, n);
		len += n;
		s->rpos += n;
		if (lf != NULL)
			break;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

ssize_t
stream_getline_part(struct stream *s, char *buf, size_t max)
{
	size_t n;
	char *lf;
	ssize_t r;

	if (max == 0)
		return STREAM_ERR;
	if (s->rpos == s->rlen && (r = stream_fill(s)) <= 0)
		return r;
	n = s->rlen - s->rpos;
	if (n > max)
		n = max;
	if ((lf = memchr(s->rbuf + s->rpos, '\n', n)) != NULL)
		n = (size_t)(lf - (s->rbuf + s->rpos)) + 1;
	memcpy(buf, s->rbuf + s->rpos, n);
	s->rpos += n;
	return (ssize_t)n;
}

ssize_t
stream_read(struct stream *s, void *buf, size_t n)
{
	size_t have;
	ssize_t r;

	if (n == 0)
		return STREAM_ERR;
	if (s->rpos == s->rlen && (r = stream_fill(s)) <= 0)
		return r;
	have = s->rlen - s->rpos;
	if (have > n)
		have = n;
	memcpy(buf, s->rbuf + s->rpos, have);
	s->rpos += have;
	return (ssize_t)have;
}

size_t
stream_pending(const struct stream *s)
{
	/* Only what we hold; bytes inside OpenSSL are not plain input yet. */
	return s->rlen - s->rpos;
}

void
stream_discard(struct stream *s)
{
	s->rpos = s->rlen = 0;
}

int
stream_write(struct stream *s, const void *data, size_t n)
{
	const char *p = data;
	size_t chunk;

	if (s->failed)
		return -1;
	while (n > 0) {
		if (s->wlen == STREAM_WMAX && stream_flush(s) == -1)
			return -1;
		chunk = STREAM_WMAX - s->wlen;
		if (chunk > n)
			chunk = n;
		if (s->wlen + chunk > s->wcap) {
			size_t cap = s->wcap ? s->wcap : 4096;
			while (cap < s->wlen + chunk)
				cap *= 2;
			if (cap > STREAM_WMAX)
				cap = STREAM_WMAX;
			s->wbuf = xreallocarray(s->wbuf, cap, 1);
			s->wcap = cap;
		}
		memcpy(s->wbuf + s->wlen, p, chunk);
		s->wlen += chunk;
		p += chunk;
		n -= chunk;
	}
	return 0;
}

int
stream_puts(struct stream *s, const char *str)
{
	return stream_write(s, str, strlen(str));
}

int
stream_printf(struct stream *s, const char *fmt, ...)
{
	char small[1024], *big;
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return stream_write(s, small, (size_t)n);
	if (n >= STREAM_WMAX)
		return -1;
	big = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	r = stream_write(s, big, (size_t)n);
	free(big);
	return r;
}

/* One plain write of what we can: bytes written or -1. */
static ssize_t
stream_plain_write(struct stream *s, const void *buf, size_t n, int64_t deadline)
{
	ssize_t r;

	for (;;) {
		/* MSG_DONTWAIT: never blocks, also on a stream_block_reads fd. */
		r = send(s->wfd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r == -1 && errno == ENOTSOCK)
			r = write(s->wfd, buf, n);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (stream_wait(s->wfd, POLLOUT, deadline) == -1)
			return -1;
	}
}

static ssize_t
stream_ssl_write(struct stream *s, const void *buf, size_t n, int64_t deadline)
{
	int r, k;

	for (;;) {
		ERR_clear_error();
		errno = 0;
		r = SSL_write(s->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
		if (r > 0)
			return r;
		if ((k = stream_ssl_retry(s, r, deadline)) != 1) {
			if (k == 0)
				errno = EPIPE;
			return -1;
		}
	}
}

int
stream_raw_write(struct stream *s, const void *buf, size_t n)
{
	const char *p = buf;
	size_t off = 0;
	ssize_t r;

	while (off < n) {
		int64_t deadline = stream_deadline(s);
		if (s->ssl != NULL)
			r = stream_ssl_write(s, p + off, n - off, deadline);
		else
			r = stream_plain_write(s, p + off, n - off, deadline);
		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return 0;
}

int
stream_flush(struct stream *s)
{
	int r;

	if (s->failed)
		return -1;
	if (s->wlen == 0)
		return 0;
	if (s->filter != NULL)
		r = s->filter->write(s, s->filter_ctx, s->wbuf, s->wlen);
	else
		r = stream_raw_write(s, s->wbuf, s->wlen);
	if (r == -1) {
		s->failed = 1;
		return -1;
	}
	s->wlen = 0;
	s->replied = 1;
	return 0;
}

int
stream_set_filter(struct stream *s, const struct stream_filter *f, void *ctx)
{
	if (s->filter != NULL || stream_pending(s) > 0)
		return -1;
	if (stream_flush(s) == -1)
		return -1;
	s->filter = f;
	s->filter_ctx = ctx;
	return 0;
}

/* Run SSL_accept or SSL_connect to the end under one deadline. 0 or -1. */
static int
stream_handshake(struct stream *s, int server)
{
	int64_t deadline = stream_deadline(s);
	int r, k;

	for (;;) {
		ERR_clear_error();
		errno = 0;
		r = server ? SSL_accept(s->ssl) : SSL_connect(s->ssl);
		if (r == 1)
			return 0;
		if ((k = stream_ssl_retry(s, r, deadline)) != 1) {
			unsigned long e = ERR_peek_last_error();
			char why[256];
			if (e != 0) {
				ERR_error_string_n(e, why, sizeof(why));
				log_info("TLS handshake failed: %s", why);
			} else {
				log_info("TLS handshake failed: %s",
				    k == 0 ? "connection closed" : strerror(errno));
			}
			ERR_clear_error();
			return -1;
		}
	}
}

/* Set up s->ssl on the stream's fds. 0 or -1. */
static int
stream_ssl_new(struct stream *s, SSL_CTX *ctx)
{
	stream_unblock_reads(s);	/* OpenSSL's reads go under poll() */
	/* TLS goes under a filter, never over one (RFC 4978 3) */
	if (s->ssl != NULL || ctx == NULL || s->filter != NULL)
		return -1;
	if ((s->ssl = SSL_new(ctx)) == NULL)
		return -1;
	SSL_set_mode(s->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (s->rfd == s->wfd ? SSL_set_fd(s->ssl, s->rfd) != 1 :
	    (SSL_set_rfd(s->ssl, s->rfd) != 1 || SSL_set_wfd(s->ssl, s->wfd) != 1)) {
		SSL_free(s->ssl);
		s->ssl = NULL;
		return -1;
	}
	return 0;
}

/*
 * The handshake reads from the fd, never from rbuf: plaintext the peer
 * pipelined after STARTTLS stays in rbuf, and is dropped here (the caller
 * may look at stream_pending() first to log it). RFC 3207 4.2, RFC 2595 3.
 */
int
stream_tls_accept(struct stream *s, SSL_CTX *ctx)
{
	if (stream_flush(s) == -1)
		return -1;
	stream_discard(s);
	if (stream_ssl_new(s, ctx) == -1)
		return -1;
	if (stream_handshake(s, 1) == -1) {
		s->failed = 1;
		return -1;
	}
	return 0;
}

int
stream_tls_connect(struct stream *s, SSL_CTX *ctx, const char *servername)
{
	if (stream_flush(s) == -1)
		return -1;
	stream_discard(s);
	if (stream_ssl_new(s, ctx) == -1)
		return -1;
	if (servername != NULL && *servername != '\0') {
		/* SNI only for names, not address literals (RFC 6066 3). */
		ASN1_OCTET_STRING *ip = a2i_IPADDRESS(servername);
		if (ip == NULL)
			SSL_set_tlsext_host_name(s->ssl, servername);
		else
			ASN1_OCTET_STRING_free(ip);
		ERR_clear_error();
		if (SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER)
			SSL_set1_host(s->ssl, servername);
	}
	if (stream_handshake(s, 0) == -1) {
		s->failed = 1;
		return -1;
	}
	return 0;
}

const char *
stream_tls_info(const struct stream *s, char *buf, size_t len)
{
	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (s->ssl == NULL)
		return buf;
	str_fmt(buf, len, "%s:%s", SSL_get_version(s->ssl),
	    SSL_CIPHER_get_name(SSL_get_current_cipher(s->ssl)));
	return buf;
}
