/*
 * authclient: the authd client of submitd (and of smtpd when
 * smtpd_auth_enable is set). It runs in their per-connection processes,
 * unprivileged (mail_owner, chrooted to the queue directory: the socket
 * private/auth is reachable from there). The requests carry SASL data
 * from the network, so every field is checked before it is sent (no
 * field can add a line or a word to authd's protocol), and buffers that
 * held credentials are wiped.
 */
#include "config.h"

#include <sys/socket.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "authclient.h"
#include "log.h"
#include "strbuf.h"
#include "util.h"

int
authclient_connect(const char *sockpath)
{
	int fd;

	if ((fd = unix_connect(sockpath, 0)) == -1)
		log_err("cannot connect to authd (%s): %s", sockpath, strerror(errno));
	return fd;
}

/* One request line and its one answer line (LF removed). 0 or -1. */
static int
authclient_call(struct stream *st, const char *req, char *ans, size_t anslen)
{
	ssize_t n;

	if (stream_puts(st, req) == -1 || stream_puts(st, "\n") == -1 ||
	    stream_flush(st) == -1) {
		log_err("authd: write failed");
		return -1;
	}
	n = stream_getline(st, ans, anslen - 1);
	if (n <= 0 || ans[n - 1] != '\n') {
		log_err("authd: no answer");
		return -1;
	}
	ans[n - 1] = '\0';
	return 0;
}

static int
authclient_word_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (; *s; s++)
		if (!isgraph((unsigned char)*s))
			return 0;
	return 1;
}

int
authclient_open(struct authclient *ac, const char *sockpath,
    const char *service, const char *ip, int timeout_ms)
{
	char req[128];

	ac->fd = -1;
	if (!authclient_word_ok(service, 15) || !authclient_word_ok(ip, 63) ||
	    str_fmt(req, sizeof(req), "client %s %s\n", service, ip) == -1)
		return -1;
	if ((ac->fd = authclient_connect(sockpath)) == -1)
		return -1;
	stream_init(&ac->st, ac->fd, ac->fd, timeout_ms);
	if (stream_puts(&ac->st, req) == -1) {
		authclient_close(ac);
		return -1;
	}
	return 0;	/* sent with the first request */
}

void
authclient_close(struct authclient *ac)
{
	if (ac->fd == -1)
		return;
	stream_close(&ac->st, 1);
	ac->fd = -1;
}

int
authclient_mechs(struct authclient *ac, char *out, size_t outlen)
{
	char ans[1024];

	if (ac->fd == -1 || authclient_call(&ac->st, "mechs", ans, sizeof(ans)) == -1)
		return -1;
	if (strcmp(ans, "mechs") == 0)
		return str_copy(out, "", outlen);
	if (strncmp(ans, "mechs ", 6) != 0) {
		log_err("authd: unexpected answer to mechs");
		return -1;
	}
	return str_copy(out, ans + 6, outlen);
}

/* Map "ok T" / "cont X" / "fail R". */
static int
authclient_answer(const char *ans, char *out, size_t outlen)
{
	int r = -1;

	if (strncmp(ans, "ok ", 3) == 0 && authclient_word_ok(ans + 3, 128))
		r = str_copy(out, ans + 3, outlen) == -1 ? -1 : AUTHC_OK;
	else if (strncmp(ans, "cont ", 5) == 0)
		r = str_copy(out, strcmp(ans + 5, "=") == 0 ? "" : ans + 5,
		    outlen) == -1 ? -1 : AUTHC_CONT;
	else if (strncmp(ans, "fail ", 5) == 0)
		r = str_copy(out, ans + 5, outlen) == -1 ? -1 : AUTHC_FAIL;
	if (r == -1)
		log_err("authd: unexpected answer");
	return r;
}

/* Send a request that may hold credentials; wipe everything after. */
static int
authclient_req(struct authclient *ac, struct strbuf *req, char *out, size_t outlen)
{
	char *ans;
	int r = -1;

	if (ac->fd == -1) {
		strbuf_free_secure(req);
		return -1;
	}
	ans = xmalloc(AUTHC_LINE + 2);
	if (authclient_call(&ac->st, req->data, ans, AUTHC_LINE + 2) == 0)
		r = authclient_answer(ans, out, outlen);
	secure_zero(ans, AUTHC_LINE + 2);
	free(ans);
	strbuf_free_secure(req);
	return r;
}

