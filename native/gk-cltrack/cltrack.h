/* What the parts of the compiled gk-cltrack share (see gk-cltrack.c). */
#ifndef GK_CLTRACK_H
#define GK_CLTRACK_H

#include <stddef.h>
#include "agent-socket.h"

/* NFS4_OPAQUE_LIMIT: the largest client ID nfsdcltrack accepts. */
#define CLIENT_ID_LIMIT 1024

extern int debug;

/* To stderr with the program's name, only with -f (nfsdcltrack logs to syslog otherwise). */
void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define debug_log(...) do { if (debug) error(__VA_ARGS__); } while (0)

/* One request to the agent (fields: JSON members without braces); failures are logged. */
enum agent_answer ask(const char *op, const char *fields);

struct command {
	const char *name;
	int needs_arg;
	int (*func)(const char *arg); /* 0 or a negative errno */
	int unreachable_errno;        /* what the run returns when the agent cannot be reached */
};

const struct command *find_command(const char *name);

/* Node's path.basename(path), cut to size. */
void base_name(const char *path, char *out, size_t size);

/* Node's path.join(dir, "agent.sock"), in a buffer the caller frees. NULL when out of memory. */
char *join_agent_socket(const char *dir);

#endif
