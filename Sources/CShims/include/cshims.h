#ifndef CIDP_CSHIMS_H
#define CIDP_CSHIMS_H

#include <stdint.h>
#include <sys/types.h>

// The few Linux calls and macros that Glibc hides from Swift (they need _GNU_SOURCE or are
// macros). Each returns what the C call returns: -1 with errno set on failure.

/// prctl(PR_SET_PDEATHSIG, signal)
int cshims_set_parent_death_signal(int signal);
int cshims_memfd(const char *name);
/// prctl(PR_SET_CHILD_SUBREAPER, 1)
int cshims_set_child_subreaper(void);
/// pipe2(fds, O_CLOEXEC [| O_NONBLOCK])
int cshims_pipe2(int fds[2], int nonblocking);
/// bind()/connect() on a filesystem Unix socket path; -1 with ENAMETOOLONG when it does not fit.
int cshims_unix_bind(int fd, const char *path);
int cshims_unix_connect(int fd, const char *path);
/// accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)
int cshims_accept(int fd);
/// getsockopt(SO_PEERCRED)
int cshims_peer_credentials(int fd, uid_t *uid, pid_t *pid);

/// WIFEXITED / WEXITSTATUS / WIFSIGNALED / WTERMSIG / WCOREDUMP
int cshims_wifexited(int status);
int cshims_wexitstatus(int status);
int cshims_wifsignaled(int status);
int cshims_wtermsig(int status);
int cshims_wcoredump(int status);

/// Blocks `signals` in the calling thread (and every thread created after) and returns a
/// signalfd(O_CLOEXEC | O_NONBLOCK) that reports them.
int cshims_signalfd(const int *signals, int count);
/// Reads one signalfd_siginfo; returns 1 and fills signo, 0 when none is pending (EAGAIN), -1 on error.
int cshims_signalfd_read(int fd, int *signo, pid_t *pid);
/// accept4(fd, NULL, NULL, SOCK_CLOEXEC): the connection is never inherited by a spawn.
int cshims_accept_cloexec(int fd);

/// epoll_create1(EPOLL_CLOEXEC)
int cshims_epoll_create(void);
/// epoll_ctl ADD/MOD/DEL for readability (EPOLLIN | EPOLLRDHUP); `token` comes back from wait.
int cshims_epoll_add(int epfd, int fd, uint64_t token);
int cshims_epoll_remove(int epfd, int fd);
/// epoll_wait; fills `tokens` and `hangups` (1 when EPOLLHUP/EPOLLERR/EPOLLRDHUP) up to `max`.
int cshims_epoll_wait(int epfd, uint64_t *tokens, int *hangups, int max, int timeout_ms);

/// prlimit(pid, RLIMIT_AS, {bytes, bytes})
int cshims_limit_address_space(pid_t pid, uint64_t bytes);

/// posix_spawn of `path` with `argv`/`envp` (NULL-terminated). `fd_sources[i]` is dup2'ed to
/// `fd_targets[i]` in the child, in order; the child gets its own process group, an empty signal
/// mask and default dispositions for every signal. Every descriptor that is not a target is
/// closed in the child, inherited ones included; sources that a dup2 could overwrite are copied
/// out of the way first. At most 16 descriptors. Returns 0 and the pid, or an errno value.
int cshims_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                 const int *fd_sources, const int *fd_targets, int fd_count);

/// The `index`-th PT_NOTE segment of the main program as loaded (`dl_iterate_phdr`, whose first
/// object is the program; <link.h> is not in Glibc's Swift module). Returns 1 and its address and
/// size, or 0 when there is no such segment.
int cshims_program_note_segment(int index, const void **start, size_t *size);
/// posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), grantpt, unlockpt, ptsname_r: a new
/// pseudo-terminal's master descriptor, and the path of its slave in `slave_path`. For tests
/// (Glibc hides these without _XOPEN_SOURCE). Returns the master, or -1 (errno set).
int cshims_open_pseudo_terminal(char *slave_path, size_t capacity);

#endif
