/* See json-reply.h. Recursion is bounded by MAX_DEPTH; input by the caller's line limit. */
#include "json-reply.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 10000

struct reader {
	const char *p, *end;
	int depth;
};

/* The UTF-8 forms of the non-ASCII characters String.prototype.trim() removes. */
static const char *const UNICODE_SPACES[] = {
	"\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\x81", "\xe2\x80\x82", "\xe2\x80\x83", "\xe2\x80\x84",
	"\xe2\x80\x85", "\xe2\x80\x86", "\xe2\x80\x87", "\xe2\x80\x88", "\xe2\x80\x89", "\xe2\x80\x8a", "\xe2\x80\xa8",
	"\xe2\x80\xa9", "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80", "\xef\xbb\xbf",
};

int json_blank(const char *s, const char *end)
{
	while (s < end) {
		if (*s == ' ' || (*s >= '\t' && *s <= '\r')) {
			s++;
			continue;
		}
		size_t i, n = 0;
		for (i = 0; i < sizeof UNICODE_SPACES / sizeof *UNICODE_SPACES; i++) {
			n = strlen(UNICODE_SPACES[i]);
			if ((size_t)(end - s) >= n && memcmp(s, UNICODE_SPACES[i], n) == 0) break;
		}
		if (i == sizeof UNICODE_SPACES / sizeof *UNICODE_SPACES) return 0;
		s += n;
	}
	return 1;
}

static void skip_ws(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/*
 * A string at r->p. *equals: its decoded text is `want` (ASCII; NULL: not compared). Its
 * printable ASCII is copied to out (NULL: not kept).
 */
static int read_string(struct reader *r, const char *want, int *equals, char *out, size_t out_size)
{
	size_t wi = 0, oi = 0;
	int same = want != NULL;
	if (r->p >= r->end || *r->p != '"') return -1;
	r->p++;
	for (;;) {
		if (r->p >= r->end) return -1;
		unsigned char c = (unsigned char)*r->p++;
		unsigned unit = c;
		if (c == '"') break;
		if (c < 0x20) return -1;
		if (c == '\\') {
			if (r->p >= r->end) return -1;
			switch (*r->p++) {
			case '"': unit = '"'; break;
			case '\\': unit = '\\'; break;
			case '/': unit = '/'; break;
			case 'b': unit = '\b'; break;
			case 'f': unit = '\f'; break;
			case 'n': unit = '\n'; break;
			case 'r': unit = '\r'; break;
			case 't': unit = '\t'; break;
			case 'u':
				unit = 0;
				for (int i = 0; i < 4; i++) {
					int d = r->p < r->end ? hex_value(*r->p++) : -1;
					if (d < 0) return -1;
					unit = unit * 16 + (unsigned)d;
				}
				break;
			default: return -1;
			}
		}
		/* A byte >= 0x80 is part of a non-ASCII character: never equal to ASCII `want`. */
		if (same && (unit >= 0x80 || want[wi] == '\0' || (unsigned char)want[wi] != unit)) same = 0;
		else if (same) wi++;
		if (out && oi + 1 < out_size && unit >= 0x20 && unit < 0x7f) out[oi++] = (char)unit;
	}
	if (out && out_size) out[oi] = '\0';
	if (equals) *equals = same && want[wi] == '\0';
	return 0;
}

static int digits(struct reader *r)
{
	const char *start = r->p;
	while (r->p < r->end && *r->p >= '0' && *r->p <= '9') r->p++;
	return r->p > start ? 0 : -1;
}

/* A number at r->p (JSON's grammar); its value through strtod (the line ends in '\0'). */
static int read_number(struct reader *r, double *value)
{
	const char *start = r->p;
	if (r->p < r->end && *r->p == '-') r->p++;
	if (r->p < r->end && *r->p == '0') r->p++;
	else if (digits(r)) return -1;
	if (r->p < r->end && *r->p == '.') {
		r->p++;
		if (digits(r)) return -1;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-')) r->p++;
		if (digits(r)) return -1;
	}
	if (value) *value = strtod(start, NULL);
	return 0;
}

static int literal(struct reader *r, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) return -1;
	r->p += n;
	return 0;
}

static int read_value(struct reader *r);

/* An object or array: `member` reads one element. */
static int read_members(struct reader *r, char close, int (*member)(struct reader *, void *), void *ctx)
{
	if (++r->depth > MAX_DEPTH) return -1;
	r->p++;
	skip_ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		r->depth--;
		return 0;
	}
	for (;;) {
		skip_ws(r);
		if (member(r, ctx)) return -1;
		skip_ws(r);
		if (r->p >= r->end) return -1;
		char c = *r->p++;
		if (c == close) break;
		if (c != ',') return -1;
	}
	r->depth--;
	return 0;
}

static int key_colon(struct reader *r, const char *want, int *equals)
{
	if (read_string(r, want, equals, NULL, 0)) return -1;
	skip_ws(r);
	if (r->p >= r->end || *r->p != ':') return -1;
	r->p++;
	skip_ws(r);
	return 0;
}

static int any_member(struct reader *r, void *ctx)
{
	(void)ctx;
	return key_colon(r, NULL, NULL) || read_value(r);
}

static int any_element(struct reader *r, void *ctx)
{
	(void)ctx;
	return read_value(r);
}

static int read_value(struct reader *r)
{
	if (r->p >= r->end) return -1;
	switch (*r->p) {
	case '{': return read_members(r, '}', any_member, NULL);
	case '[': return read_members(r, ']', any_element, NULL);
	case '"': return read_string(r, NULL, NULL, NULL, 0);
	case 't': return literal(r, "true");
	case 'f': return literal(r, "false");
	case 'n': return literal(r, "null");
	default: return read_number(r, NULL);
	}
}

struct top {
	struct json_reply *out;
	int status_is_string;
};

/* A top-level member: "status" and "id" are kept (the last one wins), the rest only checked. */
static int top_member(struct reader *r, void *ctx)
{
	struct top *top = ctx;
	const char *key = r->p;
	int is_status, is_id;
	if (read_string(r, "status", &is_status, NULL, 0)) return -1;
	r->p = key;
	if (key_colon(r, "id", &is_id)) return -1;
	if (is_status) {
		top->status_is_string = *r->p == '"';
		top->out->status_ok = 0;
		top->out->status[0] = '\0';
		if (!top->status_is_string) return read_value(r);
		return read_string(r, "OK", &top->out->status_ok, top->out->status, sizeof top->out->status);
	}
	if (is_id) {
		top->out->id_is_number = *r->p == '-' || (*r->p >= '0' && *r->p <= '9');
		return top->out->id_is_number ? read_number(r, &top->out->id) : read_value(r);
	}
	return read_value(r);
}

int json_read_reply(const char *s, const char *end, struct json_reply *out)
{
	struct reader r = { s, end, 0 };
	struct top top = { out, 0 };
	memset(out, 0, sizeof *out);
	skip_ws(&r);
	if (r.p >= r.end || *r.p != '{') return -1;
	if (read_members(&r, '}', top_member, &top)) return -1;
	skip_ws(&r);
	return r.p == r.end && top.status_is_string ? 0 : -1;
}
