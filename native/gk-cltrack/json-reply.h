/*
 * Reading one reply line of the node-agent as the Node client does (JSON.parse, then a
 * non-null object whose "status" is a string): a strict JSON reader that keeps only the
 * top-level "status" and "id" (the last of each, as JSON.parse keeps duplicate keys).
 */
#ifndef GK_JSON_REPLY_H
#define GK_JSON_REPLY_H

struct json_reply {
	int status_ok;     /* "status" is the string "OK" */
	char status[48];   /* its printable part, for the log */
	int id_is_number;
	double id;
};

/* True when the line is empty once JavaScript's String.prototype.trim() is applied. */
int json_blank(const char *s, const char *end);

/* 0 when [s, end) is a JSON object with a string "status"; -1 otherwise. *end must be '\0'. */
int json_read_reply(const char *s, const char *end, struct json_reply *out);

#endif
