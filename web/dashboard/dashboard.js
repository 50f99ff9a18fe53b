// The controller's dashboard: reads the REST API with the admin token and refreshes every few
// seconds. Everything shown is set with textContent, never parsed as HTML.
const API = new URL('../api/v1/', location.href);
const REFRESH_MS = 5000;
let token = '';
let timer;

const $ = (id) => document.getElementById(id);

function takeToken() {
  // A link may carry the token in the fragment (never sent to the server); it moves to this tab's storage.
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem('dvr-admin-token', decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem('dvr-admin-token') ?? '';
}

async function api(method, path, body) {
  const res = await fetch(new URL(path, API), {
    method, headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(json.message ?? `${method} ${path}: HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return json;
}

/** A stream's status; with the reason its transcoder could not start it, if it reported one. */
function statusCell(s, whyNot) {
  return whyNot === undefined ? cell(s.status) : cell(`${s.status}: not started: ${whyNot}`, 'state-failed');
}

function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text ?? '';
  if (cls) td.className = cls;
  return td;
}

function button(label, onClick) {
  const td = document.createElement('td');
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.addEventListener('click', () => { b.disabled = true; onClick().catch(showError).finally(() => { b.disabled = false; refresh(); }); });
  td.append(b);
  return td;
}

function fill(id, rows) {
  const body = $(id).tBodies[0];
  body.replaceChildren(...rows.map((cells) => { const tr = document.createElement('tr'); tr.append(...cells); return tr; }));
}

const bytes = (n) => (typeof n !== 'number' ? '' : n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB`
  : `${(n / (1 << 20)).toFixed(0)} MiB`);
const ago = (ms) => {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
};
/** Seconds since a stream's last segment: what its transcoder reported, aged by the time since that heartbeat. */
function lastSegment(s, nodes) {
  const n = nodes.find((x) => x.id === s.transcoder);
  const f = (n?.metrics?.streams ?? []).find((x) => x.app === s.app && x.stream === s.stream);
  if (!n || typeof f?.lastSegmentAgeSeconds !== 'number') return cell('');
  const age = f.lastSegmentAgeSeconds + Math.max(0, (Date.now() - n.lastHeartbeat) / 1000);
  // Healthy: a segment within three target durations (6 s at the default 2 s).
  return cell(`${Math.round(age)} s ago`, age <= 3 * (s.segmentSeconds ?? 2) ? 'state-inservice' : 'state-failed');
}

/** The Player button: a playback URL on an edge, and that edge's player page for it. */
function playerButton(s) {
  return button('Player', async () => {
    const p = await api('GET', `streams/${encodeURIComponent(s.app)}/${encodeURIComponent(s.stream)}/playback`);
    // The edge that URL names serves the player page; it plays the same (maybe signed) path.
    const u = new URL(p.url);
    const link = document.createElement('a');
    link.href = `${u.origin}/player/?src=${encodeURIComponent(u.pathname)}`;
    link.target = '_blank';
    link.rel = 'noopener';
    link.textContent = 'Open the player';
    $('playback').replaceChildren(`${s.app}/${s.stream}: ${p.url} `, link);
  });
}

// Small time-series plots (uPlot, vendored from npm): one per figure, kept across refreshes.
const plots = new Map();
const si = (v, unit) => (v === null || v === undefined ? '' : v >= 1e9 ? `${+(v / 1e9).toFixed(1)} G${unit}`
  : v >= 1e6 ? `${+(v / 1e6).toFixed(1)} M${unit}` : v >= 1e3 ? `${+(v / 1e3).toFixed(1)} k${unit}` : `${+v.toFixed(2)} ${unit}`);

function plot(container, key, title, series, columns, unit) {
  let p = plots.get(key);
  const data = [columns.t.map((ms) => ms / 1000), ...series.map((s) => columns[s.figure])];
  if (!p) {
    const box = document.createElement('div');
    box.className = 'plot';
    box.dataset.key = key;
    const h = document.createElement('h3');
    h.textContent = title;
    box.append(h);
    container.append(box);
    const colours = ['#1f6feb', '#d1242f', '#1a7f37'];
    p = new uPlot({ width: 320, height: 120, legend: { show: true }, cursor: { show: true },
      scales: { x: { time: true } },
      axes: [{ size: 24 }, { size: 56, values: (_u, vals) => vals.map((v) => si(v, unit)) }],
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: colours[i % colours.length], width: 1.5,
        value: (_u, v) => si(v, unit) }))] }, data, box);
    plots.set(key, p);
  } else {
    p.setData(data);
  }
  return p.root.parentElement;
}

