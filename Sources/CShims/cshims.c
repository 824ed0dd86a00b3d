#define _GNU_SOURCE
#include "cshims.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdlib.h>
#include <spawn.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

int cshims_set_parent_death_signal(int signal) { return prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0); }

/* An anonymous memory file (not close-on-exec): how a re-executed root receives its state. */
int cshims_memfd(const char *name) { return memfd_create(name, 0); }

int cshims_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

int cshims_pipe2(int fds[2], int nonblocking) {
    return pipe2(fds, O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0));
}

static int fill_address(struct sockaddr_un *address, const char *path) {
    memset(address, 0, sizeof(*address));
    address->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(address->sun_path)) { errno = ENAMETOOLONG; return -1; }
    strcpy(address->sun_path, path);
    return 0;
}

int cshims_unix_bind(int fd, const char *path) {
    struct sockaddr_un address;
    if (fill_address(&address, path) != 0) return -1;
    return bind(fd, (struct sockaddr *)&address, sizeof(address));
}

int cshims_unix_connect(int fd, const char *path) {
    struct sockaddr_un address;
    if (fill_address(&address, path) != 0) return -1;
    int result;
    do { result = connect(fd, (struct sockaddr *)&address, sizeof(address)); } while (result == -1 && errno == EINTR);
    return result;
}

int cshims_accept(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK); }

int cshims_peer_credentials(int fd, uid_t *uid, pid_t *pid) {
    struct ucred credentials;
    socklen_t length = sizeof(credentials);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -1;
    *uid = credentials.uid;
    *pid = credentials.pid;
    return 0;
}

int cshims_wifexited(int status) { return WIFEXITED(status); }
int cshims_wexitstatus(int status) { return WEXITSTATUS(status); }
int cshims_wifsignaled(int status) { return WIFSIGNALED(status); }
int cshims_wtermsig(int status) { return WTERMSIG(status); }
int cshims_wcoredump(int status) { return WCOREDUMP(status); }

int cshims_signalfd(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int cshims_signalfd_read(int fd, int *signo, pid_t *pid) {
    struct signalfd_siginfo info;
    ssize_t n;
    do { n = read(fd, &info, sizeof(info)); } while (n == -1 && errno == EINTR);
    if (n == -1) return errno == EAGAIN ? 0 : -1;
    if (n != sizeof(info)) { errno = EIO; return -1; }
    *signo = (int)info.ssi_signo;
    *pid = (pid_t)info.ssi_pid;
    return 1;
}

int cshims_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int cshims_epoll_add(int epfd, int fd, uint64_t token) {
    struct epoll_event event;
    memset(&event, 0, sizeof(event));
    event.events = EPOLLIN | EPOLLRDHUP;
    event.data.u64 = token;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
}

int cshims_epoll_remove(int epfd, int fd) { return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL); }

int cshims_epoll_wait(int epfd, uint64_t *tokens, int *hangups, int max, int timeout_ms) {
    struct epoll_event events[64];
    if (max > 64) max = 64;
    int n;
    do { n = epoll_wait(epfd, events, max, timeout_ms); } while (n == -1 && errno == EINTR);
    for (int i = 0; i < n; i++) {
        tokens[i] = events[i].data.u64;
        hangups[i] = (events[i].events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) ? 1 : 0;
    }
    return n;
}

int cshims_limit_address_space(pid_t pid, uint64_t bytes) {
    struct rlimit limit = { .rlim_cur = bytes, .rlim_max = bytes };
    return prlimit(pid, RLIMIT_AS, &limit, NULL);
}

int cshims_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                 const int *fd_sources, const int *fd_targets, int fd_count) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int result = posix_spawn_file_actions_init(&actions);
    if (result != 0) return result;
    result = posix_spawnattr_init(&attributes);
    if (result != 0) { posix_spawn_file_actions_destroy(&actions); return result; }

    int highest = 2;
    for (int i = 0; i < fd_count; i++) if (fd_targets[i] > highest) highest = fd_targets[i];

    // A source numbered at or below the highest target could be overwritten by an earlier dup2
    // (file actions run in order): such sources are first copied above the highest target.
    int sources[16];
    int copies[16];
    int copied = 0;
    if (fd_count > 16) result = EINVAL;
    for (int i = 0; i < fd_count && result == 0; i++) {
        sources[i] = fd_sources[i];
        if (fd_sources[i] <= highest && fd_sources[i] != fd_targets[i]) {
            int copy = fcntl(fd_sources[i], F_DUPFD_CLOEXEC, highest + 1);
            if (copy == -1) { result = errno; break; }
            copies[copied++] = copy;
            sources[i] = copy;
        }
    }
    for (int i = 0; i < fd_count && result == 0; i++) {
        // adddup2 with equal numbers clears FD_CLOEXEC (glibc >= 2.29), so the fd survives exec.
        result = posix_spawn_file_actions_adddup2(&actions, sources[i], fd_targets[i]);
    }
    // Our own descriptors are close-on-exec, but the supervisor may have inherited others from
    // whoever started it (a shell, a test runner); none of those belongs to a worker. After the
    // dup2s, close every descriptor that is not a target: the gaps below the highest target
    // (closing one that is not open is not an error for glibc's posix_spawn), then all above it.
    for (int fd = 3; fd < highest && result == 0; fd++) {
        int isTarget = 0;
        for (int i = 0; i < fd_count; i++) if (fd_targets[i] == fd) isTarget = 1;
        if (!isTarget) result = posix_spawn_file_actions_addclose(&actions, fd);
    }
    if (result == 0) result = posix_spawn_file_actions_addclosefrom_np(&actions, highest + 1);
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    if (result == 0) result = posix_spawnattr_setflags(&attributes,
        POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (result == 0) result = posix_spawnattr_setpgroup(&attributes, 0);
    if (result == 0) result = posix_spawnattr_setsigmask(&attributes, &empty);
    if (result == 0) result = posix_spawnattr_setsigdefault(&attributes, &all);
    if (result == 0) result = posix_spawn(pid, path, &actions, &attributes, argv, envp);

    for (int i = 0; i < copied; i++) close(copies[i]);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return result;
}

struct note_query { int index; const void *start; size_t size; int found; };

static int find_note_segment(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct note_query *query = data;
    int seen = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type != PT_NOTE) continue;
        if (seen++ == query->index) {
            query->start = (const void *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
            query->size = info->dlpi_phdr[i].p_memsz;
            query->found = 1;
            break;
        }
    }
    return 1;  /* the program is the first object: stop there */
}

int cshims_program_note_segment(int index, const void **start, size_t *size) {
    struct note_query query = { index, NULL, 0, 0 };
    dl_iterate_phdr(find_note_segment, &query);
    *start = query.start;
    *size = query.size;
    return query.found;
}

int cshims_accept_cloexec(int fd) {
    return accept4(fd, NULL, NULL, SOCK_CLOEXEC);
}

int cshims_open_pseudo_terminal(char *slave_path, size_t capacity) {
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return -1;
    if (grantpt(master) != 0 || unlockpt(master) != 0 || ptsname_r(master, slave_path, capacity) != 0) {
        int saved = errno;
        close(master);
        errno = saved;
        return -1;
    }
    return master;
}

