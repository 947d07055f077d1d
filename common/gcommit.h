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

/*
 * Map the shared state; call once in the parent before it forks the
 * processes that commit (smtpd's, submitd's and deliver's workers).
 * 0, or -1 (then every call fsyncs on its own, as without it).
 */
int gcommit_init(void);

/*
 * sync_method (postern.conf(5)): 0 fsync (the default), 1 syncfs. With
 * syncfs, gcommit_file and gcommit_dir_fd are one shared syncfs(2) of the
 * file system (the group commit covers the files too, not only the
 * directories). Set once per process, before the first commit.
 */
void gcommit_set_syncfs(int on);
/* A file written and about to be renamed or linked: fsync, or syncfs. */
int gcommit_file(int fd);
/* A directory after a rename or link into it: gcommit_fsync_fd, or syncfs. */
int gcommit_dir_fd(int dirfd);
int gcommit_dir(const char *path);

/* fsync(path), shared with concurrent callers of the same directory. 0 or -1. */
int gcommit_fsync_dir(const char *path);

/* The same for an open directory descriptor. 0 or -1 with errno. */
int gcommit_fsync_fd(int dirfd);

/*
 * The same with syncfs(2) of fd's whole file system, shared by every
 * worker that asks for the same file system: all that any of them wrote
 * before the syncfs began is on stable storage (file data, inodes and
 * directory entries alike). 0, or -1 with errno set.
 */
int gcommit_syncfs_fd(int fd);

/* Counters for tests and logs: fsync calls made, and commits they served. */
void gcommit_stats(unsigned long *syncs, unsigned long *commits);

#endif
