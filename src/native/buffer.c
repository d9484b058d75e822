#include "client.h"

/* ---------------------------------------------------------------------------------------------------------------- */
/* A growable byte buffer with a hard bound. */

bool buffer_reserve(struct buffer *buffer, size_t extra, size_t bound) {
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

bool buffer_append(struct buffer *buffer, const void *data, size_t length, size_t bound) {
    if (!buffer_reserve(buffer, length, bound)) return false;
    if (length > 0) memcpy(buffer->bytes + buffer->length, data, length);
    buffer->length += length;
    return true;
}

bool buffer_string(struct buffer *buffer, const char *text, size_t bound) {
    return buffer_append(buffer, text, strlen(text), bound);
}
