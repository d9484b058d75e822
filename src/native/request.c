#include "client.h"

/* ---------------------------------------------------------------------------------------------------------------- */
/* stdin, and the request. */

bool read_input(const char *action, struct input *input) {
    input->bytes = NULL;
    input->length = 0;
    input->consumed = false;
    if (strcmp(action, "list") == 0) return true;
    size_t limit = (strcmp(action, "store") == 0 ? MAX_STORE_BYTES : MAX_SERVER_URL_BYTES) + 1;
    input->bytes = malloc(limit);
    if (input->bytes == NULL) return false;
    input->consumed = true;
    while (input->length < limit) {
        ssize_t got = read(STDIN_FILENO, input->bytes + input->length, limit - input->length);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && errno == EBADF) break; /* no stdin at all: empty input, as in Node */
        if (got < 0) return false;
        if (got == 0) break;
        input->length += (size_t)got;
    }
    return true;
}

bool append_base64(struct buffer *out, const unsigned char *bytes, size_t length) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!buffer_reserve(out, (length + 2) / 3 * 4, MAX_LINE_BYTES)) return false;
    for (size_t index = 0; index < length; index += 3) {
        uint32_t chunk = (uint32_t)bytes[index] << 16;
        if (index + 1 < length) chunk |= (uint32_t)bytes[index + 1] << 8;
        if (index + 2 < length) chunk |= bytes[index + 2];
        char quad[4] = {alphabet[(chunk >> 18) & 63], alphabet[(chunk >> 12) & 63],
                        index + 1 < length ? alphabet[(chunk >> 6) & 63] : '=',
                        index + 2 < length ? alphabet[chunk & 63] : '='};
        buffer_append(out, quad, 4, MAX_LINE_BYTES);
    }
    return true;
}

/* The program that ran us, as `PID:START_TICKS` (field 22 of /proc/PID/stat), as the Node client names its caller
 * (processStartTicks); the start time 0 when it cannot be read. */
void parent_caller(char out[CALLER_BYTES]) {
    pid_t parent = getppid();
    unsigned long long ticks = 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)parent);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char stat[1024];
        ssize_t got = read(fd, stat, sizeof stat - 1);
        close(fd);
        if (got > 0) {
            stat[got] = '\0';
            char *field = strrchr(stat, ')'); /* the command name may hold spaces and parentheses */
            for (int index = 0; field != NULL && index < 20; index++) field = strchr(field + 1, ' ');
            if (field != NULL) ticks = strtoull(field + 1, NULL, 10);
        }
    }
    snprintf(out, CALLER_BYTES, "%d:%llu", (int)parent, ticks);
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* One request on one connection, with the ack and reply deadlines. */

static long long now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Waits for `events` on `fd` until `deadline`; false on timeout or error. */
static bool wait_for(int fd, short events, long long deadline) {
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) return false;
        struct pollfd entry = {fd, events, 0};
        int ready = poll(&entry, 1, (int)left);
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) return false;
        return (entry.revents & (events | POLLHUP)) != 0;
    }
}

/* Sends the request and reads the reply line after the ack. Returns false for anything but a reply line; says in
 * `acknowledged` whether the daemon had taken the request (then it is not to be asked again). */
bool exchange(int fd, const struct buffer *request, struct buffer *line, bool *acknowledged_out) {
    long long deadline = now_ms() + ACK_MS;
    const char *cursor = request->bytes;
    size_t left = request->length;
    while (left > 0) {
        if (!wait_for(fd, POLLOUT, deadline)) return false;
        ssize_t written = write(fd, cursor, left);
        if (written < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (written <= 0) return false;
        cursor += written;
        left -= (size_t)written;
    }
    struct buffer received = {0};
    bool acknowledged = false;
    bool ok = false;
    size_t line_start = 0;
    for (;;) {
        if (!wait_for(fd, POLLIN, deadline)) break;
        char chunk[65536];
        ssize_t got = read(fd, chunk, sizeof chunk);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) break;
        if (!buffer_append(&received, chunk, (size_t)got, MAX_LINE_BYTES + 64)) break;
        char *newline;
        bool done = false;
        while ((newline = memchr(received.bytes + line_start, '\n', received.length - line_start)) != NULL) {
            size_t length = (size_t)(newline - (received.bytes + line_start));
            if (!acknowledged) {
                if (length != 12 || memcmp(received.bytes + line_start, "{\"ack\":true}", 12) != 0) {
                    done = true;
                    break;
                }
                acknowledged = true;
                deadline = now_ms() + REPLY_MS;
                line_start += length + 1;
                continue;
            }
            ok = buffer_append(line, received.bytes + line_start, length, MAX_LINE_BYTES);
            done = true;
            break;
        }
        if (done) break;
    }
    free(received.bytes);
    *acknowledged_out = acknowledged;
    return ok;
}
