// The cluster as users deploy it, on one machine: `dvr lab up` (network namespaces, real sshd, the
// project's provisioning, nfs-ganesha and network mounts of the storage, real agents, nginx, a
// publisher), then every fault of the suite through `dvr lab fault`, with a player and a bounded
// load on both edges. After each: every edge's playlist parses with an independent parser, every
// segment that reached the storage is listed once, and the only holes are marked ones within the
// outage. Transcoder failures are detected within 15 s and the playlist advances again within 20 s.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resultTable, type DrillResult } from '../../lab/drill.js';
import { whyNoLab } from '../../lab/lab.js';
import { readState, type LabState } from '../../lab/state.js';
import { faultSuite } from '../../lab/suite.js';
import { hasChromium, launchChromium, videoPage } from '../support/chromium.js';
import { parsePlaylist } from '../support/m3u8.js';
import { run, tempDir, until } from '../support/run.js';

const dvr = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../bin/dvr.cjs');
const MODULES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../node_modules');

/** The player libraries the page loads. */
const LIBRARIES = [path.join(MODULES, 'hls.js/dist/hls.min.js'), path.join(MODULES, 'dashjs/dist/modern/umd/dash.all.min.js')];

/**
 * dash.js (5.2) stops updating a live MPD once a reload of it (or of its patch) failed; its own
 * updateSource() goes on from another URL. This moves it to the next pathway content steering names,
 * as the README tells a page to do.
 */
const DASH_RECOVERY = `p.on('error', (e) => {
  if (!e.error || e.error.code !== 25) return;
  const failed = new URL(String(e.error.message).split(' ')[0]);
  const s = p.getCurrentSteeringResponseData();
  const next = (s && s.pathwayClones || [])
    .find((c) => (s.pathwayPriority || []).includes(c.ID) && c['URI-REPLACEMENT'].HOST !== failed.host);
  if (!next) return;
  const mpd = new URL(p.getSource()); mpd.host = next['URI-REPLACEMENT'].HOST;
  p.updateSource(mpd.href);
});`;

/**
 * A player with its default settings (content steering is on in both) in a <video> of its own, and
 * what a viewer would notice: errors it did not get over (hls.js: fatal ones; dash.js: those the
 * recovery above and its own BaseURL failover do not handle), the longest time the picture stood
 * still once it played, and the host its latest media came from.
 */
function playerSetup(player: 'hls.js' | 'dash.js', url: string): string {
  const start = player === 'hls.js'
    ? `const hls = new Hls(); hls.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) errors.push(d.details); });
       hls.loadSource(url); hls.attachMedia(v); v.play().catch(() => undefined);`
    : `const p = dashjs.MediaPlayer().create();
       p.on('error', (e) => { const c = e.error && e.error.code; const m = String(e.error && e.error.message);
         if (c !== 25 && c !== 27 && !m.includes('/_steering/')) errors.push(JSON.stringify(e.error ?? e).slice(0, 200));
         else overcome.push(Math.round(performance.now()) + ' ' + c + ' ' + m.slice(0, 160)); });
       ${DASH_RECOVERY}
       p.initialize(v, url, true);`;
  return `(() => {
    const url = ${JSON.stringify(url)};
    const v = document.createElement('video'); v.muted = true; document.body.appendChild(v);
    const errors = []; const overcome = []; const stalls = []; const host = new URL(url).host;
    performance.setResourceTimingBufferSize(100000);
    let lastT = 0; let lastAt = 0; let longest = 0;
    setInterval(() => {
      const now = performance.now();
      if (v.currentTime > lastT + 0.01) {
        if (lastAt > 0 && now - lastAt > 1000) stalls.push([Math.round(lastAt), Math.round(now)]);
        if (lastAt > 0) longest = Math.max(longest, now - lastAt); lastT = v.currentTime; lastAt = now;
      }
    }, 100);
    const ext = ${JSON.stringify(player === 'hls.js' ? 'ts' : 'm4s')};
    const lastHost = () => {
      const m = performance.getEntriesByType('resource').filter((e) => e.name.split('?')[0].endsWith('.' + ext));
      return m.length ? new URL(m[m.length - 1].name).hostname : '';
    };
    window.players = window.players || {};
    window.players[${JSON.stringify(player)}] = () => ({ errors, overcome, stalls, played: v.currentTime, host: lastHost(),
      now: performance.now(),
      longestStallS: Math.max(longest, lastAt > 0 ? performance.now() - lastAt : 0) / 1000 });
    ${start}
  })()`;
}

interface PlayerReport {
  errors: string[]; overcome: string[]; stalls: Array<[number, number]>; longestStallS: number; played: number; host: string; now: number;
}

