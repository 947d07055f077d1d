/*
 * authd commands: SASL exchanges for the login processes, USER/PASS
 * checks, one-use login tokens, and the failure limit per client network
 * (the address cut to auth_block_prefix_ipv4/_ipv6 bits, so that a
 * client hopping addresses inside its IPv6 /64 is still one client).
 * Runs in authd as auth_user (the only account that reads sasl_db); its
 * peers are postern's own processes, but the SASL data in the requests
 * comes from the network, so every field is bounded and checked, and
 * secrets are wiped after use.
 *
 * Grammar (one line each way, LF ended):
 *   client SERVICE IP       first line, from the connection process
 *   mechs                -> mechs MECH...
 *   start MECH [B64|=]   -> cont B64|= | ok TOKEN | fail REASON
 *   step B64|=           -> (the same)
 *   plain B64USER B64PASS -> ok TOKEN | fail REASON
 *   token TOKEN          -> user ADDRESS | fail token
 * REASON: auth (wrong credentials), limit (too many failures from this
 * network), mech (unknown mechanism), proto (bad request), temp.
 * Failures other than proto and mech are answered AUTHD_FAIL_DELAY_MS late.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth.h"
#include "conf.h"
#include "log.h"
#include "login.h"
#include "sysuser.h"
#include "userdb.h"
#include "util.h"

#define AUTH_TOKENS		1024
#define AUTH_TOKEN_TTL_MS	60000	/* the connection process redeems at once */
#define AUTH_IP_SLOTS		1024
#define AUTH_IP_MAXFAIL		10	/* failures from one network ... */
#define AUTH_IP_WINDOW_MS	600000	/* ... within this time block it ... */
#define AUTH_IP_BLOCK_MS	600000	/* ... for this long */

struct auth_token {
	char	hex[LOGIN_TOKEN_HEX + 1];
	char	addr[256];
	int64_t	expires;
};

struct auth_ipfail {
	char	ip[64];		/* the network: auth_net_key() */
	int	count;
	int64_t	first, blocked_until, last;
};

static const struct conf *auth_conf;
static struct auth_token auth_tokens[AUTH_TOKENS];
static struct auth_ipfail auth_ips[AUTH_IP_SLOTS];

void
auth_cmd_init(const struct conf *c)
{
	auth_conf = c;
}

/* Keep the first bits of the address in a (len bytes), clear the rest. */
static void
auth_net_mask(unsigned char *a, size_t len, unsigned bits)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		a[i] &= (unsigned char)(0xffu << (8 - bits));
		bits = 0;
	}
}

int
auth_net_key(const char *ip, unsigned v4bits, unsigned v6bits, char *out,
    size_t outlen)
{
	unsigned char a[16];
	char txt[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	int af = AF_INET;
	unsigned bits;

	if (inet_pton(AF_INET, ip, a) != 1) {
		if (inet_pton(AF_INET6, ip, &a6) != 1)
			return str_copy(out, ip, outlen);	/* "unknown", "local" */
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memcpy(a, &a6.s6_addr[12], 4);	/* ::ffff:192.0.2.1 is IPv4 */
		} else {
			memcpy(a, &a6, 16);
			af = AF_INET6;
		}
	}
	if (af == AF_INET)
		bits = v4bits > 32 ? 32 : v4bits;
	else
		bits = v6bits > 128 ? 128 : v6bits;
	auth_net_mask(a, af == AF_INET ? 4 : 16, bits);
	if (inet_ntop(af, a, txt, sizeof(txt)) == NULL)
		return -1;
	return str_fmt(out, outlen, "%s/%u", txt, bits) == -1 ? -1 : 0;
}

