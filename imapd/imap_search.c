/*
 * imap_search: parsing of SEARCH arguments (RFC 3501 6.4.4 and 9,
 * RFC 9051 6.4.4) into a key tree: RETURN options (ESEARCH, RFC 4731;
 * SAVE, RFC 5182), CHARSET, every search key, MODSEQ (RFC 7162 3.1.5),
 * sequence sets with "$" (RFC 5182). Bounded by IMAP_SEARCH_NODES_MAX
 * and IMAP_SEARCH_DEPTH_MAX. Also the string folding and day arithmetic
 * the rest of the module shares. Pure computation in imapd's session
 * process (as the mail owner).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strbuf.h"
#include "util.h"
#include "imap_store.h"
#include "imap_search_int.h"

struct sparse {
	uint32_t			 nmsgs, maxuid;
	const struct imap_seqset	*saved;
	size_t				 nodes;
	int				 uses_modseq, uses_dollar;
	char				*err;
	size_t				 errlen;
};

enum karg { KA_NONE, KA_STRING, KA_DATE, KA_NUMBER, KA_SET, KA_SPECIAL };

/* RFC 3501 6.4.4 and RFC 9051 6.4.4: one row per key. */
static const struct keydef {
	const char	*name;
	enum skey	 type;
	enum karg	 arg;
	unsigned	 mask, want;
	int		 cmp;
	const char	*hdr;
} keydefs[] = {
	{ "ALL", SK_ALL, KA_NONE, 0, 0, 0, NULL },
	{ "ANSWERED", SK_FLAGS, KA_NONE, IMAP_F_ANSWERED, IMAP_F_ANSWERED, 0, NULL },
	{ "BCC", SK_HEADER, KA_STRING, 0, 0, 0, "Bcc" },
	{ "BEFORE", SK_DATE, KA_DATE, 0, 0, -1, NULL },
	{ "BODY", SK_BODY, KA_STRING, 0, 0, 0, NULL },
	{ "CC", SK_HEADER, KA_STRING, 0, 0, 0, "Cc" },
	{ "DELETED", SK_FLAGS, KA_NONE, IMAP_F_DELETED, IMAP_F_DELETED, 0, NULL },
	{ "DRAFT", SK_FLAGS, KA_NONE, IMAP_F_DRAFT, IMAP_F_DRAFT, 0, NULL },
	{ "FLAGGED", SK_FLAGS, KA_NONE, IMAP_F_FLAGGED, IMAP_F_FLAGGED, 0, NULL },
	{ "FROM", SK_HEADER, KA_STRING, 0, 0, 0, "From" },
	{ "HEADER", SK_HEADER, KA_SPECIAL, 0, 0, 0, NULL },
	{ "KEYWORD", SK_KEYWORD, KA_SPECIAL, 0, 1, 0, NULL },
	{ "LARGER", SK_LARGER, KA_NUMBER, 0, 0, 0, NULL },
	{ "MODSEQ", SK_MODSEQ, KA_SPECIAL, 0, 0, 0, NULL },
	/* RFC 3501 only (IMAP4rev2 has no \Recent, 9051 B): kept for rev1 clients. */
	{ "NEW", SK_FLAGS, KA_NONE, IMAP_F_RECENT | IMAP_F_SEEN, IMAP_F_RECENT, 0, NULL },
	{ "NOT", SK_NOT, KA_SPECIAL, 0, 0, 0, NULL },
	{ "OLD", SK_FLAGS, KA_NONE, IMAP_F_RECENT, 0, 0, NULL },
	{ "ON", SK_DATE, KA_DATE, 0, 0, 0, NULL },
	{ "OR", SK_OR, KA_SPECIAL, 0, 0, 0, NULL },
	{ "RECENT", SK_FLAGS, KA_NONE, IMAP_F_RECENT, IMAP_F_RECENT, 0, NULL },
	{ "SEEN", SK_FLAGS, KA_NONE, IMAP_F_SEEN, IMAP_F_SEEN, 0, NULL },
	{ "SENTBEFORE", SK_SENT, KA_DATE, 0, 0, -1, NULL },
	{ "SENTON", SK_SENT, KA_DATE, 0, 0, 0, NULL },
	{ "SENTSINCE", SK_SENT, KA_DATE, 0, 0, 1, NULL },
	{ "SINCE", SK_DATE, KA_DATE, 0, 0, 1, NULL },
	{ "SMALLER", SK_SMALLER, KA_NUMBER, 0, 0, 0, NULL },
	{ "SUBJECT", SK_HEADER, KA_STRING, 0, 0, 0, "Subject" },
	{ "TEXT", SK_TEXT, KA_STRING, 0, 0, 0, NULL },
	{ "TO", SK_HEADER, KA_STRING, 0, 0, 0, "To" },
	{ "UID", SK_UID, KA_SET, 0, 0, 0, NULL },
	{ "UNANSWERED", SK_FLAGS, KA_NONE, IMAP_F_ANSWERED, 0, 0, NULL },
	{ "UNDELETED", SK_FLAGS, KA_NONE, IMAP_F_DELETED, 0, 0, NULL },
	{ "UNDRAFT", SK_FLAGS, KA_NONE, IMAP_F_DRAFT, 0, 0, NULL },
	{ "UNFLAGGED", SK_FLAGS, KA_NONE, IMAP_F_FLAGGED, 0, 0, NULL },
	{ "UNKEYWORD", SK_KEYWORD, KA_SPECIAL, 0, 0, 0, NULL },
	{ "UNSEEN", SK_FLAGS, KA_NONE, IMAP_F_SEEN, 0, 0, NULL },
};