describe('dvr lab: a cluster on one machine, and the fault suite', function () {
  this.timeout(600_000);
  const n = process.pid % 100;
  let dir: string;
  let state: LabState | undefined;
  /** What `dvr lab up` printed. */
  let lines = '';
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, DVR_LAB_DIR: dir, DVR_LAB_NAME: `dvrl${n}`,
    DVR_LAB_SUBNET: `10.209.${120 + n}.0/24`, DVR_ADMIN_TOKEN: 'lab-test-admin-token-0123456789' });
  /** `dvr lab ...` in the test's own environment (its directory, names and network). */
  const lab = (...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> => new Promise((resolve) => {
    execFile(process.execPath, [dvr, 'lab', ...args], { env: env(), timeout: 600_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ stdout, stderr,
        code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0 });
    });
  });
  const line = (out: string, name: string): string =>
    /^(\S+): (\S+)$/m.exec(out.split('\n').find((l) => l.startsWith(`${name}: `)) ?? '')?.[2] ?? '';

  before(async function () {
    const why = await whyNoLab();
    if (why) { console.log(`      skipped: ${why}`); this.skip(); }
    dir = path.join(await tempDir('lab'), 'lab');
  });

  after(async () => {
    if (!dir) return;
    await lab('down');
    await fs.rm(path.dirname(dir), { recursive: true, force: true });
  });

  it('dvr lab up provisions the cluster and prints the lines dvr start prints; '
    + 'the stream plays through both edges and the relay', async () => {
    const up = await lab('up');
    lines = up.stdout;
    assert.equal(up.code, 0,
      `dvr lab up failed:\n${up.stdout}\n${up.stderr}\n${await fs.readFile(path.join(dir, 'provision.log'), 'utf8').catch(() => '')}`);
    for (const name of ['playback', 'dash', 'player', 'publish', 'api', 'dashboard']) {
      assert.match(line(up.stdout, name), /^(https?|rtmp):\/\/10\.209\./, `${name}: line`);
    }
    assert.match(up.stdout, /^- storage: (sshfs from the storage host|NFS)/m, 'it says how the storage is mounted');
    state = await readState(dir);
    assert.ok(state);
    const playback = line(up.stdout, 'playback');
    const master = parsePlaylist(await (await fetch(playback)).text());
    assert.ok(master.variants.length >= 1);
    for (const h of ['edge-2', 'relay-1']) {
      const address = state.net.hosts.find((x) => x.name === h)?.address ?? '';
      const p = parsePlaylist(await (await fetch(`http://${address}:8080/live/lab/source/index.m3u8`)).text());
      assert.ok(p.segments.length >= 2, `${h} serves the playlist`);
    }
    // The edge's player page (from the agent's bundle) and its time-shift URLs (from the agent's service).
    const page = await fetch(line(up.stdout, 'player'));
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script src="vendor\/hls\.min\.js"/);
    assert.equal((await fetch(new URL('/player/vendor/hls.min.js', playback))).status, 200);
    const shifted = await fetch(new URL('source/index.m3u8?start=-4', playback));
    assert.equal(shifted.status, 200, await shifted.clone().text());
    assert.equal(parsePlaylist(await shifted.text()).playlistType, 'EVENT');
    // The API names the nodes as the lab names its hosts; the admin token is the one given.
    const nodes = await (await fetch(`${line(up.stdout, 'api')}/nodes`,
      { headers: { Authorization: `Bearer ${env()['DVR_ADMIN_TOKEN'] ?? ''}` } })).json() as Array<{ id: string; state: string }>;
    assert.deepEqual(nodes.map((x) => x.id).sort(), ['edge-1', 'edge-2', 'ot-1', 'ot-2', 'relay-1', 'tc-1']);
    assert.ok(nodes.every((x) => x.state === 'inservice'));
    const status = await lab('status');
    assert.equal(status.code, 0);
    assert.match(status.stdout, /^ot-1 +10\.209\.\d+\.\d+ +origin\+transcoder +inservice/m);
    // Two controllers over the PostgreSQL beside the storage: one leads, the other stands by.
    assert.match(status.stdout, /^storage +10\.209\.\d+\.\d+ +storage\+postgresql/m);
    const roles = [...status.stdout.matchAll(/^controller(?:-2)? +10\.209\.\d+\.\d+ +controller +(\w+)/gm)].map((m) => m[1]).sort();
    assert.deepEqual(roles, ['leads', 'standby'], status.stdout);
    assert.match(status.stdout, /^faults in effect: none$/m);
  });

  it('refuses unknown faults and hosts with exit 2, naming the choices', async () => {
    const kind = await lab('fault', 'flood');
    assert.deepEqual([kind.code, /unknown fault 'flood'; faults: kill-agent, cut, heal/.test(kind.stderr)], [2, true], kind.stderr);
    const host = await lab('fault', 'cut', 'ot-9');
    assert.deepEqual([host.code, /the lab has no host 'ot-9'; hosts: /.test(host.stderr)], [2, true], host.stderr);
    const wrong = await lab('fault', 'kill-edge', 'ot-1');
    assert.deepEqual([wrong.code, /fault 'kill-edge' does not apply to 'ot-1'; hosts: edge-1, edge-2, relay-1/.test(wrong.stderr)],
      [2, true], wrong.stderr);
    assert.equal((await lab('fault', 'stop-storage', 'storage')).code, 2, 'a fault that takes no host');
  });

  it('survives every fault: detected and moved on within the targets, playlists valid, nothing lost or listed twice, '
    + 'holes marked', async () => {
    assert.ok(state, 'the lab is up');
    const results: DrillResult[] = await faultSuite(state, async (kind, host) => {
      const r = await lab('fault', kind, ...(host ? [host] : []));
      if (r.code !== 0) throw new Error(`dvr lab fault ${kind} ${host ?? ''} failed (${r.code}): ${r.stderr}`);
    });
    const table = resultTable(results);
    console.log(table.split('\n').map((l) => `      ${l}`).join('\n'));
    const problems = results.flatMap((r) => r.problems.map((p) => `${r.label}: ${p}`));
    assert.deepEqual(problems, [], `${table}\n${problems.join('\n')}`);
    for (const r of results.filter((x) => /^(kill-agent|cut|cut-controller) .*\(its transcoder\)$/.test(x.label))) {
      assert.ok((r.detectS ?? Infinity) <= 15, `${r.label}: detected after ${String(r.detectS)} s (target 15 s)\n${table}`);
      assert.ok((r.advanceS ?? Infinity) <= 20, `${r.label}: the playlist advanced after ${String(r.advanceS)} s (target 20 s)\n${table}`);
    }
    // Live through a frozen storage: the edges serve the live edge from the transcoders meanwhile.
    const frozen = results.find((r) => r.label.startsWith('stop-storage'));
    assert.ok(frozen && frozen.errorRate < 0.01 && frozen.viewerErrorRate < 0.01 && frozen.longestStallS <= 4
      && (frozen.advanceS ?? Infinity) < 30, `the storage frozen: errors under 1 %, no stall over 4 s, the playlist advanced\n${table}`);
    // The leader killed, and a transcoder with it: the other controller replaces the transcoder and takes a new publisher.
    const kill = results.find((r) => r.label.startsWith('kill-controller'));
    assert.ok(kill && (kill.detectS ?? Infinity) <= 20 && (kill.advanceS ?? Infinity) <= 25 && (kill.newPublishS ?? Infinity) <= 15,
      `with the leading controller dead: the transcoder replaced within 20 s, a new publish accepted within 15 s\n${table}`);
  });

  it('players ride out a frozen storage (30 s) on their edge, then move off it by content steering when it dies: hls.js (HLS, '
    + 'TS) and dash.js (DASH, fMP4) in Chromium play on without an error or a stall longer than two target durations', async function () {
    if (!(await hasChromium())) this.skip();
    assert.ok(state, 'the lab is up');
    const s = state;
    const edge1 = s.net.hosts.find((h) => h.name === 'edge-1')?.address ?? '';
    const edge2 = s.net.hosts.find((h) => h.name === 'edge-2')?.address ?? '';
    // DASH needs fMP4: the user's stream, published to as a user would (the publish: line).
    const publisher = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25',
      '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '50',
      '-keyint_min', '50', '-sc_threshold', '0', '-b:v', '400k', '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', line(lines, 'publish')],
    { stdio: 'ignore' });
    const browser = await launchChromium();
    try {
      const hlsUrl = `http://${edge1}:8080/live/lab/master.m3u8`;
      const dashUrl = `http://${edge1}:8080/live/cam1/manifest.mpd`;
      // 14 s of window, as the DASH player suite waits for (dash.js stalls on a window of a few seconds).
      await until('14 s of the user\'s stream in its MPD on edge-1', async () => {
        const r = await fetch(dashUrl).catch(() => undefined);
        const timeline = r?.ok ? /<SegmentTimeline>(.*?)<\/SegmentTimeline>/.exec(await r.text())?.[1] ?? '' : '';
        const us = [...timeline.matchAll(/d="(\d+)"(?: r="(\d+)")?/g)].reduce((a, m) => a + Number(m[1]) * (1 + Number(m[2] ?? 0)), 0);
        return us >= 14e6 ? true : undefined;
      }, 90_000, 500);
      const master = await (await fetch(hlsUrl)).text();
      assert.match(master, /^#EXT-X-CONTENT-STEERING:SERVER-URI="\/_steering\/hls\.json",PATHWAY-ID="edge-1"$/m);
      // One page (a background tab would not autoplay), both players.
      const page = await videoPage(await browser.newPage(), `http://${edge1}:8080`, LIBRARIES[0] ?? '');
      await page.addScriptTag({ path: LIBRARIES[1] ?? '' });
      const runs = [['hls.js', hlsUrl], ['dash.js', dashUrl]] as const;
      for (const [name, url] of runs) await page.evaluate(playerSetup(name, url));
      const report = async (name: string): Promise<PlayerReport> =>
        await page.evaluate(`window.players[${JSON.stringify(name)}]()`) as PlayerReport;
      for (const [name] of runs) {
        await until(`${name} to play on edge-1`, async () => {
          const r = await report(name);
          return r.played > 4 && r.host === edge1 ? true : undefined;
        }, 60_000, 250).catch(async (err: unknown) => {
          throw new Error(`${String(err)}: ${JSON.stringify(await report(name))}`);
        });
      }
      // The storage freezes for 30 s: edge-1 serves the live edge from the transcoders' live view.
      const frozenAt = await Promise.all(runs.map(async ([name]) => report(name)));
      assert.equal((await lab('fault', 'stop-storage')).code, 0);
      const frozen = Date.now();
      try {
        await until('30 s of frozen storage', () => (Date.now() - frozen > 30_000 ? true : undefined), 40_000, 500);
      } finally {
        assert.equal((await lab('fault', 'start-storage')).code, 0);
      }
      for (const [i, [name]] of runs.entries()) {
        const r = await report(name);
        assert.deepEqual(r.errors, [], `${name}: no error it did not get over while the storage was frozen`);
        assert.ok(r.longestStallS <= 4, `${name}: its longest stall was ${r.longestStallS.toFixed(1)} s with the storage frozen (4 s); `
          + `errors it got over: ${JSON.stringify(r.overcome)}; stalls over 1 s ${JSON.stringify(r.stalls)}, the storage frozen at `
          + `${Math.round(frozenAt[i]?.now ?? 0)} for 30 s (now ${Math.round(r.now)})`);
        const played = r.played - (frozenAt[i]?.played ?? 0);
        assert.ok(played >= 25, `${name}: it played on (${played.toFixed(1)} s in 30 s)`);
        console.log(`      ${name}: played through 30 s of frozen storage, longest stall ${r.longestStallS.toFixed(1)} s`);
      }
      const killed = await lab('fault', 'kill-edge', 'edge-1');
      assert.equal(killed.code, 0, killed.stderr);
      const since = Date.now();
      for (const [name] of runs) {
        await until(`${name} to fetch its media from edge-2`, async () => ((await report(name)).host === edge2 ? true : undefined),
          30_000, 250).catch(async (err: unknown) => {
          throw new Error(`${String(err)}: ${JSON.stringify(await report(name))}`);
        });
      }
      // It plays on there: 20 s after the edge died.
      await until('20 s after the fault', () => (Date.now() - since > 20_000 ? true : undefined), 30_000, 500);
      for (const [name] of runs) {
        const r = await report(name);
        assert.deepEqual(r.errors, [], `${name}: no error it did not get over`);
        assert.ok(r.longestStallS <= 4, `${name}: its longest stall was ${r.longestStallS.toFixed(1)} s (two target durations: 4 s)`);
        assert.equal(r.host, edge2, `${name}: it plays from edge-2`);
        console.log(`      ${name}: moved to edge-2, longest stall ${r.longestStallS.toFixed(1)} s, at ${r.played.toFixed(1)} s`);
      }
    } finally {
      await browser.close();
      publisher.kill('SIGKILL');
      await lab('fault', 'heal', 'edge-1');
    }
  });

  it('a second up over a lab left behind removes it first; down removes every namespace, mount and process', async () => {
    const again = await lab('up');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^- removing the lab that was here$/m);
    const down = await lab('down');
    assert.equal(down.code, 0, down.stderr);
    const prefix = `dvrl${n}-`;
    assert.equal((await run('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(prefix)).length, 0,
      'no namespace left');
    assert.notEqual((await run('ip', ['link', 'show', `dvrl${n}br`])).code, 0, 'no bridge left');
    assert.doesNotMatch((await run('findmnt', ['-rn', '-o', 'TARGET'])).stdout,
      new RegExp(dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')), 'no mount left');
    assert.equal((await run('pgrep', ['-f', dir])).stdout.trim(), '', 'no process left');
    await assert.rejects(fs.access(dir), 'the lab directory is gone');
  });
});
