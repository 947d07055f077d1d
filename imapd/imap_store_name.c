/*
 * imap_store_name: Maildir file names as imapd's store reads and writes
 * them (run in the session process, as the mail owner): the key (the part
 * before ':', which no flag change alters), the ",S=" and ",W=" sizes
 * that deliver writes, the leading delivery time, and the ":2," info with
 * system flags (DFRST) and keyword letters (a..z) in ASCII order. Also a
 * small hash map over keys and the path helpers the store shares.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap_store_int.h"
#include "util.h"

/* The maildir info letters of the system flags, in ASCII order. */
static const struct {
	char		c;
	unsigned	f;
} name_flags[] = {
	{ 'D', IMAP_F_DRAFT }, { 'F', IMAP_F_FLAGGED }, { 'R', IMAP_F_ANSWERED },
	{ 'S', IMAP_F_SEEN }, { 'T', IMAP_F_DELETED },
};

static uint64_t
name_num(const char *p, const char *e, int *ok)
{
	uint64_t v = 0;

	*ok = p < e && e - p <= 19;
	for (; *ok && p < e; p++) {
		if (*p < '0' || *p > '9')
			*ok = 0;
		else
			v = v * 10 + (uint64_t)(*p - '0');
	}
	return *ok ? v : 0;
}

static void
name_info(const char *info, struct store_name *sn)
{
	size_t k;

	for (; *info; info++) {
		if (*info >= 'a' && *info <= 'z') {
			sn->keywords |= 1U << (*info - 'a');
			continue;
		}
		for (k = 0; k < NELEM(name_flags); k++)
			if (*info == name_flags[k].c)
				sn->flags |= name_flags[k].f;
	}
}

void
store_name_parse(const char *base, struct store_name *sn)
{
	const char *p, *e, *colon;
	uint64_t t;
	int ok;

	memset(sn, 0, sizeof(*sn));
	colon = strchr(base, ':');
	sn->keylen = colon != NULL ? (size_t)(colon - base) : strlen(base);
	if (colon != NULL && colon[1] == '2' && colon[2] == ',') {
		sn->has_info = 1;
		name_info(colon + 3, sn);
	}
	e = base + strcspn(base, ".,:");
	t = name_num(base, e, &ok);
	if (ok && *e == '.' && t < (1ULL << 40)) {
		sn->time = (time_t)t;
		if (e[1] == 'M') {
			p = e + 2;
			e = p + strspn(p, "0123456789");
			t = name_num(p, e, &ok);
			if (ok && t < 1000000)
				sn->usec = (uint32_t)t;
		}
	}
	/* The ,key=value fields sit between the unique part and ':'. */
	p = base + strcspn(base, ",:");
	while (*p == ',') {
		p++;
		e = p + strcspn(p, ",:");
		if (e - p > 2 && p[1] == '=' && (p[0] == 'S' || p[0] == 'W')) {
			t = name_num(p + 2, e, &ok);
			if (ok && p[0] == 'S') {
				sn->s = t;
				sn->has_s = 1;
			} else if (ok) {
				sn->w = t;
				sn->has_w = 1;
			}
		}
		p = e;
	}
}

void
store_name_write(char *p, const char *key, size_t keylen, unsigned flags, uint32_t kw)
{
	size_t k;

	memcpy(p, "cur/", 4);
	p += 4;
	memcpy(p, key, keylen);
	p += keylen;
	memcpy(p, ":2,", 3);
	p += 3;
	for (k = 0; k < NELEM(name_flags); k++)
		if (flags & name_flags[k].f)
			*p++ = name_flags[k].c;
	for (k = 0; k < IMAP_KEYWORDS_MAX; k++)
		if (kw & (1U << k))
			*p++ = (char)('a' + k);
	*p = '\0';
}

char *
store_name_make(const char *key, size_t keylen, unsigned flags, uint32_t kw)
{
	char *s;

	if (keylen > SIZE_MAX - 64)
		return NULL;
	s = xmalloc(STORE_NAME_LEN(keylen));
	store_name_write(s, key, keylen, flags, kw);
	return s;
}