static struct imap_search_node *parse_key(struct sparse *, const struct imap_arg **, int);

static int
perr(struct sparse *p, const char *msg)
{
	if (p->errlen > 0)
		str_copy(p->err, msg, p->errlen);
	return -1;
}

/* UTF-8 case folding: ASCII, and U+00C0..U+00DE (not U+00D7) to their small letters. */
int
search_fold(const char *s, size_t len, struct strbuf *out)
{
	char buf[512];
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + 32);
		else if (c == 0xc3 && i + 1 < len) {
			unsigned char d = (unsigned char)s[i + 1];

			if (d >= 0x80 && d <= 0x9e && d != 0x97)
				d = (unsigned char)(d + 0x20);
			buf[n++] = (char)c;
			c = d;
			i++;
		}
		buf[n++] = (char)c;
		if (n >= sizeof(buf) - 2) {
			if (strbuf_append(out, buf, n) == -1)
				return -1;
			n = 0;
		}
	}
	return strbuf_append(out, buf, n);
}

/* Days from civil (proleptic Gregorian), Howard Hinnant's algorithm. */
int64_t
search_days(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
node_free(struct imap_search_node *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n->str);
	imap_seqset_free(&n->set);
	free(n);
}

static struct imap_search_node *
node_new(struct sparse *p, enum skey type)
{
	struct imap_search_node *n;

	if (++p->nodes > IMAP_SEARCH_NODES_MAX) {
		perr(p, "Too many search keys");
		return NULL;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL) {
		perr(p, "Out of memory");
		return NULL;
	}
	n->type = type;
	imap_seqset_init(&n->set);
	return n;
}

static int
node_add(struct imap_search_node *n, struct imap_search_node *kid)
{
	struct imap_search_node **k;

	k = reallocarray(n->kids, n->nkids + 1, sizeof(*k));
	if (k == NULL)
		return -1;
	n->kids = k;
	n->kids[n->nkids++] = kid;
	return 0;
}

/* RFC 3501 9 date-text: 1*2DIGIT "-" date-month "-" 4DIGIT. */
static int
parse_date(const struct imap_arg *a, int64_t *day)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	const char *s = a->str;
	unsigned d = 0, y = 0, m, i;
	size_t k = 0;

	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_QUOTED)
		return -1;
	while (k < a->len && k < 2 && s[k] >= '0' && s[k] <= '9')
		d = d * 10 + (unsigned)(s[k++] - '0');
	if (k == 0 || a->len != k + 9 || s[k] != '-' || s[k + 4] != '-')
		return -1;
	for (m = 0; m < 12; m++)
		if (strncasecmp(s + k + 1, months + 3 * m, 3) == 0)
			break;
	for (i = 0; i < 4; i++) {
		char c = s[k + 5 + i];

		if (c < '0' || c > '9')
			return -1;
		y = y * 10 + (unsigned)(c - '0');
	}
	if (m == 12 || d < 1 || d > 31)
		return -1;
	*day = search_days(y, m + 1, d);
	return 0;
}

