/*
 * Unit tests of imapd's Maildir++ store (imapd/imap_store*.c,
 * imap_uidlist.c, imap_index.c, imap_folders.c, imap_append.c), each in
 * a fresh mkdtemp Maildir as cwd: UIDs for delivered files, flag renames,
 * two sessions on one folder, pop3d-style removals, the uidlist surviving
 * the loss or corruption of the index, APPEND/COPY with their UIDs,
 * keywords, folders, subscriptions, STATUS and quota, and a directory
 * read in hash ranges by several threads.
 *
 * With POSTERN_STORE_BENCH=1 in the environment it also times a cold
 * open of a 20,000-message folder (not part of make check).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "imap_store.h"
#include "imap_store_int.h"
#include "maildir.h"
#include "util.h"

static char tmpdir[64];
static char err[512];
static unsigned long dseq;

/* A message as deliver would leave it in dir ("." or ".A"). */
static void
deliver(const char *dir, const char *body, char *name, size_t namelen)
{
	char base[256], tmp[512], dst[512];
	unsigned long long lfs = 0;
	size_t i, len = strlen(body);
	int fd;

	for (i = 0; i < len; i++)
		lfs += body[i] == '\n';
	dseq++;
	str_fmt(base, sizeof(base), "%lld.M%06luP%ldQ%lu.test,S=%zu,W=%llu",
	    (long long)time(NULL), dseq, (long)getpid(), dseq, len, len + lfs);
	str_fmt(tmp, sizeof(tmp), "%s/tmp/%s", dir, base);
	str_fmt(dst, sizeof(dst), "%s/new/%s", dir, base);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, body, len), 0);
	close(fd);
	assert_int_equal(rename(tmp, dst), 0);
	if (name != NULL)
		str_copy(name, base, namelen);
}

