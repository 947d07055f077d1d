/*
 * conf: the postern.conf parser and its one parameter table. Runs in
 * every process at start-up (as root where started as root: the file is
 * the admin's, not the network's).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "conf.h"
#include "log.h"
#include "strbuf.h"
#include "util.h"

#define F(x) offsetof(struct conf, x)

const struct conf_param conf_params[] = {
	{ "hostname", CONF_STR, "", F(hostname), 1,
	    "this host's name in greetings and Received headers (empty: gethostname)" },
	{ "local_domains", CONF_LIST, "$hostname", F(local_domains), 1,
	    "domains whose mail is delivered here" },
	{ "state_dir", CONF_PATH, LOCALSTATEDIR "/lib/postern", F(state_dir), 0,
	    "queue and runtime state" },
	{ "mail_root", CONF_PATH, LOCALSTATEDIR "/vmail", F(mail_root), 0,
	    "virtual mailboxes: mail_root/<domain>/<local part>/Maildir" },
	{ "sasl_db", CONF_PATH, SYSCONFDIR "/postern/sasldb2", F(sasl_db), 0,
	    "Cyrus SASL sasldb with the users' secrets" },
	{ "alias_file", CONF_PATH, SYSCONFDIR "/postern/aliases", F(alias_file), 1,
	    "aliases(5) file; a missing file means no aliases" },
	{ "postmaster_address", CONF_STR, "", F(postmaster_address), 1,
	    "where postmaster goes when no alias or user postmaster exists (empty: the first user)" },
	{ "daemon_directory", CONF_PATH, PKGLIBEXECDIR, F(daemon_directory), 0,
	    "where the master finds smtpd, qmgr, deliver and lookupd" },
	{ "smtp_listen", CONF_LISTEN, "0.0.0.0:25", F(smtp_listen), 1,
	    "smtpd addresses (port 25)" },
	{ "submission_listen", CONF_LISTEN, "0.0.0.0:587", F(submission_listen), 1,
	    "submitd addresses with STARTTLS (port 587)" },
	{ "submissions_listen", CONF_LISTEN, "0.0.0.0:465", F(submissions_listen), 1,
	    "submitd addresses with implicit TLS (port 465)" },
	{ "pop3_listen", CONF_LISTEN, "0.0.0.0:110", F(pop3_listen), 1,
	    "pop3d addresses with STLS (port 110)" },
	{ "pop3s_listen", CONF_LISTEN, "0.0.0.0:995", F(pop3s_listen), 1,
	    "pop3d addresses with implicit TLS (port 995)" },
	{ "imap_listen", CONF_LISTEN, "0.0.0.0:143", F(imap_listen), 1,
	    "imapd addresses with STARTTLS (port 143)" },
	{ "imaps_listen", CONF_LISTEN, "0.0.0.0:993", F(imaps_listen), 1,
	    "imapd addresses with implicit TLS (port 993)" },
	{ "listen_backlog", CONF_UINT, "4096", F(listen_backlog), 0,
	    "listen(2) backlog of every listening socket" },
	{ "tls_cert", CONF_PATH, "", F(tls_cert), 1,
	    "PEM certificate chain (empty: no TLS)" },
	{ "tls_key", CONF_PATH, "", F(tls_key), 1,
	    "PEM private key" },
	{ "transport_map", CONF_PATH, "", F(transport_map), 1,
	    "file of lines 'domain smtp:[host]:port' that bypass MX lookup" },
	{ "relayhost", CONF_STR, "", F(relayhost), 1,
	    "[host]:port smarthost for all remote mail" },
	{ "relayhost_credentials", CONF_PATH, "", F(relayhost_credentials), 1,
	    "file of lines '[host]:port user:password' for AUTH to the relayhost (mode 0600)" },
	{ "tls_policy_map", CONF_PATH, "", F(tls_policy_map), 1,
	    "file of lines 'domain none|may|encrypt|verify' for outbound TLS" },
	{ "smtp_concurrency", CONF_UINT, "100", F(smtp_concurrency), 0,
	    "concurrent outbound SMTP deliveries in total" },
	{ "smtp_destination_concurrency", CONF_UINT, "20", F(smtp_destination_concurrency), 0,
	    "concurrent outbound SMTP deliveries per destination domain" },
	{ "smtp_connect_timeout", CONF_DURATION, "30s", F(smtp_connect_timeout), 0,
	    "outbound: time to set up a TCP connection" },
	{ "smtp_helo_timeout", CONF_DURATION, "300s", F(smtp_helo_timeout), 0,
	    "outbound: greeting, EHLO, STARTTLS and AUTH replies (RFC 5321 4.5.3.2)" },
	{ "smtp_mail_timeout", CONF_DURATION, "300s", F(smtp_mail_timeout), 0,
	    "outbound: reply to MAIL FROM" },
	{ "smtp_rcpt_timeout", CONF_DURATION, "300s", F(smtp_rcpt_timeout), 0,
	    "outbound: reply to RCPT TO" },
	{ "smtp_data_init_timeout", CONF_DURATION, "120s", F(smtp_data_init_timeout), 0,
	    "outbound: reply to DATA" },
	{ "smtp_data_xfer_timeout", CONF_DURATION, "180s", F(smtp_data_xfer_timeout), 0,
	    "outbound: each write of the message content" },
	{ "smtp_data_done_timeout", CONF_DURATION, "600s", F(smtp_data_done_timeout), 0,
	    "outbound: reply to the final dot" },
	{ "message_size_limit", CONF_SIZE, "10240000", F(message_size_limit), 0,
	    "largest message accepted, in bytes" },
	{ "smtpd_recipient_limit", CONF_UINT, "1000", F(smtpd_recipient_limit), 0,
	    "recipients per message; more get 452 4.5.3" },
	{ "smtpd_error_limit", CONF_UINT, "20", F(smtpd_error_limit), 0,
	    "errors in one session before the server disconnects" },
	{ "smtpd_timeout", CONF_DURATION, "300s", F(smtpd_timeout), 0,
	    "idle time before an SMTP session is closed" },
	{ "smtpd_process_limit", CONF_UINT, "100", F(smtpd_process_limit), 0,
	    "concurrent SMTP sessions; more wait in the listen queue" },
	{ "max_use", CONF_UINT, "1000", F(max_use), 0,
	    "connections (or delivery requests) one smtpd, submitd or deliver process serves before it exits (0: no limit)" },
	{ "max_idle", CONF_DURATION, "100s", F(max_idle), 0,
	    "how long an idle smtpd, submitd or deliver process waits for a connection before it exits (0: forever)" },
	{ "queue_retry_min", CONF_DURATION, "300s", F(queue_retry_min), 0,
	    "first retry delay after a temporary failure" },
	{ "queue_retry_max", CONF_DURATION, "4000s", F(queue_retry_max), 0,
	    "longest retry delay (the back-off doubles up to this)" },
	{ "queue_lifetime", CONF_DURATION, "5d", F(queue_lifetime), 0,
	    "time in the queue before a message is returned to its sender" },
	{ "delay_warning_time", CONF_DURATION, "4h", F(delay_warning_time), 0,
	    "time in the queue before the sender is warned once that mail is delayed (RFC 3464; 0: never)" },
	{ "deliver_concurrency", CONF_UINT, "16", F(deliver_concurrency), 0,
	    "concurrent local deliveries" },
	{ "queue_collect_delay", CONF_MSEC, "8ms", F(queue_collect_delay), 0,
	    "how long qmgr gathers new mail before it hands it out, so that deliveries share fsyncs (0: at once)" },
	{ "delivery_rules", CONF_PATH, "", F(delivery_rules), 1,
	    "postern.rules(5) file applied to every local delivery before the user's rules (empty: none)" },
	{ "recipient_delimiter", CONF_STR, "+", F(recipient_delimiter), 1,
	    "characters that separate a local part from its extension (alice+lists); empty disables" },
	{ "system_domains", CONF_LIST, "", F(system_domains), 1,
	    "domains whose local parts are Unix accounts, delivered to ~/Maildir (local domains too; needs root)" },
	{ "pop3_plaintext_auth", CONF_BOOL, "no", F(pop3_plaintext_auth), 0,
	    "allow USER/PASS and AUTH PLAIN/LOGIN on pop3 before STLS" },
	{ "imap_plaintext_auth", CONF_BOOL, "no", F(imap_plaintext_auth), 0,
	    "allow LOGIN and AUTHENTICATE PLAIN/LOGIN on imap before STARTTLS" },
	{ "mailbox_quota", CONF_SIZE, "0", F(mailbox_quota), 0,
	    "storage quota of each mailbox in bytes, all folders together (0: none)" },
	{ "mailbox_quota_messages", CONF_UINT, "0", F(mailbox_quota_messages), 0,
	    "message quota of each mailbox, all folders together (0: none)" },
	{ "sender_login_map", CONF_PATH, "", F(sender_login_map), 1,
	    "file of lines 'address user[, user...]': who may send as whom on submission" },
	{ "smtpd_auth_enable", CONF_BOOL, "no", F(smtpd_auth_enable), 0,
	    "offer AUTH (after STARTTLS) on port 25 too; authenticated clients may relay" },
	{ "submission_auth_failures", CONF_UINT, "10", F(submission_auth_failures), 0,
	    "failed logins (SMTP AUTH, POP3, IMAP) in one session before the server disconnects" },
	{ "header_checks", CONF_PATH, "", F(header_checks), 1,
	    "file of /regex/flags ACTION text rules for message header lines (smtpd, submitd)" },
	{ "mime_header_checks", CONF_PATH, "", F(mime_header_checks), 1,
	    "file of rules for the header lines of MIME parts (attachments)" },
	{ "body_checks", CONF_PATH, "", F(body_checks), 1,
	    "file of rules for message body lines" },
	{ "body_checks_size_limit", CONF_SIZE, "51200", F(body_checks_size_limit), 0,
	    "bytes of each body part given to body_checks" },
	{ "mail_owner", CONF_STR, "postern", F(mail_owner), 0,
	    "account of smtpd, qmgr and pickup when started as root" },
	{ "login_user", CONF_STR, "postern-login", F(login_user), 0,
	    "account of the POP3/IMAP pre-authentication processes" },
	{ "vmail_user", CONF_STR, "vmail", F(vmail_user), 0,
	    "account that owns the virtual mailboxes" },
	{ "maildrop_group", CONF_STR, "postdrop", F(maildrop_group), 0,
	    "group of the setgid maildrop helper" },
	{ "auth_user", CONF_STR, "postern-auth", F(auth_user), 0,
	    "account of authd and lookupd when started as root; alone reads sasl_db" },
	{ "auth_block_prefix_ipv4", CONF_UINT, "32", F(auth_block_prefix_ipv4), 0,
	    "authd counts failed logins per IPv4 network of this prefix length (0-32)" },
	{ "auth_block_prefix_ipv6", CONF_UINT, "64", F(auth_block_prefix_ipv6), 0,
	    "authd counts failed logins per IPv6 network of this prefix length (0-128)" },
};
const size_t conf_nparams = NELEM(conf_params);

#define NPARAMS NELEM(conf_params)
static char *conf_raw[NPARAMS];		/* value as written (before $ expansion) */
static char *conf_eff[NPARAMS];		/* effective value */
static int conf_set[NPARAMS];
static char conf_file[4096];