static int
is_seqset(const struct imap_arg *a)
{
	size_t i;

	if (a->type != IMAP_ARG_ATOM || a->len == 0)
		return 0;
	if (a->len == 1 && a->str[0] == '$')
		return 1;
	for (i = 0; i < a->len; i++)
		if (strchr("0123456789*:,", a->str[i]) == NULL)
			return 0;
	return 1;
}

/* A sequence set (star: nmsgs or maxuid), or "$": the saved UIDs. */
static struct imap_search_node *
parse_set(struct sparse *p, const struct imap_arg *a, int uid)
{
	struct imap_search_node *n;

	if (!is_seqset(a)) {
		perr(p, "Invalid sequence set");
		return NULL;
	}
	if ((n = node_new(p, uid ? SK_UID : SK_SEQ)) == NULL)
		return NULL;
	if (imap_seqset_parse(&n->set, a->str, a->len, uid ? p->maxuid : p->nmsgs) == -1) {
		perr(p, "Invalid sequence set");
		node_free(n);
		return NULL;
	}
	if (n->set.dollar) {
		/* RFC 5182 2.1: "$" names the saved messages, kept as UIDs. */
		n->type = SK_SAVED;
		p->uses_dollar = 1;
		imap_seqset_clear(&n->set);
		if (p->saved != NULL && imap_seqset_copy(&n->set, p->saved) == -1) {
			perr(p, "Out of memory");
			node_free(n);
			return NULL;
		}
	}
	return n;
}

static int
set_needle(struct sparse *p, struct imap_search_node *n, const struct imap_arg *a)
{
	struct strbuf b;

	if (!imap_arg_is_astring(a))
		return perr(p, "Missing search string");
	strbuf_init(&b, SEARCH_STR_MAX);
	if (search_fold(a->str, a->len, &b) == -1) {
		strbuf_free(&b);
		return perr(p, "Out of memory");
	}
	n->len = b.len;
	if ((n->str = strndup(b.data != NULL ? b.data : "", b.len)) == NULL) {
		strbuf_free(&b);
		return perr(p, "Out of memory");
	}
	strbuf_free(&b);
	return 0;
}

/* RFC 7162 3.1.5: MODSEQ [entry-name entry-type-req] mod-sequence-valzer. */
static int
parse_modseq(struct sparse *p, struct imap_search_node *n, const struct imap_arg **ap)
{
	const struct imap_arg *a = *ap;

	if (a->type == IMAP_ARG_QUOTED || a->type == IMAP_ARG_LITERAL) {
		/* The entry name and type are accepted; flags share one modseq here. */
		if (a->len < 7 || strncasecmp(a->str, "/flags/", 7) != 0)
			return perr(p, "Invalid MODSEQ entry name");
		a++;
		if (!imap_arg_atom_is(a, "PRIV") && !imap_arg_atom_is(a, "SHARED") &&
		    !imap_arg_atom_is(a, "ALL"))
			return perr(p, "Invalid MODSEQ entry type");
		a++;
	}
	if (a->type != IMAP_ARG_ATOM || imap_arg_number(a, INT64_MAX, &n->num) == -1)
		return perr(p, "Invalid MODSEQ value");
	*ap = a + 1;
	p->uses_modseq = 1;
	return 0;
}

