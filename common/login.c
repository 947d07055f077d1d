/*
 * login: the access servers' pre-auth/post-auth split (see login.h for
 * the process picture). The connection process starts with the daemon's
 * privileges (root when started as root), opens everything it will need
 * (two authd connections, a socketpair), forks the login process and
 * drops to vmail_user before it reads a byte. The login process drops to
 * login_user in an empty chroot before it reads a byte from the client
 * (rules 1, 2, 4). After authentication over TLS it stays and relays
 * bytes between the client and the session, as Dovecot's login processes
 * do; without TLS it hands the client over to the session (which has had
 * the socket since the fork but never read from it before) and exits, as
 * Dovecot's do after a plaintext login.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "conf.h"
#include "listen.h"
#include "log.h"
#include "authclient.h"
#include "login.h"
#include "login_int.h"
#include "priv.h"
#include "strbuf.h"
#include "util.h"

#define LOGIN_IDLE_MS		600000	/* RFC 1939 3: autologout at least 10 minutes */
#define LOGIN_PROXY_BUF		16384
#define LOGIN_QUIET_MS		100	/* relay quiet this long: give its buffers back */

/* The login process's connection to authd (one per process). */
static struct authclient login_authd;
/* How long the relay waits for either side (past the session's own limit). */
static int login_relay_idle_ms = LOGIN_IDLE_MS + 60000;

int
login_setup(const struct conf *c, char *err, size_t errlen)
{
	struct priv_id id;
	char empty[4096];
	struct stat st;

	if (!priv_is_root())
		return 0;
	if (priv_lookup(c->login_user, &id, err, errlen) == -1 ||
	    priv_lookup(c->vmail_user, &id, err, errlen) == -1)
		return -1;
	if (str_fmt(empty, sizeof(empty), "%s/empty", c->state_dir) == -1) {
		str_fmt(err, errlen, "state_dir too long");
		return -1;
	}
	if (mkdir(empty, 0755) == -1 && errno != EEXIST) {
		str_fmt(err, errlen, "mkdir %s: %s", empty, strerror(errno));
		return -1;
	}
	/* The chroot must be root's and empty, or the drop gains nothing. */
	if (lstat(empty, &st) == -1 || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 022) != 0) {
		str_fmt(err, errlen, "%s must be a directory owned by root, mode 0755",
		    empty);
		return -1;
	}
	return 0;
}

/* Connect to authd's socket, $queue_dir/private/auth. fd or -1. */
static int
login_authd_connect(const struct conf *c)
{
	char path[4096];

	if (str_fmt(path, sizeof(path), "%s/%s", c->queue_dir, AUTHC_SOCKET) == -1) {
		log_err("authd socket path too long");
		return -1;
	}
	return authclient_connect(path);
}

/* authclient's results are LOGIN_AUTH_*; keep the token for the handover. */
static int
login_auth_result(struct login_conn *lc, int r, char *out, size_t outlen)
{
	if (r == AUTHC_OK) {
		if (strlen(out) != LOGIN_TOKEN_HEX) {
			log_err("authd: unexpected token");
			return -1;
		}
		str_copy(lc->token, out, sizeof(lc->token));
		secure_zero(out, outlen);
		str_copy(out, "", outlen);
		return LOGIN_AUTH_OK;
	}
	return r == AUTHC_CONT ? LOGIN_AUTH_CONT : r == AUTHC_FAIL ? LOGIN_AUTH_FAIL : -1;
}

/* Refuse locally what authd would refuse: the client's fault, not authd's. */
static int
login_auth_refuse(const char *why, char *out, size_t outlen)
{
	str_copy(out, why, outlen);
	return LOGIN_AUTH_FAIL;
}

int
login_auth_mechs(struct login_conn *lc, char *out, size_t outlen)
{
	(void)lc;
	return authclient_mechs(&login_authd, out, outlen);
}

