/*
 * aliases: parse and expand the aliases(5) file. Run by lookupd and qmgr
 * (as `postern`, reading the admin's file) and by `postern check`. The
 * table is a sorted array of lower-case keys searched with bsearch.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aliases.h"
#include "log.h"
#include "strbuf.h"
#include "util.h"

#define ALIASES_FILE_MAX	(64 * 1024 * 1024)
#define ALIASES_NAME_MAX	256
#define ALIASES_ADDR_MAX	512
#define ALIASES_MAX_VISITS	10000	/* bound on work for one expansion */

struct alias_entry {
	char	 *name;
	char	**target;
	size_t	  ntarget;
	size_t	  lineno;	/* where it was defined: the first one wins */
};

struct aliases {
	char			*path;
	struct alias_entry	*ent;
	size_t			 n;
	/* identity of the loaded file */
	int			 loaded;
	dev_t			 dev;
	ino_t			 ino;
	off_t			 size;
	struct timespec		 mtime;
};

struct aliases_parse {
	struct aliases	*a;
	const char	*name;
	size_t		 lineno;
	int		 problems;
	void		(*problem)(const char *, void *);
	void		*arg;
};

struct aliases *
aliases_new(const char *path)
{
	struct aliases *a = xcalloc(1, sizeof(*a));

	a->path = xstrdup(path != NULL ? path : "");
	return a;
}

static void
aliases_clear(struct aliases *a)
{
	size_t i, j;

	for (i = 0; i < a->n; i++) {
		for (j = 0; j < a->ent[i].ntarget; j++)
			free(a->ent[i].target[j]);
		free(a->ent[i].target);
		free(a->ent[i].name);
	}
	free(a->ent);
	a->ent = NULL;
	a->n = 0;
}

void
aliases_free(struct aliases *a)
{
	if (a == NULL)
		return;
	aliases_clear(a);
	free(a->path);
	free(a);
}

static void
aliases_problem(struct aliases_parse *p, const char *fmt, const char *what)
{
	char msg[512], safe[128];

	log_sanitize(safe, sizeof(safe), what, strlen(what));
	str_fmt(msg, sizeof(msg), "%s:%zu: ", p->name, p->lineno);
	size_t n = strlen(msg);
	str_fmt(msg + n, sizeof(msg) - n, fmt, safe);
	p->problems++;
	if (p->problem != NULL)
		p->problem(msg, p->arg);
}

/* Printable ASCII without white space, ',', ':' or quotes; at most one '@'
 * and neither side empty. */
static int
aliases_addr_ok(const char *s, size_t max)
{
	const char *at = strchr(s, '@');
	const unsigned char *p;

	if (*s == '\0' || strlen(s) > max)
		return 0;
	for (p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr(",:\"<>;\\", *p) != NULL)
			return 0;
	if (at != NULL && (at == s || at[1] == '\0' || strchr(at + 1, '@') != NULL))
		return 0;
	return 1;
}

/* One target: check, refuse what is not a mailbox, lower-case, append. */
static int
aliases_add_target(struct aliases_parse *p, struct alias_entry *e, char *t)
{
	size_t len;

	t = str_trim(t);
	if (*t == '\0')
		return 0;	/* "a, b," or an empty list: counted by the caller */
	len = strlen(t);
	if (len >= 2 && t[0] == '<' && t[len - 1] == '>') {
		t[len - 1] = '\0';
		t++;
	}
	if (*t == '"')
		t++;
	if (*t == '|' || *t == '/' || str_iprefix(t, ":include:")) {
		aliases_problem(p, "target '%s' refused: postern delivers to "
		    "Maildirs only (no |command, /file or :include:)", t);
		return -1;
	}
	if (!aliases_addr_ok(t, ALIASES_ADDR_MAX)) {
		aliases_problem(p, "bad target '%s'", *t ? t : "(empty)");
		return -1;
	}
	str_lower(t);
	e->target = xreallocarray(e->target, e->ntarget + 1, sizeof(char *));
	e->target[e->ntarget++] = xstrdup(t);
	return 0;
}