/* The failure record of ip (a new or the least recent slot when create). */
static struct auth_ipfail *
auth_ip_find(const char *ip, int create)
{
	struct auth_ipfail *old = &auth_ips[0];
	size_t i;

	for (i = 0; i < AUTH_IP_SLOTS; i++) {
		if (auth_ips[i].ip[0] != '\0' && strcmp(auth_ips[i].ip, ip) == 0)
			return &auth_ips[i];
		if (auth_ips[i].last < old->last)
			old = &auth_ips[i];
	}
	if (!create)
		return NULL;
	memset(old, 0, sizeof(*old));
	str_copy(old->ip, ip, sizeof(old->ip));
	return old;
}

static int
auth_ip_blocked(const char *ip)
{
	struct auth_ipfail *f = auth_ip_find(ip, 0);

	return f != NULL && f->blocked_until > now_ms();
}

static void
auth_ip_failed(const char *ip)
{
	struct auth_ipfail *f = auth_ip_find(ip, 1);
	int64_t now = now_ms();

	if (now - f->first > AUTH_IP_WINDOW_MS) {
		f->first = now;
		f->count = 0;
	}
	f->last = now;
	if (++f->count >= AUTH_IP_MAXFAIL) {
		f->blocked_until = now + AUTH_IP_BLOCK_MS;
		log_warn("%s: %d failed logins from this network, refusing its "
		    "logins for %d s", ip, f->count, AUTH_IP_BLOCK_MS / 1000);
	}
}

/* Issue a token for addr into hex. */
static void
auth_token_new(const char *addr, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	struct auth_token *t = &auth_tokens[0];
	unsigned char rnd[LOGIN_TOKEN_HEX / 2];
	size_t i;

	for (i = 0; i < AUTH_TOKENS; i++) {
		if (auth_tokens[i].expires < t->expires)
			t = &auth_tokens[i];	/* free (0) or the oldest */
	}
	random_bytes(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++) {
		t->hex[2 * i] = digits[rnd[i] >> 4];
		t->hex[2 * i + 1] = digits[rnd[i] & 15];
	}
	t->hex[LOGIN_TOKEN_HEX] = '\0';
	str_copy(t->addr, addr, sizeof(t->addr));
	t->expires = now_ms() + AUTH_TOKEN_TTL_MS;
	memcpy(hex, t->hex, LOGIN_TOKEN_HEX + 1);
	secure_zero(rnd, sizeof(rnd));
}

/* Redeem a token (once): its address into addr. 0 or -1. */
static int
auth_token_use(const char *hex, char *addr, size_t addrlen)
{
	size_t i;

	if (strlen(hex) != LOGIN_TOKEN_HEX)
		return -1;
	for (i = 0; i < AUTH_TOKENS; i++) {
		struct auth_token *t = &auth_tokens[i];
		if (t->expires == 0 || CRYPTO_memcmp(t->hex, hex, LOGIN_TOKEN_HEX) != 0)
			continue;
		int ok = t->expires > now_ms();
		if (ok)
			str_copy(addr, t->addr, addrlen);
		secure_zero(t, sizeof(*t));
		return ok ? 0 : -1;
	}
	return -1;
}

/*
 * Decode base64 ("=" is empty) into a new buffer, with room for a NUL
 * after the bytes. Length, or -1.
 */
static int
auth_b64dec(const char *in, unsigned char **out)
{
	size_t len = strlen(in), i;
	int n, pad = 0;

	*out = NULL;
	if (strcmp(in, "=") == 0) {
		*out = xmalloc(1);
		return 0;
	}
	if (len == 0 || len % 4 != 0 || len > AUTHD_LINE)
		return -1;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)in[i]) && in[i] != '+' && in[i] != '/' &&
		    !(in[i] == '=' && i >= len - 2 && in[len - 1] == '='))
			return -1;
	pad = (in[len - 1] == '=') + (in[len - 2] == '=');
	*out = xmalloc(len / 4 * 3 + 1);
	n = EVP_DecodeBlock(*out, (const unsigned char *)in, (int)len);
	if (n < pad) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return n - pad;
}

static void
auth_reply(struct auth_conn *c, const char *fmt, const char *arg)
{
	if (strbuf_puts(&c->out, fmt) == -1 ||
	    (arg != NULL && strbuf_puts(&c->out, arg) == -1) ||
	    strbuf_putc(&c->out, '\n') == -1)
		c->closing = 1;
}

