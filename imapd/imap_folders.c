/*
 * imap_folders: the folder tree of one Maildir++ (imap_store.h): names,
 * LIST, CREATE, DELETE, RENAME, subscriptions, special-use, the folders
 * made at first login, STATUS and quota usage. Run in the session process
 * as the mail owner, cwd = the Maildir. Folder "A.B" is the directory
 * ".A.B" holding cur/ new/ tmp/ and a "maildirfolder" file; the wire name
 * (modified UTF-7, RFC 3501 5.1.3) is the name on disk.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap_store_int.h"
#include "maildir.h"
#include "strbuf.h"
#include "util.h"

#define SUBS_FILE	"subscriptions"
#define FIRST_LOGIN_MARK	"postern-folders-made"	/* special-use folders made once */
#define SUBS_MAX	(4UL * 1024 * 1024)
#define TRASH_PREFIX	"..postern-trash-"

static unsigned long folders_seq;

int
imap_folder_name_ok(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t len = strlen(name);

	if (len == 0 || len > IMAP_NAME_MAX || p[0] == IMAP_DELIM ||
	    p[len - 1] == IMAP_DELIM)
		return 0;
	for (; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '*' || *p == '%')
			return 0;
		if (*p == IMAP_DELIM && p[1] == IMAP_DELIM)
			return 0;	/* an empty component, or ".." */
	}
	/* "a..b" is caught above; a component that is only "~" stays legal */
	return 1;
}

unsigned
imap_special_use(const char *name)
{
	static const struct {
		const char	*name;
		unsigned	 su;
	} su[] = {
		{ "Sent", IMAP_SU_SENT }, { "Sent Messages", IMAP_SU_SENT },
		{ "Sent Items", IMAP_SU_SENT }, { "Drafts", IMAP_SU_DRAFTS },
		{ "Trash", IMAP_SU_TRASH }, { "Deleted Messages", IMAP_SU_TRASH },
		{ "Deleted Items", IMAP_SU_TRASH }, { "Junk", IMAP_SU_JUNK },
		{ "Spam", IMAP_SU_JUNK }, { "Archive", IMAP_SU_ARCHIVE },
	};
	size_t i;

	for (i = 0; i < NELEM(su); i++)
		if (str_ieq(name, su[i].name))
			return su[i].su;
	return 0;
}

