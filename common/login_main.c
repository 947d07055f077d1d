/*
 * login_main: the start-up shared by the access servers (pop3d, imapd):
 * options, configuration, the TLS context (built before any privilege
 * drop: the key is root's), login_setup, and the choice of mode: sockets
 * from the master or systemd (LISTEN_FDS, named after the protocol; a
 * passed socket that is already connected, as with systemd Accept=yes,
 * is served as one session), else one connection on fds 0/1 (inetd,
 * tcpserver). The listening process keeps the privileges it was started
 * with but never reads from the network: it only accepts and forks, and
 * login_connection splits each connection (DESIGN.md rules 2 and 4).
 *
 * The TLS secrets (private keys, the ticket keys) are loaded into
 * OpenSSL's secure heap, one mapping of its own: a session process, which
 * must not keep them, drops that mapping's pages (they read as zeros)
 * without calling into libcrypto, whose walk over the context would copy
 * heap pages shared with the listener and fault libcrypto's code in
 * (login_forget_tls).
 */
#include "config.h"

#include <sys/mman.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "listen.h"
#include "log.h"
#include "login.h"
#include "tls.h"
#include "util.h"

#include <openssl/crypto.h>
#include <openssl/err.h>

#define LOGIN_KEYHEAP	(64 * 1024)	/* OpenSSL's secure heap (a power of 2) */
#define LOGIN_KEYHEAP_MIN 16

/* The secure heap's mapping, found after the keys were loaded; NULL: unknown. */
static void *login_keyheap;

struct login_main_ctx {
	struct login_settings		 ls;
	const struct login_daemon	*d;
	int				 implicit_flag;	/* -s */
};

static void
login_main_usage(const struct login_daemon *d)
{
	fprintf(stderr, "usage: %s [-s] [-c conffile]\n", d->prog);
	exit(2);
}

/* Implicit TLS for a socket named name: the TLS name, or -s for unnamed ones. */
static int
login_main_implicit(const struct login_main_ctx *x, const char *name)
{
	if (strcmp(name, x->d->tls_name) == 0)
		return 1;
	return strcmp(name, x->d->plain_name) != 0 && x->implicit_flag;
}

/* listen_serve's per-connection callback (in the forked child). */
static void
login_main_serve(int conn, const struct listen_fd *l, void *arg)
{
	const struct login_main_ctx *x = arg;
	struct login_settings ls = x->ls;

	ls.implicit_tls = login_main_implicit(x, l->name);
	login_connection(conn, conn, &ls);
	close(conn);
}

/*
 * Where is OpenSSL's secure heap? The mapping of /proc/self/maps that
 * holds a block of it, when it is exactly the heap (guard pages on both
 * sides keep it a mapping of its own). NULL when not found.
 */
static void *
login_keyheap_find(void)
{
	char line[512], *end;
	uintptr_t a, b, at;
	void *p, *found = NULL;
	FILE *f;

	if (!CRYPTO_secure_malloc_initialized() || (p = OPENSSL_secure_malloc(1)) == NULL)
		return NULL;
	at = (uintptr_t)p;
	if (CRYPTO_secure_allocated(p) && (f = fopen("/proc/self/maps", "re")) != NULL) {
		while (found == NULL && fgets(line, sizeof(line), f) != NULL) {
			a = (uintptr_t)strtoull(line, &end, 16);
			if (*end != '-')
				continue;
			b = (uintptr_t)strtoull(end + 1, NULL, 16);
			if (a <= at && at < b && b - a == LOGIN_KEYHEAP)
				found = (void *)a;
		}
		fclose(f);
	}
	OPENSSL_secure_free(p);
	return found;
}

static SSL_CTX *
login_main_tls(const struct conf *c)
{
	char err[512];
	SSL_CTX *ctx;

	if (c->tls_cert[0] == '\0' || c->tls_key[0] == '\0')
		return NULL;
	/* Before any key is read; without it the keys are forgotten the slow way. */
	if (CRYPTO_secure_malloc_init(LOGIN_KEYHEAP, LOGIN_KEYHEAP_MIN) == 0)
		log_warn("no OpenSSL secure heap");
	if ((ctx = tls_server_ctx(c->tls_cert, c->tls_key, err, sizeof(err))) == NULL)
		fatal("%s", err);
	login_keyheap = login_keyheap_find();
	ERR_clear_error();
	return ctx;
}