static void
aliases_entry_free(struct alias_entry *e)
{
	size_t j;

	for (j = 0; j < e->ntarget; j++)
		free(e->target[j]);
	free(e->target);
	free(e->name);
}

/* One logical entry "name: t1, t2" (continuations already joined). */
static void
aliases_entry(struct aliases_parse *p, char *line)
{
	struct alias_entry e;
	char *colon, *name, *t, *comma;
	int bad = 0;

	memset(&e, 0, sizeof(e));
	if ((colon = strchr(line, ':')) == NULL) {
		aliases_problem(p, "missing ':' in '%s'", line);
		return;
	}
	*colon = '\0';
	name = str_trim(line);
	if (!aliases_addr_ok(name, ALIASES_NAME_MAX)) {
		aliases_problem(p, "bad alias name '%s'", *name ? name : "(empty)");
		return;
	}
	str_lower(name);
	for (t = colon + 1; t != NULL; t = comma) {
		if ((comma = strchr(t, ',')) != NULL)
			*comma++ = '\0';
		if (aliases_add_target(p, &e, t) == -1)
			bad = 1;
	}
	if (bad || e.ntarget == 0) {
		if (!bad)
			aliases_problem(p, "alias '%s' has no target", name);
		aliases_entry_free(&e);
		return;
	}
	e.name = xstrdup(name);
	e.lineno = p->lineno;
	p->a->ent = xreallocarray(p->a->ent, p->a->n + 1, sizeof(e));
	p->a->ent[p->a->n++] = e;
}

static int
aliases_cmp(const void *x, const void *y)
{
	const struct alias_entry *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	if (c != 0)
		return c;
	return a->lineno < b->lineno ? -1 : a->lineno > b->lineno;
}

/* Sort and drop duplicate names (the first one in the file wins). */
static void
aliases_sort(struct aliases_parse *p)
{
	struct aliases *a = p->a;
	size_t i, o;

	if (a->n == 0)
		return;		/* no entries: a->ent may be NULL, which qsort must not get */
	qsort(a->ent, a->n, sizeof(*a->ent), aliases_cmp);
	for (i = 0, o = 0; i < a->n; i++) {
		if (o > 0 && strcmp(a->ent[o - 1].name, a->ent[i].name) == 0) {
			p->lineno = a->ent[i].lineno;
			aliases_problem(p, "duplicate alias '%s' (ignored)",
			    a->ent[i].name);
			aliases_entry_free(&a->ent[i]);
			continue;
		}
		a->ent[o++] = a->ent[i];
	}
	a->n = o;
}

/* Is this physical line a comment or blank? */
static int
aliases_skip_line(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
		i++;
	return i == len || s[i] == '#';
}

int
aliases_load_buffer(struct aliases *a, const char *name, const char *text,
    size_t len, void (*problem)(const char *, void *), void *arg)
{
	struct aliases_parse p = { a, name, 0, 0, problem, arg };
	struct strbuf ent;
	size_t pos = 0, ll, entline = 0;
	const char *nl;

	aliases_clear(a);
	strbuf_init(&ent, 1024 * 1024);
	while (pos < len) {
		nl = memchr(text + pos, '\n', len - pos);
		ll = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		p.lineno++;
		if (memchr(text + pos, '\0', ll) != NULL) {
			aliases_problem(&p, "NUL byte in line%s", "");
		} else if (aliases_skip_line(text + pos, ll)) {
			/* comment or blank: does not end an entry */
		} else if (text[pos] == ' ' || text[pos] == '\t') {
			if (ent.len == 0)
				aliases_problem(&p, "continuation line without an alias%s", "");
			else if (strbuf_putc(&ent, ' ') == -1 ||
			    strbuf_append(&ent, text + pos, ll) == -1)
				aliases_problem(&p, "alias too long%s", "");
		} else {
			if (ent.len > 0) {
				size_t here = p.lineno;
				p.lineno = entline;
				aliases_entry(&p, ent.data);
				p.lineno = here;
			}
			strbuf_reset(&ent);
			entline = p.lineno;
			if (strbuf_append(&ent, text + pos, ll) == -1)
				aliases_problem(&p, "alias too long%s", "");
		}
		pos += ll + (nl != NULL);
	}
	if (ent.len > 0) {
		p.lineno = entline;
		aliases_entry(&p, ent.data);
	}
	strbuf_free(&ent);
	aliases_sort(&p);
	return p.problems;
}

