#include "client.h"

/* ---------------------------------------------------------------------------------------------------------------- */
/* The daemon's reply: JSON as JSON.stringify writes it, read strictly. */

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
bool parse_reply(const char *line, size_t length, struct reply *reply) {
    struct parser parser = {line, line + length};
    if (!parse_object(&parser, reply_member, reply, 0)) return false;
    skip_space(&parser);
    return parser.cursor == parser.end && reply->has_ok && reply->ok && reply->has_result && reply->has_stdout &&
           reply->has_stderr && reply->exit_code != -1;
}
