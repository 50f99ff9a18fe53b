import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { canConnect } from '../../nginx/process.js';
import { parsePlaylist } from '../support/m3u8.js';
import { ffmpeg, freePort, run, tempDir, until } from '../support/run.js';

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../bin/dvr.cjs');

describe('the appliance command (README quick start)', function () {
  this.timeout(120_000);

  it('prints playback: <url> once the demo stream plays over HTTP, and Ctrl-C stops everything it started', async () => {
    const dataDir = await tempDir('appliance');
    const port = await freePort();
    const apiPort = await freePort();
    const rtmpPort = await freePort();
    const proc = spawn(process.execPath, [cli, 'start'], {
      env: { ...process.env, DVR_DATA_DIR: dataDir, DVR_HTTP_PORT: String(port), DVR_HTTP_HOST: '127.0.0.1', DVR_API_PORT: String(apiPort),
        DVR_RTMP_PORT: String(rtmpPort), DVR_RTMP_STATUS_PORT: String(await freePort()), DVR_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const lines: string[] = [];
    const playback = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no playback line within 60 s; stderr: ${stderr}`)), 60_000);
      createInterface({ input: proc.stdout }).on('line', (l) => {
        lines.push(l);
        const m = /^playback: (\S+)$/.exec(l);
        if (m?.[1]) { clearTimeout(timer); resolve(m[1]); }
      });
      void exited.then((code) => reject(new Error(`dvr start exited (${String(code)}): ${stderr}`)));
    });
    assert.equal(playback, `http://127.0.0.1:${port}/live/demo/master.m3u8`);
    const master = parsePlaylist(await (await fetch(playback)).text());
    assert.ok(master.variants.length >= 2, 'an ABR ladder');
    const media = parsePlaylist(await (await fetch(new URL(master.variants[0]?.uri ?? '', playback))).text());
    assert.ok(media.segments.length >= 1);
    assert.equal(media.endList, false, 'live');
    const seg = await fetch(new URL(media.segments[0]?.uri ?? '', new URL(master.variants[0]?.uri ?? '', playback)));
    assert.equal(seg.status, 200);
    assert.ok(lines.some((l) => /^dash: http:\/\/127\.0\.0\.1:\d+\/live\/demo\/manifest\.mpd$/.test(l)));
    const api = await until('the api: line', () => lines.map((l) => /^api: (\S+)$/.exec(l)?.[1]).find((u) => u !== undefined), 5000);
    assert.equal(api, `http://127.0.0.1:${apiPort}/api/v1`);
    assert.equal((await fetch(`${api}/health`)).status, 200);
    assert.equal((await fetch(`${api}/streams`)).status, 401, 'the API is authenticated');
    const token = (await fs.readFile(path.join(dataDir, 'controller', 'admin-token'), 'utf8')).trim();
    assert.equal((await fetch(`${api}/streams`, { headers: { Authorization: `Bearer ${token}` } })).status, 200);
    assert.equal((await fs.stat(path.join(dataDir, 'controller', 'admin-token'))).mode & 0o777, 0o600);
    const dashboard = await until('the dashboard: line', () => lines.map((l) => /^dashboard: (\S+)$/.exec(l)?.[1]).find((u) => u !== undefined), 5000);
    assert.equal(dashboard, `http://127.0.0.1:${apiPort}/dashboard/`);
    assert.match(await (await fetch(dashboard)).text(), /<title>DVR controller<\/title>/);
    // The appliance's own agent reports to its controller, so the dashboard shows the machine and the demo.
    const node = await until('the appliance node on the dashboard\'s API', async () => {
      const nodes = await (await fetch(`${api}/nodes`, { headers: { Authorization: `Bearer ${token}` } })).json() as
        Array<{ id: string; state: string; metrics: { streams?: Array<{ stream: string }> } | null }>;
      return nodes.find((n) => n.id === 'appliance' && n.state === 'inservice' && n.metrics?.streams?.some((st) => st.stream === 'demo'));
    }, 15_000, 200);
    assert.equal(node.id, 'appliance');
    // A publisher on the printed publish: URL is authorised, pulled, packaged and served.
    const publish = lines.map((l) => /^publish: (\S+)$/.exec(l)?.[1]).find((u) => u !== undefined) ?? '';
    assert.match(publish, new RegExp(`^rtmp://127\\.0\\.0\\.1:${rtmpPort}/live/cam1\\?key=[A-Za-z0-9_-]{20,}$`));
    // A 40 s test pattern in real time, and a stream's playlist once the edge lists two segments.
    const publishPattern = (url: string): ReturnType<typeof ffmpeg> => ffmpeg(['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi',
      '-i', 'testsrc2=size=320x180:rate=25', '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '40',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-c:a', 'aac', '-f', 'flv', url]);
    const playing = (stream: string): Promise<ReturnType<typeof parsePlaylist>> => until(`live/${stream} to play through the edge`, async () => {
      const res = await fetch(`http://127.0.0.1:${port}/live/${stream}/source/index.m3u8`).catch(() => undefined);
      if (!res?.ok) return undefined;
      const p = parsePlaylist(await res.text());
      return p.segments.length >= 2 ? p : undefined;
    }, 40_000, 250);
    const publisher = publishPattern(publish);
    try {
      const cam = await playing('cam1');
      assert.equal(cam.endList, false, 'live');
      const streams = await (await fetch(`${api}/streams`, { headers: { Authorization: `Bearer ${token}` } })).json() as
        Array<{ stream: string; status: string; transcoder: string | null }>;
      assert.deepEqual(streams.map((st) => [st.stream, st.status, st.transcoder]), [['cam1', 'live', 'appliance']]);
      const wrongKey = await ffmpeg(['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25', '-t', '2',
        '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'flv', publish.replace(/key=.*/, 'key=wrong')]);
      assert.notEqual(wrongKey.code, 0, 'a wrong stream key is refused');
    } finally {
      await run('pkill', ['-f', 'live/cam1\\?key=']);
      await publisher;
    }
    // A copy-mode TS stream is packaged from the origin's own fragments: no ffmpeg pulls it.
    const auth = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    const made = await fetch(`${api}/streams`, { method: 'POST', headers: auth, body: JSON.stringify({ app: 'live', stream: 'cam2', format: 'ts', mode: 'copy' }) });
    assert.equal(made.status, 201);
    const publish2 = ((await (await fetch(`${api}/streams/live/cam2/publish`, { headers: auth })).json()) as { url: string }).url;
    const publisher2 = publishPattern(publish2.replace(/\/\/[^/:]+:/, '//127.0.0.1:'));
    try {
      const cam2 = await playing('cam2').catch(async (err: Error) => {
        const p = await Promise.race([publisher2, new Promise((r) => setTimeout(r, 10, 'running'))]);
        throw new Error(`${err.message}; publisher: ${JSON.stringify(p)} ${publish2}; the appliance logged: ${stderr.slice(-3000)}`);
      });
      assert.ok(cam2.segments.every((s) => Math.abs(s.duration - 2) < 0.1), `2 s segments: ${cam2.segments.map((s) => s.duration).join(',')}`);
      const pullers = (await run('pgrep', ['-af', 'ffmpeg'])).stdout.split('\n').filter((l) => l.includes('live/cam2') && !l.includes('key='));
      assert.deepEqual(pullers, [], 'no puller for a stream the origin segments');
      const fragments = await fs.readdir(path.join(dataDir, 'origin-fragments', 'live', 'cam2'));
      assert.ok(fragments.filter((f) => f.endsWith('.ts')).length <= 2, `the origin's fragments are taken as they close: ${fragments.join(' ')}`);
    } finally {
      await run('pkill', ['-f', 'live/cam2\\?key=']);
      await publisher2;
    }
    const state = await fs.stat(path.join(dataDir, 'media', 'live', 'demo', 'stream.json'));
    assert.ok(state.isFile(), 'media and state live under DVR_DATA_DIR');

    proc.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.equal(await canConnect('127.0.0.1', port), false, 'nginx stopped');
    const left = await run('pgrep', ['-f', dataDir]);
    assert.equal(left.stdout.trim(), '', 'no ffmpeg or nginx left behind');
    await fs.rm(dataDir, { recursive: true, force: true });
  });
});
