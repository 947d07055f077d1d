/*
 * smtp_route: where the outbound smtp client sends a domain's mail, and
 * with which TLS policy. Runs in the smtp process. The maps and the
 * relayhost credentials are read once by the accepting parent at
 * start-up (root when started as root: they are the admin's files); the
 * DNS queries run in the per-request child as mail_owner, chrooted to the
 * queue directory, through a resolver state that res_ninit() filled from
 * /etc/resolv.conf BEFORE the chroot (so no file is needed inside it).
 * Host names are looked up in /etc/hosts first, then in DNS (A, AAAA),
 * as "hosts: files dns" does: the child reads /etc/hosts before the
 * chroot too (smtp_hosts_load) and this file parses it (hosts(5)).
 *
 * Precedence: transport_map, then relayhost, then MX (RFC 5321 5.1):
 * MX records in preference order (ties shuffled), no MX records means
 * the domain itself is the only host (implicit MX), a null MX (RFC 7505)
 * means the domain accepts no mail: a permanent failure.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "smtp.h"
#include "util.h"

#define SMTP_MAP_MAX	(4 * 1024 * 1024)
#define SMTP_DNS_BUF	65536

/* The whole of an open map file fd (closed here). NULL with err, *bad. */
static char *
smtp_map_read(int fd, const char *path, int secret, int *bad, char *err,
    size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t len = 0;

	if (fstat(fd, &st) == -1)
		memset(&st, 0, sizeof(st));	/* mode 0: refused below as not regular */
	if (!S_ISREG(st.st_mode) || st.st_size > SMTP_MAP_MAX ||
	    (secret && (st.st_mode & 077) != 0)) {
		str_fmt(err, errlen, "%s: %s", path, secret && (st.st_mode & 077) ?
		    "refused: the file must not be accessible by group or others "
		    "(chmod 0600)" : "not a regular file of at most 4 MB");
		*bad = 1;
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size &&
	    (n = read(fd, buf + len, (size_t)st.st_size - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	return buf;
}

char *
smtp_map_load(const char *path, int secret, int *bad, char *err, size_t errlen)
{
	int fd;

	*bad = 0;
	if (path == NULL || *path == '\0')
		return NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		str_fmt(err, errlen, "%s: %s", path, strerror(errno));
		*bad = errno != ENOENT;
		return NULL;
	}
	return smtp_map_read(fd, path, secret, bad, err, errlen);
}

/*
 * /etc/hosts is the system's file, often a symbolic link (or a bind
 * mount in a container): followed, unlike the admin's maps above.
 */
char *
smtp_hosts_load(const char *path)
{
	char err[512];
	int fd, bad = 0;
	char *t;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_warn("%s: %s (host names: DNS only)", path, strerror(errno));
		return NULL;
	}
	if ((t = smtp_map_read(fd, path, 0, &bad, err, sizeof(err))) == NULL)
		log_warn("%s (host names: DNS only)", err);
	return t;
}

int
smtp_map_lookup(const char *map, const char *key, char *out, size_t outlen)
{
	const char *p = map, *e, *k, *v;
	size_t klen = strlen(key);

	while (map != NULL && *p) {
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		k = p;
		while (k < e && (*k == ' ' || *k == '\t'))
			k++;
		v = k;
		while (v < e && *v != ' ' && *v != '\t')
			v++;
		if (k < e && *k != '#' && (size_t)(v - k) == klen &&
		    strncasecmp(k, key, klen) == 0) {
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
				e--;
			if ((size_t)(e - v) >= outlen)
				return -2;
			memcpy(out, v, (size_t)(e - v));
			out[e - v] = '\0';
			return 0;
		}
		p = *e ? e + 1 : e;
	}
	return -1;
}

enum smtp_tls
smtp_tls_policy(const struct smtp_ctx *c, const char *domain)
{
	char v[32];
	int r;

	if ((r = smtp_map_lookup(c->tlspolicy, domain, v, sizeof(v))) == -1)
		return SMTP_TLS_MAY;
	if (r == -2) {
		/* Not a level we know (too long): not a reason to weaken TLS. */
		log_warn("tls_policy_map: %s: unknown level (using verify)", domain);
		return SMTP_TLS_VERIFY;
	}
	if (strcasecmp(v, "none") == 0)
		return SMTP_TLS_NONE;
	if (strcasecmp(v, "encrypt") == 0)
		return SMTP_TLS_ENCRYPT;
	if (strcasecmp(v, "verify") == 0 || strcasecmp(v, "secure") == 0)
		return SMTP_TLS_VERIFY;
	if (strcasecmp(v, "may") != 0)
		log_warn("tls_policy_map: %s: unknown level '%s' (using verify)",
		    domain, v);
	/* An unknown level must not weaken security: the strictest one. */
	return strcasecmp(v, "may") == 0 ? SMTP_TLS_MAY : SMTP_TLS_VERIFY;
}

/*
 * "smtp:[host]:port", "[host]:port", "host:port", "host" (a name without
 * brackets gets an MX lookup, Postfix's rule). 0 or -1.
 */
int
smtp_parse_nexthop(const char *s, char *host, size_t hlen, unsigned *port, int *mx)
{
	unsigned long long p = 25;
	const char *end, *colon;

	if (strncasecmp(s, "smtp:", 5) == 0)
		s += 5;
	*mx = *s != '[';
	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL || end == s + 1 ||
		    (size_t)(end - s - 1) >= hlen)
			return -1;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return -1;
	} else {
		colon = strrchr(s, ':');
		end = colon != NULL ? colon : s + strlen(s);
		if (end == s || (size_t)(end - s) >= hlen)
			return -1;
		memcpy(host, s, (size_t)(end - s));
		host[end - s] = '\0';
	}
	if (colon != NULL && parse_ullong(colon + 1, 1, 65535, &p) == -1)
		return -1;
	*port = (unsigned)p;
	return 0;
}

