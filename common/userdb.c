/*
 * userdb: the users' secrets in a Cyrus SASL sasldb, through libsasl2.
 * Used by `postern user` (the invoking admin, root or the demo user),
 * by lookupd (mail_owner, read-only use) and later by submitd/pop3d.
 * The SASL options come from postern.conf through a GETOPT callback, so a
 * system-wide sasl2 configuration never decides where secrets live.
 * Listing users reads the sasldb (a Berkeley DB 5.3 hash) directly,
 * read-only, because libsasl2 has no call for it.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <db.h>
#include <sasl/sasl.h>

#include "conf.h"
#include "log.h"
#include "userdb.h"
#include "util.h"

#define USERDB_SERVICE	"smtp"
#define USERDB_MECHS	"PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5"

static char *userdb_path;
static char *userdb_host;
static sasl_conn_t *userdb_conn;
static int userdb_ready;

static int
userdb_getopt(void *ctx, const char *plugin, const char *option,
    const char **result, unsigned *len)
{
	const char *v = NULL;

	(void)ctx;
	(void)plugin;
	if (strcmp(option, "sasldb_path") == 0)
		v = userdb_path;
	else if (strcmp(option, "pwcheck_method") == 0)
		v = "auxprop";
	else if (strcmp(option, "auxprop_plugin") == 0)
		v = "sasldb";
	else if (strcmp(option, "mech_list") == 0)
		v = USERDB_MECHS;
	if (v == NULL)
		return SASL_FAIL;
	*result = v;
	if (len != NULL)
		*len = (unsigned)strlen(v);
	return SASL_OK;
}

/* libsasl2's own messages: errors to our log, chatter only in debug. */
static int
userdb_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (msg == NULL)
		return SASL_OK;
	if (level <= SASL_LOG_ERR)
		log_warn("sasl: %s", msg);
	else if (level <= SASL_LOG_NOTE)
		log_debug("sasl: %s", msg);
	return SASL_OK;
}

typedef int (*userdb_cbfn)(void);

static const sasl_callback_t userdb_cbs[] = {
	{ SASL_CB_GETOPT, (userdb_cbfn)(void (*)(void))userdb_getopt, NULL },
	{ SASL_CB_LOG, (userdb_cbfn)(void (*)(void))userdb_log, NULL },
	{ SASL_CB_LIST_END, NULL, NULL },
};

int
userdb_init(const struct conf *c)
{
	int r;

	if (userdb_ready)
		return 0;
	free(userdb_path);
	free(userdb_host);
	userdb_path = xstrdup(c->sasl_db);
	userdb_host = xstrdup(c->hostname);
	if ((r = sasl_server_init(userdb_cbs, "postern")) != SASL_OK) {
		log_err("sasl_server_init: %s", sasl_errstring(r, NULL, NULL));
		return -1;
	}
	userdb_ready = 1;
	return 0;
}

const void *
userdb_callbacks(void)
{
	return userdb_cbs;
}

/* The one connection the admin calls go through. NULL on error. */
static sasl_conn_t *
userdb_get_conn(void)
{
	int r;

	if (!userdb_ready)
		return NULL;
	if (userdb_conn == NULL) {
		r = sasl_server_new(USERDB_SERVICE, userdb_host, NULL, NULL, NULL,
		    userdb_cbs, 0, &userdb_conn);
		if (r != SASL_OK) {
			log_err("sasl_server_new: %s", sasl_errstring(r, NULL, NULL));
			userdb_conn = NULL;
		}
	}
	return userdb_conn;
}

/*
 * A connection for one lookup. libsasl2 keeps per-connection state that
 * grows with every sasl_user_exists/sasl_checkpass on the same
 * connection (lookups got ~7x slower over 8000 calls), so the daemons'
 * per-request calls each get a fresh one (about 70 us), disposed after.
 */
static sasl_conn_t *
userdb_new_conn(void)
{
	sasl_conn_t *conn = NULL;
	int r;

	if (!userdb_ready)
		return NULL;
	r = sasl_server_new(USERDB_SERVICE, userdb_host, NULL, NULL, NULL,
	    userdb_cbs, 0, &conn);
	if (r != SASL_OK) {
		log_err("sasl_server_new: %s", sasl_errstring(r, NULL, NULL));
		return NULL;
	}
	return conn;
}

