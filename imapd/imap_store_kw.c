/*
 * imap_store_kw: a folder's keyword table, the file "postern-keywords"
 * ("<n> <keyword>" lines, n 0..25 standing for the maildir info letter
 * 'a' + n, as Dovecot's dovecot-keywords). Run in the session process as
 * the mail owner. Keywords are only ever added (a letter's meaning never
 * changes while files may carry it), under the folder lock, by replacing
 * the file whole.
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
#include "strbuf.h"
#include "util.h"

#define KW_MAXFILE	(IMAP_KEYWORDS_MAX * (IMAP_KEYWORD_LEN + 8))

/* RFC 3501 9: flag-keyword = atom; atom-specials excluded, no '\'. */
int
kw_atom_ok(const char *kw)
{
	const unsigned char *p = (const unsigned char *)kw;

	if (*p == '\0' || strlen(kw) >= IMAP_KEYWORD_LEN)
		return 0;
	for (; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("(){%*\"\\]", *p) != NULL)
			return 0;
	return 1;
}

static void
kw_clear(struct imap_folder *f)
{
	size_t k;

	for (k = 0; k < IMAP_KEYWORDS_MAX; k++) {
		free(f->keywords[k]);
		f->keywords[k] = NULL;
	}
}

/* "<n> <kw>\n" lines into the table; bad lines are skipped. */
static void
kw_parse(struct imap_folder *f, char *buf)
{
	char *line, *next, *sp;
	unsigned long long n;

	kw_clear(f);
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((sp = strchr(line, ' ')) == NULL)
			continue;
		*sp = '\0';
		if (parse_ullong(line, 0, IMAP_KEYWORDS_MAX - 1, &n) == -1 ||
		    !kw_atom_ok(sp + 1) || f->keywords[n] != NULL)
			continue;
		f->keywords[n] = xstrdup(sp + 1);
	}
}

static int
kw_read(struct imap_folder *f, int force, char *err, size_t errlen)
{
	struct store_priv *p = f->priv;
	char path[STORE_PATH], buf[KW_MAXFILE + 1];
	struct stat st;
	ssize_t r;
	int fd;

	if (store_path(path, sizeof(path), f->dir, STORE_KEYWORDS) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : store_err(err, errlen, "open", path);
	if (fstat(fd, &st) == -1) {
		close(fd);
		return store_err(err, errlen, "stat", path);
	}
	if (!force && st.st_mtim.tv_sec == p->kw_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == p->kw_mtime.tv_nsec) {
		close(fd);
		return 0;
	}
	do
		r = read(fd, buf, KW_MAXFILE);
	while (r == -1 && errno == EINTR);
	close(fd);
	if (r == -1)
		return store_err(err, errlen, "read", path);
	buf[r] = '\0';
	kw_parse(f, buf);
	p->kw_mtime = st.st_mtim;
	return 0;
}

int
kw_load(struct imap_folder *f, char *err, size_t errlen)
{
	return kw_read(f, 0, err, errlen);
}

static int
kw_find(const struct imap_folder *f, const char *kw)
{
	int k;

	for (k = 0; k < IMAP_KEYWORDS_MAX; k++)
		if (f->keywords[k] != NULL && str_ieq(f->keywords[k], kw))
			return k;
	return -1;
}

/* Write the table whole: tmp, fsync, rename, fsync the folder. */
static int
kw_save(struct imap_folder *f)
{
	char path[STORE_PATH], tmp[STORE_PATH + 32], base[64];
	struct strbuf sb;
	size_t k;
	int fd, rv = -1;

	str_fmt(base, sizeof(base), "%s.tmp.%ld", STORE_KEYWORDS, (long)getpid());
	if (store_path(path, sizeof(path), f->dir, STORE_KEYWORDS) == -1 ||
	    store_path(tmp, sizeof(tmp), f->dir, base) == -1)
		return -1;
	strbuf_init(&sb, KW_MAXFILE);
	for (k = 0; k < IMAP_KEYWORDS_MAX; k++)
		if (f->keywords[k] != NULL)
			(void)strbuf_printf(&sb, "%zu %s\n", k, f->keywords[k]);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) != -1) {
		if (write_all(fd, sb.data, sb.len) == 0 && fsync(fd) == 0 &&
		    close(fd) == 0 && rename(tmp, path) == 0 && fsync_dir(f->dir) == 0)
			rv = 0;
		else
			unlink(tmp);
	}
	strbuf_free(&sb);
	return rv;
}

int
imap_keyword_index(struct imap_folder *f, const char *kw, int create)
{
	struct store_priv *p = f->priv;
	char err[256];
	int k;

	if ((k = kw_find(f, kw)) >= 0 || !create || !kw_atom_ok(kw) || kw[0] == '\\')
		return k;
	if (store_lock(p->lockfd, err, sizeof(err)) == -1)
		return -1;
	/* another session may have added it (or others) meanwhile */
	if (kw_read(f, 1, err, sizeof(err)) == 0 && (k = kw_find(f, kw)) < 0) {
		for (k = 0; k < IMAP_KEYWORDS_MAX && f->keywords[k] != NULL; k++)
			;
		if (k == IMAP_KEYWORDS_MAX)
			k = -1;
		else {
			f->keywords[k] = xstrdup(kw);
			if (kw_save(f) == -1) {
				free(f->keywords[k]);
				f->keywords[k] = NULL;
				k = -1;
			}
		}
	}
	store_unlock(p->lockfd);
	return k;
}
