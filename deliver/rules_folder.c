/*
 * rules_folder: the Maildir++ folders of fileinto and plus-addressing, in
 * the layout imapd uses (imapd/imap_store.h): folder "A.B" is the
 * directory ".A.B" under the Maildir, its name on disk in modified UTF-7
 * (RFC 3501 5.1.3, common/rules_name.c), with cur/ new/ tmp/ and an empty "maildirfolder"
 * file; "subscriptions" at the Maildir root lists subscribed names, one a
 * line. Runs in the deliver child as the mailbox owner. A folder made
 * here is subscribed once, when it is made, so that IMAP clients show it
 * (an unsubscribe by the user is then respected).
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"
#include "rules_eval.h"
#include "strbuf.h"
#include "util.h"

#define SUBS_MAX	(4UL * 1024 * 1024)

/* Read the subscriptions file (at most SUBS_MAX) into sb. 0 or -1. */
static int
subs_read(const char *path, struct strbuf *sb)
{
	char buf[8192];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (strbuf_append(sb, buf, (size_t)n) == -1)
			break;
	close(fd);
	return n == 0 ? 0 : -1;
}

/* Is name listed in the subscriptions text (tabs read as '.')? */
static int
subs_listed(const struct strbuf *sb, const char *name)
{
	size_t i = 0, j, n = strlen(name), k;

	while (i < sb->len) {
		for (j = i; j < sb->len && sb->data[j] != '\n'; j++)
			;
		if (j - i == n) {
			for (k = 0; k < n; k++) {
				char c = sb->data[i + k] == '\t' ? '.' : sb->data[i + k];
				if (c != name[k])
					break;
			}
			if (k == n)
				return 1;
		}
		i = j + 1;
	}
	return 0;
}

/* Add name to maildir/subscriptions (tmp file, fsync, rename). 0 or -1. */
static int
subs_add(const char *maildir, const char *name, char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	struct strbuf sb;
	int fd, rv = -1;

	strbuf_init(&sb, SUBS_MAX);
	if (str_fmt(path, sizeof(path), "%s/subscriptions", maildir) == -1 ||
	    str_fmt(tmp, sizeof(tmp), "%s/subscriptions.tmp.%ld", maildir,
	    (long)getpid()) == -1 || subs_read(path, &sb) == -1) {
		str_fmt(err, errlen, "read %s/subscriptions: %s", maildir,
		    strerror(errno));
		strbuf_free(&sb);
		return -1;
	}
	if (subs_listed(&sb, name)) {
		strbuf_free(&sb);
		return 0;
	}
	if ((sb.len > 0 && sb.data[sb.len - 1] != '\n' &&
	    strbuf_putc(&sb, '\n') == -1) || strbuf_puts(&sb, name) == -1 ||
	    strbuf_putc(&sb, '\n') == -1)
		errno = EFBIG;
	else if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) != -1) {
		if (write_all(fd, sb.data, sb.len) == 0 && fsync(fd) == 0 &&
		    close(fd) == 0 && rename(tmp, path) == 0 &&
		    fsync_dir(maildir) == 0)
			rv = 0;
		else
			unlink(tmp);
	}
	if (rv == -1)
		str_fmt(err, errlen, "write %s: %s", path, strerror(errno));
	strbuf_free(&sb);
	return rv;
}

int
rules_folder_ensure(const char *maildir, const char *dir, char *err,
    size_t errlen)
{
	char path[PATH_MAX], mf[PATH_MAX];
	struct stat st;
	int fd;

	if (dir[0] != '.' || str_fmt(path, sizeof(path), "%s/%s", maildir,
	    dir) == -1 || str_fmt(mf, sizeof(mf), "%s/maildirfolder", path) == -1) {
		str_fmt(err, errlen, "folder %s: bad name", dir);
		return -1;
	}
	if (stat(mf, &st) == 0)
		return 0;	/* there already */
	if (maildir_create(maildir, err, errlen) != MAILDIR_OK ||
	    maildir_create(path, err, errlen) != MAILDIR_OK)
		return -1;
	if ((fd = open(mf, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1 ||
	    close(fd) == -1 || fsync_dir(path) == -1) {
		str_fmt(err, errlen, "create %s: %s", mf, strerror(errno));
		return -1;
	}
	return subs_add(maildir, dir + 1, err, errlen);
}

int
rules_folder_find(const char *maildir, const char *ext, char *dir,
    size_t dirlen)
{
	char want[RULES_FOLDER_MAX + 2], path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int found = 0;

	if (rules_folder_dir(ext, want, sizeof(want)) == -1 || want[0] == '\0')
		return 0;
	if ((d = opendir(maildir)) == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		if (!str_ieq(de->d_name, want) ||
		    str_fmt(path, sizeof(path), "%s/%s", maildir, de->d_name) == -1 ||
		    stat(path, &st) == -1 || !S_ISDIR(st.st_mode))
			continue;
		/* an exact match wins over a case-insensitive one */
		found = str_copy(dir, de->d_name, dirlen) == 0;
	}
	closedir(d);
	if (found && strcmp(dir, want) != 0 &&
	    str_fmt(path, sizeof(path), "%s/%s", maildir, want) != -1 &&
	    stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		str_copy(dir, want, dirlen);
	return found;
}
