/*
 * rules: the language of postern.rules(5), delivery rules. A rule file is
 * parsed (common/rules_parse.c) into a tree of statements and conditions
 * (common/rules_int.h). Two programs use the parser: deliver, which
 * evaluates the tree against each message (deliver/rules_eval.h), in the
 * deliver child as the mailbox owner (vmail or the invoking user), never
 * as root; and `postern check` (master/check.c), which only parses, as
 * whoever runs it, to report errors as "FILE:LINE: what".
 *
 * Every input is bounded: file size, statements and tests per file,
 * nesting depth, string length, and regex limits (common/regex.h).
 */
#ifndef POSTERN_RULES_H
#define POSTERN_RULES_H

#include <stddef.h>

#define RULES_FILE_MAX		(64 * 1024)	/* bytes of one rule file */
#define RULES_NODES_MAX		1000		/* statements + tests per file */
#define RULES_DEPTH_MAX		16		/* nested blocks, (), not */
#define RULES_STRING_MAX	1024		/* one string or regex */
#define RULES_ADDR_MAX		512		/* a redirect address */
#define RULES_FOLDER_MAX	1024		/* a folder directory, as IMAP_NAME_MAX */

struct rules;

/*
 * Parse len bytes of rule text; file names it in messages. NULL on error
 * with err "FILE:LINE: what" (the first error only).
 */
struct rules *rules_parse(const char *text, size_t len, const char *file,
    char *err, size_t errlen);
/*
 * Read and parse the rule file at path: 1 with *out set, 0 when there is
 * no such file (*out NULL), -1 on any error (unreadable, too big, syntax)
 * with err "FILE:LINE: what" (LINE 0 when the whole file is at fault).
 */
int rules_load(const char *path, struct rules **out, char *err, size_t errlen);
void rules_free(struct rules *);
/* The file name given to rules_parse (for log lines). */
const char *rules_file(const struct rules *);

/*
 * Folders (Maildir++, as imapd lays them out): name is a folder name in
 * UTF-8 with '.' as the hierarchy delimiter ("INBOX." prefix allowed).
 * The directory under the Maildir: ".<name in modified UTF-7>", or ""
 * for INBOX. 0, or -1 when the name is not allowed (rules_name.c).
 */
int rules_folder_dir(const char *name, char *dir, size_t dirlen);

#endif
