/*
 * The five nfsdcltrack commands as apps/gk-cltrack/src/cltrack.ts maps them to agent requests,
 * with nfsdcltrack's argument checks and errnos (docs/nfsdcltrack-semantics.md).
 */
#define _GNU_SOURCE
#include "cltrack.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Room for the longest request's members: a 2048-digit client and a few flags. */
#define FIELDS_MAX (2 * CLIENT_ID_LIMIT + 256)

static int hex_value(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/*
 * nfsdcltrack's hex_str_to_bin(), as lowercase hex: pair by pair, a full buffer is -ENOBUFS
 * before the next pair is looked at; an odd length or a non-hex character is -EINVAL.
 */
static int client_hex(const char *arg, char out[2 * CLIENT_ID_LIMIT + 1])
{
	static const char digits[] = "0123456789abcdef";
	size_t n = 0, len = strlen(arg);
	for (size_t i = 0; i < len; i += 2) {
		if (n >= CLIENT_ID_LIMIT) return -ENOBUFS;
		if (i + 1 >= len) return -EINVAL;
		int hi = hex_value(arg[i]), lo = hex_value(arg[i + 1]);
		if (hi < 0 || lo < 0) return -EINVAL;
		out[2 * n] = digits[hi];
		out[2 * n + 1] = digits[lo];
		n++;
	}
	out[2 * n] = '\0';
	return 0;
}

/* NFSDCLTRACK_CLIENT_HAS_SESSION: set and starting with 'Y' means a v4.1+ client. */
static int has_session(void)
{
	const char *v = getenv("NFSDCLTRACK_CLIENT_HAS_SESSION");
	return v && v[0] == 'Y';
}

/* NFSDCLTRACK_GRACE_START as nfsdcltrack reads it: strtol, where overflow (or LONG_MAX) means "not given". */
static int grace_start(long *value)
{
	const char *raw = getenv("NFSDCLTRACK_GRACE_START");
	if (!raw) return 0;
	errno = 0;
	*value = strtol(raw, NULL, 0);
	return errno == 0 && *value != LONG_MAX;
}

static const char *boolean(int b)
{
	return b ? "true" : "false";
}

/*
 * nfsd started: with its boot time the agent starts or joins grace for this node; without one
 * nfsdcltrack only opens its store, so the agent is only asked whether it is there. Every init
 * failure is -EACCES, so that the kernel stops upcalling.
 */
static int cmd_init(const char *arg)
{
	char fields[FIELDS_MAX];
	long boot;
	(void)arg;
	if (!grace_start(&boot)) return ask("hello", "\"op\":\"hello\"") == AGENT_OK ? 0 : -EACCES;
	snprintf(fields, sizeof fields, "\"op\":\"grace_start\",\"graceStart\":%ld,\"liftIfDone\":true", boot);
	return ask("grace_start", fields) == AGENT_OK ? 0 : -EACCES;
}

static int cmd_create(const char *arg)
{
	char client[2 * CLIENT_ID_LIMIT + 1], fields[FIELDS_MAX];
	long boot;
	int rc = client_hex(arg, client);
	if (rc) return rc;
	int v41 = has_session();
	/* nfsdcltrack re-runs its end-of-grace test after a v4.1 create (RECLAIM_COMPLETE), given a boot time. */
	snprintf(fields, sizeof fields, "\"op\":\"create\",\"client\":\"%s\",\"hasSession\":%s%s", client, boolean(v41),
		 v41 && grace_start(&boot) ? ",\"liftIfDone\":true" : "");
	return ask("create", fields) == AGENT_OK ? 0 : -EREMOTEIO;
}

/* Removing a client the agent does not know is a success, as a DELETE of no rows is. */
static int cmd_remove(const char *arg)
{
	char client[2 * CLIENT_ID_LIMIT + 1], fields[FIELDS_MAX];
	int rc = client_hex(arg, client);
	if (rc) return rc;
	snprintf(fields, sizeof fields, "\"op\":\"remove\",\"client\":\"%s\"", client);
	return ask("remove", fields) == AGENT_OK ? 0 : -EREMOTEIO;
}

/*
 * A client recorded only by the pre-nfsdcltrack recovery directory: if the kernel names its
 * legacy directory and it exists, record the client and remove the directory, as
 * cltrack_check_legacy() does.
 */
static int import_legacy_record(const char *client)
{
	char fields[FIELDS_MAX];
	struct stat st;
	const char *recdir = getenv("NFSDCLTRACK_LEGACY_RECDIR");
	if (!recdir || !*recdir || stat(recdir, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
	snprintf(fields, sizeof fields, "\"op\":\"create\",\"client\":\"%s\",\"hasSession\":%s", client, boolean(has_session()));
	if (ask("create", fields) != AGENT_OK) return 0;
	if (rmdir(recdir) == 0) return 1;
	debug_log("Failed to rmdir %s: %s", recdir, strerror(errno));
	return 0;
}

/*
 * Any answer but OK, after the legacy fallback, is -EPERM: the client may not reclaim. A v4.0
 * client's check during grace is its reclaim, a v4.1 client's is not.
 */
static int cmd_check(const char *arg)
{
	char client[2 * CLIENT_ID_LIMIT + 1], fields[FIELDS_MAX];
	int rc = client_hex(arg, client);
	if (rc) return rc;
	int v41 = has_session();
	snprintf(fields, sizeof fields, "\"op\":\"check\",\"client\":\"%s\",\"hasSession\":%s%s", client, boolean(v41), v41 ? "" : ",\"reclaim\":true");
	enum agent_answer a = ask("check", fields);
	if (a == AGENT_NO_ANSWER) return -EREMOTEIO;
	if (a == AGENT_OK) return 0;
	return import_legacy_record(client) ? 0 : -EPERM;
}

/* Best effort, as cltrack_legacy_gracedone(): empty the legacy recovery directory. */
static void clear_legacy_topdir(void)
{
	const char *topdir = getenv("NFSDCLTRACK_LEGACY_TOPDIR");
	if (!topdir || !*topdir) return;
	DIR *dir = opendir(topdir);
	if (!dir) return;
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL) {
		if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
		char *path;
		if (asprintf(&path, "%s/%s", topdir, entry->d_name) < 0) continue;
		if (rmdir(path) != 0) error("unable to rmdir %s: %s", path, strerror(errno));
		free(path);
	}
	closedir(dir);
}

static int cmd_gracedone(const char *arg)
{
	char *end;
	errno = 0;
	long t = strtol(arg, &end, 0);
	if (errno) return -errno;
	if (*end) return -EINVAL;
	debug_log("grace done. gracetime=%ld", t);
	enum agent_answer a = ask("grace_done", "\"op\":\"grace_done\",\"wait\":false");
	clear_legacy_topdir();
	return a == AGENT_OK ? 0 : -EREMOTEIO;
}

static const struct command COMMANDS[] = {
	{ "init", 0, cmd_init, EACCES },
	{ "create", 1, cmd_create, EREMOTEIO },
	{ "remove", 1, cmd_remove, EREMOTEIO },
	{ "check", 1, cmd_check, EREMOTEIO },
	{ "gracedone", 1, cmd_gracedone, EREMOTEIO },
};

const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof COMMANDS / sizeof *COMMANDS; i++)
		if (strcmp(COMMANDS[i].name, name) == 0) return &COMMANDS[i];
	return NULL;
}
