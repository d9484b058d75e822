#include "client.h"

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

/*
 * os.homedir(): $HOME when set, else the user's line of /etc/passwd, read directly rather than through getpwuid: the
 * client is linked statically (it runs on glibc and musl machines alike), and a static glibc cannot load the NSS
 * modules getpwuid needs. Users known only to a directory service (LDAP, sssd) have HOME set by their login.
 */
static const char *home_directory(void) {
    const char *home = getenv("HOME");
    if (home != NULL) return home;
    static char found[MAX_PATH_BYTES];
    int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    static char text[1 << 16];
    size_t length = 0;
    for (;;) {
        ssize_t got = read(fd, text + length, sizeof text - 1 - length);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        length += (size_t)got;
        if (length == sizeof text - 1) break;
    }
    close(fd);
    text[length] = '\0';
    char uid[24];
    snprintf(uid, sizeof uid, "%u", (unsigned)geteuid());
    /* name:password:uid:gid:gecos:home:shell */
    for (char *line = text; line != NULL && *line != '\0';) {
        char *next = strchr(line, '\n');
        if (next != NULL) *next++ = '\0';
        char *fields[7] = {0};
        char *cursor = line;
        int count = 0;
        while (count < 7 && cursor != NULL) {
            fields[count++] = cursor;
            cursor = strchr(cursor, ':');
            if (cursor != NULL) *cursor++ = '\0';
        }
        if (count >= 6 && strcmp(fields[2], uid) == 0 && fields[5][0] == '/') {
            snprintf(found, sizeof found, "%s", fields[5]);
            return found;
        }
        line = next;
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* The environment's fingerprint, as relevantEnvironment and environmentFingerprint compute it. */

static const char *const IGNORED_NAMES[] = {IGNORED_NAME_LIST, NULL};
static const char *const IGNORED_PREFIXES[] = {IGNORED_PREFIX_LIST, NULL};

static bool has_prefix(const char *name, size_t name_length, const char *prefix, size_t prefix_length) {
    return name_length >= prefix_length && memcmp(name, prefix, prefix_length) == 0;
}

/* isIgnoredVariable: every variable counts but these (exact names, case and all). */
static bool is_ignored(const char *name, size_t length) {
    for (size_t index = 0; IGNORED_NAMES[index] != NULL; index++) {
        if (strlen(IGNORED_NAMES[index]) == length && memcmp(IGNORED_NAMES[index], name, length) == 0) return true;
    }
    for (size_t index = 0; IGNORED_PREFIXES[index] != NULL; index++) {
        if (has_prefix(name, length, IGNORED_PREFIXES[index], strlen(IGNORED_PREFIXES[index]))) return true;
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

/* The 16 hex digits of environmentFingerprint(relevantEnvironment(env)); false to let Node decide. */
static bool environment_fingerprint(char out[17]) {
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
        if (ok && !is_ignored(entry, length)) relevant[count++] = entry;
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
    if (!ok) return false;
    uint32_t h1 = hash.h1;
    uint32_t h2 = hash.h2;
    uint32_t mixed1 = ((h1 ^ (h1 >> 16)) * HASH_MIXER_1) ^ ((h2 ^ (h2 >> 13)) * HASH_MIXER_2);
    uint32_t mixed2 = ((h2 ^ (h2 >> 16)) * HASH_MIXER_1) ^ ((mixed1 ^ (mixed1 >> 13)) * HASH_MIXER_2);
    snprintf(out, 17, "%08x%08x", (unsigned)mixed2, (unsigned)mixed1);
    return true;
}

/* The daemon's socket for this caller's environment; false when the Node client must decide. */
bool socket_path_for_environment(char runtime_dir[MAX_PATH_BYTES], char socket_path[MAX_PATH_BYTES]) {
    const char *home = home_directory();
    if (home == NULL || home[0] == '\0') return false;
    char fallback[MAX_PATH_BYTES];
    char cache_home[MAX_PATH_BYTES];
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
    char fingerprint[17];
    if (!environment_fingerprint(fingerprint)) return false;
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
bool runtime_dir_is_safe(const char *runtime_dir, const char *socket_path) {
    if (strlen(socket_path) > MAX_SOCKET_PATH_BYTES) return false;
    struct stat status;
    if (lstat(runtime_dir, &status) != 0) return false;
    if (!S_ISDIR(status.st_mode) || status.st_uid != getuid() || (status.st_mode & 022) != 0) return false;
    if (!ancestors_are_safe(runtime_dir)) return false;
    return lstat(socket_path, &status) == 0 && S_ISSOCK(status.st_mode);
}

/* The process at the other end of the socket is this user's (a daemon of ours), checked on the connection itself, so
 * that no swap of the directory between the check above and the connect can hand the request to someone else. */
bool peer_is_ours(int fd) {
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
