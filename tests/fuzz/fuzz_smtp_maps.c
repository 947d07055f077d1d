/*
 * libFuzzer target for the outbound smtp client's map files and next
 * hops (queue/smtp_route.c): the input's first line is the key (a
 * domain, also used as the relayhost) and the rest is the map text,
 * used as transport_map, tls_policy_map, credentials and /etc/hosts at
 * once. A lookup gives a value that fits and has no LF; a parsed next
 * hop has a non-empty host and a port 1..65535; an /etc/hosts match is
 * an address that parses again, for that name and port, at most once
 * each; routing never queries DNS (no resolver) and fails with 4xx.
 * Build: see README.md.
 */
#include "config.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "smtp.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct conf conf;
static struct smtp_ctx ctx;

static void
fz_nexthop(const char *v)
{
	char host[SMTP_HOST_MAX];
	unsigned port;
	int mx;

	if (smtp_parse_nexthop(v, host, sizeof(host), &port, &mx) == 0 &&
	    (host[0] == '\0' || strlen(host) >= sizeof(host) || port < 1 ||
	    port > 65535 || (mx != 0 && mx != 1)))
		__builtin_trap();
}

static void
fz_route(const char *key)
{
	struct smtp_host hosts[SMTP_MAX_HOSTS];
	char why[256], u[256], p[512];
	size_t n;
	int relay, code = 0;
	enum smtp_tls t;

	if (smtp_route(&ctx, key, hosts, &n, &relay, &code, why, sizeof(why)) == 0) {
		if (n != 1 || hosts[0].port < 1 || hosts[0].port > 65535)
			__builtin_trap();
	} else if (code < 400 || code > 599)
		__builtin_trap();
	t = smtp_tls_policy(&ctx, key);
	if (t != SMTP_TLS_NONE && t != SMTP_TLS_MAY && t != SMTP_TLS_ENCRYPT &&
	    t != SMTP_TLS_VERIFY)
		__builtin_trap();
	if (smtp_relay_secret(&ctx, u, sizeof(u), p, sizeof(p)) == 0 &&
	    (strlen(u) >= sizeof(u) || strlen(p) >= sizeof(p)))
		__builtin_trap();
}

static void
fz_hosts(const char *hosts, const char *key)
{
	struct smtp_addr out[SMTP_MAX_ADDRS];
	struct smtp_host h;
	size_t n = 0, i, j;
	char ip[64];

	memset(&h, 0, sizeof(h));
	if (str_copy(h.name, key, sizeof(h.name)) == -1)
		return;
	h.port = 25;
	if (smtp_hosts_lookup(hosts, &h, out, SMTP_MAX_ADDRS, &n) != n ||
	    n > SMTP_MAX_ADDRS)
		__builtin_trap();
	for (i = 0; i < n; i++) {
		if (strcmp(out[i].host, key) != 0 || out[i].port != 25 ||
		    (out[i].sa.ss_family != AF_INET && out[i].sa.ss_family != AF_INET6) ||
		    inet_pton(out[i].sa.ss_family, out[i].ip, ip) != 1)
			__builtin_trap();
		for (j = 0; j < i; j++)
			if (strcmp(out[i].ip, out[j].ip) == 0)
				__builtin_trap();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *map, val[64];
	int r;

	if (size > 65536)
		return 0;
	log_init("fuzz", LOG_DEST_NONE);	/* formatted, not written: the fuzzer's log stays small */
	buf = xmalloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	map = strchr(buf, '\n');
	if (map != NULL)
		*map++ = '\0';
	else
		map = buf + size;
	fz_nexthop(buf);
	r = smtp_map_lookup(map, buf, val, sizeof(val));
	if (r == 0 && (strlen(val) >= sizeof(val) || strchr(val, '\n') != NULL))
		__builtin_trap();
	if (r != 0 && r != -1 && r != -2)
		__builtin_trap();
	memset(&conf, 0, sizeof(conf));
	memset(&ctx, 0, sizeof(ctx));
	conf.relayhost = buf;
	ctx.conf = &conf;
	ctx.transport = ctx.tlspolicy = ctx.creds = ctx.hosts = map;
	fz_hosts(map, buf);
	fz_route(buf);
	free(buf);
	return 0;
}