static int
folder_exists(const char *dir)
{
	struct stat st;

	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ".name" with cur/ new/ tmp/ and maildirfolder; EEXIST when it is there. */
static int
folder_make(const char *dir, char *err, size_t errlen)
{
	static const char *const sub[] = { "cur", "new", "tmp" };
	char path[STORE_PATH];
	size_t i;
	int fd;

	if (mkdir(dir, 0700) == -1)
		return store_err(err, errlen, "mkdir", dir + 1);
	for (i = 0; i < NELEM(sub); i++)
		if (store_path(path, sizeof(path), dir, sub[i]) == -1 ||
		    mkdir(path, 0700) == -1)
			return store_err(err, errlen, "mkdir", path);
	if (store_path(path, sizeof(path), dir, "maildirfolder") == -1 ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return store_err(err, errlen, "create", path);
	close(fd);
	if (fsync_dir(dir) == -1 || fsync_dir(".") == -1)
		return store_err(err, errlen, "fsync", dir);
	return 0;
}

/* Parents of name (RFC 3501 6.3.3), "INBOX" being the root itself. */
static int
folder_make_parents(const char *name, char *err, size_t errlen)
{
	char dir[IMAP_NAME_MAX + 8];
	size_t i;

	for (i = 0; name[i] != '\0'; i++) {
		if (name[i] != IMAP_DELIM || i + 2 > sizeof(dir))
			continue;
		dir[0] = '.';
		memcpy(dir + 1, name, i);
		dir[i + 1] = '\0';
		if (str_ieq(dir + 1, "INBOX") || folder_exists(dir))
			continue;
		if (folder_make(dir, err, errlen) == -1 && errno != EEXIST)
			return -1;
	}
	return 0;
}

int
imap_folder_create(const char *name, char *err, size_t errlen)
{
	char buf[IMAP_NAME_MAX + 1], dir[IMAP_NAME_MAX + 8];
	size_t len;

	/* RFC 3501 6.3.3: a trailing delimiter only declares the intent */
	if (str_copy(buf, name, sizeof(buf)) == -1) {
		errno = EINVAL;
		return store_err(err, errlen, "create", "name too long");
	}
	if ((len = strlen(buf)) > 1 && buf[len - 1] == IMAP_DELIM)
		buf[len - 1] = '\0';
	if (str_ieq(buf, "INBOX")) {
		errno = EEXIST;
		return store_err(err, errlen, "create", "INBOX");
	}
	if (store_folder_dir(buf, dir, sizeof(dir)) == -1) {
		errno = EINVAL;
		return store_err(err, errlen, "create", "invalid folder name");
	}
	if (folder_exists(dir)) {
		errno = EEXIST;
		return store_err(err, errlen, "create", buf);
	}
	if (folder_make_parents(buf, err, errlen) == -1)
		return -1;
	return folder_make(dir, err, errlen);
}

/* Does any folder directory start with dir + "."? */
static int
folder_has_children(const char *dir)
{
	size_t len = strlen(dir);
	struct dirent *de;
	int found = 0;
	DIR *d;

	if ((d = opendir(".")) == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL)
		found = strncmp(de->d_name, dir, len) == 0 &&
		    de->d_name[len] == IMAP_DELIM && de->d_name[len + 1] != '\0';
	closedir(d);
	return found;
}

/* rm -r of a trash directory two levels deep (files, cur/ new/ tmp/). */
static void
folder_remove_tree(const char *path, int depth)
{
	char sub[STORE_PATH];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
			    str_fmt(sub, sizeof(sub), "%s/%s", path, de->d_name) == -1)
				continue;
			if (depth > 0 && lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
				folder_remove_tree(sub, depth - 1);
			else
				unlink(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

int
imap_folder_delete(const char *name, char *err, size_t errlen)
{
	char dir[IMAP_NAME_MAX + 8], trash[128];

	if (str_ieq(name, "INBOX")) {
		errno = EINVAL;
		return store_err(err, errlen, "delete", "INBOX cannot be deleted");
	}
	if (store_folder_dir(name, dir, sizeof(dir)) == -1 || !folder_exists(dir)) {
		errno = ENOENT;
		return store_err(err, errlen, "delete", "no such folder");
	}
	/* RFC 3501 6.3.4: the simple form, no \Noselect left behind */
	if (folder_has_children(dir)) {
		errno = ENOTEMPTY;
		return store_err(err, errlen, "delete", "folder has subfolders, delete them first");
	}
	/* one rename makes it vanish at once; the files go afterwards */
	str_fmt(trash, sizeof(trash), TRASH_PREFIX "%ld-%lu", (long)getpid(),
	    ++folders_seq);
	if (rename(dir, trash) == -1)
		return store_err(err, errlen, "delete", name);
	if (fsync_dir(".") == -1)
		return store_err(err, errlen, "fsync", ".");
	folder_remove_tree(trash, 1);
	return 0;
}

/* RFC 3501 6.3.5: INBOX's messages move into the new folder; INBOX stays. */
static int
folder_rename_inbox(const char *to, const char *todir, char *err, size_t errlen)
{
	static const char *const sub[] = { "new", "cur" };
	char src[STORE_PATH], dst[STORE_PATH];
	struct dirent *de;
	size_t i;
	DIR *d;

	if (imap_folder_create(to, err, errlen) == -1)
		return -1;
	for (i = 0; i < NELEM(sub); i++) {
		if ((d = opendir(sub[i])) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.' ||
			    str_fmt(src, sizeof(src), "%s/%s", sub[i], de->d_name) == -1 ||
			    str_fmt(dst, sizeof(dst), "%s/%s/%s", todir, sub[i],
			    de->d_name) == -1)
				continue;
			if (rename(src, dst) == -1) {
				store_err(err, errlen, "rename", src);
				closedir(d);
				return -1;
			}
		}
		closedir(d);
		str_fmt(dst, sizeof(dst), "%s/%s", todir, sub[i]);
		if (fsync_dir(dst) == -1 || fsync_dir(sub[i]) == -1)
			return store_err(err, errlen, "fsync", dst);
	}
	return 0;
}

/* Children ".from.X" become ".to.X" (after the folder itself). */
static int
folder_rename_children(const char *fromdir, const char *todir, char *err,
    size_t errlen)
{
	size_t flen = strlen(fromdir);
	char dst[STORE_PATH], **names = NULL;
	size_t n = 0, i;
	struct dirent *de;
	int rv = 0;
	DIR *d;

	if ((d = opendir(".")) == NULL)
		return store_err(err, errlen, "opendir", ".");
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, fromdir, flen) == 0 &&
		    de->d_name[flen] == IMAP_DELIM) {
			names = xreallocarray(names, n + 1, sizeof(*names));
			names[n++] = xstrdup(de->d_name);
		}
	closedir(d);
	for (i = 0; i < n; i++) {
		if (rv == 0 && (str_fmt(dst, sizeof(dst), "%s%s", todir,
		    names[i] + flen) == -1 || rename(names[i], dst) == -1))
			rv = store_err(err, errlen, "rename", names[i]);
		free(names[i]);
	}
	free(names);
	return rv;
}

int
imap_folder_rename(const char *from, const char *to, char *err, size_t errlen)
{
	char fromdir[IMAP_NAME_MAX + 8], todir[IMAP_NAME_MAX + 8];
	size_t flen = strlen(from);

	if (str_ieq(to, "INBOX") || store_folder_dir(to, todir, sizeof(todir)) == -1) {
		errno = str_ieq(to, "INBOX") ? EEXIST : EINVAL;
		return store_err(err, errlen, "rename", "invalid target name");
	}
	if (folder_exists(todir)) {
		errno = EEXIST;
		return store_err(err, errlen, "rename", to);
	}
	if (str_ieq(from, "INBOX"))
		return folder_rename_inbox(to, todir, err, errlen);
	if (store_folder_dir(from, fromdir, sizeof(fromdir)) == -1 ||
	    !folder_exists(fromdir)) {
		errno = ENOENT;
		return store_err(err, errlen, "rename", "no such folder");
	}
	if (strncmp(to, from, flen) == 0 && to[flen] == IMAP_DELIM) {
		errno = EINVAL;
		return store_err(err, errlen, "rename", "cannot move a folder into itself");
	}
	if (folder_make_parents(to, err, errlen) == -1)
		return -1;
	if (rename(fromdir, todir) == -1)
		return store_err(err, errlen, "rename", from);
	if (folder_rename_children(fromdir, todir, err, errlen) == -1)
		return -1;
	if (fsync_dir(".") == -1)
		return store_err(err, errlen, "fsync", ".");
	return 0;
}

/* The subscriptions: our one-name-a-line form, or Dovecot's "V\t2" form. */
static size_t
subs_read(char ***out)
{
	char *buf, *line, *next, *t, **v = NULL;
	struct stat st;
	size_t n = 0, len;
	int fd;
	ssize_t r;

	*out = NULL;
	if ((fd = open(SUBS_FILE, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if (fstat(fd, &st) == -1 || (size_t)st.st_size > SUBS_MAX) {
		close(fd);
		return 0;
	}
	len = (size_t)st.st_size;
	buf = xmalloc(len + 1);
	r = read(fd, buf, len);
	close(fd);
	buf[r > 0 ? (size_t)r : 0] = '\0';
	for (line = buf; *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (line == buf && strncmp(line, "V\t", 2) == 0)
			continue;
		for (t = line; *t; t++)
			if (*t == '\t')
				*t = IMAP_DELIM;
		if (*line == '\0')
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = xstrdup(line);
	}
	free(buf);
	*out = v;
	return n;
}

static void
subs_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int
subs_write(char **v, size_t n, char *err, size_t errlen)
{
	char tmp[64];
	struct strbuf sb;
	size_t i;
	int fd, rv = -1;

	str_fmt(tmp, sizeof(tmp), SUBS_FILE ".tmp.%ld", (long)getpid());
	strbuf_init(&sb, SUBS_MAX);
	for (i = 0; i < n; i++)
		if (v[i] != NULL && (strbuf_puts(&sb, v[i]) == -1 ||
		    strbuf_putc(&sb, '\n') == -1)) {
			strbuf_free(&sb);
			errno = EFBIG;
			return store_err(err, errlen, "write", SUBS_FILE);
		}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) != -1) {
		if (write_all(fd, sb.data, sb.len) == 0 && fsync(fd) == 0 &&
		    close(fd) == 0 && rename(tmp, SUBS_FILE) == 0)
			rv = 0;
		else
			unlink(tmp);
	}
	strbuf_free(&sb);
	return rv == 0 ? 0 : store_err(err, errlen, "write", SUBS_FILE);
}

/* Subscribe every name of want that is not yet subscribed, in one write. */
static int
subs_ensure(const char *const *want, size_t nwant, char *err, size_t errlen)
{
	char **v;
	size_t n, i, j;
	int add = 0, rv = 0;

	n = subs_read(&v);
	for (j = 0; j < nwant; j++) {
		for (i = 0; i < n && (v[i] == NULL || strcmp(v[i], want[j]) != 0); i++)
			;
		if (i < n)
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = xstrdup(want[j]);
		add = 1;
	}
	if (add)
		rv = subs_write(v, n, err, errlen);
	subs_free(v, n);
	return rv;
}

int
imap_subscribe(const char *name, int on, char *err, size_t errlen)
{
	char **v, canon[IMAP_NAME_MAX + 1];
	size_t n, i, found = 0;
	int rv;

	if (!str_ieq(name, "INBOX") && !imap_folder_name_ok(name)) {
		errno = EINVAL;
		return store_err(err, errlen, "subscribe", "invalid folder name");
	}
	str_copy(canon, str_ieq(name, "INBOX") ? "INBOX" : name, sizeof(canon));
	n = subs_read(&v);
	for (i = 0; i < n; i++)
		if (strcmp(v[i], canon) == 0) {
			found = 1;
			if (!on) {
				free(v[i]);
				v[i] = NULL;
			}
		}
	if ((on && found) || (!on && !found)) {
		subs_free(v, n);
		return 0;
	}
	if (on) {
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = xstrdup(canon);
	}
	rv = subs_write(v, n, err, errlen);
	subs_free(v, n);
	return rv;
}

static int
name_cmp(const void *a, const void *b)
{
	const struct imap_folder_info *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static void
list_push(struct imap_folder_info **v, size_t *n, size_t *cap, const char *name)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 32;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	str_copy((*v)[*n].name, name, sizeof((*v)[*n].name));
	(*v)[*n].special_use = imap_special_use(name);
	(*n)++;
}

/* has_children and subscribed of every entry (v sorted after v[0]). */
static void
list_attrs(struct imap_folder_info *v, size_t n)
{
	char **subs;
	size_t ns, i, j, len;

	for (i = 0; i < n; i++) {
		len = strlen(v[i].name);
		for (j = 1; j < n && !v[i].has_children; j++)
			v[i].has_children = j != i &&
			    (i == 0 ? str_iprefix(v[j].name, "INBOX.") :
			    strncmp(v[j].name, v[i].name, len) == 0 &&
			    v[j].name[len] == IMAP_DELIM);
	}
	ns = subs_read(&subs);
	for (i = 0; i < n; i++)
		for (j = 0; j < ns && !v[i].subscribed; j++)
			v[i].subscribed = i == 0 ? str_ieq(subs[j], "INBOX") :
			    strcmp(subs[j], v[i].name) == 0;
	subs_free(subs, ns);
}

int
imap_folder_list(struct imap_folder_info **out, size_t *np, char *err,
    size_t errlen)
{
	struct imap_folder_info *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;

	if ((d = opendir(".")) == NULL)
		return store_err(err, errlen, "opendir", "Maildir");
	list_push(&v, &n, &cap, "INBOX");
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || !imap_folder_name_ok(de->d_name + 1) ||
		    str_ieq(de->d_name + 1, "INBOX"))
			continue;
		if (de->d_type != DT_DIR && (de->d_type != DT_UNKNOWN &&
		    de->d_type != DT_LNK))
			continue;
		if (de->d_type != DT_DIR && (stat(de->d_name, &st) == -1 ||
		    !S_ISDIR(st.st_mode)))
			continue;
		list_push(&v, &n, &cap, de->d_name + 1);
	}
	closedir(d);
	qsort(v + 1, n - 1, sizeof(*v), name_cmp);
	list_attrs(v, n);
	*out = v;
	*np = n;
	return 0;
}

int
imap_store_first_login(char *err, size_t errlen)
{
	static const char *const names[] = { "INBOX", "Sent", "Drafts", "Trash",
	    "Junk", "Archive" };
	char dir[64];
	struct stat st;
	size_t i;
	int fd;

	/*
	 * A marker of its own, not the subscriptions file: deliver's
	 * fileinto may have subscribed a folder before the first login.
	 * Folders the user deletes later are not made again.
	 */
	if (stat(FIRST_LOGIN_MARK, &st) == 0)
		return 0;
	if (maildir_create(".", err, errlen) != MAILDIR_OK)
		return -1;
	for (i = 1; i < NELEM(names); i++) {
		str_fmt(dir, sizeof(dir), ".%s", names[i]);
		if (!folder_exists(dir) && folder_make(dir, err, errlen) == -1 &&
		    errno != EEXIST)
			return -1;
	}
	if (subs_ensure(names, NELEM(names), err, errlen) == -1)
		return -1;
	if ((fd = open(FIRST_LOGIN_MARK, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return store_err(err, errlen, "create", FIRST_LOGIN_MARK);
	close(fd);
	return 0;
}