/*
 * The slow way: each certificate's private key becomes the certificate's
 * public key (the private one is freed, and OpenSSL cleanses it) and the
 * ticket keys are overwritten; SSL_CTX_free is the fallback.
 */
static void
login_forget_key(SSL_CTX *ctx)
{
	static const unsigned char junk[80];
	STACK_OF(X509) *chain;
	X509 *x;
	int ok = 1, r;

	for (r = (int)SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST); r == 1 && ok;
	    r = (int)SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
		chain = NULL;
		if ((x = SSL_CTX_get0_certificate(ctx)) == NULL)
			continue;
		if (SSL_CTX_get0_chain_certs(ctx, &chain) != 1)
			ok = 0;
		X509_up_ref(x);	/* it replaces itself: keep it alive meanwhile */
		if (ok && SSL_CTX_use_cert_and_key(ctx, x, NULL, chain, 1) != 1)
			ok = 0;
		X509_free(x);
	}
	if (SSL_CTX_set_tlsext_ticket_keys(ctx, (void *)junk, sizeof(junk)) != 1)
		ok = 0;
	ERR_clear_error();
	if (!ok)
		SSL_CTX_free(ctx);
}

void
login_forget_tls(SSL_CTX *ctx)
{
	if (ctx == NULL)
		return;
	/*
	 * Private anonymous pages, not locked in a forked child: dropped,
	 * they read as zeros. Nothing in this process frees into that heap
	 * afterwards (no TLS here; OpenSSL's exit handler is off, see below).
	 */
	if (login_keyheap != NULL &&
	    madvise(login_keyheap, LOGIN_KEYHEAP, MADV_DONTNEED) == 0)
		return;
	login_forget_key(ctx);
}

int
login_daemon_main(int argc, char **argv, const struct login_daemon *d)
{
	static struct conf conf;
	static struct login_main_ctx x;
	struct listen_fd fds[LISTEN_MAXFDS];
	const char *cpath = NULL;
	char err[4096], ident[64];
	int ch, n;

	/*
	 * No OpenSSL clean-up at exit: a session's exit would free into the
	 * secure heap it dropped (login_forget_tls). The kernel frees it all.
	 */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
	x.d = d;
	while ((ch = getopt(argc, argv, "c:s")) != -1) {
		switch (ch) {
		case 'c': cpath = optarg; break;
		case 's': x.implicit_flag = 1; break;
		default: login_main_usage(d);
		}
	}
	if (optind != argc)
		login_main_usage(d);
	str_fmt(ident, sizeof(ident), "postern/%s", d->prog);
	log_init(ident, LOG_DEST_SYSLOG);
	if (conf_load(&conf, cpath, err, sizeof(err)) == -1)
		fatal("%s", err);
	signal(SIGPIPE, SIG_IGN);
	x.ls.conf = &conf;
	x.ls.proto = d->proto;
	x.ls.tls_ctx = login_main_tls(&conf);
	if (login_setup(&conf, err, sizeof(err)) == -1)
		fatal("%s", err);
	if (chdir(conf.queue_dir) == -1)
		fatal("chdir %s: %s", conf.queue_dir, strerror(errno));
	n = listen_inherited(fds, NELEM(fds));
	if (n == 1 && listen_fd_is_connection(fds[0].fd)) {
		/* systemd Accept=yes: the connection itself. */
		x.ls.implicit_tls = x.implicit_flag || strcmp(fds[0].name, d->tls_name) == 0;
		login_connection(fds[0].fd, fds[0].fd, &x.ls);
		return 0;
	}
	if (n > 0) {
		log_info("%s ready, %d sockets", d->prog, n);
		return listen_serve(fds, (size_t)n, d->process_limit, login_main_serve,
		    &x) == -1 ? 1 : 0;
	}
	if (!listen_stdin_is_connection())
		fatal("no sockets: run %s under postern, inetd, tcpserver or systemd",
		    d->prog);
	x.ls.implicit_tls = x.implicit_flag;
	login_connection(STDIN_FILENO, STDOUT_FILENO, &x.ls);
	return 0;
}