static int
conf_index(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NPARAMS; i++)
		if (strlen(conf_params[i].name) == len &&
		    strncmp(conf_params[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

/* Expand $name and ${name} (depth-limited, so loops end). */
static int
conf_expand(const char *in, struct strbuf *out, int depth, struct strbuf *err)
{
	const char *p = in;

	if (depth > 8) {
		strbuf_printf(err, "value '%s': $name references nest too deep\n", in);
		return -1;
	}
	while (*p) {
		if (*p != '$') {
			if (strbuf_putc(out, *p++) == -1)
				return -1;
			continue;
		}
		p++;
		int brace = *p == '{';
		if (brace)
			p++;
		const char *s = p;
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		int idx = conf_index(s, (size_t)(p - s));
		if (idx == -1 || (brace && *p != '}')) {
			strbuf_printf(err, "value '%s': unknown reference $%.*s\n", in,
			    (int)(p - s), s);
			return -1;
		}
		if (brace)
			p++;
		if (conf_expand(conf_raw[idx], out, depth + 1, err) == -1)
			return -1;
	}
	return 0;
}

/* One addr:port item: a numeric IPv4 address, [IPv6] or '*', and a port. */
static int
conf_check_listen_item(const char *item, size_t len, char *why, size_t whylen)
{
	char host[128], portstr[8];
	const char *colon = memrchr(item, ':', len);
	unsigned char addr[sizeof(struct in6_addr)];
	unsigned long long port;
	size_t hlen;

	if (colon == NULL || colon == item || (size_t)(item + len - colon - 1) >= sizeof(portstr))
		goto bad;
	memcpy(portstr, colon + 1, (size_t)(item + len - colon - 1));
	portstr[item + len - colon - 1] = '\0';
	if (parse_ullong(portstr, 1, 65535, &port) == -1)
		goto bad;
	hlen = (size_t)(colon - item);
	if (item[0] == '[') {
		if (hlen < 3 || item[hlen - 1] != ']' || hlen - 2 >= sizeof(host))
			goto bad;
		memcpy(host, item + 1, hlen - 2);
		host[hlen - 2] = '\0';
		if (inet_pton(AF_INET6, host, addr) != 1)
			goto bad;
		return 0;
	}
	if (hlen >= sizeof(host))
		goto bad;
	memcpy(host, item, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "*") == 0 || inet_pton(AF_INET, host, addr) == 1)
		return 0;
bad:
	str_fmt(why, whylen, "'%.*s' is not addr:port (a numeric IPv4 address, [IPv6] or *)",
	    (int)(len > 200 ? 200 : len), item);
	return -1;
}

static int
conf_check_listen(const char *v, char *why, size_t whylen)
{
	const char *p = v;

	while (*p) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		const char *s = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		if (p > s && conf_check_listen_item(s, (size_t)(p - s), why, whylen) == -1)
			return -1;
	}
	return 0;
}

/* Convert the effective string of param i into its typed field. */
static int
conf_convert(struct conf *c, size_t i, const char *v, char *why, size_t whylen)
{
	const struct conf_param *p = &conf_params[i];
	void *field = (char *)c + p->off;
	unsigned long long u;
	long long d;

	if (*v == '\0' && !p->empty_ok) {
		str_fmt(why, whylen, "must not be empty");
		return -1;
	}
	switch (p->type) {
	case CONF_PATH:
		if (*v != '\0' && *v != '/') {
			str_fmt(why, whylen, "'%s' is not an absolute path", v);
			return -1;
		}
		/* FALLTHROUGH */
	case CONF_STR:
	case CONF_LIST:
		break;
	case CONF_LISTEN:
		if (conf_check_listen(v, why, whylen) == -1)
			return -1;
		break;
	case CONF_UINT:
		if (parse_ullong(v, 0, 1ULL << 40, &u) == -1) {
			str_fmt(why, whylen, "'%s' is not a number", v);
			return -1;
		}
		*(unsigned long long *)field = u;
		return 0;
	case CONF_SIZE:
		if (parse_size(v, &u) == -1) {
			str_fmt(why, whylen, "'%s' is not a size (like 10240000 or 10m)", v);
			return -1;
		}
		*(unsigned long long *)field = u;
		return 0;
	case CONF_DURATION:
		if (parse_duration(v, &d) == -1) {
			str_fmt(why, whylen, "'%s' is not a duration (like 300s, 4h, 5d)", v);
			return -1;
		}
		*(long long *)field = d;
		return 0;
	case CONF_MSEC:
		if (parse_msec(v, &d) == -1 || d > 10000) {
			str_fmt(why, whylen, "'%s' is not a time from 0 to 10s (like 8ms)", v);
			return -1;
		}
		*(long long *)field = d;
		return 0;
	case CONF_BOOL:
		if (parse_bool(v, (int *)&u) == -1) {
			str_fmt(why, whylen, "'%s' is not yes or no", v);
			return -1;
		}
		*(int *)field = (int)u;
		return 0;
	}
	free(*(char **)field);
	*(char **)field = xstrdup(v);
	return 0;
}

static void
conf_reset(void)
{
	size_t i;

	for (i = 0; i < NPARAMS; i++) {
		free(conf_raw[i]);
		conf_raw[i] = xstrdup(conf_params[i].def);
		conf_set[i] = 0;
	}
}

/* Read key = value lines into conf_raw. */
static int
conf_read(FILE *fp, const char *path, struct strbuf *err)
{
	char line[8192];
	int lineno = 0, bad = 0;

	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			strbuf_printf(err, "%s:%d: line too long\n", path, lineno);
			return -1;
		}
		char *s = str_trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (eq == NULL) {
			strbuf_printf(err, "%s:%d: expected 'key = value'\n", path, lineno);
			bad = 1;
			continue;
		}
		*eq = '\0';
		char *key = str_trim(s), *val = str_trim(eq + 1);
		int idx = conf_index(key, strlen(key));
		if (idx == -1) {
			strbuf_printf(err, "%s:%d: unknown key '%s'\n", path, lineno, key);
			bad = 1;
			continue;
		}
		free(conf_raw[idx]);
		conf_raw[idx] = xstrdup(val);
		conf_set[idx] = lineno;
	}
	return bad ? -1 : 0;
}