int
store_name_canonical(const char *name, unsigned flags, uint32_t kw)
{
	const char *base = store_name_base(name);
	size_t keylen = store_name_keylen(base), k;
	const char *p;

	if (strncmp(name, "new/", 4) == 0)
		return base[keylen] == '\0';
	if (strncmp(name, "cur/", 4) != 0 || strncmp(base + keylen, ":2,", 3) != 0)
		return 0;
	/* the letters, compared in place: this runs for every message */
	p = base + keylen + 3;
	for (k = 0; k < NELEM(name_flags); k++)
		if ((flags & name_flags[k].f) && *p++ != name_flags[k].c)
			return 0;
	for (k = 0; k < IMAP_KEYWORDS_MAX; k++)
		if ((kw & (1U << k)) && *p++ != (char)('a' + k))
			return 0;
	return *p == '\0';
}

const char *
store_name_base(const char *name)
{
	const char *s = strchr(name, '/');

	return s != NULL ? s + 1 : name;
}

size_t
store_name_keylen(const char *base)
{
	return strcspn(base, ":");
}

uint32_t
store_hash(const char *key, size_t len)
{
	uint32_t h = 2166136261U;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 16777619U;
	}
	return h;
}

void
store_keymap_init(struct store_keymap *m, size_t n)
{
	size_t size = 16;

	while (size < n * 2 + 1)
		size *= 2;
	m->slot = xcalloc(size, sizeof(*m->slot));
	m->mask = size - 1;
	store_populate(m->slot, size * sizeof(*m->slot));	/* hit all over */
}

void
store_keymap_free(struct store_keymap *m)
{
	free(m->slot);
	m->slot = NULL;
}

/* The slot of key: where it is, or the empty slot where it would go. */
static size_t
keymap_find(const struct store_keymap *m, store_key_fn *fn, void *arg,
    const char *key, size_t len, uint32_t h)
{
	size_t i = h & m->mask, klen;
	const char *k;

	while (m->slot[i].idx != 0) {
		if (m->slot[i].hash == h) {
			k = fn(arg, m->slot[i].idx - 1, &klen);
			if (klen == len && memcmp(k, key, len) == 0)
				return i;
		}
		i = (i + 1) & m->mask;
	}
	return i;
}

void
store_keymap_put(struct store_keymap *m, store_key_fn *fn, void *arg, uint32_t idx)
{
	size_t len, i;
	const char *key = fn(arg, idx, &len);
	uint32_t h = store_hash(key, len);

	i = keymap_find(m, fn, arg, key, len, h);
	m->slot[i].idx = idx + 1;
	m->slot[i].hash = h;
}

long
store_keymap_get(const struct store_keymap *m, store_key_fn *fn, void *arg,
    const char *key, size_t len)
{
	size_t i = keymap_find(m, fn, arg, key, len, store_hash(key, len));

	return m->slot[i].idx == 0 ? -1 : (long)m->slot[i].idx - 1;
}

int
store_folder_dir(const char *name, char *dir, size_t dirlen)
{
	if (str_ieq(name, "INBOX"))
		return str_copy(dir, ".", dirlen);
	if (!imap_folder_name_ok(name))
		return -1;
	return str_fmt(dir, dirlen, ".%s", name) == -1 ? -1 : 0;
}

int
store_path(char *out, size_t outlen, const char *dir, const char *file)
{
	if (strcmp(dir, ".") == 0)
		return str_copy(out, file, outlen);
	return str_fmt(out, outlen, "%s/%s", dir, file) == -1 ? -1 : 0;
}

uint64_t
store_wire_len(const char *buf, size_t len)
{
	uint64_t n = len;
	const char *p = buf, *e = buf + len;

	while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
		if (p == buf || p[-1] != '\r')
			n++;
		p++;
	}
	return n;
}

int
store_file_wire(const char *path, uint64_t *wsize, time_t *mtime)
{
	char buf[65536];
	struct stat st;
	uint64_t n = 0;
	ssize_t r;
	char prev = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return -1;
	}
	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			close(fd);
			return -1;
		}
		/* a CR at the end of the last block pairs with this LF */
		n += store_wire_len(buf, (size_t)r);
		if (prev == '\r' && buf[0] == '\n')
			n--;
		prev = buf[r - 1];
	}
	close(fd);
	*wsize = n;
	*mtime = st.st_mtime;
	return 0;
}

int
store_err(char *err, size_t errlen, const char *what, const char *arg)
{
	int e = errno;

	str_fmt(err, errlen, "%s %s: %s", what, arg, strerror(e));
	errno = e;
	return -1;
}