static int
userdb_fail(char *err, size_t errlen, const char *what, const char *address, int r)
{
	const char *detail = userdb_conn ? sasl_errdetail(userdb_conn) : NULL;

	str_fmt(err, errlen, "%s %s: %s", what, address,
	    detail != NULL ? detail : sasl_errstring(r, NULL, NULL));
	return -1;
}

int
userdb_set(const char *address, const char *password, int create,
    char *err, size_t errlen)
{
	sasl_conn_t *conn = userdb_get_conn();
	size_t plen = strlen(password);
	int r;

	if (conn == NULL) {
		str_fmt(err, errlen, "the SASL library is not initialised");
		return -1;
	}
	if (plen == 0 || plen > 1024) {
		str_fmt(err, errlen, "password must be 1 to 1024 bytes");
		return -1;
	}
	r = sasl_setpass(conn, address, password, (unsigned)plen, NULL, 0,
	    create ? SASL_SET_CREATE : 0);
	if (r != SASL_OK)
		return userdb_fail(err, errlen, "cannot set the secret of", address, r);
	return 0;
}

int
userdb_delete(const char *address, char *err, size_t errlen)
{
	sasl_conn_t *conn = userdb_get_conn();
	int r;

	if (conn == NULL) {
		str_fmt(err, errlen, "the SASL library is not initialised");
		return -1;
	}
	/* A NULL password with SASL_SET_DISABLE removes the user's entries. */
	r = sasl_setpass(conn, address, NULL, 0, NULL, 0, SASL_SET_DISABLE);
	if (r != SASL_OK)
		return userdb_fail(err, errlen, "cannot delete", address, r);
	return 0;
}

int
userdb_exists(const char *address)
{
	sasl_conn_t *conn = userdb_new_conn();
	int r;

	if (conn == NULL)
		return -1;
	r = sasl_user_exists(conn, USERDB_SERVICE, NULL, address);
	sasl_dispose(&conn);
	if (r == SASL_OK)
		return 1;
	if (r == SASL_NOUSER)
		return 0;
	return -1;
}

int
userdb_checkpass(const char *address, const char *password)
{
	sasl_conn_t *conn = userdb_new_conn();
	int r;

	if (conn == NULL)
		return -1;
	r = sasl_checkpass(conn, address, (unsigned)strlen(address), password,
	    (unsigned)strlen(password));
	sasl_dispose(&conn);
	if (r == SASL_OK)
		return 1;
	if (r == SASL_BADAUTH || r == SASL_NOUSER || r == SASL_DISABLED ||
	    r == SASL_NOVERIFY)
		return 0;
	return -1;
}

struct userdb_names {
	char	**v;
	size_t	  n, cap;
};

/* Add "user@realm" from a sasldb key "user\0realm\0property". */
static void
userdb_add_key(struct userdb_names *names, const char *key, size_t len)
{
	const char *user = key, *realm, *prop;
	size_t ulen, rlen;

	if ((realm = memchr(user, '\0', len)) == NULL)
		return;
	ulen = (size_t)(realm - user);
	realm++;
	if ((prop = memchr(realm, '\0', len - ulen - 1)) == NULL)
		return;
	rlen = (size_t)(prop - realm);
	if (ulen == 0)
		return;
	if (names->n == names->cap) {
		names->cap = names->cap ? names->cap * 2 : 64;
		names->v = xreallocarray(names->v, names->cap, sizeof(*names->v));
	}
	char *a = xmalloc(ulen + rlen + 2);
	memcpy(a, user, ulen);
	a[ulen] = '\0';
	if (rlen > 0) {
		a[ulen] = '@';
		memcpy(a + ulen + 1, realm, rlen);
		a[ulen + 1 + rlen] = '\0';
	}
	names->v[names->n++] = a;
}

