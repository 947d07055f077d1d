/*
 * gcommit: group commit of directory fsyncs across the processes of one
 * daemon (DESIGN.md, the queue: "one fsync for many concurrent messages").
 * Each process renames or links its file into a directory, then calls
 * gcommit_fsync_dir(): when another process's fsync of that directory
 * started after this call's entry was made, that fsync covers it too.
 * The contract is unchanged: gcommit_fsync_dir returns 0 only after an
 * fsync() of the directory that began after the caller's rename/link
 * completed has returned 0.
 */
#ifndef POSTERN_GCOMMIT_H
#define POSTERN_GCOMMIT_H

#include <sys/types.h>

/*
 * Map the shared state; call once in the parent before it forks the
 * processes that commit (smtpd's, submitd's and deliver's workers).
 * 0, or -1 (then every call fsyncs on its own, as without it).
 */
int gcommit_init(void);

/* fsync(path), shared with concurrent callers of the same directory. 0 or -1. */
int gcommit_fsync_dir(const char *path);

/* The same for an open directory descriptor. 0 or -1 with errno. */
int gcommit_fsync_fd(int dirfd);
/* The same again when the caller knows the directory's st_dev and st_ino. */
int gcommit_fsync_known(int dirfd, dev_t dev, ino_t ino);

/* Counters for tests and logs: fsync calls made, and commits they served. */
void gcommit_stats(unsigned long *syncs, unsigned long *commits);

#endif
