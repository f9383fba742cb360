/*
 * gk-cltrack, compiled: the same program as apps/gk-cltrack (a drop-in for nfs-utils'
 * nfsdcltrack that keeps its records in the node-agent), in C so that the process nfsd starts
 * per upcall costs about what nfsdcltrack's does instead of a Node start-up (~45 ms). Argument
 * handling, environment, the order of checks, the requests and the exit codes are those of
 * apps/gk-cltrack/src/cltrack.ts; test/fuzz/targets/gk-cltrack-native.ts and
 * test/cltrack-differential.e2e-spec.ts hold both (and Debian's nfsdcltrack) to the same exit
 * codes. Options are read by glibc's getopt_long, as nfsdcltrack reads them. Built by
 * native/gk-cltrack/build.js at `npm ci`; without a C compiler bin/gk-cltrack is the Node one.
 */
#define _GNU_SOURCE
#include "cltrack.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_AGENT_SOCKET "/run/gracekeeper/agent.sock"

int debug;
static int foreground;
static const char *progname = "gk-cltrack";
static struct agent_conn conn;

void error(const char *fmt, ...)
{
	if (!foreground) return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", progname);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

enum agent_answer ask(const char *op, const char *fields)
{
	char status[64] = "";
	enum agent_answer a = agent_ask(&conn, fields, status, sizeof status);
	if (a == AGENT_NO_ANSWER) {
		error("%s: no answer from the node-agent at %s: %s", op, conn.path, conn.why);
		return a;
	}
	debug_log("%s: agent answered %s", op, status);
	if (a != AGENT_OK) error("%s: agent answered %s", op, status);
	return a;
}

static void usage(void)
{
	printf("Usage: %s [ -hfd ] [ -s dir ] < cmd > < arg >\n"
	       "Where < cmd > is one of the following and takes the following < arg >:\n"
	       "    init\n"
	       "    create <nfs_client_id4>\n"
	       "    remove <nfs_client_id4>\n"
	       "    check  <nfs_client_id4>\n"
	       "    gracedone <epoch time>\n",
	       progname);
}

/* A C main() returning a negative errno exits with its low byte. */
static int status(int rc)
{
	return rc & 0xff;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "debug", no_argument, NULL, 'd' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "storagedir", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *storagedir = NULL;
	int opt;
	if (argc < 1 || !argv[0]) return status(-EINVAL); /* no argv[0]: nothing else either */
	size_t size = strlen(argv[0]) + 1;
	char *name = malloc(size);
	if (name) {
		base_name(argv[0], name, size);
		progname = name;
	}
	while ((opt = getopt_long(argc, argv, "hdfs:", longopts, NULL)) != -1) {
		if (opt == 'd') debug = 1;
		else if (opt == 'f') foreground = 1;
		else if (opt == 's') storagedir = optarg;
		else {
			usage(); /* -h, or after getopt's own message on stderr */
			return 1;
		}
	}
	if (optind >= argc) {
		error("Missing command name");
		return status(-EINVAL);
	}
	const char *cmd_name = argv[optind], *arg = optind + 1 < argc ? argv[optind + 1] : NULL;
	const struct command *cmd = find_command(cmd_name);
	if (!cmd) {
		/* A distinct error lets a newer kernel detect an older helper. */
		error("find_cmd: '%s' doesn't match any known command", cmd_name);
		return status(-ENOSYS);
	}
	if (cmd->needs_arg && !arg) {
		error("Command %s requires an argument", cmd->name);
		return status(-EINVAL);
	}
	const char *env_socket = getenv("GK_AGENT_SOCKET");
	char *joined = NULL;
	const char *path = env_socket && *env_socket ? env_socket : storagedir ? (joined = join_agent_socket(storagedir)) : DEFAULT_AGENT_SOCKET;
	if (!path) return status(-cmd->unreachable_errno);
	/* Like nfsdcltrack's sqlite_prepare_dbh(), reaching the store comes before looking at the argument. */
	if (agent_connect(&conn, path, agent_timeout_from_env(getenv("GK_CLTRACK_TIMEOUT_MS"))) < 0) {
		error("unable to reach the node-agent at %s: %s", path, conn.why);
		return status(-cmd->unreachable_errno);
	}
	int rc = cmd->func(arg ? arg : "");
	agent_close(&conn);
	free(joined);
	return status(rc);
}