/* A failed login: counted against the address, answered late. */
static void
auth_fail(struct auth_conn *c, const char *reason)
{
	if (strcmp(reason, "auth") == 0)
		auth_ip_failed(c->net);
	c->reply_at = now_ms() + AUTHD_FAIL_DELAY_MS;
	auth_reply(c, "fail ", reason);
}

/* Success: a token for addr (lower-cased). */
static void
auth_success(struct auth_conn *c, const char *addr)
{
	char a[256], hex[LOGIN_TOKEN_HEX + 1];

	if (str_copy(a, addr, sizeof(a)) == -1 || strchr(a, '@') == NULL) {
		auth_fail(c, "auth");
		return;
	}
	str_lower(a);
	auth_token_new(a, hex);
	log_info("%s: %s authenticated user=%s", c->ip, c->service, a);
	auth_reply(c, "ok ", hex);
	secure_zero(hex, sizeof(hex));
}

/* The authenticated SASL user as an address (user@realm). */
static void
auth_sasl_done(struct auth_conn *c)
{
	const void *user = NULL, *realm = NULL;
	char addr[256], *at;

	if (sasl_getprop(c->sasl, SASL_USERNAME, &user) != SASL_OK || user == NULL) {
		auth_fail(c, "temp");
		return;
	}
	if (strchr(user, '@') == NULL &&
	    sasl_getprop(c->sasl, SASL_DEFUSERREALM, &realm) == SASL_OK &&
	    realm != NULL && *(const char *)realm != '\0') {
		if (str_fmt(addr, sizeof(addr), "%s@%s", (const char *)user,
		    (const char *)realm) == -1) {
			auth_fail(c, "auth");
			return;
		}
	} else if (str_copy(addr, user, sizeof(addr)) == -1) {
		auth_fail(c, "auth");
		return;
	}
	/*
	 * An address of system_domains is a Unix account: only the shadow
	 * check below (auth_sasl_checkpass) vouches for it, never the sasldb.
	 */
	str_lower(addr);
	at = strrchr(addr, '@');
	if (at != NULL && conf_is_system_domain(auth_conf, at + 1) &&
	    (c->sys_addr[0] == '\0' || strcmp(c->sys_addr, addr) != 0)) {
		log_warn("%s: %s: %s is in system_domains but was not checked as "
		    "a Unix account", c->ip, c->service, addr);
		auth_fail(c, "auth");
		return;
	}
	auth_success(c, addr);
}

/*
 * libsasl2 calls this first for the mechanisms that carry the password
 * (PLAIN, LOGIN), with user as user@realm (bare names get the first of
 * system_domains as realm: auth_sasl_new). A system login is decided
 * here, against shadow(5); for any other user it returns SASL_NOUSER and
 * libsasl2 goes on to the sasldb.
 */
static int
auth_sasl_checkpass(sasl_conn_t *conn, void *ctx, const char *user,
    const char *pass, unsigned passlen, struct propctx *propctx)
{
	struct auth_conn *c = ctx;
	struct sysuser su;
	char addr[256], pw[1024];
	int sys, r;

	(void)conn;
	(void)propctx;
	c->sys_addr[0] = '\0';
	if ((sys = auth_sys_login(auth_conf, user, addr, sizeof(addr), &su)) == 0)
		return SASL_NOUSER;
	if (sys == -1)
		return SASL_UNAVAIL;
	if (passlen >= sizeof(pw) || memchr(pass, '\0', passlen) != NULL)
		return SASL_BADAUTH;
	memcpy(pw, pass, passlen);
	pw[passlen] = '\0';
	r = auth_sys_checkpass(&su, pw);
	secure_zero(pw, sizeof(pw));
	if (r == -1)
		return SASL_UNAVAIL;
	if (r == 0)
		return SASL_BADAUTH;
	str_copy(c->sys_addr, addr, sizeof(c->sys_addr));
	return SASL_OK;
}

