/*
 * regex: PCRE2 (8-bit) compile and bounded match, shared by smtpd and
 * submitd (content checks) and deliver (delivery rules). Runs in those
 * processes with their privileges; patterns come from the admin's or the
 * user's files, subjects from the network.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <pcre2.h>

#include "regex.h"
#include "util.h"

struct regex {
	pcre2_code		*code;
	pcre2_match_context	*mctx;
	unsigned		 groups;
};

static int
regex_flags(const char *flags, uint32_t *opts, char *err, size_t errlen)
{
	*opts = 0;
	for (; flags != NULL && *flags != '\0'; flags++) {
		switch (*flags) {
		case 'i': *opts |= PCRE2_CASELESS; break;
		case 'm': *opts |= PCRE2_MULTILINE; break;
		case 's': *opts |= PCRE2_DOTALL; break;
		case 'x': *opts |= PCRE2_EXTENDED; break;
		case 'U': *opts |= PCRE2_UNGREEDY; break;
		default:
			str_fmt(err, errlen, "unknown regex flag '%c'", *flags);
			return -1;
		}
	}
	return 0;
}

struct regex *
regex_compile(const char *pattern, size_t len, const char *flags, char *err,
    size_t errlen)
{
	struct regex *r;
	uint32_t opts, ngroups = 0;
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	int ec;

	if (regex_flags(flags, &opts, err, errlen) == -1)
		return NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		str_fmt(err, errlen, "out of memory");
		return NULL;
	}
	r->code = pcre2_compile((PCRE2_SPTR)pattern, len, opts, &ec, &off, NULL);
	if (r->code == NULL) {
		pcre2_get_error_message(ec, msg, sizeof(msg));
		str_fmt(err, errlen, "%s at offset %zu", (const char *)msg, (size_t)off);
		free(r);
		return NULL;
	}
	/* JIT where available; without it the interpreter does the same work. */
	(void)pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE);
	if ((r->mctx = pcre2_match_context_create(NULL)) == NULL) {
		regex_free(r);
		str_fmt(err, errlen, "out of memory");
		return NULL;
	}
	pcre2_set_match_limit(r->mctx, REGEX_MATCH_LIMIT);
	pcre2_set_depth_limit(r->mctx, REGEX_DEPTH_LIMIT);
	pcre2_set_heap_limit(r->mctx, REGEX_HEAP_LIMIT);
	(void)pcre2_pattern_info(r->code, PCRE2_INFO_CAPTURECOUNT, &ngroups);
	r->groups = ngroups;
	return r;
}

void
regex_free(struct regex *r)
{
	if (r == NULL)
		return;
	pcre2_match_context_free(r->mctx);
	pcre2_code_free(r->code);
	free(r);
}

unsigned
regex_groups(const struct regex *r)
{
	return r->groups;
}

int
regex_match_group(const struct regex *r, const char *subject, size_t len, unsigned n,
    size_t *start, size_t *end, char *err, size_t errlen)
{
	pcre2_match_data *md;
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE *ov;
	int rc;

	*start = *end = 0;
	if ((md = pcre2_match_data_create_from_pattern(r->code, NULL)) == NULL) {
		str_fmt(err, errlen, "out of memory");
		return -1;
	}
	rc = pcre2_match(r->code, (PCRE2_SPTR)(subject != NULL ? subject : ""), len, 0, 0,
	    md, r->mctx);
	if (rc == PCRE2_ERROR_NOMATCH) {
		pcre2_match_data_free(md);
		return 0;
	}
	if (rc < 0) {
		pcre2_get_error_message(rc, msg, sizeof(msg));
		str_fmt(err, errlen, "regex match failed: %s", (const char *)msg);
		pcre2_match_data_free(md);
		return -1;
	}
	ov = pcre2_get_ovector_pointer(md);
	if (n < (unsigned)rc && ov[2 * n] != PCRE2_UNSET) {
		*start = ov[2 * n];
		*end = ov[2 * n + 1];
	}
	pcre2_match_data_free(md);
	return 1;
}

int
regex_match(const struct regex *r, const char *subject, size_t len, char *err,
    size_t errlen)
{
	size_t s, e;

	return regex_match_group(r, subject, len, 0, &s, &e, err, errlen);
}
