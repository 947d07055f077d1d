/*
 * address: RFC 5321 4.1.2 paths ("<local@domain>") and the ESMTP
 * parameters that follow them on MAIL and RCPT (RFC 1870 SIZE, RFC 6152
 * BODY, RFC 6531 SMTPUTF8, RFC 3461 DSN, RFC 4954 AUTH). Pure functions:
 * no I/O, no allocation, so they can be unit-tested and fuzzed.
 */
#ifndef POSTERN_ADDRESS_H
#define POSTERN_ADDRESS_H

#include <stddef.h>

#define ADDR_LOCAL_MAX	64	/* RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX	255	/* RFC 5321 4.5.3.1.2 */
#define ADDR_PATH_MAX	256	/* RFC 5321 4.5.3.1.3, with the brackets */
/* An address without brackets fits in this (local + "@" + domain + NUL). */
#define ADDR_BUF	(ADDR_PATH_MAX + 1)

/* Flags of address_parse_path(). */
#define ADDR_NULL_OK	0x01	/* "<>" is allowed (MAIL FROM) */
#define ADDR_UTF8	0x02	/* SMTPUTF8 was given: UTF-8 in local part and domain (RFC 6531 3.3) */
#define ADDR_POSTMASTER	0x04	/* "<postmaster>" without a domain is allowed (RFC 5321 4.5.1) */

/*
 * Parse the path at the start of s (leading spaces are skipped, which
 * tolerates "MAIL FROM: <a@b>"). On success returns 0, writes the address
 * without brackets and without any source route to out (out must have
 * ADDR_BUF bytes; "" for the null path, "postmaster" as written for the
 * bare postmaster), and sets *rest to the ESMTP parameters after the path
 * (leading spaces skipped; "" if none). A quoted local part that needs no
 * quoting is returned unquoted ("\"alice\"@x" -> "alice@x"; RFC 5321 4.1.2
 * says the forms are equivalent). On error returns -1 and *why names the
 * problem; *too_long is set when a length limit was the reason (the
 * caller answers 501 5.1.3 or "Path too long").
 */
int address_parse_path(const char *s, int flags, char *out, size_t outlen,
    const char **rest, const char **why);

/* Is d a valid domain or address literal ("example.com", "[192.0.2.1]", "[IPv6:::1]")? */
int address_valid_domain(const char *d, int utf8);

/*
 * Split "local@domain" at its last "@" (a quoted local part may hold "@").
 * local and domain are NUL-terminated copies; the domain is lower-cased.
 * 0, or -1 if there is no "@" or a part does not fit.
 */
int address_split(const char *addr, char *local, size_t llen, char *domain,
    size_t dlen);

/*
 * Decode RFC 3461 4 xtext ("+2B" -> "+"). out gets a NUL; 0 or -1 on bad
 * syntax, a decoded byte that is not printable US-ASCII (RFC 3461 4.2,
 * 4.4: "printable (graphic and white space)"), or no room.
 */
int address_xtext_decode(const char *in, char *out, size_t outlen);

/* Is s valid UTF-8 (no overlong forms, no surrogates, at most U+10FFFF)? */
int address_utf8_valid(const char *s, size_t len);

/* ESMTP parameters of MAIL FROM and RCPT TO. */
#define ADDR_BODY_NONE		0
#define ADDR_BODY_7BIT		1
#define ADDR_BODY_8BITMIME	2

#define ADDR_RET_NONE		0
#define ADDR_RET_FULL		1
#define ADDR_RET_HDRS		2

#define ADDR_NOTIFY_NEVER	0x01
#define ADDR_NOTIFY_SUCCESS	0x02
#define ADDR_NOTIFY_FAILURE	0x04
#define ADDR_NOTIFY_DELAY	0x08

#define ADDR_ENVID_MAX		100	/* RFC 3461 4.4 */
#define ADDR_ORCPT_MAX		500	/* RFC 3461 4.2 */

/* Which optional parameters the server offers (flags of the parsers). */
#define ADDR_P_DSN	0x01	/* RET ENVID NOTIFY ORCPT (RFC 3461) */
#define ADDR_P_AUTH	0x02	/* AUTH= on MAIL (RFC 4954 5) */

struct address_mail_params {
	int		 has_size;
	unsigned long long size;	/* ULLONG_MAX when the number overflowed */
	int		 body;		/* ADDR_BODY_* */
	int		 smtputf8;
	int		 ret;		/* ADDR_RET_* */
	char		 envid[ADDR_ENVID_MAX + 1];	/* xtext as received; "" if none */
	char		 auth[ADDR_BUF + 2];		/* AUTH= value (xtext or "<>"); "" if none */
};

struct address_rcpt_params {
	int		 notify;			/* ADDR_NOTIFY_* bits; 0 if none */
	char		 orcpt[ADDR_ORCPT_MAX + 1];	/* "rfc822;xtext" as received; "" if none */
};

/*
 * The outcome of a parameter parser that failed: the reply to give.
 * 501 5.5.4 bad syntax; 555 5.5.4 unknown or unoffered parameter (RFC 5321
 * 4.1.1.11, RFC 1869); 552 5.3.4 SIZE over the limit (RFC 1870 6.1).
 */
struct address_perr {
	int		 code;
	const char	*ecode;
	const char	*text;
};

/*
 * Parse the parameters after MAIL FROM's path: space-separated
 * KEY[=VALUE], keywords case-insensitive (RFC 5321 4.1.2 esmtp-param).
 * size_limit 0 means no SIZE check. 0, or -1 with *err filled.
 */
int address_parse_mail_params(const char *s, int offered,
    unsigned long long size_limit, struct address_mail_params *p,
    struct address_perr *err);
int address_parse_rcpt_params(const char *s, int offered,
    struct address_rcpt_params *p, struct address_perr *err);
/* "SUCCESS,FAILURE" or "NEVER" for a notify bit set ("" for 0). */
const char *address_notify_str(int notify, char *buf, size_t len);

#endif