static int
parse_special(struct sparse *p, struct imap_search_node *n, const struct imap_arg **ap,
    int depth)
{
	const struct imap_arg *a = *ap;
	struct imap_search_node *k;
	int i, nk = n->type == SK_OR ? 2 : 1;

	switch (n->type) {
	case SK_HEADER:
		if (!imap_arg_is_astring(a) || a->len == 0 || memchr(a->str, ':', a->len))
			return perr(p, "Invalid header field name");
		if ((n->name = strndup(a->str, a->len)) == NULL)
			return perr(p, "Out of memory");
		if (set_needle(p, n, a + 1) == -1)
			return -1;
		*ap = a + 2;
		return 0;
	case SK_KEYWORD:
		if (!imap_arg_is_astring(a) || a->len == 0)
			return perr(p, "Invalid keyword");
		if ((n->str = strndup(a->str, a->len)) == NULL)
			return perr(p, "Out of memory");
		*ap = a + 1;
		return 0;
	case SK_MODSEQ:
		return parse_modseq(p, n, ap);
	default:
		for (i = 0; i < nk; i++) {
			if ((k = parse_key(p, ap, depth + 1)) == NULL)
				return -1;
			if (node_add(n, k) == -1) {
				node_free(k);
				return perr(p, "Out of memory");
			}
		}
		return 0;
	}
}

static int
parse_arg(struct sparse *p, const struct keydef *kd, struct imap_search_node *n,
    const struct imap_arg **ap, int depth)
{
	const struct imap_arg *a = *ap;

	switch (kd->arg) {
	case KA_NONE:
		return 0;
	case KA_STRING:
		if (kd->hdr != NULL && (n->name = strdup(kd->hdr)) == NULL)
			return perr(p, "Out of memory");
		if (set_needle(p, n, a) == -1)
			return -1;
		break;
	case KA_DATE:
		if (parse_date(a, &n->day) == -1)
			return perr(p, "Invalid date");
		break;
	case KA_NUMBER:
		if (a->type != IMAP_ARG_ATOM || imap_arg_number(a, INT64_MAX, &n->num) == -1)
			return perr(p, "Invalid number");
		break;
	case KA_SET:
	case KA_SPECIAL:
		return parse_special(p, n, ap, depth);
	}
	*ap = a + 1;
	return 0;
}

static int
node_cost(const struct imap_search_node *n)
{
	switch (n->type) {
	case SK_HEADER:
	case SK_SENT:
		return SK_COST_HEADER;
	case SK_BODY:
	case SK_TEXT:
		return SK_COST_BODY;
	default:
		return SK_COST_CHEAP;
	}
}

/* Cheap keys first: a message ruled out by its flags is never read. */
static void
order_kids(struct imap_search_node *n)
{
	size_t i, j;

	for (i = 1; i < n->nkids; i++) {
		struct imap_search_node *k = n->kids[i];

		for (j = i; j > 0 && n->kids[j - 1]->cost > k->cost; j--)
			n->kids[j] = n->kids[j - 1];
		n->kids[j] = k;
	}
	n->cost = SK_COST_CHEAP;
	for (i = 0; i < n->nkids; i++)
		if (n->kids[i]->cost > n->cost)
			n->cost = n->kids[i]->cost;
}

static struct imap_search_node *parse_list(struct sparse *, const struct imap_arg *, int);

static struct imap_search_node *
parse_key(struct sparse *p, const struct imap_arg **ap, int depth)
{
	const struct imap_arg *a = *ap;
	struct imap_search_node *n;
	size_t i;

	if (depth > IMAP_SEARCH_DEPTH_MAX) {
		perr(p, "Search keys nested too deeply");
		return NULL;
	}
	if (a->type == IMAP_ARG_LIST) {
		if (a->n == 0) {
			perr(p, "Empty search key list");
			return NULL;
		}
		*ap = a + 1;
		return parse_list(p, a->list, depth + 1);
	}
	if (is_seqset(a)) {
		*ap = a + 1;
		return parse_set(p, a, 0);
	}
	for (i = 0; i < NELEM(keydefs); i++)
		if (imap_arg_atom_is(a, keydefs[i].name))
			break;
	if (i == NELEM(keydefs)) {
		perr(p, a->type == IMAP_ARG_EOL ? "Missing search key" : "Unknown search key");
		return NULL;
	}
	if (keydefs[i].arg == KA_SET) {
		*ap = a + 2;
		return parse_set(p, a + 1, 1);
	}
	if ((n = node_new(p, keydefs[i].type)) == NULL)
		return NULL;
	n->mask = keydefs[i].mask;
	n->want = keydefs[i].want;
	n->cmp = keydefs[i].cmp;
	*ap = a + 1;
	if (parse_arg(p, &keydefs[i], n, ap, depth) == -1) {
		node_free(n);
		return NULL;
	}
	n->cost = node_cost(n);
	if (n->type == SK_NOT || n->type == SK_OR)
		order_kids(n);
	return n;
}

