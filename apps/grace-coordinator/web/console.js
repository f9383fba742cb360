// The Gracekeeper console's browser script. Every string that comes from the log or the services
// (client owners are attacker-controlled) reaches the page through textContent or attributes set
// by the DOM API, never as markup; the page's Content-Security-Policy forbids inline script anyway.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  /** The token lives in this variable only: never in localStorage, cookies or the URL. */
  let token = '';
  let cluster = '';
  let follow;           // AbortController of the event stream
  let now;              // the latest `now` from the server
  let clockOffset = 0;  // server time minus this browser's time
  /** Grace periods by recovery epoch: the registry's history, overlaid by what the coordinator saw live. */
  const periods = new Map();

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function headers() {
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  /** The detail of an error reply: Nest's own errors put it in `message`, ours in `error`. */
  function problem(body, status) {
    if (typeof body.message === 'string') return body.message;
    if (Array.isArray(body.message)) return body.message.join('; ');
    return body.error || `HTTP ${status}`;
  }

  async function getJson(path) {
    const res = await fetch(path, { headers: headers(), cache: 'no-store' });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(problem(body, res.status));
    return body;
  }

  const api = (rest) => `/console/api/clusters/${encodeURIComponent(cluster)}${rest}`;

  function setConnection(text, isError) {
    const p = $('connection');
    p.textContent = text;
    p.className = isError ? 'error' : '';
  }

  // ---- cluster now ----
  function renderNow() {
    if (!now) return;
    $('epoch').textContent = String(now.epoch);
    $('recovery-epoch').textContent = now.recoveryEpoch ? String(now.recoveryEpoch) : '0 (none)';
    $('grace-state').textContent = now.inGrace ? `in grace since ${new Date(now.graceStartedAt).toLocaleTimeString()}` : 'not in grace';
    $('recovering').textContent = now.needing.length ? now.needing.join(', ') : 'nobody';
    $('reclaims').textContent = now.inGrace ? String(now.reclaimsAccepted ?? 0) : '–';
    const body = $('members').tBodies[0];
    body.replaceChildren(...now.progress.map((m) => {
      const tr = el('tr');
      tr.dataset.node = m.node;
      tr.append(el('th', m.node));
      tr.lastChild.scope = 'row';
      tr.append(el('td', m.need ? 'NEED' : 'no', m.need ? 'flag-on' : 'flag-off'));
      tr.append(el('td', m.enforcing ? 'ENFORCING' : 'no', m.enforcing ? 'flag-off' : 'flag-on'));
      const cell = el('td');
      if (m.need) {
        const bar = el('progress');
        bar.max = Math.max(1, m.reclaimable);
        bar.value = m.reclaimed;
        bar.setAttribute('aria-label', `reclaim progress of ${m.node}`);
        cell.append(bar, el('span', ` ${m.reclaimed} of ${m.reclaimable} reclaimed`, 'progress-text'));
      } else {
        cell.textContent = '–';
      }
      tr.append(cell);
      return tr;
    }));
    const end = now.lastGraceEnd;
    $('last-end').textContent = end ? `Last grace period (R=${end.recoveryEpoch}) ended ${new Date(end.at).toLocaleString()} because ${now.lastGraceEndWhy || end.reason}${end.abandonedNodes.length ? `; abandoned ${end.abandonedNodes.join(', ')}` : ''}` : '';
    renderCountdown();
  }

  function renderCountdown() {
    const out = $('countdown');
    if (!now || !now.deadline) {
      out.textContent = now && now.inGrace ? 'none (waiting)' : '–';
      return;
    }
    const left = Date.parse(now.deadline) - (Date.now() + clockOffset);
    out.textContent = left > 0 ? `${Math.ceil(left / 1000)} s left` : 'passed: ending';
  }

  // ---- timeline ----
  function mergePeriod(p, live) {
    const known = periods.get(p.recoveryEpoch) || {};
    // What the coordinator saw live wins over the registry's record of the same period.
    const merged = live ? { ...known, ...p, live: true } : { ...p, ...known };
    merged.registryStart = live ? known.registryStart : { startedAt: p.startedAt, nodes: p.nodes };
    // A period the coordinator did not see start: the registry's start and nodes are the true ones.
    if (merged.joinedLate && merged.registryStart) Object.assign(merged, merged.registryStart, { joinedLate: false });
    periods.set(p.recoveryEpoch, merged);
  }

  function renderTimeline() {
    const list = $('periods');
    const sorted = [...periods.values()].sort((a, b) => b.recoveryEpoch - a.recoveryEpoch);
    list.replaceChildren(...sorted.map((p) => {
      const li = el('li', undefined, p.endedAt ? 'period-ended' : 'period-open');
      li.dataset.epoch = String(p.recoveryEpoch);
      li.append(el('div', `Grace period R=${p.recoveryEpoch}: ${p.endedAt ? 'ended' : 'in force'}`, 'period-title'));
      li.append(el('div', p.joinedLate
        ? `in force since ${new Date(p.startedAt).toLocaleTimeString()} (before this coordinator started); recovering then: ${(p.nodes || []).join(', ')}`
        : `started ${new Date(p.startedAt).toLocaleTimeString()} by ${(p.nodes || []).join(', ')}`));
      if (p.joins && p.joins.length) li.append(el('div', `joined: ${p.joins.map((j) => `${j.node} at ${new Date(j.at).toLocaleTimeString()}`).join(', ')}`));
      li.append(el('div', `reclaims accepted ${p.reclaimsAccepted ?? 0}, refused ${p.reclaimsRejected ?? 0}`, 'reclaim-count'));
      if (p.reclaimsPerSecond && p.reclaimsPerSecond.length) {
        const peak = Math.max(...p.reclaimsPerSecond.map((s) => s.count));
        const bars = el('div', undefined, 'bars');
        bars.setAttribute('role', 'img');
        bars.setAttribute('aria-label', `reclaims per second over ${p.reclaimsPerSecond.length} s, peak ${peak}`);
        for (const s of p.reclaimsPerSecond.slice(-120)) {
          const bar = el('span');
          bar.style.height = `${Math.max(2, Math.round((40 * s.count) / peak))}px`;
          bar.title = `${s.count} at ${new Date(s.second).toLocaleTimeString()}`;
          bars.append(bar);
        }
        li.append(bars, el('div', `peak ${peak} reclaims/s`, 'meta'));
      }
      if (p.endedAt) {
        const why = p.why || p.reason;
        li.append(el('div', `ended ${new Date(p.endedAt).toLocaleTimeString()} because ${why}`, 'period-end'));
        if (p.abandonedNodes && p.abandonedNodes.length) li.append(el('div', `abandoned: ${p.abandonedNodes.join(', ')}`, 'error'));
      }
      return li;
    }));
  }

  async function loadHistory() {
    try {
      const history = await getJson(api('/history'));
      for (const p of history.periods || []) {
        mergePeriod({ recoveryEpoch: p.recoveryEpoch, startedAt: p.startedAt, nodes: p.nodes, reclaimsAccepted: p.reclaimsAccepted, reclaimsRejected: p.reclaimsRejected,
          endedAt: p.endedAt, reason: p.reason, abandonedNodes: p.abandonedNodes }, false);
      }
      renderTimeline();
    } catch {
      // The registry may be down: the live timeline still works.
    }
  }

  // ---- the event stream (fetch, so that the token goes in the Authorization header) ----
  function handle(block) {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (!data) return;
    const value = JSON.parse(data);
    if (event === 'now') {
      now = value;
      clockOffset = Date.parse(value.serverTime) - Date.now();
      renderNow();
    } else if (event === 'timeline') {
      for (const p of value) mergePeriod(p, true);
      renderTimeline();
    } else if (event === 'period') {
      mergePeriod(value, true);
      renderTimeline();
    }
  }

  async function followCluster() {
    if (follow) follow.abort();
    const controller = new AbortController();
    follow = controller;
    while (!controller.signal.aborted) {
      try {
        const res = await fetch(api('/events'), { headers: headers(), signal: controller.signal, cache: 'no-store' });
        if (!res.ok) {
          const body = await res.json().catch(() => ({}));
          throw new Error(res.status === 401 ? 'a read token is needed: type it below' : problem(body, res.status));
        }
        setConnection('live');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            handle(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        }
        setConnection('reconnecting…', true);
      } catch (err) {
        if (controller.signal.aborted) return;
        setConnection(`not live: ${err.message}`, true);
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  }

  // ---- audit ----
  async function audit(event) {
    event.preventDefault();
    const by = $('audit-by').value;
    const value = $('audit-value').value;
    const status = $('audit-status');
    const results = $('audit-results');
    const owner = $('audit-owner');
    status.className = '';
    status.textContent = 'searching…';
    results.replaceChildren();
    owner.hidden = true;
    try {
      const answer = await getJson(api(`/audit?${new URLSearchParams({ [by]: value })}`));
      if (answer.owner) {
        owner.replaceChildren(el('span', 'Client owner: '), el('span', answer.owner.text, 'owner'), el('span', answer.owner.printable ? '' : ' (hex: not printable)'));
        owner.hidden = false;
      }
      const entries = answer.entries || [];
      status.textContent = `${entries.length} event(s)`;
      results.replaceChildren(...entries.map((t) => {
        const li = el('li');
        li.id = `audit-${t.sequence}-${t.idx}`;
        li.append(el('div', `#${t.sequence}${t.idx ? `.${t.idx}` : ''} ${t.type}`, 'period-title'));
        li.append(el('div', t.text, 'audit-text'));
        const meta = [`${new Date(t.time).toLocaleString()}`, `by ${t.actor}`];
        if (t.causation) meta.push(`caused by ${t.causation}`);
        if (t.see && t.see.length) meta.push(`because of #${t.see.join(', #')}`);
        li.append(el('div', meta.join(' · '), 'meta'));
        return li;
      }));
    } catch (err) {
      status.className = 'error';
      status.textContent = `search failed: ${err.message}`;
    }
  }

  // ---- admin actions: the REST admin's own endpoints, with the token as bearer ----
  async function adminAction(event) {
    event.preventDefault();
    const status = $('admin-status');
    const op = $('admin-op').value;
    const nodes = $('admin-nodes').value.split(',').map((s) => s.trim()).filter(Boolean);
    status.className = '';
    if (!token) {
      status.className = 'error';
      status.textContent = 'admin actions need the admin token: type it above';
      return;
    }
    const res = await fetch(`/clusters/${encodeURIComponent(cluster)}/${op}`, {
      method: 'POST',
      headers: { ...headers(), 'Content-Type': 'application/json' },
      body: JSON.stringify(op === 'end' ? {} : { nodes }),
    }).catch((err) => ({ ok: false, status: 0, json: async () => ({ error: err.message }) }));
    const body = await res.json().catch(() => ({}));
    if (res.ok) {
      status.textContent = `${op}: done`;
    } else {
      status.className = 'error';
      status.textContent = `${op} refused: ${problem(body, res.status)}`;
    }
  }

  async function selectCluster(name) {
    if (!name) return;
    cluster = name;
    periods.clear();
    now = undefined;
    renderTimeline();
    void followCluster();
    await loadHistory();
  }

  async function start() {
    $('audit-form').addEventListener('submit', audit);
    $('admin-form').addEventListener('submit', adminAction);
    $('token-form').addEventListener('submit', (e) => {
      e.preventDefault();
      token = $('token').value;
      $('token').value = '';
      $('admin-status').textContent = token ? 'token in use (this tab only)' : 'no token';
      void selectCluster(cluster);
    });
    $('forget-token').addEventListener('click', () => {
      token = '';
      $('admin-status').textContent = 'token forgotten';
      void selectCluster(cluster);
    });
    $('cluster').addEventListener('change', (e) => void selectCluster(e.target.value));
    setInterval(renderCountdown, 1000);
    let clusters = [];
    for (;;) {
      try {
        clusters = (await getJson('/console/api/clusters')).clusters;
        break;
      } catch (err) {
        setConnection(`not live: ${err.message}`, true);
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
    $('cluster').replaceChildren(...clusters.map((c) => {
      const option = el('option', c);
      option.value = c;
      return option;
    }));
    const wanted = new URLSearchParams(location.search).get('cluster');
    if (wanted && clusters.includes(wanted)) $('cluster').value = wanted;
    await selectCluster($('cluster').value);
  }

  void start();
})();