int
login_auth_start(struct login_conn *lc, const char *mech, const char *initial_b64,
    char *out, size_t outlen)
{
	char m[AUTHC_MECH_MAX + 1];

	/* SASL mechanism names are matched without regard to case. */
	if (str_copy(m, mech, sizeof(m)) == -1)
		return login_auth_refuse("mech", out, outlen);
	for (char *p = m; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	if (!authclient_mech_ok(m))
		return login_auth_refuse("mech", out, outlen);
	if (initial_b64 != NULL && *initial_b64 != '\0' &&
	    strcmp(initial_b64, "=") != 0 && !authclient_b64_ok(initial_b64))
		return login_auth_refuse("proto", out, outlen);
	if (initial_b64 != NULL && strcmp(initial_b64, "=") == 0)
		initial_b64 = "";
	return login_auth_result(lc, authclient_start(&login_authd, m, initial_b64,
	    out, outlen), out, outlen);
}

int
login_auth_step(struct login_conn *lc, const char *b64, char *out, size_t outlen)
{
	if (*b64 != '\0' && strcmp(b64, "=") != 0 && !authclient_b64_ok(b64))
		return login_auth_refuse("proto", out, outlen);
	return login_auth_result(lc, authclient_step(&login_authd,
	    strcmp(b64, "=") == 0 ? "" : b64, out, outlen), out, outlen);
}

int
login_auth_plain(struct login_conn *lc, const char *user, const char *pass,
    char *out, size_t outlen)
{
	char ans[LOGIN_TOKEN_HEX + 64];	/* a token, or a short reason */
	int r;

	r = login_auth_result(lc, authclient_plain(&login_authd, user, pass,
	    ans, sizeof(ans)), ans, sizeof(ans));
	str_copy(out, ans, outlen);
	secure_zero(ans, sizeof(ans));
	return r;
}

int
login_mech_is_plaintext(const char *mech)
{
	return str_ieq(mech, "PLAIN") || str_ieq(mech, "LOGIN");
}

int
login_fail_limit(const struct login_conn *lc, unsigned int fails)
{
	unsigned long long max = lc->conf->submission_auth_failures;

	return max != 0 && fails >= max;
}

int
login_starttls(struct login_conn *lc)
{
	if (lc->tls_ctx == NULL || lc->tls)
		return -1;
	if (stream_flush(&lc->s) == -1)
		return -1;
	/* RFC 2595 4 / RFC 3207 4.2: pipelined plaintext must not survive. */
	stream_discard(&lc->s);
	if (stream_tls_accept(&lc->s, lc->tls_ctx) == -1) {
		log_info("%s: TLS handshake failed", lc->peer);
		return -1;
	}
	lc->tls = 1;
	return 0;
}

/* The relay after authentication: client <-> session, both directions. */

struct login_pipe {
	char	buf[LOGIN_PROXY_BUF] __attribute__((aligned(4096)));
	size_t	off, len;
	int	eof;
};

/* Read from the client into p. 0 (progress or nothing yet) or -1 (done). */
static int
login_proxy_cread(struct stream *s, struct login_pipe *p, int *want)
{
	ssize_t r;
	int e;

	if (s->ssl == NULL) {
		r = read(s->rfd, p->buf, sizeof(p->buf));
		if (r == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
	} else {
		ERR_clear_error();
		r = SSL_read(s->ssl, p->buf, sizeof(p->buf));
		if (r <= 0) {
			e = SSL_get_error(s->ssl, (int)r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				*want = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
				return 0;
			}
			ERR_clear_error();
			r = 0;	/* close_notify, or a hang-up: the end either way */
		}
	}
	*want = 0;
	if (r == 0)
		p->eof = 1;
	p->off = 0;
	p->len = (size_t)r;
	return 0;
}

/* Write p to the client. 0 or -1. */
static int
login_proxy_cwrite(struct stream *s, struct login_pipe *p, int *want)
{
	ssize_t r;
	int e;

	if (s->ssl == NULL) {
		r = write(s->wfd, p->buf + p->off, p->len - p->off);
		if (r == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
	} else {
		ERR_clear_error();
		r = SSL_write(s->ssl, p->buf + p->off, (int)(p->len - p->off));
		if (r <= 0) {
			e = SSL_get_error(s->ssl, (int)r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				*want = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
				return 0;
			}
			ERR_clear_error();
			return -1;
		}
	}
	*want = 0;
	p->off += (size_t)r;
	if (p->off == p->len)
		p->off = p->len = 0;
	return 0;
}

/* Plain read/write on the session socket (non-blocking). 0 or -1. */
static int
login_proxy_sread(int fd, struct login_pipe *p)
{
	ssize_t r = read(fd, p->buf, sizeof(p->buf));

	if (r == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (r == 0)
		p->eof = 1;
	p->off = 0;
	p->len = (size_t)r;
	return 0;
}

static int
login_proxy_swrite(int fd, struct login_pipe *p)
{
	ssize_t r = send(fd, p->buf + p->off, p->len - p->off, MSG_NOSIGNAL);

	if (r == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	p->off += (size_t)r;
	if (p->off == p->len)
		p->off = p->len = 0;
	return 0;
}

/* One poll round's fd set. Returns the poll timeout (0 when TLS holds data). */
static int
login_proxy_events(struct stream *s, int sfd, const struct login_pipe *up,
    const struct login_pipe *down, int rwant, int wwant, struct pollfd pfd[3])
{
	short cev = 0, wev = 0;

	if (up->len == 0 && !up->eof)
		cev |= rwant ? (short)rwant : POLLIN;
	if (down->len > 0)
		wev |= wwant ? (short)wwant : POLLOUT;
	if (s->rfd == s->wfd) {
		cev |= wev;
		wev = 0;
	}
	pfd[0] = (struct pollfd){ s->rfd, cev, 0 };
	pfd[1] = (struct pollfd){ s->rfd == s->wfd ? -1 : s->wfd, wev, 0 };
	pfd[2].fd = sfd;
	pfd[2].events = (short)((down->len == 0 && !down->eof ? POLLIN : 0) |
	    (up->len > 0 ? POLLOUT : 0));
	pfd[2].revents = 0;
	if (s->ssl != NULL && up->len == 0 && !up->eof && SSL_pending(s->ssl) > 0)
		return 0;
	return login_relay_idle_ms;	/* the session times out first */
}

/*
 * Give the pages of len bytes at p back to the kernel (they read as zeros
 * again): the whole pages inside, after wiping the rest.
 */
static void
login_release(void *p, size_t len)
{
	uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
	uintptr_t e = ((uintptr_t)p + len) & ~(uintptr_t)4095;

	if (e <= a) {
		secure_zero(p, len);
		return;
	}
	secure_zero(p, a - (uintptr_t)p);
	secure_zero((void *)e, (uintptr_t)p + len - e);
	(void)madvise((void *)a, e - a, MADV_DONTNEED);
}

/*
 * The relay went quiet: the session is probably idle for long, so the
 * relay's buffers, the pre-auth read buffer (which held the credentials)
 * and malloc's free pages go back to the kernel.
 */
static void
login_proxy_quiet(struct stream *s, struct login_pipe *up, struct login_pipe *down)
{
	if (up->len == 0)
		login_release(up->buf, sizeof(up->buf));
	if (down->len == 0)
		login_release(down->buf, sizeof(down->buf));
	if (s->ssl == NULL && s->filter == NULL && stream_pending(s) == 0)
		login_release(s->rbuf, sizeof(s->rbuf));
	login_release(login_authd.st.rbuf, sizeof(login_authd.st.rbuf));	/* closed */
	malloc_trim(0);
}

/* Relay until the session ends (or the client goes). */
static void
login_proxy(struct stream *s, int sfd)
{
	static struct login_pipe up, down;	/* client->session, session->client */
	struct pollfd pfd[3];
	int rwant = 0, wwant = 0, shut = 0, busy = 1, r, t;

	/* Bytes the client pipelined after its last pre-auth command. */
	up.len = stream_pending(s);
	memcpy(up.buf, s->rbuf + s->rpos, up.len);
	s->rpos = s->rlen;
	fd_set_nonblock(sfd, 1);
	for (;;) {
		t = login_proxy_events(s, sfd, &up, &down, rwant, wwant, pfd);
		if ((r = poll(pfd, 3, busy && t != 0 ? LOGIN_QUIET_MS : t)) == -1 &&
		    errno != EINTR)
			break;
		if (r == 0 && busy && t != 0) {
			login_proxy_quiet(s, &up, &down);
			busy = 0;
			continue;
		}
		if (r == 0 && t != 0)
			break;	/* idle far past the session's own limit */
		busy = 1;
		if (up.len == 0 && !up.eof && login_proxy_cread(s, &up, &rwant) == -1)
			break;
		if (up.len > 0 && login_proxy_swrite(sfd, &up) == -1)
			break;
		if (up.len == 0 && up.eof && !shut) {
			shutdown(sfd, SHUT_WR);	/* the session sees EOF: no UPDATE */
			shut = 1;
		}
		if (down.len == 0 && !down.eof && login_proxy_sread(sfd, &down) == -1)
			break;
		if (down.len > 0 && login_proxy_cwrite(s, &down, &wwant) == -1)
			break;
		if (down.len == 0 && down.eof)
			break;
	}
	secure_zero(&up, sizeof(up));
	secure_zero(&down, sizeof(down));
	close(sfd);
}

/*
 * Hand the token to the connection process (and wipe it); its answer is
 * "ok\n" (the session runs) or "no\n". 0 for ok, else -1.
 */
static int
login_handover(int sfd, char *token)
{
	char ans[3];
	size_t n = 0;
	ssize_t r;
	int w;

	w = write_all(sfd, "token ", 6) == 0 &&
	    write_all(sfd, token, LOGIN_TOKEN_HEX) == 0 && write_all(sfd, "\n", 1) == 0;
	secure_zero(token, LOGIN_TOKEN_HEX);
	if (!w)
		return -1;
	/* Byte by byte: what follows "ok\n" is the session's, for the relay. */
	while (n < sizeof(ans) && (r = read(sfd, ans + n, 1)) == 1)
		n++;
	return n == 3 && memcmp(ans, "ok\n", 3) == 0 ? 0 : -1;
}

/*
 * No TLS to keep up: the session takes the client itself (it has the
 * socket from the fork, as Dovecot's imap does after a plaintext login)
 * and this process ends. What was read ahead ("<tag>\r\n" in front of
 * what the client pipelined, see the protocols' preauth) goes to the
 * session first: "plain <n>\n" and the n bytes, after the output here
 * is flushed, so that the session's replies come after it.
 */
static void
login_pass(struct stream *s, int sfd)
{
	char hdr[32];
	size_t n = stream_pending(s);

	if (stream_flush(s) == 0 && str_fmt(hdr, sizeof(hdr), "plain %zu\n", n) > 0 &&
	    write_all(sfd, hdr, strlen(hdr)) == 0)
		(void)write_all(sfd, s->rbuf + s->rpos, n);
	secure_zero(s->rbuf, sizeof(s->rbuf));
}

/* The login process: never returns. */
static void
login_child(int rfd, int wfd, int afd, int sfd, const struct login_settings *ls,
    const char *peer, pid_t parent)
{
	static struct login_conn lc;
	struct priv_id id;
	char err[512], empty[4096];

	if (priv_is_root()) {
		if (priv_lookup(ls->conf->login_user, &id, err, sizeof(err)) == -1 ||
		    str_fmt(empty, sizeof(empty), "%s/empty", ls->conf->state_dir) == -1 ||
		    priv_drop(&id, empty, 1, err, sizeof(err)) == -1)
			fatal("login: %s", err);
	}
	/* Set after the drop, which clears it; then close the race. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);
	alarm(LOGIN_PREAUTH_SECS);	/* a cap on the whole pre-auth dialogue */
	memset(&lc, 0, sizeof(lc));
	stream_init(&lc.s, rfd, wfd, LOGIN_IDLE_MS);
	authclient_attach(&login_authd, afd, LOGIN_AUTHD_TIMEOUT);
	lc.conf = ls->conf;
	lc.tls_ctx = ls->tls_ctx;
	lc.auth_fd = afd;
	str_copy(lc.peer, peer, sizeof(lc.peer));
	if (ls->implicit_tls) {
		if (lc.tls_ctx == NULL || stream_tls_accept(&lc.s, lc.tls_ctx) == -1) {
			log_info("%s: TLS handshake failed", peer);
			_exit(0);
		}
		lc.tls = 1;
	}
	if (ls->proto->preauth(&lc) == -1) {
		stream_flush(&lc.s);
		_exit(0);
	}
	authclient_close(&login_authd);
	if (login_handover(sfd, lc.token) == -1) {
		ls->proto->session_failed(&lc);
		stream_flush(&lc.s);
		_exit(0);
	}
	alarm(0);
	if (!lc.tls) {
		login_pass(&lc.s, sfd);
		_exit(0);
	}
	if (ls->proto->idle_secs * 1000LL > LOGIN_IDLE_MS)
		login_relay_idle_ms = ls->proto->idle_secs * 1000 + 60000;
	if (write_all(sfd, "relay\n", 6) == 0 && stream_flush(&lc.s) == 0)
		login_proxy(&lc.s, sfd);
	stream_close(&lc.s, 1);
	_exit(0);
}

/* Read the login's "token <hex>\n" (exactly that, or nothing). 0 or -1. */
static int
login_read_token(int sfd, char *token)
{
	char msg[6 + LOGIN_TOKEN_HEX + 1] = { 0 };
	size_t got = 0, i;
	struct pollfd pfd = { sfd, POLLIN, 0 };
	ssize_t r;

	while (got < sizeof(msg)) {
		if (poll(&pfd, 1, (LOGIN_PREAUTH_SECS + 60) * 1000) <= 0)
			return -1;
		if ((r = read(sfd, msg + got, sizeof(msg) - got)) <= 0)
			return -1;
		got += (size_t)r;
	}
	if (memcmp(msg, "token ", 6) != 0 || msg[sizeof(msg) - 1] != '\n')
		return -1;
	for (i = 0; i < LOGIN_TOKEN_HEX; i++)
		if (!isxdigit((unsigned char)msg[6 + i]))
			return -1;
	memcpy(token, msg + 6, LOGIN_TOKEN_HEX);
	token[LOGIN_TOKEN_HEX] = '\0';
	return 0;
}

/* Read exactly n bytes from fd (a socketpair), each within ms. 0 or -1. */
static int
login_read_n(int fd, char *buf, size_t n, int ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		if (poll(&pfd, 1, ms) <= 0)
			return -1;
		if ((r = read(fd, buf + got, n - got)) <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/*
 * After "ok": the login process either relays ("relay\n": the session
 * talks to it on sfd and lets go of the client) or has handed the client
 * over ("plain <n>\n" and n bytes read ahead: the session talks to the
 * client on rfd/wfd) and exits; then it is reaped here. Sets up s. 0 or -1.
 */
static int
login_takeover(struct stream *s, int sfd, int rfd, int wfd, pid_t login)
{
	char hdr[32], c;
	unsigned long long n;
	size_t len = 0;
	int devnull;

	/* The login process flushes its output to the client first: its bound. */
	while (len < sizeof(hdr) - 1 &&
	    login_read_n(sfd, hdr + len, 1, LOGIN_IDLE_MS) == 0 && hdr[len] != '\n')
		len++;
	if (len == sizeof(hdr) - 1 || hdr[len] != '\n')
		return -1;
	hdr[len] = '\0';
	if (strcmp(hdr, "relay") == 0) {
		/* Only the login process holds the client from now on. */
		if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
			dup2(devnull, rfd);
			if (wfd != rfd)
				dup2(devnull, wfd);
			close(devnull);
		}
		stream_init(s, sfd, sfd, LOGIN_IDLE_MS);
		return 0;
	}
	if (strncmp(hdr, "plain ", 6) != 0 ||
	    parse_ullong(hdr + 6, 0, sizeof(s->rbuf), &n) == -1)
		return -1;
	stream_init(s, rfd, wfd, LOGIN_IDLE_MS);
	if (login_read_n(sfd, s->rbuf, (size_t)n, LOGIN_AUTHD_TIMEOUT) == -1)
		return -1;
	s->rlen = (size_t)n;
	/* EOF: the login process is gone; reap it now rather than at the end. */
	if (login_read_n(sfd, &c, 1, LOGIN_AUTHD_TIMEOUT) == 0)
		return -1;
	while (waitpid(login, NULL, 0) == -1 && errno == EINTR)
		;
	return 0;
}

/* The connection process after the fork: becomes the session. */
static void
login_parent(int sfd, int afd, const struct priv_id *vmail,
    const struct login_settings *ls, const char *peer, const int cfd[2], pid_t login)
{
	/* Not on the stack: pages of its buffer that are never read stay untouched. */
	static struct stream s;
	char err[512], token[LOGIN_TOKEN_HEX + 1], addr[256];

	/*
	 * Rule 1: drop before the first byte from the login process, unless
	 * the user may be a Unix account (system_domains): then only the
	 * fixed-size token is read as root (login_session.c).
	 */
	if (priv_is_root() && !conf_has_system_domains(ls->conf) &&
	    priv_drop(vmail, "/", 0, err, sizeof(err)) == -1) {
		log_err("%s", err);
		return;
	}
	if (login_read_token(sfd, token) == -1)
		return;
	if (login_session_setup(ls->conf, afd, token, addr, sizeof(addr), vmail) == -1) {
		write_all(sfd, "no\n", 3);
		return;
	}
	secure_zero(token, sizeof(token));
	if (write_all(sfd, "ok\n", 3) == -1)
		return;
	if (login_takeover(&s, sfd, cfd[0], cfd[1], login) == -1)
		return;
	log_info("%s: %s login user=%s", peer, ls->proto->name, addr);
	ls->proto->session(&s, ls->conf, addr, peer);
	stream_flush(&s);
	stream_close(&s, 0);
}

/* Everything the two processes need, opened while privileged. 0 or -1. */
static int
login_open(const struct login_settings *ls, const char *peer, int *afd_login,
    int *afd_parent, int sp[2], struct priv_id *vmail)
{
	char err[512], hello[256];

	*afd_login = *afd_parent = sp[0] = sp[1] = -1;
	if (priv_is_root() &&
	    priv_lookup(ls->conf->vmail_user, vmail, err, sizeof(err)) == -1) {
		log_err("%s", err);
		return -1;
	}
	if ((*afd_login = login_authd_connect(ls->conf)) == -1 ||
	    (*afd_parent = login_authd_connect(ls->conf)) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		return -1;
	/* The client address comes from us, not from the login process. */
	if (str_fmt(hello, sizeof(hello), "client %s %s\n", ls->proto->name, peer) == -1 ||
	    write_all(*afd_login, hello, strlen(hello)) == -1)
		return -1;
	return 0;
}

/*
 * The "unavailable" line to a client that expects TLS first (imaps,
 * pop3s): the handshake reads from the network, so it runs in a child as
 * login_user, chrooted, like the login process (rule 1).
 */
static void
login_unavailable_tls(int rfd, int wfd, const struct login_settings *ls)
{
	struct priv_id id;
	struct stream s;
	char err[512], empty[4096];
	pid_t pid;

	if ((pid = fork()) == -1)
		return;
	if (pid > 0) {
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		return;
	}
	if (priv_is_root() && (priv_lookup(ls->conf->login_user, &id, err, sizeof(err)) == -1 ||
	    str_fmt(empty, sizeof(empty), "%s/empty", ls->conf->state_dir) == -1 ||
	    priv_drop(&id, empty, 1, err, sizeof(err)) == -1))
		_exit(0);
	alarm(30);
	stream_init(&s, rfd, wfd, 10000);
	if (stream_tls_accept(&s, ls->tls_ctx) == 0 &&
	    stream_puts(&s, ls->proto->unavailable) == 0)
		stream_flush(&s);
	_exit(0);
}

/* Tell the client the service is unavailable, in TLS when it expects TLS. */
static void
login_unavailable(int rfd, int wfd, const struct login_settings *ls)
{
	if (ls->implicit_tls && ls->tls_ctx != NULL)
		login_unavailable_tls(rfd, wfd, ls);
	else if (!ls->implicit_tls)
		write_all(wfd, ls->proto->unavailable, strlen(ls->proto->unavailable));
}

static void
login_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void
login_connection(int rfd, int wfd, const struct login_settings *ls)
{
	struct priv_id vmail;
	char peer[64];
	int afd_login, afd_parent, sp[2], cfd[2];
	pid_t pid, me = getpid();

	listen_peer_addr(rfd, peer, sizeof(peer));
	if (login_open(ls, peer, &afd_login, &afd_parent, sp, &vmail) == -1) {
		login_unavailable(rfd, wfd, ls);
		login_close(&afd_login);
		login_close(&afd_parent);
		login_close(&sp[0]);
		login_close(&sp[1]);
		return;
	}
	if ((pid = fork()) == -1) {
		log_err("fork: %s", strerror(errno));
		login_unavailable(rfd, wfd, ls);
		close(sp[0]);
		close(sp[1]);
		login_close(&afd_login);
		login_close(&afd_parent);
		return;
	}
	if (pid == 0) {
		close(sp[0]);
		close(afd_parent);
		login_child(rfd, wfd, afd_login, sp[1], ls, peer, me);
	}
	close(sp[1]);
	close(afd_login);
	/* The session needs no TLS key: only the login process keeps one. */
	login_forget_tls(ls->tls_ctx);
	cfd[0] = rfd;
	cfd[1] = wfd;
	login_parent(sp[0], afd_parent, &vmail, ls, peer, cfd, pid);
	close(sp[0]);
	close(afd_parent);
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
}