function drawPlots(history, nodes, streams) {
  if (typeof uPlot !== 'function') return;
  const keep = new Set();
  const streamBox = $('stream-plots');
  for (const s of streams) {
    const k = `${s.app}/${s.stream}`;
    const cols = history.streams[k];
    if (!cols || cols.t.length === 0) continue;
    for (const [id, title, series, unit] of [
      ['bitrate', 'bit rate', [{ figure: 'bitrateBps', label: 'bit/s' }], 'b/s'],
      ['latency', 'segment latency', [{ figure: 'segmentLatencySeconds', label: 'seconds' }], 's'],
      ['late', 'late segments', [{ figure: 'lateSegments', label: 'total' }], ''],
      ['stored', 'storage used', [{ figure: 'storedBytes', label: 'bytes' }], 'B'],
    ]) keep.add(plot(streamBox, `stream ${k} ${id}`, `${k}: ${title}`, series, cols, unit).dataset.key);
  }
  const nodeBox = $('node-plots');
  for (const n of nodes) {
    const cols = history.nodes[n.id];
    if (!cols || cols.t.length === 0) continue;
    keep.add(plot(nodeBox, `node ${n.id} load`, `${n.id}: CPU and memory`, [{ figure: 'cpuPercent', label: 'CPU %' },
      { figure: 'memoryPercent', label: 'memory %' }], cols, '%').dataset.key);
    keep.add(plot(nodeBox, `node ${n.id} storage`, `${n.id}: storage free`, [{ figure: 'storageFreeBytes', label: 'bytes' }], cols, 'B')
      .dataset.key);
  }
  for (const [key, p] of plots) {
    if (keep.has(key)) continue;
    p.root.parentElement.remove();
    p.destroy();
    plots.delete(key);
  }
  for (const box of [streamBox, nodeBox]) {
    let empty = box.querySelector('.empty');
    if (box.querySelector('.plot')) { empty?.remove(); continue; }
    if (!empty) { empty = document.createElement('p'); empty.className = 'empty'; box.append(empty); }
    empty.textContent = 'no heartbeats with figures yet';
  }
}

const duration = (s) => (s === 0 ? 'whole event' : s >= 3600 ? `${+(s / 3600).toFixed(1)} h` : `${Math.round(s / 60)} min`);

function load(n) {
  const m = n.metrics ?? {};
  if (n.role === 'transcoder') return `${n.assigned ?? 0} / ${n.capacity} streams`;
  return typeof m.connections === 'number' ? `${m.connections} / ${n.capacity}` : '';
}

function showError(err) {
  const s = $('status');
  s.textContent = err.message;
  s.className = 'error';
  if (err.status === 401 || err.status === 403) signOut();
}

function signOut() {
  sessionStorage.removeItem('dvr-admin-token');
  token = '';
  clearTimeout(timer);
  $('main').hidden = true;
  $('signout').hidden = true;
  $('login').hidden = false;
}

