/*
 * userdb: the one user database, a Cyrus SASL sasldb (sasl_db), used
 * through libsasl2. The SASL options come from postern.conf (a GETOPT
 * callback), never from a system-wide file, so instances do not collide.
 * Users are full addresses: alice@example.test (user alice, realm
 * example.test in sasldb terms, as saslpasswd2 -u would store it).
 */
#ifndef POSTERN_USERDB_H
#define POSTERN_USERDB_H

#include <sys/types.h>

struct conf;

/* sasl_server_init with the conf's options; once per process, before chroot. */
int userdb_init(const struct conf *);
/* The GETOPT callback table for sasl_server_new (issue 3: submitd, pop3d). */
const void *userdb_callbacks(void);
/* Create (create=1) or change a user's secret. 0 or -1 with err. */
int userdb_set(const char *address, const char *password, int create,
    char *err, size_t errlen);
int userdb_delete(const char *address, char *err, size_t errlen);
/* 1 exists, 0 no such user, -1 error. */
int userdb_exists(const char *address);
/*
 * The same answer from the names in the sasldb file itself, read once and
 * again when the file changes (lookupd, at every RCPT). 1, 0 or -1.
 */
int userdb_exists_cached(const char *dbpath, const char *address);
/* 1 ok, 0 wrong, -1 error. */
int userdb_checkpass(const char *address, const char *password);
/* Call cb for each user address in the sasldb file, sorted. 0 or -1. */
int userdb_list(const char *dbpath, void (*cb)(const char *address, void *arg), void *arg);

#endif
