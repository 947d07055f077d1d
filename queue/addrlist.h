/*
 * addrlist: the recipients of `postern-sendmail -t`, taken from the To,
 * Cc and Bcc fields of the user's header (RFC 5322 3.4 address-list),
 * and the recipient list itself. Pure functions, moved out of sendmail.c
 * so that they can be tested.
 */
#ifndef POSTERN_ADDRLIST_H
#define POSTERN_ADDRLIST_H

#include <stddef.h>

/*
 * Append a[0..n) with blanks trimmed to the list (*list, *nlist); an
 * empty element adds nothing. 0, or -1 when the list already holds
 * MAILDROP_RCPT_MAX recipients.
 */
int addrlist_add(char ***list, size_t *nlist, const char *a, size_t n);
/* The addresses of one address-list field body v[0..len). 0 or -1 (too many). */
int addrlist_parse(char ***list, size_t *nlist, const char *v, size_t len);
/* The addresses of the To, Cc and Bcc fields of an LF-ended header section. 0 or -1. */
int addrlist_extract(char ***list, size_t *nlist, const char *hdr, size_t len);

#endif
