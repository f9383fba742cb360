/* Node's path.basename and path.join, as apps/gk-cltrack names things (POSIX rules). */
#include "cltrack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void base_name(const char *path, char *out, size_t size)
{
	size_t n = strlen(path);
	while (n > 0 && path[n - 1] == '/') n--;
	size_t start = n;
	while (start > 0 && path[start - 1] != '/') start--;
	snprintf(out, size, "%.*s", (int)(n - start), path + start);
}

/*
 * path.join(dir, "agent.sock") = path.normalize(dir + "/agent.sock") (just "agent.sock" for an
 * empty dir): empty and "." segments go, ".." removes the segment before it (above the root it
 * goes too; a relative path keeps leading ".."s).
 */
char *join_agent_socket(const char *dir)
{
	static const char leaf[] = "agent.sock";
	size_t len = strlen(dir);
	char *out = malloc(len + sizeof leaf + 2);
	if (!out) return NULL;
	int absolute = dir[0] == '/';
	size_t n = 0, kept = 0; /* kept: segments in out that a ".." may remove */
	if (absolute) out[n++] = '/';
	size_t root = n;
	for (const char *s = dir; *s;) {
		const char *e = strchr(s, '/');
		size_t seg = e ? (size_t)(e - s) : strlen(s);
		if (seg == 0 || (seg == 1 && s[0] == '.')) {
			/* nothing */
		} else if (seg == 2 && s[0] == '.' && s[1] == '.') {
			if (kept > 0) {
				while (n > root && out[n - 1] != '/') n--;
				if (n > root) n--; /* the separator before it */
				kept--;
			} else if (!absolute) {
				if (n > 0) out[n++] = '/';
				memcpy(out + n, "..", 2);
				n += 2;
				root = n; /* leading ".."s stay */
			}
		} else {
			if (n > (absolute ? 1 : 0) && out[n - 1] != '/') out[n++] = '/';
			memcpy(out + n, s, seg);
			n += seg;
			kept++;
		}
		s += seg;
		if (*s == '/') s++;
	}
	if (n > 0 && out[n - 1] != '/') out[n++] = '/';
	memcpy(out + n, leaf, sizeof leaf);
	return out;
}