/* Keys up to EOL, ANDed; one key stands for itself. */
static struct imap_search_node *
parse_list(struct sparse *p, const struct imap_arg *a, int depth)
{
	struct imap_search_node *n, *k;

	if ((n = node_new(p, SK_AND)) == NULL)
		return NULL;
	while (a->type != IMAP_ARG_EOL) {
		if ((k = parse_key(p, &a, depth)) == NULL) {
			node_free(n);
			return NULL;
		}
		if (node_add(n, k) == -1) {
			node_free(k);
			node_free(n);
			perr(p, "Out of memory");
			return NULL;
		}
	}
	if (n->nkids == 0) {
		node_free(n);
		perr(p, "Missing search key");
		return NULL;
	}
	if (n->nkids == 1) {
		k = n->kids[0];
		n->nkids = 0;
		node_free(n);
		return k;
	}
	order_kids(n);
	return n;
}

/* RFC 4731 3.1, RFC 5182 2.4: RETURN (MIN MAX ALL COUNT SAVE); () means ALL. */
static int
parse_return(struct imap_search *s, struct sparse *p, const struct imap_arg *l)
{
	static const char *opts[] = { "MIN", "MAX", "ALL", "COUNT", "SAVE" };
	size_t i, j;

	if (l->type != IMAP_ARG_LIST)
		return perr(p, "RETURN needs a list");
	s->esearch = 1;
	for (i = 0; i < l->n; i++) {
		for (j = 0; j < NELEM(opts); j++)
			if (imap_arg_atom_is(&l->list[i], opts[j]))
				break;
		if (j == NELEM(opts))
			return perr(p, "Unknown RETURN option");
		s->ret |= 1u << j;
	}
	if (s->ret == 0)
		s->ret = IMAP_SEARCH_RET_ALL;
	return 0;
}

int
search_parse_keys(struct imap_search *s, const struct imap_arg *a, int charset_required,
    uint32_t nmsgs, uint32_t maxuid, const struct imap_seqset *saved, char *err,
    size_t errlen)
{
	struct sparse p = { nmsgs, maxuid, saved, 0, 0, 0, err, errlen };
	const struct imap_arg *cs = NULL;

	if (charset_required)
		cs = a++;
	else if (imap_arg_atom_is(a, "CHARSET")) {
		cs = a + 1;
		a += 2;
	}
	if (cs != NULL) {
		if (!imap_arg_is_astring(cs))
			return perr(&p, "Missing charset");
		/* RFC 3501 6.4.4 / RFC 9051 6.4.4: US-ASCII and UTF-8 only here. */
		if (strlen(cs->str) != cs->len || (strcasecmp(cs->str, "UTF-8") != 0 &&
		    strcasecmp(cs->str, "US-ASCII") != 0)) {
			perr(&p, "Unsupported charset");
			return -2;
		}
	}
	if ((s->root = parse_list(&p, a, 1)) == NULL)
		return -1;
	s->uses_modseq = p.uses_modseq;
	s->uses_dollar = p.uses_dollar;
	return 0;
}

int
imap_search_parse(struct imap_search *s, const struct imap_arg *a, uint32_t nmsgs,
    uint32_t maxuid, const struct imap_seqset *saved, char *err, size_t errlen)
{
	struct sparse p = { nmsgs, maxuid, saved, 0, 0, 0, err, errlen };
	int r;

	memset(s, 0, sizeof(*s));
	if (imap_arg_atom_is(a, "RETURN")) {
		if (parse_return(s, &p, a + 1) == -1)
			return -1;
		a += 2;
	}
	if ((r = search_parse_keys(s, a, 0, nmsgs, maxuid, saved, err, errlen)) != 0)
		imap_search_free(s);
	return r;
}

void
imap_search_free(struct imap_search *s)
{
	node_free(s->root);
	s->root = NULL;
}
