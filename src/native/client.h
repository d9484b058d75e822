/*
 * What the parts of the native client share (see main.c): the system headers, the generated facts, the types that
 * cross files and the functions each part offers the others. Only algorithms live in these C files; every value
 * the Node side also uses comes from native-config.h, written at build from the TypeScript.
 */
#ifndef CREDRELAY_CLIENT_H
#define CREDRELAY_CLIENT_H
#define _POSIX_C_SOURCE 200809L
#if defined(__linux__)
#define _GNU_SOURCE /* struct ucred, for SO_PEERCRED */
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "native-config.h" /* written at build from the TypeScript (src/native/native-config.ts) */

extern char **environ;

/* Bounds of this program's own (the ones shared with the Node side are in native-config.h). */
#define MAX_PATH_BYTES 4096
#define MAX_JSON_DEPTH 8

/* stdin as read for the request. */
struct input {
    unsigned char *bytes;
    size_t length;
    bool consumed; /* stdin was read: the Node client gets these bytes, then whatever is left unread */
};

/* A growable byte buffer with a hard bound. */
struct buffer {
    char *bytes;
    size_t length;
    size_t capacity;
};

/* The daemon's reply to a protocol request. */
struct reply {
    bool ok;
    bool has_ok;
    bool has_result;
    struct buffer stdout_text;
    struct buffer stderr_text;
    bool has_stdout;
    bool has_stderr;
    int exit_code; /* -1 until read */
};

/* handover.c: the Node client, by exec, with the same arguments (saved by main) and the same stdin. */
extern char **saved_argv;
bool write_all(int fd, const void *data, size_t length);
void hand_over(const struct input *input);

/* buffer.c */
bool buffer_reserve(struct buffer *buffer, size_t extra, size_t bound);
bool buffer_append(struct buffer *buffer, const void *data, size_t length, size_t bound);
bool buffer_string(struct buffer *buffer, const char *text, size_t bound);

/* socket-path.c */
bool socket_path_for_environment(char runtime_dir[MAX_PATH_BYTES], char socket_path[MAX_PATH_BYTES]);
bool runtime_dir_is_safe(const char *runtime_dir, const char *socket_path);
bool peer_is_ours(int fd);

/* request.c */
bool read_input(const char *action, struct input *input);
#define CALLER_BYTES 48
void parent_caller(char out[CALLER_BYTES]);
bool append_base64(struct buffer *out, const unsigned char *bytes, size_t length);
bool exchange(int fd, const struct buffer *request, struct buffer *line, bool *acknowledged);

/* reply.c */
bool parse_reply(const char *line, size_t length, struct reply *reply);

#endif