static int
count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int
setup(void **state)
{
	(void)state;
	str_copy(tmpdir, "/tmp/test_imap_store.XXXXXX", sizeof(tmpdir));
	assert_non_null(mkdtemp(tmpdir));
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(maildir_create(".", err, sizeof(err)), 0);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	assert_int_equal(chdir("/"), 0);
	str_fmt(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_names(void **state)
{
	struct store_name sn;

	(void)state;
	store_name_parse("1700000000.M1P2Q3.host,S=100,W=104:2,FSa", &sn);
	assert_int_equal(sn.keylen, strlen("1700000000.M1P2Q3.host,S=100,W=104"));
	assert_true(sn.has_info && sn.has_s && sn.has_w);
	assert_int_equal(sn.s, 100);
	assert_int_equal(sn.w, 104);
	assert_int_equal(sn.time, 1700000000);
	assert_int_equal(sn.flags, IMAP_F_FLAGGED | IMAP_F_SEEN);
	assert_int_equal(sn.keywords, 1);
	store_name_parse("odd-name", &sn);
	assert_false(sn.has_w || sn.has_info || sn.time);
	char *n = store_name_make("k,S=1", 5, IMAP_F_SEEN | IMAP_F_DRAFT | IMAP_F_DELETED, 0x5);
	assert_string_equal(n, "cur/k,S=1:2,DSTac");
	free(n);
	assert_int_equal(store_wire_len("a\nb\r\nc", 6), 7);
	assert_true(imap_folder_name_ok("A.B"));
	assert_true(imap_folder_name_ok("&AOQ-ber"));
	assert_false(imap_folder_name_ok(""));
	assert_false(imap_folder_name_ok(".A"));
	assert_false(imap_folder_name_ok("A."));
	assert_false(imap_folder_name_ok("A..B"));
	assert_false(imap_folder_name_ok("A/B"));
	assert_false(imap_folder_name_ok(".."));
	assert_int_equal(imap_special_use("sent"), IMAP_SU_SENT);
	assert_int_equal(imap_special_use("Trash"), IMAP_SU_TRASH);
	assert_int_equal(imap_special_use("Work"), 0);
}

static void
test_parsers(void **state)
{
	static const char good[] = "P1 V123 N5 M77\n1 a,S=1\n4 b\n";
	static const char *const bad[] = {
		"P1 V0 N5 M1\n", "P1 V1 N5 M1\n5 a\n", "P1 V1 N5 M1\n2 a\n2 b\n",
		"P1 V1 N5 M1\n1 a", "P1 V1 N5 M1\n1 a/b\n", "P1 V1 N5 M1\n1 \n",
		"P2 V1 N5 M1\n", "P1 V1 N5\n", "P1 V01 N5 M1\n",
	};
	struct uidlist ul;
	struct store_index ix;
	size_t i;

	(void)state;
	assert_int_equal(uidlist_parse(&ul, good, strlen(good)), 0);
	assert_int_equal(ul.uidvalidity, 123);
	assert_int_equal(ul.uidnext, 5);
	assert_int_equal(ul.modseq, 77);
	assert_int_equal(ul.n, 2);
	assert_int_equal(ul.e[1].uid, 4);
	assert_memory_equal(ul.e[0].key, "a,S=1", 5);
	uidlist_free(&ul);
	for (i = 0; i < NELEM(bad); i++)
		assert_int_equal(uidlist_parse(&ul, bad[i], strlen(bad[i])), -1);
	assert_int_equal(index_parse(&ix, "PSTNIDX1", 8), -1);
	assert_int_equal(index_parse(&ix, good, sizeof(good)), -1);
}

static void
test_deliver_sync(void **state)
{
	struct imap_folder f;
	struct imap_changes ch;
	char name[256];
	size_t i;

	(void)state;
	assert_int_equal(imap_folder_open(&f, "inbox", 0, err, sizeof(err)), 0);
	assert_string_equal(f.name, "INBOX");
	assert_int_equal(f.n, 0);
	assert_int_equal(f.uidnext, 1);
	assert_true(f.uidvalidity > 0);
	deliver(".", "Subject: a\n\nbody\n", name, sizeof(name));
	deliver(".", "Subject: b\n\nbody\n", NULL, 0);
	deliver(".", "Subject: c\n\nbody\n", NULL, 0);
	assert_int_equal(imap_folder_sync(&f, &ch, err, sizeof(err)), 0);
	assert_int_equal(ch.nnew, 3);
	assert_int_equal(ch.nexpunged, 0);
	assert_int_equal(f.n, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(f.msgs[i].uid, i + 1);
		assert_true(f.msgs[i].flags & IMAP_F_RECENT);
		assert_int_equal(f.msgs[i].size, 20);
		assert_true(strncmp(f.msgs[i].name, "cur/", 4) == 0);
	}
	assert_int_equal(count_dir("new"), 0);
	assert_int_equal(count_dir("cur"), 3);
	assert_int_equal(f.uidnext, 4);
	/* nothing new: nothing reported */
	assert_int_equal(imap_folder_sync(&f, &ch, err, sizeof(err)), 0);
	assert_int_equal(ch.nnew + ch.nexpunged + ch.nchanged, 0);
	/* a flag change renames the file and moves the modseq */
	uint64_t ms = f.highestmodseq;
	assert_int_equal(imap_msg_set_flags(&f, 0, '+', IMAP_F_SEEN | IMAP_F_FLAGGED,
	    0, err, sizeof(err)), 0);
	assert_true(f.msgs[0].flags & IMAP_F_RECENT);
	assert_true(f.msgs[0].modseq > ms);
	assert_true(f.highestmodseq >= f.msgs[0].modseq);
	str_fmt(name + strlen(name), sizeof(name) - strlen(name), ":2,FS");
	char path[300];
	str_fmt(path, sizeof(path), "cur/%s", name);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(imap_msg_set_flags(&f, 0, '-', IMAP_F_FLAGGED, 0, err,
	    sizeof(err)), 0);
	assert_int_equal(f.msgs[0].flags & ~IMAP_F_RECENT, IMAP_F_SEEN);
	/* read gives CRLF */
	char *buf;
	size_t len;
	assert_int_equal(imap_msg_read(&f, 1, &buf, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 20);
	assert_memory_equal(buf, "Subject: b\r\n\r\nbody\r\n", 20);
	free(buf);
	imap_folder_close(&f);
}

static void
test_two_sessions(void **state)
{
	struct imap_folder a, b;
	struct imap_changes ch;
	char path[512];

	(void)state;
	assert_int_equal(imap_folder_open(&a, "INBOX", 0, err, sizeof(err)), 0);
	deliver(".", "one\n", NULL, 0);
	deliver(".", "two\n", NULL, 0);
	deliver(".", "three\n", NULL, 0);
	assert_int_equal(imap_folder_sync(&a, &ch, err, sizeof(err)), 0);
	assert_int_equal(ch.nnew, 3);
	assert_int_equal(imap_folder_open(&b, "INBOX", 0, err, sizeof(err)), 0);
	assert_int_equal(b.n, 3);
	assert_int_equal(b.uidvalidity, a.uidvalidity);
	assert_false(b.msgs[0].flags & IMAP_F_RECENT);	/* a took \Recent */
	/* b sees a's flag change */
	assert_int_equal(imap_msg_set_flags(&a, 1, '+', IMAP_F_ANSWERED, 0, err,
	    sizeof(err)), 0);
	assert_int_equal(imap_folder_sync(&b, &ch, err, sizeof(err)), 0);
	assert_int_equal(ch.nchanged, 1);
	assert_int_equal(ch.changed_seq[0], 2);
	assert_int_equal(b.msgs[1].flags, IMAP_F_ANSWERED);
	assert_true(b.msgs[1].modseq >= a.msgs[1].modseq);
	/* a expunges message 1, pop3d deletes message 3 under b */
	assert_int_equal(imap_msg_set_flags(&a, 0, '+', IMAP_F_DELETED, 0, err,
	    sizeof(err)), 0);
	assert_int_equal(imap_folder_expunge(&a, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(a.n, 2);
	str_fmt(path, sizeof(path), "./%s", b.msgs[2].name);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(imap_folder_sync(&a, &ch, err, sizeof(err)), 0);
	assert_int_equal(ch.nexpunged, 2);
	assert_int_equal(ch.expunged_seq[0], 1);
	assert_int_equal(ch.expunged_uid[0], 1);
	assert_int_equal(ch.expunged_seq[1], 2);	/* was 3, after the first */
	assert_int_equal(ch.expunged_uid[1], 3);
	assert_int_equal(imap_folder_sync(&b, &ch, err, sizeof(err)), 0);
	assert_int_equal(ch.nexpunged, 2);
	assert_int_equal(ch.expunged_seq[0], 3);	/* descending */
	assert_int_equal(ch.expunged_seq[1], 1);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.msgs[0].uid, 2);
	/* a new delivery gets the same UID in both */
	deliver(".", "four\n", NULL, 0);
	assert_int_equal(imap_folder_sync(&b, &ch, err, sizeof(err)), 0);
	assert_int_equal(imap_folder_sync(&a, &ch, err, sizeof(err)), 0);
	assert_int_equal(ch.nnew, 1);
	assert_int_equal(a.msgs[1].uid, 4);
	assert_int_equal(b.msgs[1].uid, 4);
	assert_true(b.msgs[1].flags & IMAP_F_RECENT);
	assert_false(a.msgs[1].flags & IMAP_F_RECENT);
	assert_non_null(imap_folder_notify_fd(&a) >= 0 ? "ok" : NULL);
	assert_int_equal(imap_folder_find_uid(&a, 4), 1);
	assert_int_equal(imap_folder_find_uid(&a, 3), -1);
	imap_folder_close(&a);
	imap_folder_close(&b);
}

/* Deleting or breaking the index loses no UID and no flag. */
static void
test_index_loss(void **state)
{
	struct imap_folder f;
	struct imap_changes ch;
	uint32_t uv;
	uint64_t hm;
	int fd, round;

	(void)state;
	for (round = 0; round < 5; round++)
		deliver(".", "x\n", NULL, 0);
	assert_int_equal(imap_folder_open(&f, "INBOX", 0, err, sizeof(err)), 0);
	assert_int_equal(imap_msg_set_flags(&f, 2, '=', IMAP_F_SEEN, 0, err, sizeof(err)), 0);
	assert_int_equal(imap_msg_set_flags(&f, 0, '+', IMAP_F_DELETED, 0, err, sizeof(err)), 0);
	assert_int_equal(imap_folder_expunge(&f, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(imap_folder_sync(&f, &ch, err, sizeof(err)), 0);
	uv = f.uidvalidity;
	hm = f.highestmodseq;
	imap_folder_close(&f);
	for (round = 0; round < 3; round++) {
		if (round == 0)
			assert_int_equal(unlink(STORE_INDEX), 0);
		if (round == 1) {
			fd = open(STORE_INDEX, O_WRONLY);
			assert_true(fd >= 0);
			assert_int_equal(pwrite(fd, "garbage", 7, 90), 7);
			close(fd);
		}
		if (round == 2) {
			/* the counter in the lock file lost too: the ceiling holds */
			assert_int_equal(truncate(STORE_LOCK, 0), 0);
			assert_int_equal(unlink(STORE_INDEX), 0);
		}
		assert_int_equal(imap_folder_open(&f, "INBOX", 1, err, sizeof(err)), 0);
		assert_int_equal(f.uidvalidity, uv);
		assert_int_equal(f.n, 4);
		assert_int_equal(f.msgs[0].uid, 2);
		assert_int_equal(f.msgs[1].uid, 3);
		assert_int_equal(f.msgs[1].flags, IMAP_F_SEEN);
		assert_int_equal(f.msgs[3].uid, 5);
		assert_true(f.highestmodseq >= hm);
		assert_true(f.msgs[1].modseq >= 1);
		imap_folder_close(&f);
		struct store_index ix;
		assert_int_equal(index_load(&ix, "."), 0);
		assert_int_equal(ix.n, 4);
		index_free(&ix);
	}
	/* losing the uidlist is the one thing that changes UIDVALIDITY */
	assert_int_equal(unlink(STORE_UIDLIST), 0);
	sleep(1);
	assert_int_equal(imap_folder_open(&f, "INBOX", 0, err, sizeof(err)), 0);
	assert_true(f.uidvalidity != uv);
	assert_int_equal(f.n, 4);
	imap_folder_close(&f);
}

static void
test_append_copy(void **state)
{
	struct imap_folder f, g;
	struct imap_changes ch;
	uint32_t uv, uid, uids[2];
	const char *kw[] = { "$Forwarded", "Work" };
	size_t idx[2] = { 0, 1 };
	char *buf;
	size_t len;

	(void)state;
	assert_int_equal(imap_folder_open(&f, "INBOX", 0, err, sizeof(err)), 0);
	assert_int_equal(imap_append("INBOX", "Subject: x\r\n\r\nhi\r\n", 18,
	    IMAP_F_SEEN, kw, 2, 1000000000, &uv, &uid, err, sizeof(err)), 0);
	assert_int_equal(uv, f.uidvalidity);
	assert_int_equal(uid, 1);
	assert_int_equal(imap_append("INBOX", "b\n", 2, 0, NULL, 0, 0, &uv, &uid,
	    err, sizeof(err)), 0);
	assert_int_equal(uid, 2);
	assert_int_equal(count_dir("tmp"), 0);
	assert_int_equal(imap_folder_sync(&f, &ch, err, sizeof(err)), 0);
	assert_int_equal(ch.nnew, 2);
	assert_int_equal(f.msgs[0].uid, 1);
	assert_int_equal(f.msgs[0].flags, IMAP_F_SEEN);
	assert_int_equal(f.msgs[0].internaldate, 1000000000);
	assert_int_equal(f.msgs[0].size, 18);
	assert_int_equal(f.msgs[0].keywords, 3);
	assert_string_equal(f.keywords[0], "$Forwarded");
	assert_string_equal(f.keywords[1], "Work");
	assert_int_equal(imap_keyword_index(&f, "work", 0), 1);
	assert_int_equal(imap_keyword_index(&f, "Other", 0), -1);
	assert_int_equal(imap_keyword_index(&f, "Other", 1), 2);
	assert_int_equal(imap_keyword_index(&f, "bad(kw", 1), -1);
	assert_int_equal(imap_msg_read(&f, 0, &buf, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 18);
	assert_memory_equal(buf, "Subject: x\r\n\r\nhi\r\n", 18);
	free(buf);
	assert_int_equal(imap_append("Nope", "x", 1, 0, NULL, 0, 0, &uv, &uid,
	    err, sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	/* COPY into a new folder: hard links, flags, keywords by name */
	assert_int_equal(imap_folder_create("Work", err, sizeof(err)), 0);
	assert_int_equal(imap_append("Work", "w\n", 2, 0, NULL, 0, 0, &uv, &uid,
	    err, sizeof(err)), 0);
	assert_int_equal(imap_copy(&f, idx, 2, "Work", &uv, uids, err, sizeof(err)), 0);
	assert_int_equal(uids[0], 2);
	assert_int_equal(uids[1], 3);
	assert_int_equal(imap_folder_open(&g, "Work", 0, err, sizeof(err)), 0);
	assert_int_equal(g.uidvalidity, uv);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.msgs[1].uid, 2);
	assert_int_equal(g.msgs[1].flags, IMAP_F_SEEN);
	assert_int_equal(g.msgs[1].internaldate, 1000000000);
	assert_int_equal(g.msgs[1].size, 18);
	assert_non_null(g.keywords[0]);
	assert_int_equal(g.msgs[1].keywords, 3);
	imap_folder_close(&g);
	imap_folder_close(&f);
}

/* A write that fails (here RLIMIT_FSIZE, as a full disk would) leaves nothing. */
static void
test_append_full(void **state)
{
	struct rlimit old, rl = { 4096, 4096 };
	uint32_t uv, uid;
	char *big = xmalloc(100000);

	(void)state;
	memset(big, 'a', 100000);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	rl.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
	assert_int_equal(imap_append("INBOX", big, 100000, 0, NULL, 0, 0, &uv, &uid,
	    err, sizeof(err)), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(count_dir("tmp"), 0);
	assert_int_equal(count_dir("cur"), 0);
	free(big);
}

static void
test_folders(void **state)
{
	struct imap_folder_info *v;
	struct imap_folder f;
	struct imap_status st;
	uint64_t oct, msgs;
	size_t n;

	(void)state;
	assert_int_equal(imap_store_first_login(err, sizeof(err)), 0);
	assert_int_equal(imap_folder_create("A.B.C", err, sizeof(err)), 0);
	assert_int_equal(access(".A/maildirfolder", F_OK), 0);
	assert_int_equal(access(".A.B.C/cur", F_OK), 0);
	assert_int_equal(imap_folder_create("A.B.C", err, sizeof(err)), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(imap_folder_create("inbox", err, sizeof(err)), -1);
	assert_int_equal(imap_folder_create("bad..name", err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(imap_folder_create("D.", err, sizeof(err)), 0);
	assert_int_equal(imap_folder_list(&v, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 10);	/* INBOX, 5 special, A, A.B, A.B.C, D */
	assert_string_equal(v[0].name, "INBOX");
	assert_true(v[0].subscribed);
	assert_string_equal(v[1].name, "A");
	assert_true(v[1].has_children);
	assert_false(v[1].subscribed);
	assert_string_equal(v[3].name, "A.B.C");
	assert_false(v[3].has_children);
	assert_string_equal(v[4].name, "Archive");
	assert_int_equal(v[4].special_use, IMAP_SU_ARCHIVE);
	assert_true(v[4].subscribed);
	free(v);
	assert_int_equal(imap_folder_delete("A", err, sizeof(err)), -1);
	assert_int_equal(errno, ENOTEMPTY);
	assert_int_equal(imap_folder_delete("INBOX", err, sizeof(err)), -1);
	assert_int_equal(imap_folder_delete("Nope", err, sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	deliver(".A.B.C", "m\n", NULL, 0);
	assert_int_equal(imap_folder_rename("A", "X.Y", err, sizeof(err)), 0);
	assert_int_equal(access(".X.Y.B.C/cur", F_OK), 0);
	assert_int_equal(access(".X/cur", F_OK), 0);
	assert_int_equal(access(".A", F_OK), -1);
	assert_int_equal(imap_folder_rename("X", "X.Z", err, sizeof(err)), -1);
	assert_int_equal(imap_folder_rename("X", "Drafts", err, sizeof(err)), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(imap_folder_delete("X.Y.B.C", err, sizeof(err)), 0);
	assert_int_equal(access(".X.Y.B.C", F_OK), -1);
	/* RENAME INBOX moves the messages (RFC 3501 6.3.5) */
	deliver(".", "i1\n", NULL, 0);
	deliver(".", "i2\n", NULL, 0);
	assert_int_equal(imap_folder_rename("INBOX", "Old", err, sizeof(err)), 0);
	assert_int_equal(imap_folder_open(&f, "Old", 1, err, sizeof(err)), 0);
	assert_int_equal(f.n, 2);
	imap_folder_close(&f);
	assert_int_equal(imap_folder_open(&f, "INBOX", 1, err, sizeof(err)), 0);
	assert_int_equal(f.n, 0);
	imap_folder_close(&f);
	/* subscriptions */
	assert_int_equal(imap_subscribe("Old", 1, err, sizeof(err)), 0);
	assert_int_equal(imap_subscribe("Trash", 0, err, sizeof(err)), 0);
	assert_int_equal(imap_folder_list(&v, &n, err, sizeof(err)), 0);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].name, "Old") == 0)
			assert_true(v[i].subscribed);
		if (strcmp(v[i].name, "Trash") == 0)
			assert_false(v[i].subscribed);
	}
	free(v);
	/* STATUS (opened, then cached) and quota */
	assert_int_equal(imap_folder_status("Old", &st, err, sizeof(err)), 0);
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.unseen, 2);
	assert_int_equal(st.recent, 2);
	assert_int_equal(st.uidnext, 3);
	assert_int_equal(st.size, 8);
	assert_int_equal(imap_folder_status("Nope", &st, err, sizeof(err)), -1);
	assert_int_equal(imap_quota_usage(&oct, &msgs, err, sizeof(err)), 0);
	assert_int_equal(msgs, 2);
	assert_int_equal(oct, 8);
}

/* Status from the index once the folder has been quiet for a while. */
static void
test_status_cached(void **state)
{
	struct imap_status st, st2;
	struct timespec ts[2] = { { 1000, 0 }, { 1000, 0 } };

	(void)state;
	deliver(".", "abc\n", NULL, 0);
	/* age the directories so that the index may answer */
	assert_int_equal(utimensat(AT_FDCWD, "new", ts, 0), 0);
	assert_int_equal(utimensat(AT_FDCWD, "cur", ts, 0), 0);
	assert_int_equal(imap_folder_status("INBOX", &st, err, sizeof(err)), 0);
	assert_int_equal(st.messages, 1);
	assert_int_equal(unlink(STORE_UIDLIST), 0);	/* the index alone answers */
	assert_int_equal(imap_folder_status("INBOX", &st2, err, sizeof(err)), 0);
	assert_int_equal(st2.uidvalidity, st.uidvalidity);
	assert_int_equal(st2.messages, 1);
	assert_int_equal(st2.size, 5);
	assert_int_equal(st2.recent, 1);
}

/* A quiet folder opens from its index without reading the directories. */
static void
test_open_cached(void **state)
{
	struct timespec ts[2] = { { 1000, 0 }, { 1000, 0 } };
	struct imap_folder f;
	struct imap_changes ch;
	uint64_t ms;
	int fd, kw;

	(void)state;
	deliver(".", "a\n", NULL, 0);
	deliver(".", "bb\n", NULL, 0);
	assert_int_equal(imap_folder_open(&f, "INBOX", 0, err, sizeof(err)), 0);
	kw = imap_keyword_index(&f, "Work", 1);
	assert_int_equal(imap_msg_set_flags(&f, 1, '+', IMAP_F_SEEN, 1U << kw, err,
	    sizeof(err)), 0);
	ms = f.msgs[1].modseq;
	imap_folder_close(&f);
	assert_int_equal(utimensat(AT_FDCWD, "new", ts, 0), 0);
	assert_int_equal(utimensat(AT_FDCWD, "cur", ts, 0), 0);
	/* the first open sees other mtimes than the index's: full pass, new index */
	assert_int_equal(imap_folder_open(&f, "INBOX", 1, err, sizeof(err)), 0);
	assert_int_equal(f.n, 2);
	imap_folder_close(&f);
	/* a file slipped in behind an unchanged mtime proves no readdir */
	fd = open("cur/1.M1P1Q1.x,S=1,W=2:2,", O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(utimensat(AT_FDCWD, "cur", ts, 0), 0);
	assert_int_equal(imap_folder_open(&f, "INBOX", 0, err, sizeof(err)), 0);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.msgs[1].uid, 2);
	assert_int_equal(f.msgs[1].flags, IMAP_F_SEEN);
	assert_int_equal(f.msgs[1].keywords, 1U << kw);
	assert_int_equal(f.msgs[1].modseq, ms);
	assert_int_equal(f.msgs[1].size, 4);
	/* names made from the index are right: a flag change renames */
	assert_int_equal(imap_msg_set_flags(&f, 1, '+', IMAP_F_FLAGGED, 0, err,
	    sizeof(err)), 0);
	assert_int_equal(f.msgs[1].flags, IMAP_F_SEEN | IMAP_F_FLAGGED);
	/* and the next sync, cur/ having changed, finds the slipped-in file */
	assert_int_equal(imap_folder_sync(&f, &ch, err, sizeof(err)), 0);
	assert_int_equal(ch.nnew, 1);
	assert_int_equal(ch.nchanged, 0);
	assert_int_equal(f.n, 3);
	imap_folder_close(&f);
}

/* A file left in both new/ and cur/ (a crash between link and unlink) counts once. */
static void
test_twins(void **state)
{
	struct imap_folder f;
	int fd;

	(void)state;
	fd = open("new/5.M1P1Q1.x,S=1,W=2", O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_int_equal(link("new/5.M1P1Q1.x,S=1,W=2", "cur/5.M1P1Q1.x,S=1,W=2:2,S"), 0);
	fd = open("new/6.M1P1Q1.x,S=1,W=2", O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_int_equal(imap_folder_open(&f, "INBOX", 1, err, sizeof(err)), 0);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.msgs[0].flags, IMAP_F_SEEN);
	assert_string_equal(f.msgs[0].name, "cur/5.M1P1Q1.x,S=1,W=2:2,S");
	assert_string_equal(f.msgs[1].name, "new/6.M1P1Q1.x,S=1,W=2");
	assert_int_equal(f.msgs[1].uid, 2);
	imap_folder_close(&f);
	/* the same with a uidlist to match against */
	assert_int_equal(imap_folder_open(&f, "INBOX", 1, err, sizeof(err)), 0);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.msgs[0].flags, IMAP_F_SEEN);
	imap_folder_close(&f);
}

static double
now_s(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * A directory large enough to be read in hash ranges by several threads
 * (on ext4; elsewhere in one pass), new/ and cur/ at once: every file
 * exactly once, new/ first.
 */
static void
test_scan_ranges(void **state)
{
	enum { N = 12000, M = 9000 };
	struct imap_folder f;
	struct scan sc;
	struct stat st;
	char path[512], **names;
	size_t i;
	int fd;

	(void)state;
	for (i = 0; i < N; i++) {
		str_fmt(path, sizeof(path), "cur/%zu.M%zuP4242Q%zu.a-rather-long-host-name."
		    "example.test,S=1000,W=1020:2,%s", 1600000000 + i, i, i, i % 3 ? "S" : "");
		fd = open(path, O_WRONLY | O_CREAT, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	/* new/ large too: both directories are read at once, in ranges */
	for (i = 0; i < M; i++) {
		str_fmt(path, sizeof(path), "new/%zu.M%zuP4343Q%zu.a-rather-long-host-name."
		    "example.test,S=1000,W=1020", 1700000000 + i, i, i);
		fd = open(path, O_WRONLY | O_CREAT, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	deliver(".", "Subject: a\n\nnew\n", NULL, 0);
	assert_int_equal(stat("cur", &st), 0);
	printf("# cur/ is %lld bytes\n", (long long)st.st_size);
	assert_int_equal(stat("new", &st), 0);
	printf("# new/ is %lld bytes\n", (long long)st.st_size);
	memset(&sc, 0, sizeof(sc));
	assert_int_equal(scan_dir(&sc, ".", err, sizeof(err)), 0);
	assert_int_equal(sc.ncur, M + 1);
	assert_int_equal(sc.n, N + M + 1);
	for (i = 0; i < sc.n; i++)
		assert_memory_equal(sc.e[i].name, i < M + 1 ? "new/" : "cur/", 4);
	names = xcalloc(sc.n, sizeof(*names));
	for (i = 0; i < sc.n; i++) {
		names[i] = sc.e[i].name;
		assert_int_equal(sc.e[i].keylen, store_name_keylen(sc.e[i].name + 4));
	}
	qsort(names, sc.n, sizeof(*names), cmp_str);
	for (i = 1; i < sc.n; i++)
		assert_true(strcmp(names[i - 1], names[i]) != 0);
	free(names);
	scan_free(&sc);
	assert_int_equal(imap_folder_open(&f, "INBOX", 0, err, sizeof(err)), 0);
	assert_int_equal(f.n, N + M + 1);
	for (i = 1; i < f.n; i++)
		assert_true(f.msgs[i - 1].uid < f.msgs[i].uid);
	imap_folder_close(&f);
}

/* POSTERN_STORE_BENCH=1: time the cold open of 20,000 messages in cur/. */
static void
test_bench(void **state)
{
	struct imap_folder f;
	char path[512];
	double t0, t1, t2, t3;
	int i, fd;

	(void)state;
	/* not skip(): cmocka's TAP "not ok # SKIP" counts as a failure */
	if (getenv("POSTERN_STORE_BENCH") == NULL)
		return;
	for (i = 0; i < 20000; i++) {
		str_fmt(path, sizeof(path), "cur/%d.M%dP1Q%d.host,S=1000,W=1020:2,%s",
		    1600000000 + i, i, i, i % 3 ? "S" : "");
		fd = open(path, O_WRONLY | O_CREAT, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	t0 = now_s();
	assert_int_equal(imap_folder_open(&f, "INBOX", 0, err, sizeof(err)), 0);
	t1 = now_s();
	assert_int_equal(f.n, 20000);
	imap_folder_close(&f);
	assert_int_equal(unlink(STORE_INDEX), 0);
	t2 = now_s();
	assert_int_equal(imap_folder_open(&f, "INBOX", 0, err, sizeof(err)), 0);
	t3 = now_s();
	imap_folder_close(&f);
	printf("# 20k cold open, no uidlist no index: %.1f ms\n", (t1 - t0) * 1000);
	printf("# 20k open, uidlist but no index: %.1f ms\n", (t3 - t2) * 1000);
	t0 = now_s();
	assert_int_equal(imap_folder_open(&f, "INBOX", 0, err, sizeof(err)), 0);
	t1 = now_s();
	imap_folder_close(&f);
	printf("# 20k open with a current index: %.1f ms\n", (t1 - t0) * 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_parsers),
		cmocka_unit_test_setup_teardown(test_deliver_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_twins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bench, setup, teardown),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