/* Map a SASL result to the answer. */
static void
auth_sasl_result(struct auth_conn *c, int r, const char *out, unsigned outlen)
{
	char *b64;

	if (r == SASL_CONTINUE) {
		if (outlen == 0) {
			auth_reply(c, "cont =", NULL);
			return;
		}
		b64 = xmalloc(4 * ((outlen + 2) / 3) + 1);
		EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)out,
		    (int)outlen);
		auth_reply(c, "cont ", b64);
		free(b64);
		return;
	}
	if (r == SASL_OK) {
		auth_sasl_done(c);
		return;
	}
	if (r == SASL_NOMECH || r == SASL_TOOWEAK || r == SASL_ENCRYPT) {
		c->reply_at = 0;
		auth_reply(c, "fail mech", NULL);
		return;
	}
	if (r == SASL_BADAUTH || r == SASL_NOUSER || r == SASL_BADPROT ||
	    r == SASL_BADPARAM || r == SASL_NOAUTHZ || r == SASL_DISABLED ||
	    r == SASL_EXPIRED || r == SASL_BADVERS || r == SASL_NOVERIFY)
		auth_fail(c, "auth");
	else
		auth_fail(c, "temp");
	log_info("%s: %s SASL failure: %s", c->ip, c->service,
	    sasl_errdetail(c->sasl));
}

/* A fresh SASL server connection for an exchange. 0 or -1. */
static int
auth_sasl_new(struct auth_conn *c)
{
	sasl_security_properties_t sp;
	const sasl_callback_t *ucb;
	size_t i;
	int r;

	auth_cmd_conn_done(c);
	/* userdb's callbacks, then the system-login check with c as context. */
	ucb = userdb_callbacks();
	for (i = 0; ucb[i].id != SASL_CB_LIST_END && i + 2 < NELEM(c->cbs); i++)
		c->cbs[i] = ucb[i];
	c->cbs[i].id = SASL_CB_SERVER_USERDB_CHECKPASS;
	c->cbs[i].proc = (int (*)(void))(void (*)(void))auth_sasl_checkpass;
	c->cbs[i].context = c;
	c->cbs[i + 1].id = SASL_CB_LIST_END;
	c->cbs[i + 1].proc = NULL;
	c->cbs[i + 1].context = NULL;
	c->sys_addr[0] = '\0';
	r = sasl_server_new(c->service, auth_conf->hostname, auth_sys_realm(),
	    NULL, NULL, c->cbs, 0, &c->sasl);
	if (r != SASL_OK) {
		log_err("sasl_server_new: %s", sasl_errstring(r, NULL, NULL));
		c->sasl = NULL;
		return -1;
	}
	/* No SASL security layer: TLS protects the session. */
	memset(&sp, 0, sizeof(sp));
	sp.maxbufsize = 0;
	sp.min_ssf = 0;
	sp.max_ssf = 0;
	sasl_setprop(c->sasl, SASL_SEC_PROPS, &sp);
	return 0;
}

static void
auth_cmd_mechs(struct auth_conn *c, char *arg)
{
	const char *list = NULL;
	unsigned len = 0;
	int count = 0;

	(void)arg;
	if (c->sasl == NULL && auth_sasl_new(c) == -1) {
		auth_reply(c, "mechs", NULL);
		return;
	}
	if (sasl_listmech(c->sasl, NULL, "", " ", "", &list, &len, &count) != SASL_OK ||
	    list == NULL)
		list = "";
	auth_reply(c, *list ? "mechs " : "mechs", list);
	auth_cmd_conn_done(c);
}

/*
 * PLAIN with an initial response (RFC 4616: [authzid] NUL authcid NUL
 * passwd) for a system login: checked in a worker thread like "plain",
 * not inline in libsasl2's callback. 1 when taken (c->pending), else 0:
 * libsasl2 runs the exchange (a virtual user, a proxy authzid, anything
 * malformed).
 */
