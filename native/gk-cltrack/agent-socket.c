/* See agent-socket.h. Only libc; every buffer bounded; no SIGPIPE (MSG_NOSIGNAL). */
#define _GNU_SOURCE
#include "agent-socket.h"
#include "json-reply.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 10000.0
/* Node's setTimeout runs a timer longer than this (or not >= 1) after 1 ms. */
#define NODE_TIMEOUT_MAX 2147483647.0

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int js_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* JavaScript's Number(string) for the forms that matter: decimal, 0x/0o/0b, Infinity; else NaN. */
static double js_number(const char *raw)
{
	const char *s = raw, *e = raw + strlen(raw);
	while (s < e && js_space((unsigned char)*s)) s++;
	while (e > s && js_space((unsigned char)e[-1])) e--;
	size_t n = (size_t)(e - s);
	char text[128];
	if (n == 0) return 0;
	if (n >= sizeof text) return NAN;
	memcpy(text, s, n);
	text[n] = '\0';
	if (text[0] == '0' && n > 2 && strchr("xXoObB", text[1])) {
		int base = (text[1] == 'x' || text[1] == 'X') ? 16 : (text[1] == 'o' || text[1] == 'O') ? 8 : 2;
		double v = 0;
		for (const char *p = text + 2; *p; p++) {
			int d = (*p >= '0' && *p <= '9') ? *p - '0' : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10 : (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10 : 99;
			if (d >= base) return NAN;
			v = v * base + d;
		}
		return v;
	}
	const char *p = text + (text[0] == '+' || text[0] == '-');
	if (strcmp(p, "Infinity") == 0) return text[0] == '-' ? -INFINITY : INFINITY;
	/* The decimal grammar only: strtod alone would also take "inf", "nan" and hex floats. */
	int digits = 0;
	while (*p >= '0' && *p <= '9') p++, digits++;
	if (*p == '.') for (p++; *p >= '0' && *p <= '9'; p++) digits++;
	if (!digits) return NAN;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-') p++;
		if (!(*p >= '0' && *p <= '9')) return NAN;
		while (*p >= '0' && *p <= '9') p++;
	}
	return *p ? NAN : strtod(text, NULL);
}

double agent_timeout_from_env(const char *raw)
{
	double v = raw ? js_number(raw) : 0;
	return (isnan(v) || v == 0) ? DEFAULT_TIMEOUT_MS : v;
}

static void drop(struct agent_conn *conn)
{
	if (conn->fd >= 0) close(conn->fd);
	conn->fd = -1;
	conn->buffered = 0;
}

static int fail(struct agent_conn *conn, const char *fmt, const char *detail)
{
	snprintf(conn->why, sizeof conn->why, fmt, detail);
	drop(conn);
	return -1;
}

/* Waits for `events` until `until` (monotonic ms); 1 ready, 0 timed out, -1 error. */
static int wait_for(int fd, short events, double until)
{
	for (;;) {
		double left = until - now_ms();
		if (left <= 0) return 0;
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, left > 1e9 ? 1000000000 : (int)ceil(left));
		if (r > 0) return 1;
		if (r < 0 && errno != EINTR) return -1;
	}
}

static int dial(struct agent_conn *conn)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	/* As libuv does: a path longer than sun_path is cut (and then usually not found). */
	strncpy(addr.sun_path, conn->path, sizeof addr.sun_path - 1);
	conn->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (conn->fd < 0) return fail(conn, "socket: %s", strerror(errno));
	int r;
	do r = connect(conn->fd, (struct sockaddr *)&addr, sizeof addr);
	while (r < 0 && errno == EINTR);
	if (r == 0) return 0;
	if (errno != EINPROGRESS) return fail(conn, "connect: %s", strerror(errno));
	int err = 0;
	socklen_t len = sizeof err;
	if (wait_for(conn->fd, POLLOUT, conn->deadline_ms) != 1) return fail(conn, "connect: %s", "timed out");
	if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) return fail(conn, "connect: %s", strerror(err ? err : errno));
	return 0;
}