static int
conf_finish(struct conf *c, struct strbuf *err)
{
	char why[512], host[256];
	size_t i;
	int bad = 0;

	if (*conf_raw[0] == '\0') {
		if (gethostname(host, sizeof(host)) == -1)
			str_copy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		free(conf_raw[0]);
		conf_raw[0] = xstrdup(host);
	}
	for (i = 0; i < NPARAMS; i++) {
		struct strbuf v;
		strbuf_init(&v, 65536);
		if (conf_expand(conf_raw[i], &v, 0, err) == -1) {
			bad = 1;
			strbuf_free(&v);
			continue;
		}
		free(conf_eff[i]);
		conf_eff[i] = xstrdup(v.data ? v.data : "");
		strbuf_free(&v);
		if (conf_convert(c, i, conf_eff[i], why, sizeof(why)) == -1) {
			if (conf_set[i])
				strbuf_printf(err, "%s:%d: %s: %s\n", conf_file, conf_set[i],
				    conf_params[i].name, why);
			else
				strbuf_printf(err, "%s: %s\n", conf_params[i].name, why);
			bad = 1;
		}
	}
	if (!bad && c->queue_retry_min > c->queue_retry_max) {
		strbuf_printf(err, "queue_retry_min (%llds) is larger than queue_retry_max (%llds)\n",
		    c->queue_retry_min, c->queue_retry_max);
		bad = 1;
	}
	if (!bad && (c->auth_block_prefix_ipv4 > 32 || c->auth_block_prefix_ipv6 > 128)) {
		strbuf_printf(err, "auth_block_prefix_ipv4 must be 0-32 and "
		    "auth_block_prefix_ipv6 0-128\n");
		bad = 1;
	}
	if (!bad && (*c->tls_cert == '\0') != (*c->tls_key == '\0')) {
		strbuf_printf(err, "tls_cert and tls_key must be set together\n");
		bad = 1;
	}
	if (!bad) {
		struct strbuf q;
		strbuf_init(&q, 8192);
		strbuf_printf(&q, "%s/queue", c->state_dir);
		free(c->queue_dir);
		c->queue_dir = xstrdup(q.data);
		strbuf_free(&q);
	}
	return bad ? -1 : 0;
}

