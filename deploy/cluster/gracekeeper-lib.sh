# shellcheck shell=sh
# Shared by the cluster-manager scripts (pacemaker OCF agent, CTDB event script, keepalived notify
# script): move a server identity to this host with `gracectl move` and wait until this host's
# node-agent sees the log place it here, so that the NFS server the cluster manager starts next
# is accepted when it starts serving the identity (its grace_start). docs/failover.md tells the
# whole sequence. POSIX sh; sourced, never run.
#
# Configuration (environment, usually from GK_CLUSTER_ENV, default
# /etc/gracekeeper/cluster-manager.env; see cluster-manager.env.example):
#   NATS_URL, GK_PREFIX, GK_CLUSTER and NATS credentials: what gracectl needs to append a move
#   GK_GRACECTL        gracectl (default: gracectl on PATH)
#   GK_NODE_BIN        node, to ask the agent (default: node on PATH)
#   GK_AGENT_URL       this host's node-agent admin URL (default: http://127.0.0.1:8091)
#   GK_READ_TOKEN_FILE the agent's read token, when its /status needs one
#   GK_HOST            this host's name in Gracekeeper (default: the agent's own --node)
#   GK_MOVE_TIMEOUT    seconds to wait for the agent to see a move (default: 30)
#   GK_IDENTITY_MAP    "<address or VRRP instance> <identity>" per line (default: /etc/gracekeeper/identities.map)

gk_load_config() {
	_gk_env=${GK_CLUSTER_ENV:-/etc/gracekeeper/cluster-manager.env}
	if [ -r "$_gk_env" ]; then
		set -a
		# shellcheck source=/dev/null
		. "$_gk_env"
		set +a
	fi
	: "${GK_GRACECTL:=gracectl}"
	: "${GK_NODE_BIN:=node}"
	: "${GK_AGENT_URL:=http://127.0.0.1:8091}"
	: "${GK_MOVE_TIMEOUT:=30}"
	: "${GK_IDENTITY_MAP:=/etc/gracekeeper/identities.map}"
}

gk_log() {
	if command -v logger >/dev/null 2>&1; then logger -t gracekeeper -- "$*" 2>/dev/null || true; fi
	printf 'gracekeeper: %s\n' "$*" >&2
}

# Asks the agent (GET /status and /health) what it knows of one identity. With a host and a
# timeout, polls until the log, as the agent has it, places the identity on that host and the
# agent is ready. Prints "<agent host> <placement host> <generation> <serves: yes|no> <ready: yes|no>
# <member: yes|no>"; exits 1 when the agent does not answer, 2 when the wait timed out.
# shellcheck disable=SC2016 # JavaScript, not sh: its ${...} are template literals.
GK_VIEW_JS='
const [base, tokenFile, identity, want, timeoutS] = process.argv.slice(1);
const token = tokenFile ? require("node:fs").readFileSync(tokenFile, "utf8").trim() : "";
const headers = token ? { authorization: `Bearer ${token}` } : {};
const get = (path) => fetch(base + path, { headers, signal: AbortSignal.timeout(5000) });
async function view() {
  const r = await get("/status");
  if (!r.ok) throw new Error(`GET ${base}/status: HTTP ${r.status}`);
  const s = await r.json();
  const ready = (await get("/health")).ok;
  const p = (s.grace.placements || []).find((x) => x.node === identity) || { host: identity, generation: 0 };
  const yes = (b) => (b ? "yes" : "no");
  return { line: [s.host, p.host, p.generation, yes(s.identities.some((x) => x.identity === identity)), yes(ready), yes(s.grace.members.some((m) => m.node === identity))].join(" "), here: p.host === want && ready };
}
(async () => {
  const deadline = Date.now() + Number(timeoutS || 0) * 1000;
  for (;;) {
    let v, err;
    try { v = await view(); } catch (e) { err = e; }
    if (v && (!want || v.here)) return console.log(v.line);
    if (Date.now() >= deadline) {
      if (v) console.log(v.line);
      else console.error(`node-agent at ${base}: ${err.cause?.message ?? err.message}`);
      process.exit(v ? 2 : 1);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
})();
'

# gk_view identity [host timeout]: sets GK_AGENT_HOST GK_PLACEMENT GK_GENERATION GK_SERVES GK_READY GK_MEMBER.
gk_view() {
	_gk_out=$("$GK_NODE_BIN" -e "$GK_VIEW_JS" "$GK_AGENT_URL" "${GK_READ_TOKEN_FILE:-}" "$1" "${2:-}" "${3:-0}")
	_gk_rc=$?
	# shellcheck disable=SC2034 # read by the scripts that source this file
	read -r GK_AGENT_HOST GK_PLACEMENT GK_GENERATION GK_SERVES GK_READY GK_MEMBER <<EOF
$_gk_out
EOF
	return $_gk_rc
}

# The host a move should name: GK_HOST, else the agent's own name (gk_view sets it).
gk_this_host() {
	printf '%s\n' "${GK_HOST:-$GK_AGENT_HOST}"
}

# gk_move_here identity: gracectl move identity <this host>, then wait until the agent sees it.
# Returns 0 when done, 1 on a failure worth retrying, 3 when this host's agent cannot serve the
# identity (its --identity list lacks it) or the identity is not a member.
gk_move_here() {
	if ! gk_view "$1"; then
		gk_log "cannot move identity $1 here: this host's node-agent ($GK_AGENT_URL) does not answer"
		return 1
	fi
	if [ "$GK_SERVES" != yes ]; then
		gk_log "cannot move identity $1 here: the node-agent on host $GK_AGENT_HOST does not serve it (add --identity $1)"
		return 3
	fi
	if [ "$GK_MEMBER" != yes ]; then
		gk_log "cannot move identity $1 here: it is not a member of the cluster (gracectl add $1)"
		return 3
	fi
	_gk_host=$(gk_this_host)
	if ! _gk_moved=$("$GK_GRACECTL" move "$1" "$_gk_host" 2>&1); then
		gk_log "gracectl move $1 $_gk_host failed: $_gk_moved"
		return 1
	fi
	if ! gk_view "$1" "$_gk_host" "$GK_MOVE_TIMEOUT"; then
		gk_log "identity $1 was moved to host $_gk_host but its node-agent did not see it within ${GK_MOVE_TIMEOUT}s"
		return 1
	fi
	gk_log "identity $1 is served by host $_gk_host (placement generation $GK_GENERATION): its NFS server may start"
	return 0
}

# gk_identity_for key: the identity the map names for an address or a VRRP instance (empty: none).
gk_identity_for() {
	[ -r "$GK_IDENTITY_MAP" ] || return 0
	awk -v key="$1" '$1 !~ /^#/ && $1 == key { print $2; exit }' "$GK_IDENTITY_MAP"
}