async function refresh() {
  clearTimeout(timer);
  try {
    const [health, nodes, streams, scale, configs, history] = await Promise.all([
      api('GET', 'health'), api('GET', 'nodes'), api('GET', 'streams'), api('GET', 'scale'), api('GET', 'launch-configs'),
      api('GET', 'history')]);
    const live = nodes.filter((n) => n.state !== 'gone');
    fill('nodes', live.map((n) => [
      cell(n.id), cell(n.role), cell(n.state, `state-${n.state}`), cell(n.address), cell(load(n), 'num'),
      cell(n.metrics?.system ? `${Math.round(n.metrics.system.cpuLoadPercent)} %` : '', 'num'),
      cell(n.metrics?.system ? bytes(n.metrics.system.memoryUsedBytes) : '', 'num'),
      cell(bytes(n.metrics?.system?.storageFreeBytes), 'num'), cell(ago(n.lastHeartbeat)),
      n.state === 'inservice' ? button('Drain', () => api('POST', `nodes/${encodeURIComponent(n.id)}/drain`)) : cell(''),
    ]));
    const targets = configs.flatMap((c) => c.launchconfig.targets.target);
    const roles = [...new Set([...targets.map((t) => t.role), ...live.map((n) => n.role)])];
    fill('roles', roles.map((role) => {
      const of = live.filter((n) => n.role === role);
      const serving = of.filter((n) => n.state === 'inservice');
      const t = targets.find((x) => x.role === role);
      // A transcoder's load is the streams assigned to it (live, or within their reconnect grace), as its
      // node's row counts them: a local stream takes no slot the controller hands out.
      const conns = role === 'transcoder' ? streams.filter((s) => !s.local && (s.status === 'live' || s.status === 'ending')
        && serving.some((n) => n.id === s.transcoder)).length
        : serving.reduce((a, n) => a + (n.metrics?.connections ?? 0), 0);
      const cap = t ? t.connectionCapacity * Math.max(1, serving.length) : 0;
      const scaleCell = document.createElement('td');
      if (t) {
        for (const delta of [1, -1]) {
          const b = button(delta > 0 ? '+1' : '−1', () => api('POST', 'scale', { role, count: delta })).firstChild;
          scaleCell.append(b, ' ');
        }
      }
      return [cell(role), cell(String(serving.length), 'num'), cell(String(of.length - serving.length), 'num'),
        cell(cap ? `${Math.round((conns / cap) * 100)} %` : '', 'num'), cell(t ? String(t.connectionCapacity) : '', 'num'), scaleCell];
    }));
    // A transcoder reports the streams it was given but could not start (an unwritable directory, say).
    const failed = new Map(live.flatMap((n) => (n.metrics?.failedJobs ?? []).map((f) => [`${n.id} ${f.stream}`, f.error])));
    // A stream a transcoder runs from its own config (the appliance's demo) comes marked local.
    fill('streams', streams.map((s) => [
      cell(`${s.app}/${s.stream}`),
      s.local ? cell(`${s.status} (local: ${s.transcoder}'s own config)`)
        : statusCell(s, failed.get(`${s.transcoder} ${s.app}/${s.stream}`)),
      cell(s.transcoder ?? ''), cell(duration(s.windowSeconds)), cell(s.recording ? 'yes' : 'no'), cell(`${s.format} ${s.mode}`),
      cell(s.signedPlayback ? 'yes' : 'no'), lastSegment(s, live), playerButton(s),
    ]));
    drawPlots(history, live, streams);
    fill('events', scale.events.slice(-20).reverse().map((e) => [
      cell(new Date(e.at).toLocaleString()), cell(e.role), cell(e.action === 'out' ? `+${e.count}` : `−${e.count}`),
      cell(e.nodes.join(', ')), cell(e.reason)]));
    const s = $('status');
    s.className = '';
    s.textContent = `${health.nodes} nodes, ${health.streams} streams · updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    showError(err);
    if (!token) return;
  }
  timer = setTimeout(refresh, REFRESH_MS);
}

function open() {
  $('login').hidden = true;
  $('main').hidden = false;
  $('signout').hidden = false;
  refresh();
}

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  token = $('token').value.trim();
  sessionStorage.setItem('dvr-admin-token', token);
  $('token').value = '';
  open();
});
$('signout').addEventListener('click', signOut);

token = takeToken();
if (token) open(); else { $('status').textContent = 'sign in with the admin token'; $('login').hidden = false; }