int
conf_load(struct conf *c, const char *path, char *err, size_t errlen)
{
	struct strbuf e;
	FILE *fp = NULL;
	int explicit = 1, r = 0;

	memset(c, 0, sizeof(*c));
	conf_reset();
	if (path == NULL && (path = getenv("POSTERN_CONF")) == NULL) {
		path = SYSCONFDIR "/postern/postern.conf";
		explicit = 0;
	}
	str_copy(conf_file, path, sizeof(conf_file));
	strbuf_init(&e, 16384);
	if ((fp = fopen(path, "re")) == NULL) {
		if (explicit || errno != ENOENT) {
			strbuf_printf(&e, "%s: %s\n", path, strerror(errno));
			r = -1;
		}
	} else {
		if (conf_read(fp, path, &e) == -1)
			r = -1;
		fclose(fp);
	}
	if (conf_finish(c, &e) == -1)
		r = -1;
	if (err != NULL && errlen > 0)
		str_copy(err, e.data ? e.data : "", errlen);
	strbuf_free(&e);
	return r;
}

const char *
conf_path(void)
{
	return conf_file;
}

void
conf_defaults(struct conf *c)
{
	struct strbuf e;

	memset(c, 0, sizeof(*c));
	conf_reset();
	strbuf_init(&e, 16384);
	if (conf_finish(c, &e) == -1)
		fatal("built-in defaults are invalid: %s", e.data);
	strbuf_free(&e);
}