static int
userdb_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect every key of the hash database at path. 0 or -1. */
static int
userdb_read_keys(const char *path, struct userdb_names *names)
{
	DB *db = NULL;
	DBC *cur = NULL;
	DBT key, data;
	int r;

	if ((r = db_create(&db, NULL, 0)) != 0) {
		log_err("%s: %s", path, db_strerror(r));
		return -1;
	}
	if ((r = db->open(db, NULL, path, NULL, DB_HASH, DB_RDONLY, 0)) != 0) {
		db->close(db, 0);
		if (r == ENOENT)
			return 0;	/* no users yet */
		log_err("%s: %s", path, db_strerror(r));
		return -1;
	}
	if ((r = db->cursor(db, NULL, &cur, 0)) != 0) {
		log_err("%s: %s", path, db_strerror(r));
		db->close(db, 0);
		return -1;
	}
	memset(&key, 0, sizeof(key));
	memset(&data, 0, sizeof(data));
	while ((r = cur->get(cur, &key, &data, DB_NEXT)) == 0)
		userdb_add_key(names, key.data, key.size);
	cur->close(cur);
	db->close(db, 0);
	if (r != DB_NOTFOUND) {
		log_err("%s: %s", path, db_strerror(r));
		return -1;
	}
	return 0;
}

int
userdb_list(const char *dbpath, void (*cb)(const char *address, void *arg), void *arg)
{
	struct userdb_names names = { NULL, 0, 0 };
	size_t i;
	int r;

	r = userdb_read_keys(dbpath, &names);
	if (r == 0 && names.n > 0)
		qsort(names.v, names.n, sizeof(*names.v), userdb_cmp);
	for (i = 0; i < names.n; i++)
		if (r == 0 && (i == 0 || strcmp(names.v[i], names.v[i - 1]) != 0))
			cb(names.v[i], arg);
	for (i = 0; i < names.n; i++)
		free(names.v[i]);
	free(names.v);
	return r;
}

/*
 * userdb_exists_cached: lookupd's answer at every RCPT without opening
 * the sasldb through libsasl2 each time (two opens and a plugin walk per
 * question). The names are read once and read again whenever the file's
 * identity, size or mtime changes, and on every question while the file
 * is younger than USERDB_RACY_MS, since two writes within one timestamp
 * tick would otherwise look alike.
 */
#define USERDB_RACY_MS	2000

static struct {
	struct userdb_names	 names;
	struct stat		 st;
	int			 valid;
} userdb_cache;

static void
userdb_names_free(struct userdb_names *names)
{
	size_t i;

	for (i = 0; i < names->n; i++)
		free(names->v[i]);
	free(names->v);
	names->v = NULL;
	names->n = names->cap = 0;
}

static int
userdb_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Bring the cached names up to date with dbpath. 0 or -1. */
static int
userdb_cache_refresh(const char *dbpath)
{
	struct stat st;
	struct timespec now;
	int64_t age;

	memset(&st, 0, sizeof(st));
	clock_gettime(CLOCK_REALTIME, &now);	/* mtime is wall-clock time */
	if (stat(dbpath, &st) == -1 && errno != ENOENT)
		return -1;
	age = ((int64_t)now.tv_sec - (int64_t)st.st_mtim.tv_sec) * 1000 +
	    (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000;
	if (userdb_cache.valid && userdb_same_file(&st, &userdb_cache.st) &&
	    age > USERDB_RACY_MS)
		return 0;
	userdb_names_free(&userdb_cache.names);
	userdb_cache.valid = 0;
	if (st.st_ino != 0 &&
	    userdb_read_keys(dbpath, &userdb_cache.names) == -1) {
		userdb_names_free(&userdb_cache.names);
		return -1;
	}
	if (userdb_cache.names.n > 0)
		qsort(userdb_cache.names.v, userdb_cache.names.n,
		    sizeof(*userdb_cache.names.v), userdb_cmp);
	userdb_cache.st = st;
	userdb_cache.valid = 1;
	return 0;
}

int
userdb_exists_cached(const char *dbpath, const char *address)
{
	const char *key = address;

	if (userdb_cache_refresh(dbpath) == -1)
		return -1;
	if (userdb_cache.names.n == 0)
		return 0;
	return bsearch(&key, userdb_cache.names.v, userdb_cache.names.n,
	    sizeof(*userdb_cache.names.v), userdb_cmp) != NULL;
}
