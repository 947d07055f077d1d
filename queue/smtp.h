/*
 * smtp: the outbound SMTP client (issue 4). Shared by smtp.c (the
 * process: sockets, privileges, the request from qmgr), smtp_route.c
 * (transport_map, relayhost, tls_policy_map, credentials, MX lookup),
 * smtp_reply.c (reply and EHLO parsers) and smtp_proto.c (one SMTP
 * transaction).
 */
#ifndef POSTERN_SMTP_H
#define POSTERN_SMTP_H

#include <stddef.h>
#include <sys/types.h>
#include <resolv.h>
#include <openssl/ssl.h>

#include "agent.h"
#include "qfile.h"

struct conf;

#define SMTP_MAX_HOSTS	16		/* next-hop hosts tried per request */
#define SMTP_MAX_ADDRS	32		/* addresses tried per request */
#define SMTP_HOST_MAX	256
#define SMTP_REPLY_LINE_MAX 2048	/* reply line (RFC 5321 4.5.3.1.5: 512) */
#define SMTP_REPLY_LINES 100		/* lines in one multiline reply */

struct stream;
struct strbuf;

/* tls_policy_map levels. */
enum smtp_tls { SMTP_TLS_NONE, SMTP_TLS_MAY, SMTP_TLS_ENCRYPT, SMTP_TLS_VERIFY };

/* One recipient of the request, and its result. */
struct smtp_rcpt {
	unsigned long long idx;		/* index in the queue file */
	char	*addr;			/* owned by smtp_req.agent */
	const char *orcpt, *notify;	/* from the queue file, or NULL */
	char	 orcpt_buf[504];	/* ORCPT we add for an alias target (RFC 3461 5.2.1 (d)) */
	int	 code;			/* 0 undecided, else the final SMTP code */
	int	 accepted;		/* RCPT got 2xx in this transaction */
	char	 status[8];		/* enhanced status code, "5.1.1" */
	char	 text[600];		/* diagnostic: the remote reply, or ours */
};

/* The delivery request from qmgr (common/agent.h), with our results. */
struct smtp_req {
	int	 fd;			/* the queue file (owned by agent) */
	struct qfile q;			/* parsed from fd (ORCPT, NOTIFY, BODY...) */
	int	 have_q;
	int	 dsn_passed;		/* the next hop offered DSN: NOTIFY went on */
	char	 qid[QID_LEN + 1];
	char	*sender;
	off_t	 off;
	unsigned long long size;
	struct smtp_rcpt *rcpt;
	size_t	 nrcpt;
	char	 domain[SMTP_HOST_MAX];	/* of every recipient */
	struct agent_req agent;		/* owns fd, sender and the addresses above */
};

/* A next-hop host: a name (or address literal) and a port. */
struct smtp_host {
	char	 name[SMTP_HOST_MAX];
	unsigned port;
	int	 pref;
};

/* A resolved address to try. */
struct smtp_addr {
	struct sockaddr_storage sa;
	socklen_t salen;
	char	 host[SMTP_HOST_MAX];	/* the name it came from */
	char	 ip[64];
	unsigned port;
};

/* What the process knows before it reads any request. */
struct smtp_ctx {
	const struct conf *conf;
	SSL_CTX	*tls_any;		/* no verification (opportunistic) */
	SSL_CTX	*tls_verify;		/* system trust store (policy verify) */
	char	*transport;		/* transport_map text, or NULL */
	char	*tlspolicy;		/* tls_policy_map text, or NULL */
	char	*creds;			/* relayhost_credentials text, or NULL */
	int	 creds_bad;		/* the file exists but has a loose mode */
	struct __res_state res;		/* resolver state, initialised before chroot */
	int	 res_ok;
	char	*hosts;			/* /etc/hosts, read before chroot, or NULL */
};