static int
auth_plain_ir_sys(struct auth_conn *c, const unsigned char *in, int n)
{
	const unsigned char *p1, *p2;
	char authcid[256], pass[1024], addr[256];
	struct sysuser su;
	size_t zl, cl, pl;
	int taken = 0;

	if (auth_sys_realm() == NULL || in == NULL || n <= 0 ||
	    (p1 = memchr(in, '\0', (size_t)n)) == NULL ||
	    (p2 = memchr(p1 + 1, '\0', (size_t)n - (size_t)(p1 + 1 - in))) == NULL ||
	    memchr(p2 + 1, '\0', (size_t)n - (size_t)(p2 + 1 - in)) != NULL)
		return 0;
	zl = (size_t)(p1 - in);
	cl = (size_t)(p2 - p1 - 1);
	pl = (size_t)n - (size_t)(p2 + 1 - in);
	if (cl == 0 || cl >= sizeof(authcid) || pl >= sizeof(pass) ||
	    (zl > 0 && (zl != cl || memcmp(in, p1 + 1, cl) != 0)))
		return 0;
	memcpy(authcid, p1 + 1, cl);
	authcid[cl] = '\0';
	memcpy(pass, p2 + 1, pl);
	pass[pl] = '\0';
	str_lower(authcid);
	if (auth_sys_login(auth_conf, authcid, addr, sizeof(addr), &su) == 1 &&
	    su.name[0] != '\0' && auth_sys_submit(c->id, &su, pass, addr) == 0) {
		c->pending = 1;
		taken = 1;
	}
	secure_zero(pass, sizeof(pass));
	return taken;
}

/*
 * Check a user name and password (NUL-terminated; user is lower-cased in
 * place): a Unix account of system_domains in a worker thread (answered
 * by auth_cmd_sys_result), else a virtual user against the sasldb.
 */
static void
auth_userpass(struct auth_conn *c, char *user, char *pass)
{
	struct sysuser su;
	char sysaddr[256];
	int r, sys;

	if (auth_ip_blocked(c->net)) {
		auth_fail(c, "limit");
		return;
	}
	str_lower(user);	/* addresses are case-insensitive */
	sys = auth_sys_login(auth_conf, user, sysaddr, sizeof(sysaddr), &su);
	if (sys == 1 && su.name[0] != '\0' &&
	    auth_sys_submit(c->id, &su, pass, sysaddr) == 0) {
		c->pending = 1;	/* answered by auth_cmd_sys_result */
		return;
	}
	if (sys == 1)
		r = auth_sys_checkpass(&su, pass);
	else if (sys == 0)
		r = userdb_checkpass(user, pass);
	else
		r = -1;
	if (r == 1)
		auth_success(c, sys == 1 ? sysaddr : user);
	else
		auth_fail(c, r == 0 ? "auth" : "temp");
}

/*
 * LOGIN with system_domains, run here and not by libsasl2, so that a
 * Unix account's password is checked in a worker thread (auth_userpass)
 * as for PLAIN: the challenges "Username:" and "Password:" (what
 * libsasl2 sends), then the same check as "plain". in (n bytes; NULL:
 * none) is the next answer: without one the exchange begins. Frees in.
 */
static void
auth_login_step(struct auth_conn *c, unsigned char *in, int n)
{
	if (in == NULL) {
		c->login_step = 1;
		auth_reply(c, "cont ", "VXNlcm5hbWU6");	/* "Username:" */
		return;
	}
	if (c->login_step <= 1) {
		/*
		 * The user name (a first step, or LOGIN's initial response).
		 * auth_b64dec leaves room for a NUL after the n bytes.
		 */
		in[n] = '\0';
		if (n <= 0 || memchr(in, '\0', (size_t)n) != NULL ||
		    str_copy(c->login_user, (char *)in, sizeof(c->login_user)) == -1) {
			c->login_step = 0;
			auth_fail(c, "auth");
		} else {
			c->login_step = 2;
			auth_reply(c, "cont ", "UGFzc3dvcmQ6");	/* "Password:" */
		}
		free(in);
		return;
	}
	c->login_step = 0;
	if (memchr(in, '\0', (size_t)n) != NULL) {
		auth_fail(c, "auth");
	} else {
		char *pass = xmalloc((size_t)n + 1);

		memcpy(pass, in, (size_t)n);
		pass[n] = '\0';
		auth_userpass(c, c->login_user, pass);
		secure_zero(pass, (size_t)n);
		free(pass);
	}
	secure_zero(in, (size_t)n);
	free(in);
	secure_zero(c->login_user, sizeof(c->login_user));
}