/* Read a whole file (bounded). 0 or -1 with errno. */
static int
aliases_read(int fd, struct strbuf *sb)
{
	char buf[65536];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			return 0;
		if (strbuf_append(sb, buf, (size_t)n) == -1) {
			errno = EFBIG;
			return -1;
		}
	}
}

static void
aliases_log_problem(const char *msg, void *arg)
{
	(void)arg;
	log_warn("%s", msg);
}

static int
aliases_same(const struct aliases *a, const struct stat *st)
{
	return a->loaded && a->dev == st->st_dev && a->ino == st->st_ino &&
	    a->size == st->st_size && a->mtime.tv_sec == st->st_mtim.tv_sec &&
	    a->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

int
aliases_refresh(struct aliases *a, char *err, size_t errlen)
{
	struct strbuf sb;
	struct stat st;
	int fd;

	if (a->path[0] == '\0')
		return 0;
	if ((fd = open(a->path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			aliases_clear(a);
			a->loaded = 0;
			return 0;
		}
		str_fmt(err, errlen, "%s: %s", a->path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || aliases_same(a, &st)) {
		close(fd);
		return 0;
	}
	strbuf_init(&sb, ALIASES_FILE_MAX);
	if (aliases_read(fd, &sb) == -1) {
		str_fmt(err, errlen, "%s: %s", a->path, strerror(errno));
		close(fd);
		strbuf_free(&sb);
		return -1;
	}
	close(fd);
	aliases_load_buffer(a, a->path, sb.data != NULL ? sb.data : "", sb.len,
	    aliases_log_problem, NULL);
	strbuf_free(&sb);
	a->loaded = 1;
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	a->size = st.st_size;
	a->mtime = st.st_mtim;
	return 0;
}

static void
aliases_fd_problem(const char *msg, void *arg)
{
	int fd = *(int *)arg;

	if (write_all(fd, msg, strlen(msg)) == -1 || write_all(fd, "\n", 1) == -1)
		return;
}

int
aliases_check(const char *path, int fd)
{
	struct aliases *a;
	struct strbuf sb;
	char msg[1024];
	int rfd, n;

	if (path == NULL || *path == '\0')
		return 0;
	if ((rfd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		str_fmt(msg, sizeof(msg), "%s: %s", path, strerror(errno));
		aliases_fd_problem(msg, &fd);
		return -1;
	}
	strbuf_init(&sb, ALIASES_FILE_MAX);
	if (aliases_read(rfd, &sb) == -1) {
		str_fmt(msg, sizeof(msg), "%s: %s", path, strerror(errno));
		aliases_fd_problem(msg, &fd);
		close(rfd);
		strbuf_free(&sb);
		return -1;
	}
	close(rfd);
	a = aliases_new(path);
	n = aliases_load_buffer(a, path, sb.data != NULL ? sb.data : "", sb.len,
	    aliases_fd_problem, &fd);
	aliases_free(a);
	strbuf_free(&sb);
	return n;
}

static const struct alias_entry *
aliases_find(const struct aliases *a, const char *key)
{
	size_t lo = 0, hi;

	if (a == NULL || a->n == 0)
		return NULL;
	hi = a->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, a->ent[mid].name);
		if (c == 0)
			return &a->ent[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* The entry for a lower-case address: the full address first, then the
 * local part alone (valid in every local domain). */
static const struct alias_entry *
aliases_lookup(const struct aliases *a, const char *addr)
{
	const struct alias_entry *e;
	const char *at = strrchr(addr, '@');
	char lp[ALIASES_ADDR_MAX + 1];

	if ((e = aliases_find(a, addr)) != NULL || at == NULL)
		return e;
	if ((size_t)(at - addr) >= sizeof(lp))
		return NULL;
	memcpy(lp, addr, (size_t)(at - addr));
	lp[at - addr] = '\0';
	return aliases_find(a, lp);
}

int
aliases_exists(const struct aliases *a, const char *address)
{
	char key[ALIASES_ADDR_MAX + 1];

	if (str_copy(key, address, sizeof(key)) == -1)
		return 0;
	str_lower(key);
	return aliases_lookup(a, key) != NULL;
}

struct aliases_walk {
	const struct aliases *a;
	int	(*is_local)(const char *, void *);
	void	*arg;
	const char *chain[ALIASES_MAX_DEPTH + 1];
	size_t	 depth;
	size_t	 visits;
	struct alias_list *out;
	char	*err;
	size_t	 errlen;
};

static int
aliases_result(struct aliases_walk *w, const char *addr)
{
	size_t i;

	for (i = 0; i < w->out->n; i++)
		if (strcmp(w->out->addr[i], addr) == 0)
			return 0;
	if (w->out->n >= ALIASES_MAX_RESULTS) {
		str_fmt(w->err, w->errlen, "alias expansion gives more than %d "
		    "addresses", ALIASES_MAX_RESULTS);
		return -1;
	}
	w->out->addr = xreallocarray(w->out->addr, w->out->n + 1, sizeof(char *));
	w->out->addr[w->out->n++] = xstrdup(addr);
	return 0;
}

static int
aliases_on_chain(const struct aliases_walk *w, const char *addr)
{
	size_t i;

	for (i = 0; i < w->depth; i++)
		if (strcmp(w->chain[i], addr) == 0)
			return 1;
	return 0;
}

static int aliases_walk(struct aliases_walk *, const char *);

/* Expand each target of e, found for addr. */
static int
aliases_walk_targets(struct aliases_walk *w, const struct alias_entry *e,
    const char *addr)
{
	const char *dom = strrchr(addr, '@');
	char full[ALIASES_ADDR_MAX * 2 + 2];
	size_t i;

	for (i = 0; i < e->ntarget; i++) {
		if (strchr(e->target[i], '@') != NULL || dom == NULL)
			str_copy(full, e->target[i], sizeof(full));
		else
			str_fmt(full, sizeof(full), "%s%s", e->target[i], dom);
		/* sendmail's owner rule: a name in its own list is the mailbox. */
		if (aliases_on_chain(w, full)) {
			if (aliases_result(w, full) == -1)
				return -1;
			continue;
		}
		if (aliases_walk(w, full) == -1)
			return -1;
	}
	return 0;
}

static int
aliases_walk(struct aliases_walk *w, const char *addr)
{
	const struct alias_entry *e = NULL;
	const char *at = strrchr(addr, '@');
	int r;

	if (++w->visits > ALIASES_MAX_VISITS) {
		str_fmt(w->err, w->errlen, "alias expansion too large");
		return -1;
	}
	if (at != NULL && w->is_local(at + 1, w->arg))
		e = aliases_lookup(w->a, addr);
	if (e == NULL)
		return aliases_result(w, addr);
	if (w->depth >= ALIASES_MAX_DEPTH) {
		str_fmt(w->err, w->errlen, "alias nesting deeper than %d",
		    ALIASES_MAX_DEPTH);
		return -1;
	}
	w->chain[w->depth++] = addr;
	r = aliases_walk_targets(w, e, addr);
	w->depth--;
	return r;
}

int
aliases_expand(const struct aliases *a, const char *address,
    int (*is_local)(const char *, void *), void *arg, struct alias_list *out,
    char *err, size_t errlen)
{
	struct aliases_walk w;
	char addr[ALIASES_ADDR_MAX + 1];

	memset(out, 0, sizeof(*out));
	memset(&w, 0, sizeof(w));
	if (str_copy(addr, address, sizeof(addr)) == -1) {
		str_fmt(err, errlen, "address too long");
		return -1;
	}
	str_lower(addr);
	w.a = a;
	w.is_local = is_local;
	w.arg = arg;
	w.out = out;
	w.err = err;
	w.errlen = errlen;
	if (aliases_walk(&w, addr) == -1) {
		alias_list_free(out);
		return -1;
	}
	return 0;
}

void
alias_list_free(struct alias_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->addr[i]);
	free(l->addr);
	l->addr = NULL;
	l->n = 0;
}
