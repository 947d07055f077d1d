/*
 * stream: buffered, bounded, time-limited I/O on a socket or a pair of
 * fds (inetd: 0 and 1), in clear or over TLS. No stdio on sockets.
 * Output is buffered until stream_flush(); readers flush before they block,
 * which gives RFC 2920 pipelining for free.
 */
#ifndef POSTERN_STREAM_H
#define POSTERN_STREAM_H

#include <stddef.h>
#include <sys/types.h>
#include <openssl/ssl.h>

#define STREAM_RBUF	16384
#define STREAM_WMAX	(1024 * 1024)

#define STREAM_EOF	0
#define STREAM_ERR	(-1)	/* I/O error or timeout (errno ETIMEDOUT) */
#define STREAM_TOOLONG	(-2)	/* line longer than the limit; rest of it discarded */

struct stream;

/*
 * A filter between the stream's buffers and the connection (TLS or
 * plain), such as IMAP COMPRESS=DEFLATE (RFC 4978). Without one, the
 * stream reads and writes the connection directly, as it always did.
 */
struct stream_filter {
	/* Up to n bytes of input into buf: >0, 0 at EOF, -1 on error. */
	ssize_t	(*read)(struct stream *, void *ctx, void *buf, size_t n);
	/* The stream is being flushed: send these n bytes now. 0 or -1. */
	int	(*write)(struct stream *, void *ctx, const void *buf, size_t n);
	/* Release ctx (at stream_close). */
	void	(*free)(void *ctx);
};

struct stream {
	int	 rfd, wfd;
	SSL	*ssl;			/* non-NULL after a TLS handshake */
	const struct stream_filter *filter;	/* NULL: none */
	void	*filter_ctx;
	int	 timeout_ms;		/* per read or write wait */
	char	 rbuf[STREAM_RBUF];
	size_t	 rpos, rlen;
	char	*wbuf;
	size_t	 wlen, wcap;
	int	 failed;		/* sticky write failure */
	unsigned char r_blocking, w_blocking;	/* stream_init made them non-blocking */
	unsigned char replied;		/* output went out since the last read */
	unsigned char rblock;		/* stream_block_reads: recv waits itself */
};

void stream_init(struct stream *, int rfd, int wfd, int timeout_ms);
/* Frees TLS state; closes the fds if close_fds. */
void stream_close(struct stream *, int close_fds);
/*
 * A plain socket (rfd == wfd, no TLS or filter yet): reads block in
 * recv(2) under SO_RCVTIMEO (the stream's timeout) instead of poll(2) then
 * read(2), one system call per command instead of two; writes stay
 * non-blocking (MSG_DONTWAIT). TLS (stream_tls_accept) switches back.
 * Only for an fd its caller closes once the stream is closed:
 * stream_close(s, 0) then leaves it blocking with the timeout set, and
 * saves the two system calls of giving the mode back. 0, or -1 when the
 * stream stays as it was.
 */
int stream_block_reads(struct stream *);
/* stream_init(s, fd, fd, timeout_ms) then stream_block_reads(s), without
 * stream_init's F_GETFL; a stream_init alone where that fails. */
void stream_init_sock(struct stream *, int fd, int timeout_ms);

/*
 * Read one line, up to and including its LF, into buf (max bytes at most,
 * counting the LF; buf gets a NUL after it, so it needs max+1 bytes).
 * Returns the length, STREAM_EOF, STREAM_ERR, or STREAM_TOOLONG (the
 * rest of the overlong line up to its LF has been read and dropped; a
 * timeout or EOF while dropping gives STREAM_ERR / STREAM_EOF). A final
 * line without LF before EOF is returned as it is.
 */
ssize_t stream_getline(struct stream *, char *buf, size_t max);
/*
 * Read at most max bytes of a line, stopping after its LF: what is
 * buffered (waiting only when nothing is). Nothing is dropped: a line
 * longer than max comes in parts. Returns >0 (the part ends with LF when
 * the line did), STREAM_EOF or STREAM_ERR. buf is not NUL-terminated.
 */
ssize_t stream_getline_part(struct stream *, char *buf, size_t max);
/* Read at most n bytes (whatever is buffered first). >0, EOF or ERR. */
ssize_t stream_read(struct stream *, void *buf, size_t n);
/* Bytes read from the peer but not yet consumed. */
size_t stream_pending(const struct stream *);
/* Drop them: used after STARTTLS so that pipelined plaintext is discarded. */
void stream_discard(struct stream *);

int stream_write(struct stream *, const void *, size_t);
int stream_puts(struct stream *, const char *);
int stream_printf(struct stream *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Write out everything buffered. 0 or -1. */
int stream_flush(struct stream *);

/*
 * Put filter between the buffers and the connection from now on. What is
 * buffered for output is flushed first, in clear (the tagged OK of the
 * command that starts the filter). -1 when a filter is already set or
 * input is pending (the peer sent more before it could know the answer).
 * After it, TLS cannot be started.
 */
int stream_set_filter(struct stream *, const struct stream_filter *, void *ctx);
/* For filters: one read from the connection under the stream's timeout. >0, 0 at EOF, -1. */
ssize_t stream_raw_read(struct stream *, void *buf, size_t n);
/* For filters: write all n bytes to the connection under the timeout. 0 or -1. */
int stream_raw_write(struct stream *, const void *buf, size_t n);

/* TLS server handshake on the stream (after STARTTLS, or at once for 465/993/995). 0 or -1. */
int stream_tls_accept(struct stream *, SSL_CTX *);
/* TLS client handshake (the outbound smtp client). 0 or -1. */
int stream_tls_connect(struct stream *, SSL_CTX *, const char *servername);
/* "TLSv1.3:TLS_AES_256_GCM_SHA384" style description, for Received headers and logs. */
const char *stream_tls_info(const struct stream *, char *buf, size_t len);

#endif