/*
 * Run mechanism mech with its initial response (in, n bytes; NULL: none),
 * which it frees. With system_domains, PLAIN is looked at here first so
 * that a system login's check runs in a worker thread (auth_plain_ir_sys):
 * without an initial response the empty challenge of RFC 4616 is sent
 * from here and the response comes back as "step".
 */
static void
auth_start_mech(struct auth_conn *c, const char *mech, unsigned char *in, int n)
{
	const char *out = NULL;
	unsigned outlen = 0;
	int r;

	if (strcasecmp(mech, "LOGIN") == 0 && auth_sys_realm() != NULL) {
		auth_login_step(c, in, n);	/* the first step: a user name, if any */
		return;
	}
	if (strcasecmp(mech, "PLAIN") == 0 && auth_sys_realm() != NULL) {
		if (in == NULL) {
			c->plain_wait = 1;
			auth_reply(c, "cont =", NULL);
			return;
		}
		if (auth_plain_ir_sys(c, in, n)) {
			secure_zero(in, (size_t)n);
			free(in);
			return;
		}
	}
	if (auth_sasl_new(c) == -1) {
		auth_fail(c, "temp");
		free(in);
		return;
	}
	r = sasl_server_start(c->sasl, mech, (const char *)in, (unsigned)n, &out, &outlen);
	if (in != NULL) {
		secure_zero(in, (size_t)n);
		free(in);
	}
	auth_sasl_result(c, r, out, outlen);
	if (r != SASL_CONTINUE)
		auth_cmd_conn_done(c);	/* a later "step" is a protocol error */
}

/* start MECH [DATA] and step DATA. */
static void
auth_cmd_start(struct auth_conn *c, char *arg)
{
	char *data = strchr(arg, ' ');
	unsigned char *in = NULL;
	int n = 0;

	if (data != NULL)
		*data++ = '\0';
	if (auth_ip_blocked(c->net)) {
		auth_fail(c, "limit");
		return;
	}
	if (*arg == '\0' || (data != NULL && (n = auth_b64dec(data, &in)) == -1)) {
		auth_reply(c, "fail proto", NULL);
		return;
	}
	c->plain_wait = 0;
	c->login_step = 0;
	auth_start_mech(c, arg, in, n);
}

static void
auth_cmd_step(struct auth_conn *c, char *arg)
{
	unsigned char *in = NULL;
	const char *out = NULL;
	unsigned outlen = 0;
	int n, r;

	if ((c->sasl == NULL && !c->plain_wait && !c->login_step) ||
	    (n = auth_b64dec(arg, &in)) == -1) {
		c->login_step = 0;
		auth_reply(c, "fail proto", NULL);
		return;
	}
	if (c->login_step) {
		auth_login_step(c, in, n);
		return;
	}
	if (c->plain_wait) {
		/* PLAIN's response after our empty challenge: as if it had come first */
		c->plain_wait = 0;
		auth_start_mech(c, "PLAIN", in, n);
		return;
	}
	r = sasl_server_step(c->sasl, (const char *)in, (unsigned)n, &out, &outlen);
	secure_zero(in, (size_t)n);
	free(in);
	auth_sasl_result(c, r, out, outlen);
	if (r != SASL_CONTINUE)
		auth_cmd_conn_done(c);	/* a later "step" is a protocol error */
}