int
authclient_start(struct authclient *ac, const char *mech, const char *initial,
    char *out, size_t outlen)
{
	struct strbuf req;

	if (!authclient_mech_ok(mech) || (initial != NULL && *initial != '\0' &&
	    !authclient_b64_ok(initial)))
		return -1;
	strbuf_init(&req, AUTHC_LINE);
	if (strbuf_printf(&req, "start %s", mech) == -1 || (initial != NULL &&
	    strbuf_printf(&req, " %s", *initial ? initial : "=") == -1)) {
		strbuf_free_secure(&req);
		return -1;
	}
	return authclient_req(ac, &req, out, outlen);
}

int
authclient_step(struct authclient *ac, const char *data, char *out, size_t outlen)
{
	struct strbuf req;

	if (*data != '\0' && !authclient_b64_ok(data))
		return -1;
	strbuf_init(&req, AUTHC_LINE);
	if (strbuf_printf(&req, "step %s", *data ? data : "=") == -1) {
		strbuf_free_secure(&req);
		return -1;
	}
	return authclient_req(ac, &req, out, outlen);
}

void
authclient_attach(struct authclient *ac, int fd, int timeout_ms)
{
	ac->fd = fd;
	stream_init(&ac->st, fd, fd, timeout_ms);
}

/* Append the base64 of s (a user name or password) to req. 0 or -1. */
static int
authclient_b64_append(struct strbuf *req, const char *s)
{
	size_t len = strlen(s), outlen;
	unsigned char *b;
	int r;

	if (len > 4096)
		return -1;
	if (len == 0)
		return strbuf_putc(req, '=');
	outlen = 4 * ((len + 2) / 3) + 1;
	b = xmalloc(outlen);
	EVP_EncodeBlock(b, (const unsigned char *)s, (int)len);
	r = strbuf_puts(req, (char *)b);
	secure_zero(b, outlen);
	free(b);
	return r;
}

int
authclient_plain(struct authclient *ac, const char *user, const char *pass,
    char *out, size_t outlen)
{
	struct strbuf req;

	strbuf_init(&req, AUTHC_LINE);
	if (strbuf_puts(&req, "plain ") == -1 || authclient_b64_append(&req, user) == -1 ||
	    strbuf_putc(&req, ' ') == -1 || authclient_b64_append(&req, pass) == -1) {
		strbuf_free_secure(&req);
		return -1;
	}
	return authclient_req(ac, &req, out, outlen);
}

int
authclient_token(struct authclient *ac, const char *token, char *user,
    size_t userlen)
{
	char req[256], ans[512];
	int r = -1;

	if (ac->fd == -1 || !authclient_word_ok(token, 128) ||
	    str_fmt(req, sizeof(req), "token %s", token) == -1)
		return -1;
	if (authclient_call(&ac->st, req, ans, sizeof(ans)) == 0 &&
	    strncmp(ans, "user ", 5) == 0 && authclient_word_ok(ans + 5, 255) &&
	    strchr(ans + 5, '@') != NULL)
		r = str_copy(user, ans + 5, userlen);
	secure_zero(req, sizeof(req));
	return r;
}

int
authclient_redeem(const char *sockpath, const char *token, char *user,
    size_t userlen, int timeout_ms)
{
	struct authclient ac;
	int fd, r;

	if ((fd = authclient_connect(sockpath)) == -1)
		return -1;
	authclient_attach(&ac, fd, timeout_ms);
	r = authclient_token(&ac, token, user, userlen);
	authclient_close(&ac);
	return r;
}

int
authclient_mech_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > AUTHC_MECH_MAX)
		return 0;
	for (; *s; s++)
		if (!isupper((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    *s != '-' && *s != '_')
			return 0;
	return 1;
}

int
authclient_b64_ok(const char *s)
{
	size_t n = strlen(s), i, pad = 0;

	if (n == 0 || n % 4 != 0 || n > AUTHC_LINE - 64)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '=') {
			if (i < n - 2)
				return 0;
			pad++;
		} else if (pad > 0 || (!isalnum(c) && c != '+' && c != '/')) {
			return 0;
		}
	}
	return 1;
}
