#include "client.h"

/* ---------------------------------------------------------------------------------------------------------------- */
/* Hand-over to the Node client. */

char **saved_argv;

/*
 * The Node client. A build for tests names it (CREDRELAY_NODE_CLIENT); the packaged build is relocatable: it lives at
 * dist/native/<platform>-<machine>/ in the package, so the Node client is bin/docker-credential-credrelay-node three
 * directories up from its own real path, wherever npm put the package.
 */
static char *locate_node_client(void) {
#ifdef CREDRELAY_NODE_CLIENT
    return (char *)CREDRELAY_NODE_CLIENT;
#else
    static const char relative[] = "/../../../bin/docker-credential-credrelay-node";
    static char path[MAX_PATH_BYTES + sizeof relative];
    ssize_t length = readlink("/proc/self/exe", path, MAX_PATH_BYTES);
    if (length <= 0 || length >= MAX_PATH_BYTES) return NULL;
    path[length] = '\0';
    char *slash = strrchr(path, '/');
    if (slash == NULL) return NULL;
    memcpy(slash, relative, sizeof relative);
    return path;
#endif
}

bool write_all(int fd, const void *data, size_t length) {
    const unsigned char *cursor = data;
    while (length > 0) {
        ssize_t written = write(fd, cursor, length);
        if (written < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        cursor += written;
        length -= (size_t)written;
    }
    return true;
}

/*
 * execvp("node") as Go's exec.LookPath searches: absolute PATH entries only. A relative or empty entry (a leading or
 * trailing `:` is the current directory) would run a `node` from the directory Docker was started in, with the
 * request (a password, for `store`) on its stdin. Returns only when no entry holds a node that starts.
 */
static void exec_node_on_path(char **node_argv) {
    const char *path = getenv("PATH");
    if (path == NULL) return;
    const char *cursor = path;
    for (;;) {
        const char *end = strchr(cursor, ':');
        size_t length = end == NULL ? strlen(cursor) : (size_t)(end - cursor);
        if (length > 0 && cursor[0] == '/' && length + sizeof "/node" <= MAX_PATH_BYTES) {
            char candidate[MAX_PATH_BYTES];
            memcpy(candidate, cursor, length);
            memcpy(candidate + length, "/node", sizeof "/node");
            node_argv[0] = candidate;
            execv(candidate, node_argv);
        }
        if (end == NULL) return;
        cursor = end + 1;
    }
}

/*
 * Replaces this process with the Node client, same arguments. When stdin was already read, a child process feeds
 * the Node client a pipe with those bytes and then the rest of stdin, so that it reads exactly what we were given.
 */
void hand_over(const struct input *input) {
    if (input != NULL && input->consumed) {
        int pipe_fds[2];
        if (pipe(pipe_fds) == 0) {
            pid_t feeder = fork();
            if (feeder == 0) {
                signal(SIGPIPE, SIG_DFL);
                close(pipe_fds[0]);
                if (write_all(pipe_fds[1], input->bytes, input->length)) {
                    unsigned char chunk[65536];
                    for (;;) {
                        ssize_t got = read(STDIN_FILENO, chunk, sizeof chunk);
                        if (got < 0 && errno == EINTR) continue;
                        if (got <= 0 || !write_all(pipe_fds[1], chunk, (size_t)got)) break;
                    }
                }
                _exit(0);
            }
            if (feeder > 0) {
                close(pipe_fds[1]);
                dup2(pipe_fds[0], STDIN_FILENO);
                close(pipe_fds[0]);
            }
        }
    }
    int argc = 0;
    while (saved_argv[argc] != NULL) argc++;
    char **node_argv = calloc((size_t)argc + 2, sizeof *node_argv);
    char *node_client = locate_node_client();
    if (node_argv != NULL && node_client != NULL) {
        node_argv[1] = node_client;
        for (int index = 1; index < argc; index++) node_argv[index + 1] = saved_argv[index];
        signal(SIGPIPE, SIG_DFL);
#ifdef CREDRELAY_NODE
        node_argv[0] = (char *)CREDRELAY_NODE;
        execv(CREDRELAY_NODE, node_argv);
        /* The Node that built us moved (a version manager, an upgrade): the one on PATH. */
#endif
        exec_node_on_path(node_argv);
    }
    static const char message[] =
        "credrelay: cannot start the Node client (node is not on PATH); reinstall credrelay or run `credrelay doctor`\n";
    (void)write_all(STDOUT_FILENO, message, sizeof message - 1);
    _exit(1);
}