/* plain USER PASS (both base64): POP3 USER/PASS, IMAP LOGIN. */
static void
auth_cmd_plain(struct auth_conn *c, char *arg)
{
	char *pb = strchr(arg, ' ');
	unsigned char *user = NULL, *pass = NULL;
	int ulen = -1, plen = -1;

	if (pb != NULL) {
		*pb++ = '\0';
		ulen = auth_b64dec(arg, &user);
		plen = auth_b64dec(pb, &pass);
	}
	if (ulen <= 0 || plen < 0 || memchr(user, '\0', (size_t)ulen) != NULL ||
	    memchr(pass, '\0', (size_t)plen) != NULL) {
		auth_reply(c, "fail proto", NULL);
	} else {
		user[ulen] = '\0';
		pass[plen] = '\0';
		auth_userpass(c, (char *)user, (char *)pass);
	}
	if (pass != NULL)
		secure_zero(pass, (size_t)plen);
	free(user);
	free(pass);
}

void
auth_cmd_sys_result(struct auth_conn *c, int result, const char *addr)
{
	c->pending = 0;
	if (result == 1)
		auth_success(c, addr);
	else
		auth_fail(c, result == 0 ? "auth" : "temp");
}


static void
auth_cmd_token(struct auth_conn *c, char *arg)
{
	char addr[256];

	/* Only the connection process redeems, on its own connection. */
	if (c->have_client) {
		c->closing = 1;
		return;
	}
	if (auth_token_use(arg, addr, sizeof(addr)) == -1) {
		auth_reply(c, "fail token", NULL);
		return;
	}
	auth_reply(c, "user ", addr);
}

/* client SERVICE IP: once, and first, from the connection process. */
static void
auth_cmd_client(struct auth_conn *c, char *arg)
{
	char *ip = strchr(arg, ' ');
	const char *p;

	if (c->have_client || ip == NULL) {
		c->closing = 1;
		return;
	}
	*ip++ = '\0';
	for (p = arg; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p))
			break;
	if (*p != '\0' || *arg == '\0' || str_copy(c->service, arg,
	    sizeof(c->service)) == -1 || str_copy(c->ip, ip, sizeof(c->ip)) == -1) {
		c->closing = 1;
		return;
	}
	/* Failures count against the client's network (auth_block_prefix_*). */
	if (auth_net_key(c->ip, (unsigned)auth_conf->auth_block_prefix_ipv4,
	    (unsigned)auth_conf->auth_block_prefix_ipv6, c->net, sizeof(c->net)) == -1)
		str_copy(c->net, c->ip, sizeof(c->net));
	c->have_client = 1;
}

static const struct {
	const char	*verb;
	int		 need_client;
	void		(*fn)(struct auth_conn *, char *);
} auth_cmds[] = {
	{ "client", 0, auth_cmd_client },
	{ "mechs", 1, auth_cmd_mechs },
	{ "start", 1, auth_cmd_start },
	{ "step", 1, auth_cmd_step },
	{ "plain", 1, auth_cmd_plain },
	{ "token", 0, auth_cmd_token },
};

void
auth_cmd_line(struct auth_conn *c, char *line)
{
	char *arg = strchr(line, ' ');
	size_t i;

	if (arg != NULL)
		*arg++ = '\0';
	else
		arg = line + strlen(line);
	for (i = 0; i < NELEM(auth_cmds); i++) {
		if (strcmp(line, auth_cmds[i].verb) != 0)
			continue;
		if (auth_cmds[i].need_client && !c->have_client)
			break;
		auth_cmds[i].fn(c, arg);
		return;
	}
	/* Only our own processes talk here: anything else ends the connection. */
	log_warn("unexpected authd request");
	c->closing = 1;
}

void
auth_cmd_conn_done(struct auth_conn *c)
{
	if (c->sasl != NULL)
		sasl_dispose(&c->sasl);
	c->sasl = NULL;
}
