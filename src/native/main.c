/*
 * docker-credential-credrelay, the native fast path.
 *
 * Docker runs the credential helper once per credential. A Node process cannot start faster than Node itself, but a
 * running daemon already holds every answer, so this program only carries one request to it: it finds the socket of
 * the caller's environment exactly as the Node client does (src/core/paths.ts), checks the runtime directory as the
 * Node client does (src/core/wire/runtime-dir.ts), sends the request of the wire contract (src/core/wire/contract.ts),
 * and prints the daemon's answer.
 *
 * It answers `get`, `store`, `erase` and `list`, and only when a daemon of its own version answers. For everything
 * else (no daemon, another version, a check that fails, a timeout, a reply it cannot read, `version`, `kubelet`, CLI
 * arguments, CREDRELAY_NO_DAEMON=1, CREDRELAY_NATIVE=0) it hands over to the Node client by exec with the same
 * arguments and the same standard input, so behaviour never differs, only speed. It never prints a notice of its own.
 *
 * C99 and POSIX, libc only. Every buffer is bounded; every wait has a deadline.
 */
#include "client.h"

int main(int argc, char **argv) {
    saved_argv = argv;
    signal(SIGPIPE, SIG_IGN);
    if (argc != 2) hand_over(NULL);
    const char *action = argv[1];
    bool answerable = strcmp(action, "get") == 0 || strcmp(action, "store") == 0 || strcmp(action, "erase") == 0 ||
                      strcmp(action, "list") == 0;
    const char *no_daemon = getenv("CREDRELAY_NO_DAEMON");
    const char *native = getenv("CREDRELAY_NATIVE");
    /* NODE_OPTIONS counts only as narrowed to the options a daemon may take (daemonNodeOptions): the Node client
     * decides, rather than this program guess at Node's option syntax. */
    const char *node_options = getenv("NODE_OPTIONS");
    if (!answerable || (no_daemon != NULL && strcmp(no_daemon, "1") == 0) || (native != NULL && strcmp(native, "0") == 0) ||
        (node_options != NULL && node_options[0] != '\0'))
        hand_over(NULL);

    char runtime_dir[MAX_PATH_BYTES];
    char socket_path[MAX_PATH_BYTES];
    if (!socket_path_for_environment(runtime_dir, socket_path) || !runtime_dir_is_safe(runtime_dir, socket_path))
        hand_over(NULL);

    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) hand_over(NULL);
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    memcpy(address.sun_path, socket_path, strlen(socket_path) + 1);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) hand_over(NULL);
    if (!peer_is_ours(fd)) hand_over(NULL);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

    struct input input;
    if (!read_input(action, &input)) hand_over(&input);

    struct buffer request = {0};
    char caller[CALLER_BYTES];
    parent_caller(caller);
    bool built = buffer_string(&request, "{\"v\":\"" CREDRELAY_VERSION "\",\"op\":\"protocol\",\"action\":\"", MAX_LINE_BYTES) &&
                 buffer_string(&request, action, MAX_LINE_BYTES) &&
                 buffer_string(&request, "\",\"input\":\"", MAX_LINE_BYTES) &&
                 append_base64(&request, input.bytes, input.length) &&
                 buffer_string(&request, "\",\"caller\":\"", MAX_LINE_BYTES) && buffer_string(&request, caller, MAX_LINE_BYTES) &&
                 buffer_string(&request, "\"}\n", MAX_LINE_BYTES);
    struct buffer line = {0};
    struct reply reply = {.exit_code = -1};
    bool acknowledged = false;
    if (!built || !exchange(fd, &request, &line, &acknowledged) || !parse_reply(line.bytes, line.length, &reply)) {
        close(fd);
        /* A daemon that took the request and then stalled or went away is not asked again: the Node client answers
         * in-process at once instead of waiting on the same daemon a second time. */
        if (acknowledged) setenv(HANDOVER_VARIABLE, HANDOVER_AFTER_ACK, 1);
        hand_over(&input);
    }
    close(fd);
    signal(SIGPIPE, SIG_DFL);
    if (reply.stderr_text.length > 0) (void)write_all(STDERR_FILENO, reply.stderr_text.bytes, reply.stderr_text.length);
    (void)write_all(STDOUT_FILENO, reply.stdout_text.bytes, reply.stdout_text.length);
    return reply.exit_code;
}