static int
smtp_host_cmp(const void *a, const void *b)
{
	const struct smtp_host *x = a, *y = b;

	return x->pref != y->pref ? (x->pref < y->pref ? -1 : 1) : 0;
}

static void
smtp_fail(int *code, int c, char *why, size_t whylen, const char *text)
{
	*code = c;
	str_copy(why, text, whylen);
}

/* A query; -1 with *code/why on failure (NXDOMAIN: *nx set). */
static int
smtp_query(struct smtp_ctx *c, const char *name, int type, unsigned char *ans,
    int *nx, int *nodata)
{
	int n;

	*nx = *nodata = 0;
	if (!c->res_ok) {
		errno = EIO;
		return -1;
	}
	n = res_nquery(&c->res, name, ns_c_in, type, ans, SMTP_DNS_BUF);
	if (n < 0) {
		*nx = c->res.res_h_errno == HOST_NOT_FOUND;
		*nodata = c->res.res_h_errno == NO_DATA;
	}
	return n;
}

/* Parse MX records into hosts. Returns the count; *nullmx for RFC 7505. */
static size_t
smtp_mx_parse(const unsigned char *ans, int len, unsigned port,
    struct smtp_host *hosts, size_t max, int *nullmx)
{
	ns_msg msg;
	ns_rr rr;
	char name[NS_MAXDNAME];
	size_t n = 0;
	int i, count;

	*nullmx = 0;
	if (ns_initparse(ans, len, &msg) == -1)
		return 0;
	count = ns_msg_count(msg, ns_s_an);
	for (i = 0; i < count && n < max; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) == -1)
			break;
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3)
			continue;
		if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr) + 2,
		    name, sizeof(name)) < 0)
			continue;
		if (name[0] == '\0' || strcmp(name, ".") == 0) {
			*nullmx = 1;	/* RFC 7505 3: "0 ." */
			continue;
		}
		if (str_copy(hosts[n].name, name, sizeof(hosts[n].name)) == -1)
			continue;
		hosts[n].pref = ns_get16(ns_rr_rdata(rr));
		hosts[n].port = port;
		n++;
	}
	return n;
}

/* Shuffle hosts of equal preference, then sort (RFC 5321 5.1). */
static void
smtp_mx_order(struct smtp_host *h, size_t n)
{
	struct smtp_host t;
	uint32_t r;
	size_t i, j;

	for (i = n; i > 1; i--) {
		random_bytes(&r, sizeof(r));
		j = r % i;
		t = h[i - 1];
		h[i - 1] = h[j];
		h[j] = t;
	}
	/* qsort is not stable, but equal preferences are in random order anyway. */
	qsort(h, n, sizeof(*h), smtp_host_cmp);
}

/* Does /etc/hosts know name? (MX lookups themselves are DNS only.) */
static int
smtp_hosts_known(const struct smtp_ctx *c, const char *name)
{
	struct smtp_host h;
	struct smtp_addr a;
	size_t n = 0;

	memset(&h, 0, sizeof(h));
	if (str_copy(h.name, name, sizeof(h.name)) == -1)
		return 0;
	h.port = 25;
	return smtp_hosts_lookup(c->hosts, &h, &a, 1, &n) > 0;
}

static int
smtp_mx(struct smtp_ctx *c, const char *domain, unsigned port,
    struct smtp_host *hosts, size_t *n, int *code, char *why, size_t whylen)
{
	unsigned char *ans = xmalloc(SMTP_DNS_BUF);
	int len, nx, nodata, nullmx = 0;