void
conf_print(const struct conf *c, int only_set, int fd)
{
	struct strbuf out;
	size_t i;

	(void)c;
	strbuf_init(&out, 1 << 20);
	for (i = 0; i < NPARAMS; i++) {
		if (only_set && !conf_set[i])
			continue;
		strbuf_printf(&out, "%s = %s\n", conf_params[i].name,
		    only_set ? conf_raw[i] : conf_eff[i]);
	}
	if (out.len)
		write_all(fd, out.data, out.len);
	strbuf_free(&out);
}

int
conf_is_set(const char *name)
{
	int i = conf_index(name, strlen(name));

	return i >= 0 && conf_set[i];
}

const char *
conf_value(const char *name)
{
	int i = conf_index(name, strlen(name));

	return i >= 0 ? conf_eff[i] : NULL;
}

const char *
conf_value_raw(const char *name)
{
	int i = conf_index(name, strlen(name));

	return i >= 0 ? conf_raw[i] : NULL;
}

/* Is domain (any case) one of the comma/space separated list? */
static int
conf_in_list(const char *p, const char *domain)
{
	size_t dlen = strlen(domain);

	while (*p) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		const char *s = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		if ((size_t)(p - s) == dlen && strncasecmp(s, domain, dlen) == 0)
			return 1;
	}
	return 0;
}

int
conf_is_system_domain(const struct conf *c, const char *domain)
{
	return c->system_domains != NULL && conf_in_list(c->system_domains, domain);
}

int
conf_has_system_domains(const struct conf *c)
{
	return c->system_domains != NULL &&
	    c->system_domains[strspn(c->system_domains, ", \t")] != '\0';
}

/* system_domains are local domains too, listed in local_domains or not. */
int
conf_is_local_domain(const struct conf *c, const char *domain)
{
	return conf_in_list(c->local_domains, domain) ||
	    conf_is_system_domain(c, domain);
}
