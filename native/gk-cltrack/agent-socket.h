/*
 * The node-agent's JSON-lines socket as gk-cltrack uses it (libs/contracts agent-protocol.ts):
 * one request line out, the reply line carrying the same id back. Mirrors the Node client
 * (libs/agent-client with connectTimeoutMs 0 and unreadableReplies 'fail'): one dial attempt,
 * one deadline for the whole run, a reply line that is not a JSON object with a string "status"
 * fails the request and drops the connection, a reply for another id is skipped, and a request
 * made after the connection dropped dials once more.
 */
#ifndef GK_AGENT_SOCKET_H
#define GK_AGENT_SOCKET_H

#include <stddef.h>

/* Reply lines longer than this are refused as unreadable (the agent's replies to gk-cltrack are < 1 KiB). */
#define AGENT_REPLY_MAX 65536

struct agent_conn {
	int fd; /* -1 when not connected: the next request dials again */
	const char *path;
	double deadline_ms; /* CLOCK_MONOTONIC milliseconds, for the whole run */
	int next_id;
	size_t buffered;
	char buf[AGENT_REPLY_MAX + 1];
	char why[256]; /* the last failure, for -f */
};

enum agent_answer { AGENT_NO_ANSWER = -1, AGENT_NOT_OK = 0, AGENT_OK = 1 };

/* The run's time limit from GK_CLTRACK_TIMEOUT_MS as the Node one reads it: Number(raw) || 10000. */
double agent_timeout_from_env(const char *raw);

/* Starts the run's clock and dials once; 0 on success, -1 with conn->why set. */
int agent_connect(struct agent_conn *conn, const char *path, double timeout_ms);

/*
 * Sends `fields` (JSON object members without braces, e.g. "\"op\":\"hello\"") with the next id
 * and waits for its reply. `status_text` receives the reply's status (printable part) for the log.
 */
enum agent_answer agent_ask(struct agent_conn *conn, const char *fields, char *status_text, size_t status_size);

void agent_close(struct agent_conn *conn);

#endif