	*n = 0;
	len = smtp_query(c, domain, ns_t_mx, ans, &nx, &nodata);
	if (len < 0 && !nodata && smtp_hosts_known(c, domain)) {
		nx = 0;		/* a name only /etc/hosts knows: its own host */
		nodata = 1;
	}
	if (len < 0 && nx) {
		free(ans);
		smtp_fail(code, 550, why, whylen, "5.1.2 Host or domain name not found "
		    "(DNS: NXDOMAIN)");
		return -1;
	}
	if (len < 0 && !nodata) {
		free(ans);
		smtp_fail(code, 451, why, whylen, "4.4.3 DNS lookup of the MX records failed");
		return -1;
	}
	if (len >= 0)
		*n = smtp_mx_parse(ans, len, port, hosts, SMTP_MAX_HOSTS, &nullmx);
	free(ans);
	if (*n == 0 && nullmx) {
		smtp_fail(code, 556, why, whylen,
		    "5.1.10 the domain accepts no mail (null MX, RFC 7505)");
		return -1;
	}
	if (*n == 0) {
		/* RFC 5321 5.1: no MX records, the domain itself (implicit MX). */
		str_copy(hosts[0].name, domain, sizeof(hosts[0].name));
		hosts[0].port = port;
		hosts[0].pref = 0;
		*n = 1;
		return 0;
	}
	smtp_mx_order(hosts, *n);
	return 0;
}

int
smtp_route(struct smtp_ctx *c, const char *domain, struct smtp_host *hosts,
    size_t *n, int *relay, int *code, char *why, size_t whylen)
{
	char v[512], host[SMTP_HOST_MAX];
	unsigned port;
	int mx, r;

	*relay = 0;
	*n = 0;
	if ((r = smtp_map_lookup(c->transport, domain, v, sizeof(v))) != -1) {
		if (r == -2 || smtp_parse_nexthop(v, host, sizeof(host), &port, &mx) == -1) {
			log_warn("transport_map: %s: bad next hop '%s'", domain,
			    r == -2 ? "(too long)" : v);
			smtp_fail(code, 451, why, whylen, "4.3.5 bad transport_map entry");
			return -1;
		}
	} else if (*c->conf->relayhost != '\0') {
		if (smtp_parse_nexthop(c->conf->relayhost, host, sizeof(host), &port,
		    &mx) == -1) {
			smtp_fail(code, 451, why, whylen, "4.3.5 bad relayhost setting");
			return -1;
		}
		*relay = 1;
	} else
		return smtp_mx(c, domain, 25, hosts, n, code, why, whylen);
	if (mx)
		return smtp_mx(c, host, port, hosts, n, code, why, whylen);
	str_copy(hosts[0].name, host, sizeof(hosts[0].name));
	hosts[0].port = port;
	hosts[0].pref = 0;
	*n = 1;
	return 0;
}

/* An address literal: "127.0.0.1", "::1" or "IPv6:::1". 1 if it was one. */
static int
smtp_literal(const struct smtp_host *h, struct smtp_addr *a)
{
	const char *s = h->name;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&a->sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->sa;

	memset(a, 0, sizeof(*a));
	if (strncasecmp(s, "IPv6:", 5) == 0)
		s += 5;
	if (inet_pton(AF_INET, s, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)h->port);
		a->salen = sizeof(*v4);
	} else if (inet_pton(AF_INET6, s, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)h->port);
		a->salen = sizeof(*v6);
	} else
		return 0;
	str_copy(a->host, h->name, sizeof(a->host));
	str_copy(a->ip, s, sizeof(a->ip));
	a->port = h->port;
	return 1;
}

/* A and AAAA records of h->name appended to out. */
static void
smtp_addr_records(struct smtp_ctx *c, const struct smtp_host *h, int type,
    struct smtp_addr *out, size_t max, size_t *n, int *nx)
{
	unsigned char *ans = xmalloc(SMTP_DNS_BUF);
	ns_msg msg;
	ns_rr rr;
	int len, i, nodata;
	struct smtp_addr *a;

	len = smtp_query(c, h->name, type, ans, nx, &nodata);
	if (len < 0 || ns_initparse(ans, len, &msg) == -1) {
		free(ans);
		return;
	}
	for (i = 0; i < ns_msg_count(msg, ns_s_an) && *n < max; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) == -1)
			break;
		if ((int)ns_rr_type(rr) != type)
			continue;
		a = &out[*n];
		memset(a, 0, sizeof(*a));
		if (type == ns_t_a && ns_rr_rdlen(rr) == 4) {
			struct sockaddr_in *v4 = (struct sockaddr_in *)&a->sa;
			v4->sin_family = AF_INET;
			v4->sin_port = htons((uint16_t)h->port);
			memcpy(&v4->sin_addr, ns_rr_rdata(rr), 4);
			a->salen = sizeof(*v4);
			inet_ntop(AF_INET, &v4->sin_addr, a->ip, sizeof(a->ip));
		} else if (type == ns_t_aaaa && ns_rr_rdlen(rr) == 16) {
			struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->sa;
			v6->sin6_family = AF_INET6;
			v6->sin6_port = htons((uint16_t)h->port);
			memcpy(&v6->sin6_addr, ns_rr_rdata(rr), 16);
			a->salen = sizeof(*v6);
			inet_ntop(AF_INET6, &v6->sin6_addr, a->ip, sizeof(a->ip));
		} else
			continue;
		str_copy(a->host, h->name, sizeof(a->host));
		a->port = h->port;
		(*n)++;
	}
	free(ans);
}