int agent_connect(struct agent_conn *conn, const char *path, double timeout_ms)
{
	conn->fd = -1;
	conn->path = path;
	conn->deadline_ms = now_ms() + timeout_ms;
	conn->next_id = 1;
	conn->buffered = 0;
	conn->why[0] = '\0';
	return dial(conn);
}

void agent_close(struct agent_conn *conn)
{
	drop(conn);
}

/* This request's time limit, as Node's setTimeout(Math.max(1, deadline - now)) runs it. */
static double request_until(const struct agent_conn *conn)
{
	double now = now_ms(), left = conn->deadline_ms - now;
	if (!(left >= 1) || left > NODE_TIMEOUT_MAX) left = 1;
	return now + left;
}

static int send_line(struct agent_conn *conn, const char *line, size_t n, double until)
{
	while (n > 0) {
		ssize_t w = send(conn->fd, line, n, MSG_NOSIGNAL);
		if (w > 0) {
			line += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_for(conn->fd, POLLOUT, until) != 1) return fail(conn, "no room to send within the time limit%s", "");
		} else {
			return fail(conn, "send: %s", strerror(errno));
		}
	}
	return 0;
}

/*
 * Looks at every complete line buffered: blank lines are skipped, an unreadable one drops the
 * connection (-1), one answering `id` fills *found. Lines after the answer that were read with
 * it are looked at too, as the Node client does with one chunk, then the rest is kept.
 */
static int scan_lines(struct agent_conn *conn, int id, struct json_reply *found, int *matched)
{
	char *start = conn->buf, *end = conn->buf + conn->buffered, *nl;
	while ((nl = memchr(start, '\n', (size_t)(end - start))) != NULL) {
		*nl = '\0';
		struct json_reply reply;
		if (!json_blank(start, nl)) {
			if (json_read_reply(start, nl, &reply) != 0) {
				/* The Node client drops the connection; an answer already read stands. */
				if (!*matched) return fail(conn, "malformed reply from agent: %.200s", start);
				drop(conn);
				return 0;
			}
			if (!*matched && reply.id_is_number && reply.id == id) {
				*found = reply;
				*matched = 1;
			}
		}
		start = nl + 1;
	}
	conn->buffered = (size_t)(end - start);
	memmove(conn->buf, start, conn->buffered);
	return 0;
}

enum agent_answer agent_ask(struct agent_conn *conn, const char *fields, char *status_text, size_t status_size)
{
	char line[8192];
	if (conn->fd < 0 && dial(conn) < 0) return AGENT_NO_ANSWER;
	int id = conn->next_id++;
	int n = snprintf(line, sizeof line, "{%s,\"id\":%d}\n", fields, id);
	if (n < 0 || (size_t)n >= sizeof line) return fail(conn, "request too long%s", ""), AGENT_NO_ANSWER;
	double until = request_until(conn);
	if (send_line(conn, line, (size_t)n, until) < 0) return AGENT_NO_ANSWER;
	struct json_reply reply;
	int matched = 0;
	for (;;) {
		if (conn->buffered == AGENT_REPLY_MAX) return fail(conn, "reply line longer than %s bytes", "65536"), AGENT_NO_ANSWER;
		int ready = wait_for(conn->fd, POLLIN, until);
		if (ready == 0) {
			snprintf(conn->why, sizeof conn->why, "no reply from %.200s within the time limit", conn->path);
			return AGENT_NO_ANSWER;
		}
		ssize_t r = ready < 0 ? -1 : read(conn->fd, conn->buf + conn->buffered, AGENT_REPLY_MAX - conn->buffered);
		if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
		if (r <= 0) return fail(conn, "agent %s", r == 0 ? "closed the connection" : strerror(errno)), AGENT_NO_ANSWER;
		conn->buffered += (size_t)r;
		if (scan_lines(conn, id, &reply, &matched) < 0) return AGENT_NO_ANSWER;
		if (matched) break;
	}
	snprintf(status_text, status_size, "%s", reply.status);
	return reply.status_ok ? AGENT_OK : AGENT_NOT_OK;
}