/* smtp_route.c */
/* Read a map file (admin's, before privileges are dropped). NULL if none. */
char *smtp_map_load(const char *path, int secret, int *bad, char *err, size_t errlen);
/*
 * The value for key (case-insensitive first word) in map text, into out.
 * 0; -1 if there is none; -2 if there is one but it does not fit.
 */
int smtp_map_lookup(const char *map, const char *key, char *out, size_t outlen);
enum smtp_tls smtp_tls_policy(const struct smtp_ctx *, const char *domain);
/*
 * The next hops for domain, in order. 0 with *n set; or -1 with a
 * reply code in *code (4xx temporary, 5xx permanent), enhanced status
 * and text in why. *relay says the hop is the relayhost (for AUTH).
 */
int smtp_route(struct smtp_ctx *, const char *domain, struct smtp_host *hosts,
    size_t *n, int *relay, int *code, char *why, size_t whylen);
/*
 * Addresses of one host (address literal, /etc/hosts, else DNS A and
 * AAAA). Appends. 0 or -1 (why).
 */
int smtp_resolve(struct smtp_ctx *, const struct smtp_host *, struct smtp_addr *,
    size_t max, size_t *n, int *code, char *why, size_t whylen);
/*
 * /etc/hosts (hosts(5)), read by the per-request child before its chroot:
 * the text, or NULL (logged unless missing).
 */
char *smtp_hosts_load(const char *path);
/*
 * The addresses hosts (its text, may be NULL) gives h->name, appended to
 * out (at most max in all, duplicates once) with h->port. Returns how
 * many were appended.
 */
size_t smtp_hosts_lookup(const char *hosts, const struct smtp_host *h,
    struct smtp_addr *out, size_t max, size_t *n);
/* "user:password" for the relayhost from the credentials, or -1. */
int smtp_relay_secret(const struct smtp_ctx *, char *user, size_t ulen,
    char *pass, size_t plen);

/*
 * "smtp:[host]:port", "[host]:port", "host:port", "host" (transport_map
 * values, relayhost). *mx is set for a name without brackets. 0 or -1.
 */
int smtp_parse_nexthop(const char *s, char *host, size_t hlen, unsigned *port, int *mx);

/* smtp_reply.c */
/* What EHLO offered (RFC 5321 4.1.1.1). */
struct smtp_caps {
	int	 pipelining, starttls, dsn, eightbit, utf8, auth_plain, auth_login;
	int	 has_size;
	unsigned long long sizemax;	/* SIZE value, 0: none or no limit */
};
/*
 * One reply line of n bytes: "DDD", "DDD text" or "DDD-text", CRLF, no
 * NUL. Sets *code. 1 more lines follow, 0 last line, -1 malformed.
 */
int smtp_reply_line(const char *l, size_t n, int *code);
/*
 * Read one whole reply (at most SMTP_REPLY_LINES lines of at most
 * SMTP_REPLY_LINE_MAX bytes, one code) from st. 0 with *code, reply (the
 * lines joined, sanitised) and lines (each line's text, LF-ended); or
 * -1 with the reason in reply (*code untouched).
 */
int smtp_reply_read(struct stream *, int *code, char *reply, size_t replylen,
    struct strbuf *lines);
/* The enhanced status code (RFC 3463) that starts reply's text, or "C.0.0". */
void smtp_reply_enhanced(int code, const char *reply, char *out, size_t outlen);
/* The keywords of an EHLO reply (lines as smtp_reply_read leaves them). */
void smtp_ehlo_caps(const char *lines, struct smtp_caps *);

/* smtp_proto.c */
/*
 * Deliver req over one address. Returns 0 when the transaction got as
 * far as MAIL (every recipient then has its result), 1 when this host
 * should be skipped (connection, greeting, EHLO, TLS: why says why; no
 * recipient was touched). Under policy SMTP_TLS_MAY a failed STARTTLS is
 * followed by a second connection without it (logged).
 */
int smtp_deliver(struct smtp_ctx *, struct smtp_req *, const struct smtp_addr *,
    enum smtp_tls policy, int relay, char *why, size_t whylen);

#endif