/*
 * The next blank-separated word of [*p, e) into out: 0, or -1 at the end
 * of the line. A word too long for out comes back empty (matches nothing).
 */
static int
smtp_word(const char **p, const char *e, char *out, size_t outlen)
{
	const char *s = *p, *w;

	while (s < e && (*s == ' ' || *s == '\t' || *s == '\r'))
		s++;
	w = s;
	while (s < e && *s != ' ' && *s != '\t' && *s != '\r')
		s++;
	*p = s;
	if (w == s)
		return -1;
	out[0] = '\0';
	if ((size_t)(s - w) < outlen) {
		memcpy(out, w, (size_t)(s - w));
		out[s - w] = '\0';
	}
	return 0;
}

/* Host names equal but for case and one trailing dot (RFC 4343). */
static int
smtp_name_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la > 0 && la == lb && strncasecmp(a, b, la) == 0;
}

/* hosts(5): "address name [aliases...]", '#' to the end of the line. */
static int
smtp_hosts_line(const char *p, const char *e, const char *name, char *ip,
    size_t iplen)
{
	char w[SMTP_HOST_MAX];
	const char *hash = memchr(p, '#', (size_t)(e - p));

	if (hash != NULL)
		e = hash;
	if (smtp_word(&p, e, ip, iplen) == -1 || ip[0] == '\0' ||
	    strncasecmp(ip, "IPv6:", 5) == 0)
		return 0;
	while (smtp_word(&p, e, w, sizeof(w)) == 0)
		if (smtp_name_eq(w, name))
			return 1;
	return 0;
}

size_t
smtp_hosts_lookup(const char *hosts, const struct smtp_host *h,
    struct smtp_addr *out, size_t max, size_t *n)
{
	const char *p = hosts, *e;
	struct smtp_host t;
	size_t before = *n, j;
	char ip[64];

	while (hosts != NULL && *p != '\0' && *n < max) {
		if ((e = strchr(p, '\n')) == NULL)
			e = p + strlen(p);
		t = *h;
		if (smtp_hosts_line(p, e, h->name, ip, sizeof(ip)) &&
		    str_copy(t.name, ip, sizeof(t.name)) == 0 &&
		    smtp_literal(&t, &out[*n])) {
			for (j = before; j < *n && strcmp(out[j].ip, out[*n].ip); j++)
				;
			str_copy(out[*n].host, h->name, sizeof(out[*n].host));
			if (j == *n)
				(*n)++;		/* not a duplicate */
		}
		p = *e ? e + 1 : e;
	}
	return *n - before;
}

int
smtp_resolve(struct smtp_ctx *c, const struct smtp_host *h, struct smtp_addr *out,
    size_t max, size_t *n, int *code, char *why, size_t whylen)
{
	size_t before = *n;
	int nx4 = 0, nx6 = 0;

	if (*n >= max)
		return 0;
	if (smtp_literal(h, &out[*n])) {
		(*n)++;
		return 0;
	}
	/* "hosts: files dns": a name /etc/hosts knows sends no DNS query. */
	if (smtp_hosts_lookup(c->hosts, h, out, max, n) > 0)
		return 0;
	smtp_addr_records(c, h, ns_t_a, out, max, n, &nx4);
	smtp_addr_records(c, h, ns_t_aaaa, out, max, n, &nx6);
	if (*n > before)
		return 0;
	smtp_fail(code, 451, why, whylen, nx4 && nx6 ?
	    "4.4.4 host name of the next hop not found" :
	    "4.4.3 cannot find an address of the next hop");
	return -1;
}

int
smtp_relay_secret(const struct smtp_ctx *c, char *user, size_t ulen, char *pass,
    size_t plen)
{
	char v[1024], *colon;
	int r = -1;

	if (c->creds == NULL ||
	    smtp_map_lookup(c->creds, c->conf->relayhost, v, sizeof(v)) != 0)
		return -1;
	if ((colon = strchr(v, ':')) != NULL) {
		*colon = '\0';
		if (str_copy(user, v, ulen) == 0 && str_copy(pass, colon + 1, plen) == 0)
			r = 0;
	}
	secure_zero(v, sizeof(v));
	return r;
}
