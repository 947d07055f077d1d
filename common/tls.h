/*
 * tls: OpenSSL contexts. Created before privileges are dropped (the key
 * file is readable by root only).
 */
#ifndef POSTERN_TLS_H
#define POSTERN_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

/* Server context from PEM cert chain and key; TLS 1.2 and later. NULL with err set. */
SSL_CTX *tls_server_ctx(const char *cert, const char *key, char *err, size_t errlen);
/* Client context; verify=1 loads the system trust store. */
SSL_CTX *tls_client_ctx(int verify, char *err, size_t errlen);
/*
 * Write a self-signed certificate and key for hostname (postern demo).
 * The key file is created with mode 0600. 0 or -1.
 */
int tls_make_selfsigned(const char *hostname, const char *certpath,
    const char *keypath, char *err, size_t errlen);

#endif
