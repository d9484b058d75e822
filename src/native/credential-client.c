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
#define _POSIX_C_SOURCE 200809L
#if defined(__linux__)
#define _GNU_SOURCE /* struct ucred, for SO_PEERCRED */
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
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

/* The bounds, deadlines and lists shared with the Node side come from native-config.h (src/native/native-config.ts). */
#define MAX_PATH_BYTES 4096
#define MAX_JSON_DEPTH 8

/* ---------------------------------------------------------------------------------------------------------------- */
/* Hand-over to the Node client. */

struct input {
    unsigned char *bytes;
    size_t length;
    bool consumed; /* stdin was read: the Node client gets these bytes, then whatever is left unread */
};

static char **saved_argv;

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

static bool write_all(int fd, const void *data, size_t length) {
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
 * Replaces this process with the Node client, same arguments. When stdin was already read, a child process feeds
 * the Node client a pipe with those bytes and then the rest of stdin, so that it reads exactly what we were given.
 */
static void hand_over(const struct input *input) {
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
        node_argv[0] = "node";
        execvp("node", node_argv);
    }
    static const char message[] =
        "credrelay: cannot start the Node client (node is not on PATH); reinstall credrelay or run `credrelay doctor`\n";
    (void)write_all(STDOUT_FILENO, message, sizeof message - 1);
    _exit(1);
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* A growable byte buffer with a hard bound. */

struct buffer {
    char *bytes;
    size_t length;
    size_t capacity;
};

static bool buffer_reserve(struct buffer *buffer, size_t extra, size_t bound) {
    if (extra > bound || buffer->length > bound - extra) return false;
    size_t needed = buffer->length + extra;
    if (needed <= buffer->capacity) return true;
    size_t capacity = buffer->capacity == 0 ? 256 : buffer->capacity;
    while (capacity < needed) capacity = capacity > bound / 2 ? bound : capacity * 2;
    char *grown = realloc(buffer->bytes, capacity);
    if (grown == NULL) return false;
    buffer->bytes = grown;
    buffer->capacity = capacity;
    return true;
}

static bool buffer_append(struct buffer *buffer, const void *data, size_t length, size_t bound) {
    if (!buffer_reserve(buffer, length, bound)) return false;
    if (length > 0) memcpy(buffer->bytes + buffer->length, data, length);
    buffer->length += length;
    return true;
}

static bool buffer_string(struct buffer *buffer, const char *text, size_t bound) {
    return buffer_append(buffer, text, strlen(text), bound);
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Paths, as src/core/paths.ts resolves them. */

/* path.posix.normalize of `path` into `out` (at most MAX_PATH_BYTES). */
static bool normalize_path(const char *path, char *out) {
    bool absolute = path[0] == '/';
    const char *segments[MAX_PATH_BYTES / 2];
    size_t lengths[MAX_PATH_BYTES / 2];
    size_t count = 0;
    const char *cursor = path;
    while (*cursor != '\0') {
        while (*cursor == '/') cursor++;
        if (*cursor == '\0') break;
        const char *start = cursor;
        while (*cursor != '\0' && *cursor != '/') cursor++;
        size_t length = (size_t)(cursor - start);
        if (length == 1 && start[0] == '.') continue;
        if (length == 2 && start[0] == '.' && start[1] == '.') {
            if (count > 0 && !(lengths[count - 1] == 2 && segments[count - 1][0] == '.' && segments[count - 1][1] == '.')) {
                count--;
                continue;
            }
            if (absolute) continue;
        }
        if (count == sizeof segments / sizeof segments[0]) return false;
        segments[count] = start;
        lengths[count] = length;
        count++;
    }
    size_t used = 0;
    if (absolute) out[used++] = '/';
    for (size_t index = 0; index < count; index++) {
        if (used + lengths[index] + 2 > MAX_PATH_BYTES) return false;
        if (index > 0) out[used++] = '/';
        memcpy(out + used, segments[index], lengths[index]);
        used += lengths[index];
    }
    if (used == 0) out[used++] = '.';
    out[used] = '\0';
    return true;
}

/* path.join(a, b[, c]) */
static bool join_path(char *out, const char *a, const char *b, const char *c) {
    char joined[MAX_PATH_BYTES * 2];
    int written = snprintf(joined, sizeof joined, "%s/%s%s%s", a, b, c ? "/" : "", c ? c : "");
    if (written < 0 || (size_t)written >= sizeof joined) return false;
    return normalize_path(joined, out);
}

/* An XDG base directory: the variable when it is an absolute path, else the fallback (the spec ignores others). */
static const char *xdg(const char *name, const char *fallback) {
    const char *value = getenv(name);
    return value != NULL && value[0] == '/' ? value : fallback;
}

/* os.homedir(): $HOME when set, else the password database. */
static const char *home_directory(void) {
    const char *home = getenv("HOME");
    if (home != NULL) return home;
    struct passwd *entry = getpwuid(geteuid());
    return entry != NULL && entry->pw_dir != NULL ? entry->pw_dir : NULL;
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* The environment's fingerprint, as relevantEnvironment and environmentFingerprint compute it. */

static const char *const RELEVANT_NAMES[] = {RELEVANT_NAME_LIST, NULL};
static const char *const RELEVANT_PREFIXES[] = {RELEVANT_PREFIX_LIST, NULL};

#define MAX_CONFIG_BYTES (4 * 1024 * 1024)
#define MAX_CONFIG_NAMES 4096

struct config_names {
    char *text; /* the configuration file; names point into it */
    const char *names[MAX_CONFIG_NAMES];
    size_t name_lengths[MAX_CONFIG_NAMES];
    bool is_prefix[MAX_CONFIG_NAMES];
    size_t count;
};

static bool is_name_start(char character) {
    return (character >= 'A' && character <= 'Z') || (character >= 'a' && character <= 'z') || character == '_';
}

static bool is_name_part(char character) {
    return is_name_start(character) || (character >= '0' && character <= '9');
}

/*
 * Every `"$?NAME"` and `"NAME*"` string of the configuration file, as the regular expression
 * /"\$?([A-Za-z_][A-Za-z0-9_]*)(\*)?"/g of namesInConfig finds them. Returns false when the file cannot be handled
 * here (too large, too many names): then the Node client decides.
 */
static bool read_config_names(const char *config_path, struct config_names *found) {
    found->count = 0;
    found->text = NULL;
    if (config_path[0] != '/') return true;
    int fd = open(config_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return true; /* unreadable: no names, as in Node */
    struct buffer text = {0};
    for (;;) {
        char chunk[65536];
        ssize_t got = read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            close(fd);
            free(text.bytes);
            return true;
        }
        if (got == 0) break;
        if (!buffer_append(&text, chunk, (size_t)got, MAX_CONFIG_BYTES)) {
            close(fd);
            free(text.bytes);
            return false;
        }
    }
    close(fd);
    if (!buffer_append(&text, "", 1, MAX_CONFIG_BYTES + 1)) {
        free(text.bytes);
        return false;
    }
    found->text = text.bytes;
    const char *cursor = text.bytes;
    const char *end = text.bytes + text.length - 1;
    while (cursor < end) {
        if (*cursor != '"') {
            cursor++;
            continue;
        }
        const char *name = cursor + 1;
        if (name < end && *name == '$') name++;
        if (name >= end || !is_name_start(*name)) {
            cursor++;
            continue;
        }
        const char *after = name + 1;
        while (after < end && is_name_part(*after)) after++;
        bool star = after < end && *after == '*';
        const char *closing = star ? after + 1 : after;
        if (closing >= end || *closing != '"') {
            cursor++;
            continue;
        }
        if (found->count == MAX_CONFIG_NAMES) return false;
        found->names[found->count] = name;
        found->name_lengths[found->count] = (size_t)(after - name);
        found->is_prefix[found->count] = star;
        found->count++;
        cursor = closing + 1;
    }
    return true;
}

static bool has_prefix(const char *name, size_t name_length, const char *prefix, size_t prefix_length) {
    return name_length >= prefix_length && memcmp(name, prefix, prefix_length) == 0;
}

static bool is_relevant(const char *name, size_t length, const struct config_names *config) {
    for (size_t index = 0; RELEVANT_NAMES[index] != NULL; index++) {
        if (strlen(RELEVANT_NAMES[index]) == length && memcmp(RELEVANT_NAMES[index], name, length) == 0) return true;
    }
    for (size_t index = 0; RELEVANT_PREFIXES[index] != NULL; index++) {
        if (has_prefix(name, length, RELEVANT_PREFIXES[index], strlen(RELEVANT_PREFIXES[index]))) return true;
    }
    for (size_t index = 0; index < config->count; index++) {
        size_t named = config->name_lengths[index];
        if (config->is_prefix[index] ? has_prefix(name, length, config->names[index], named)
                                     : (named == length && memcmp(config->names[index], name, length) == 0))
            return true;
    }
    return false;
}

struct hash {
    uint32_t h1;
    uint32_t h2;
};

static void hash_unit(struct hash *hash, uint32_t code) {
    hash->h1 = (hash->h1 ^ code) * HASH_MULTIPLIER_1;
    hash->h2 = (hash->h2 ^ code) * HASH_MULTIPLIER_2;
}

/*
 * Feeds the UTF-16 code units of UTF-8 `text` (as JavaScript's charCodeAt sees the string). Returns false for bytes
 * that are not well-formed UTF-8, whose decoding Node would replace: the Node client handles those environments.
 */
static bool hash_utf8(struct hash *hash, const unsigned char *text, size_t length) {
    size_t index = 0;
    while (index < length) {
        uint32_t byte = text[index];
        uint32_t point;
        size_t extra;
        if (byte < 0x80) {
            point = byte;
            extra = 0;
        } else if (byte >= 0xc2 && byte <= 0xdf) {
            point = byte & 0x1f;
            extra = 1;
        } else if (byte >= 0xe0 && byte <= 0xef) {
            point = byte & 0x0f;
            extra = 2;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
            point = byte & 0x07;
            extra = 3;
        } else {
            return false;
        }
        if (extra > length - index - 1) return false;
        for (size_t next = 1; next <= extra; next++) {
            uint32_t continuation = text[index + next];
            if ((continuation & 0xc0) != 0x80) return false;
            point = (point << 6) | (continuation & 0x3f);
        }
        if ((extra == 2 && (point < 0x800 || (point >= 0xd800 && point <= 0xdfff))) ||
            (extra == 3 && (point < 0x10000 || point > 0x10ffff)))
            return false;
        if (point >= 0x10000) {
            point -= 0x10000;
            hash_unit(hash, 0xd800 + (point >> 10));
            hash_unit(hash, 0xdc00 + (point & 0x3ff));
        } else {
            hash_unit(hash, point);
        }
        index += extra + 1;
    }
    return true;
}

static int compare_entries(const void *left, const void *right) {
    const char *a = *(const char *const *)left;
    const char *b = *(const char *const *)right;
    /* By name (up to '='), in code unit order: byte order for the ASCII names checked below. */
    for (;; a++, b++) {
        char x = *a == '=' ? '\0' : *a;
        char y = *b == '=' ? '\0' : *b;
        if (x != y) return (unsigned char)x < (unsigned char)y ? -1 : 1;
        if (x == '\0') return 0;
    }
}

/* The 16 hex digits of environmentFingerprint(relevantEnvironment(env, configPath)); false to let Node decide. */
static bool environment_fingerprint(const char *config_path, char out[17]) {
    struct config_names *config = calloc(1, sizeof *config);
    if (config == NULL || !read_config_names(config_path, config)) {
        if (config != NULL) free(config->text);
        free(config);
        return false;
    }
    size_t total = 0;
    while (environ[total] != NULL) total++;
    const char **relevant = calloc(total + 1, sizeof *relevant);
    bool ok = relevant != NULL;
    size_t count = 0;
    for (size_t index = 0; ok && index < total; index++) {
        const char *entry = environ[index];
        const char *equals = strchr(entry, '=');
        if (equals == NULL || equals == entry) continue;
        size_t length = (size_t)(equals - entry);
        for (size_t at = 0; at < length; at++) {
            if ((unsigned char)entry[at] >= 0x80) ok = false; /* sorted by UTF-16 in Node: not ours to guess */
        }
        if (ok && is_relevant(entry, length, config)) relevant[count++] = entry;
    }
    if (ok) qsort(relevant, count, sizeof *relevant, compare_entries);
    for (size_t index = 1; ok && index < count; index++) {
        if (compare_entries(&relevant[index - 1], &relevant[index]) == 0) ok = false; /* a name twice */
    }
    struct hash hash = {HASH_SEED_1, HASH_SEED_2};
    for (size_t index = 0; ok && index < count; index++) {
        const char *entry = relevant[index];
        const char *equals = strchr(entry, '=');
        ok = hash_utf8(&hash, (const unsigned char *)entry, (size_t)(equals - entry));
        hash_unit(&hash, 0);
        ok = ok && hash_utf8(&hash, (const unsigned char *)equals + 1, strlen(equals + 1));
        hash_unit(&hash, 0);
    }
    free(relevant);
    free(config->text);
    free(config);
    if (!ok) return false;
    uint32_t h1 = hash.h1;
    uint32_t h2 = hash.h2;
    uint32_t mixed1 = ((h1 ^ (h1 >> 16)) * HASH_MIXER_1) ^ ((h2 ^ (h2 >> 13)) * HASH_MIXER_2);
    uint32_t mixed2 = ((h2 ^ (h2 >> 16)) * HASH_MIXER_1) ^ ((mixed1 ^ (mixed1 >> 13)) * HASH_MIXER_2);
    snprintf(out, 17, "%08x%08x", (unsigned)mixed2, (unsigned)mixed1);
    return true;
}

/* The daemon's socket for this caller's environment; false when the Node client must decide. */
static bool socket_path_for_environment(char runtime_dir[MAX_PATH_BYTES], char socket_path[MAX_PATH_BYTES]) {
    const char *home = home_directory();
    if (home == NULL || home[0] == '\0') return false;
    char fallback[MAX_PATH_BYTES];
    char cache_home[MAX_PATH_BYTES];
    char config_home[MAX_PATH_BYTES];
    char config_path[MAX_PATH_BYTES];
#if defined(__APPLE__)
    if (!join_path(fallback, home, "Library/Caches", NULL)) return false;
#else
    if (!join_path(fallback, home, ".cache", NULL)) return false;
#endif
    snprintf(cache_home, sizeof cache_home, "%s", xdg("XDG_CACHE_HOME", fallback));
    const char *runtime_override = getenv("CREDRELAY_RUNTIME_DIR");
    const char *xdg_runtime = xdg("XDG_RUNTIME_DIR", "");
    if (runtime_override != NULL && runtime_override[0] != '\0') {
        /* A relative directory would be another one for the daemon (which runs in /): the Node client refuses it. */
        if (runtime_override[0] != '/') return false;
        if (!normalize_path(runtime_override, runtime_dir)) return false;
    } else if (xdg_runtime[0] != '\0') {
        if (!join_path(runtime_dir, xdg_runtime, "credrelay", NULL)) return false;
    } else if (!join_path(runtime_dir, cache_home, "credrelay", "run")) {
        return false;
    }
    const char *config_override = getenv("CREDRELAY_CONFIG");
    if (!join_path(fallback, home, ".config", NULL)) return false;
    snprintf(config_home, sizeof config_home, "%s", xdg("XDG_CONFIG_HOME", fallback));
    if (config_override != NULL && config_override[0] != '\0') {
        snprintf(config_path, sizeof config_path, "%s", config_override);
    } else if (!join_path(config_path, config_home, "credrelay", "config.json")) {
        return false;
    }
    char fingerprint[17];
    if (!environment_fingerprint(config_path, fingerprint)) return false;
    char name[sizeof SOCKET_PREFIX + 16 + sizeof SOCKET_SUFFIX];
    snprintf(name, sizeof name, "%s%s%s", SOCKET_PREFIX, fingerprint, SOCKET_SUFFIX);
    return join_path(socket_path, runtime_dir, name, NULL);
}

#ifndef S_ISVTX
#define S_ISVTX 01000
#endif

/* untrustedAncestor: each directory above it ours or root's, and writable by others only when sticky. */
static bool ancestors_are_safe(const char *runtime_dir) {
    char path[MAX_PATH_BYTES];
    snprintf(path, sizeof path, "%s", runtime_dir);
    for (;;) {
        char *slash = strrchr(path, '/');
        if (slash == NULL) return false;
        if (slash == path) slash[1] = '\0'; else *slash = '\0';
        struct stat status;
        if (stat(path, &status) != 0) return false;
        if (status.st_uid != getuid() && status.st_uid != 0) return false;
        if ((status.st_mode & 022) != 0 && (status.st_mode & S_ISVTX) == 0) return false;
        if (strcmp(path, "/") == 0) return true;
    }
}

/* inspectRuntimeDir: a real directory of ours that nobody else can write, under ancestors nobody else can swap it
 * in, and a socket path that fits whole. */
static bool runtime_dir_is_safe(const char *runtime_dir, const char *socket_path) {
    if (strlen(socket_path) > MAX_SOCKET_PATH_BYTES) return false;
    struct stat status;
    if (lstat(runtime_dir, &status) != 0) return false;
    if (!S_ISDIR(status.st_mode) || status.st_uid != getuid() || (status.st_mode & 022) != 0) return false;
    if (!ancestors_are_safe(runtime_dir)) return false;
    return lstat(socket_path, &status) == 0 && S_ISSOCK(status.st_mode);
}

/* The process at the other end of the socket is this user's (a daemon of ours), checked on the connection itself, so
 * that no swap of the directory between the check above and the connect can hand the request to someone else. */
static bool peer_is_ours(int fd) {
#if defined(SO_PEERCRED)
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return false;
    return credentials.uid == getuid();
#else
    uid_t uid;
    gid_t gid;
    if (getpeereid(fd, &uid, &gid) != 0) return false;
    return uid == getuid();
#endif
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* stdin, and the request. */

static bool read_input(const char *action, struct input *input) {
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

static bool append_base64(struct buffer *out, const unsigned char *bytes, size_t length) {
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

/* ---------------------------------------------------------------------------------------------------------------- */
/* The daemon's reply: JSON as JSON.stringify writes it, read strictly. */

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

struct parser {
    const char *cursor;
    const char *end;
};

static void skip_space(struct parser *parser) {
    while (parser->cursor < parser->end &&
           (*parser->cursor == ' ' || *parser->cursor == '\t' || *parser->cursor == '\n' || *parser->cursor == '\r'))
        parser->cursor++;
}

static bool expect_char(struct parser *parser, char character) {
    skip_space(parser);
    if (parser->cursor >= parser->end || *parser->cursor != character) return false;
    parser->cursor++;
    return true;
}

static bool append_utf8(struct buffer *out, uint32_t point) {
    unsigned char bytes[4];
    size_t length;
    if (point < 0x80) {
        bytes[0] = (unsigned char)point;
        length = 1;
    } else if (point < 0x800) {
        bytes[0] = (unsigned char)(0xc0 | (point >> 6));
        bytes[1] = (unsigned char)(0x80 | (point & 0x3f));
        length = 2;
    } else if (point < 0x10000) {
        bytes[0] = (unsigned char)(0xe0 | (point >> 12));
        bytes[1] = (unsigned char)(0x80 | ((point >> 6) & 0x3f));
        bytes[2] = (unsigned char)(0x80 | (point & 0x3f));
        length = 3;
    } else {
        bytes[0] = (unsigned char)(0xf0 | (point >> 18));
        bytes[1] = (unsigned char)(0x80 | ((point >> 12) & 0x3f));
        bytes[2] = (unsigned char)(0x80 | ((point >> 6) & 0x3f));
        bytes[3] = (unsigned char)(0x80 | (point & 0x3f));
        length = 4;
    }
    return buffer_append(out, bytes, length, MAX_LINE_BYTES);
}

static bool read_hex4(struct parser *parser, uint32_t *value) {
    if (parser->end - parser->cursor < 4) return false;
    *value = 0;
    for (int index = 0; index < 4; index++) {
        char digit = *parser->cursor++;
        uint32_t nibble;
        if (digit >= '0' && digit <= '9') nibble = (uint32_t)(digit - '0');
        else if (digit >= 'a' && digit <= 'f') nibble = (uint32_t)(digit - 'a' + 10);
        else if (digit >= 'A' && digit <= 'F') nibble = (uint32_t)(digit - 'A' + 10);
        else return false;
        *value = (*value << 4) | nibble;
    }
    return true;
}

/*
 * A JSON string into `out` (NULL to skip it), as UTF-8 the way Node writes the decoded string: a lone surrogate
 * becomes U+FFFD.
 */
static bool parse_string(struct parser *parser, struct buffer *out) {
    struct buffer scratch = {0};
    struct buffer *target = out != NULL ? out : &scratch;
    bool ok = expect_char(parser, '"');
    while (ok) {
        if (parser->cursor >= parser->end) {
            ok = false;
            break;
        }
        unsigned char character = (unsigned char)*parser->cursor++;
        if (character == '"') break;
        if (character < 0x20) {
            ok = false;
        } else if (character != '\\') {
            ok = out == NULL || buffer_append(target, &character, 1, MAX_LINE_BYTES);
        } else if (parser->cursor >= parser->end) {
            ok = false;
        } else {
            char escape = *parser->cursor++;
            uint32_t point = 0;
            switch (escape) {
            case '"': point = '"'; break;
            case '\\': point = '\\'; break;
            case '/': point = '/'; break;
            case 'b': point = '\b'; break;
            case 'f': point = '\f'; break;
            case 'n': point = '\n'; break;
            case 'r': point = '\r'; break;
            case 't': point = '\t'; break;
            case 'u':
                ok = read_hex4(parser, &point);
                if (ok && point >= 0xd800 && point <= 0xdbff && parser->end - parser->cursor >= 6 &&
                    parser->cursor[0] == '\\' && parser->cursor[1] == 'u') {
                    struct parser look = {parser->cursor + 2, parser->end};
                    uint32_t low;
                    if (read_hex4(&look, &low) && low >= 0xdc00 && low <= 0xdfff) {
                        point = 0x10000 + ((point - 0xd800) << 10) + (low - 0xdc00);
                        parser->cursor = look.cursor;
                    }
                }
                if (point >= 0xd800 && point <= 0xdfff) point = 0xfffd;
                break;
            default: ok = false;
            }
            if (ok && out != NULL) ok = append_utf8(target, point);
        }
    }
    free(scratch.bytes);
    return ok;
}

static bool parse_value(struct parser *parser, int depth);

static bool parse_literal(struct parser *parser, const char *literal) {
    size_t length = strlen(literal);
    if ((size_t)(parser->end - parser->cursor) < length || memcmp(parser->cursor, literal, length) != 0) return false;
    parser->cursor += length;
    return true;
}

static bool parse_number(struct parser *parser, long *value) {
    skip_space(parser);
    const char *start = parser->cursor;
    bool negative = parser->cursor < parser->end && *parser->cursor == '-';
    if (negative) parser->cursor++;
    long result = 0;
    int digits = 0;
    while (parser->cursor < parser->end && *parser->cursor >= '0' && *parser->cursor <= '9') {
        if (digits++ > 9) return false;
        result = result * 10 + (*parser->cursor++ - '0');
    }
    /* Fractions and exponents are valid JSON the daemon never writes here; skip them for generic values. */
    while (parser->cursor < parser->end && (strchr(".eE+-0123456789", *parser->cursor) != NULL)) parser->cursor++;
    if (digits == 0) {
        parser->cursor = start;
        return false;
    }
    if (value != NULL) *value = negative ? -result : result;
    return true;
}

/*
 * The reply's exit code, strictly: the JSON number 0 or 1 as the daemon writes it, nothing else (`01`, `1.5`, `1e0`
 * and `-0` are refused, so that a reply not written by the daemon is handed over rather than half-believed).
 */
static bool parse_exit_code(struct parser *parser, long *value) {
    skip_space(parser);
    if (parser->cursor >= parser->end || (*parser->cursor != '0' && *parser->cursor != '1')) return false;
    const char digit = *parser->cursor++;
    if (parser->cursor < parser->end && strchr(".eE+-0123456789", *parser->cursor) != NULL) return false;
    *value = digit - '0';
    return true;
}

/* An object whose members are handed to `member` (key already read); NULL skips every member. */
typedef bool (*member_handler)(struct parser *parser, const struct buffer *key, void *context, int depth);

static bool parse_object(struct parser *parser, member_handler member, void *context, int depth) {
    if (depth > MAX_JSON_DEPTH || !expect_char(parser, '{')) return false;
    skip_space(parser);
    if (parser->cursor < parser->end && *parser->cursor == '}') {
        parser->cursor++;
        return true;
    }
    for (;;) {
        struct buffer key = {0};
        bool ok = parse_string(parser, &key) && expect_char(parser, ':');
        if (ok) ok = member != NULL ? member(parser, &key, context, depth) : parse_value(parser, depth + 1);
        free(key.bytes);
        if (!ok) return false;
        skip_space(parser);
        if (parser->cursor < parser->end && *parser->cursor == ',') {
            parser->cursor++;
            continue;
        }
        return expect_char(parser, '}');
    }
}

static bool parse_value(struct parser *parser, int depth) {
    skip_space(parser);
    if (depth > MAX_JSON_DEPTH || parser->cursor >= parser->end) return false;
    switch (*parser->cursor) {
    case '{': return parse_object(parser, NULL, NULL, depth);
    case '[':
        parser->cursor++;
        skip_space(parser);
        if (parser->cursor < parser->end && *parser->cursor == ']') {
            parser->cursor++;
            return true;
        }
        for (;;) {
            if (!parse_value(parser, depth + 1)) return false;
            skip_space(parser);
            if (parser->cursor < parser->end && *parser->cursor == ',') {
                parser->cursor++;
                continue;
            }
            return expect_char(parser, ']');
        }
    case '"': return parse_string(parser, NULL);
    case 't': return parse_literal(parser, "true");
    case 'f': return parse_literal(parser, "false");
    case 'n': return parse_literal(parser, "null");
    default: return parse_number(parser, NULL);
    }
}

static bool key_is(const struct buffer *key, const char *name) {
    return key->length == strlen(name) && memcmp(key->bytes, name, key->length) == 0;
}

static bool result_member(struct parser *parser, const struct buffer *key, void *context, int depth) {
    struct reply *reply = context;
    if (key_is(key, "stdout")) {
        if (reply->has_stdout) return false;
        reply->has_stdout = true;
        return parse_string(parser, &reply->stdout_text);
    }
    if (key_is(key, "stderr")) {
        if (reply->has_stderr) return false;
        reply->has_stderr = true;
        return parse_string(parser, &reply->stderr_text);
    }
    if (key_is(key, "exitCode")) {
        long code;
        if (reply->exit_code != -1 || !parse_exit_code(parser, &code)) return false;
        reply->exit_code = (int)code;
        return true;
    }
    return parse_value(parser, depth + 1);
}

static bool reply_member(struct parser *parser, const struct buffer *key, void *context, int depth) {
    struct reply *reply = context;
    if (key_is(key, "ok")) {
        skip_space(parser);
        if (reply->has_ok) return false;
        reply->has_ok = true;
        reply->ok = parse_literal(parser, "true");
        return reply->ok || parse_literal(parser, "false");
    }
    if (key_is(key, "result")) {
        skip_space(parser);
        if (reply->has_result || parser->cursor >= parser->end || *parser->cursor != '{') return false;
        reply->has_result = true;
        return parse_object(parser, result_member, reply, depth + 1);
    }
    return parse_value(parser, depth + 1);
}

/* True for a successful protocol reply with stdout, stderr and an exit code; anything else is for Node. */
static bool parse_reply(const char *line, size_t length, struct reply *reply) {
    struct parser parser = {line, line + length};
    if (!parse_object(&parser, reply_member, reply, 0)) return false;
    skip_space(&parser);
    return parser.cursor == parser.end && reply->has_ok && reply->ok && reply->has_result && reply->has_stdout &&
           reply->has_stderr && reply->exit_code != -1;
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

/* Sends the request and reads the reply line after the ack. Returns false for anything but a reply line. */
static bool exchange(int fd, const struct buffer *request, struct buffer *line) {
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
    return ok;
}

int main(int argc, char **argv) {
    saved_argv = argv;
    signal(SIGPIPE, SIG_IGN);
    if (argc != 2) hand_over(NULL);
    const char *action = argv[1];
    bool answerable = strcmp(action, "get") == 0 || strcmp(action, "store") == 0 || strcmp(action, "erase") == 0 ||
                      strcmp(action, "list") == 0;
    const char *no_daemon = getenv("CREDRELAY_NO_DAEMON");
    const char *native = getenv("CREDRELAY_NATIVE");
    if (!answerable || (no_daemon != NULL && strcmp(no_daemon, "1") == 0) || (native != NULL && strcmp(native, "0") == 0))
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
    bool built = buffer_string(&request, "{\"v\":\"" CREDRELAY_VERSION "\",\"op\":\"protocol\",\"action\":\"", MAX_LINE_BYTES) &&
                 buffer_string(&request, action, MAX_LINE_BYTES) &&
                 buffer_string(&request, "\",\"input\":\"", MAX_LINE_BYTES) &&
                 append_base64(&request, input.bytes, input.length) && buffer_string(&request, "\"}\n", MAX_LINE_BYTES);
    struct buffer line = {0};
    struct reply reply = {.exit_code = -1};
    if (!built || !exchange(fd, &request, &line) || !parse_reply(line.bytes, line.length, &reply)) {
        close(fd);
        hand_over(&input);
    }
    close(fd);
    signal(SIGPIPE, SIG_DFL);
    if (reply.stderr_text.length > 0) (void)write_all(STDERR_FILENO, reply.stderr_text.bytes, reply.stderr_text.length);
    (void)write_all(STDOUT_FILENO, reply.stdout_text.bytes, reply.stdout_text.length);
    return reply.exit_code;
}
