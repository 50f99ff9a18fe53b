// The appliance's command line. `dvr start` runs everything one machine needs, as a cluster's
// nodes would: an RTMP origin (nginx) asking the controller about each publisher, the controller,
// the transcoder agent that pulls what is published and packages it, nginx serving it, and
// (unless disabled) a demo stream from a test pattern.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { envNumber } from '../common/env.js';
import { isDvrError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/log.js';
import { Agent } from '../agent/agent.js';
import { parseAgentConfig } from '../agent/config.js';
import { ServingAgent } from '../agent/roles/serving-agent.js';
import { Controller } from '../controller/controller.js';
import { LAUNCH_CONFIG_DIR } from '../controller/launch-config.js';
import { NginxProcess } from '../nginx/process.js';
import { EDGE_DEFAULTS, RTMP_MODULE_PATH } from '../nginx/model.js';
import { renderConfig } from '../nginx/render.js';
import { prepareSegmenterDirs } from '../nginx/segmenter.js';

const HELP = `usage: dvr start [--port N] [--host ADDR] [--no-demo]

Runs the DVR appliance on this machine and prints, each on its own line:
  playback: <HLS master playlist URL of the demo stream>
  dash: <DASH manifest URL>
  publish: <RTMP URL, with its stream key, to publish live/cam1 from OBS or ffmpeg>
  api: <the controller's REST API>   dashboard: <its dashboard>

environment:
  DVR_DATA_DIR     where media and state live (default ./data)
  DVR_HTTP_PORT    port nginx serves playback on (default 8080)
  DVR_HTTP_HOST    address nginx listens on, for playback and RTMP (default 0.0.0.0)
  DVR_RTMP_PORT    port publishers connect to (default 1935)
  DVR_RTMP_STATUS_PORT  the origin's local status port (default 8081, on 127.0.0.1)
  DVR_PUBLIC_URL   base URL printed for players (default http://127.0.0.1:<port>)
  DVR_DEMO_WINDOW  DVR window of the demo stream in seconds (default 3600; 0 = whole event)
  DVR_API_PORT     port of the controller's REST API (default 8000, on DVR_API_HOST, default 127.0.0.1)
  DVR_RECONNECT_GRACE_SECONDS  how long a publisher may be away before its event ends (default 30)
  DVR_ADMIN_TOKEN  the API's admin token (default: generated once, kept in DVR_DATA_DIR/controller/admin-token)
  DVR_LOG_LEVEL    log level (default info); logs go to stderr
`;

interface StartOptions {
  port: number; apiPort: number; rtmpPort: number; rtmpStatusPort: number; host: string; demo: boolean; dataDir: string; publicUrl: string;
  demoWindow: number;
  reconnectGraceSeconds: number;
}

/** A port from the command line (given), else the environment variable, else the default. */
function portOf(name: string, fallback: number, given?: string): number {
  const raw = given ?? process.env[name];
  const v = Number(raw ?? fallback);
  if (!Number.isInteger(v) || v < 1 || v > 65535) throw new Error(`${given === undefined ? name : `--port / ${name}`}: '${raw ?? ''}' is not a TCP port`);
  return v;
}

function options(argv: string[]): { command: string | undefined; start: StartOptions; help: boolean } {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      port: { type: 'string' }, host: { type: 'string' }, 'no-demo': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  const port = portOf('DVR_HTTP_PORT', 8080, values.port);
  const demoWindow = Number(process.env['DVR_DEMO_WINDOW'] ?? 3600);
  if (!(demoWindow >= 0)) throw new Error(`DVR_DEMO_WINDOW: '${process.env['DVR_DEMO_WINDOW'] ?? ''}' is not a number of seconds`);
  return {
    command: positionals[0],
    help: values.help === true,
    start: {
      port, apiPort: portOf('DVR_API_PORT', 8000), rtmpPort: portOf('DVR_RTMP_PORT', 1935), rtmpStatusPort: portOf('DVR_RTMP_STATUS_PORT', 8081), host: values.host ?? process.env['DVR_HTTP_HOST'] ?? '0.0.0.0', demo: values['no-demo'] !== true,
      dataDir: path.resolve(process.env['DVR_DATA_DIR'] ?? './data'),
      publicUrl: (process.env['DVR_PUBLIC_URL'] ?? `http://127.0.0.1:${port}`).replace(/\/+$/, ''),
      demoWindow, reconnectGraceSeconds: envNumber('DVR_RECONNECT_GRACE_SECONDS', 30, { min: 0, max: 3600 }),
    },
  };
}

async function waitForHttp(url: string, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch { /* not yet */ }
    if (Date.now() > until) throw new Error(`${url} did not become playable within ${deadlineMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The stream live/cam1 (made on first start) and the RTMP URL that publishes it, key included. */
async function publishUrl(api: string, adminToken: string, o: StartOptions): Promise<string> {
  const call = async (method: string, p: string, body?: unknown): Promise<Response> => fetch(`${api}/api/v1${p}`, {
    method, headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  if (!(await call('GET', '/streams/live/cam1')).ok) {
    const made = await call('POST', '/streams', { app: 'live', stream: 'cam1', windowSeconds: 7200, recording: true });
    if (!made.ok) throw new Error(`cannot create the stream live/cam1: ${await made.text()}`);
  }
  const res = await call('GET', '/streams/live/cam1/publish');
  if (!res.ok) throw new Error(`cannot look up the publish URL of live/cam1: ${await res.text()}`);
  const url = new URL(((await res.json()) as { url: string }).url);
  // Publishers reach the origin at this machine's public name, not at the loopback address it registered with.
  url.hostname = new URL(o.publicUrl).hostname;
  return url.toString();
}

async function start(o: StartOptions, log: Logger): Promise<void> {
  const mediaRoot = path.join(o.dataDir, 'media');
  const prefix = path.join(o.dataDir, 'nginx');
  await fs.mkdir(mediaRoot, { recursive: true });
  await fs.mkdir(prefix, { recursive: true });
  const webRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');

  const nginx = new NginxProcess({ binary: 'nginx', prefix, log, startTimeoutMs: 10_000, stopTimeoutMs: 5_000 });
  const originPrefix = path.join(o.dataDir, 'nginx-origin');
  await fs.mkdir(originPrefix, { recursive: true });
  const origin = new NginxProcess({ binary: 'nginx', prefix: originPrefix, log, startTimeoutMs: 10_000, stopTimeoutMs: 5_000 });
  let agent: Agent | undefined;
  const serving: ServingAgent[] = [];
  let controller: Controller | undefined;
  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const steps: Array<[string, () => Promise<void>]> = [['origin', () => origin.stop()], ['agent', async () => agent?.close()],
      ['nginx', () => nginx.stop()], ['reporting agents', async () => { for (const a of serving) await a.close(); }],
      ['controller', async () => controller?.close()]];
    for (const [name, step] of steps) {
      try { await step(); } catch (err) { log.error({ err: String(err), part: name }, 'stop failed'); }
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  // Where this machine reaches its own listeners to see them up.
  const local = o.host === '0.0.0.0' ? '127.0.0.1' : o.host;
  await nginx.start(renderConfig({
    ...EDGE_DEFAULTS, role: 'edge', storageRoot: mediaRoot, prefix, listen: [{ host: o.host, port: o.port }], webRoot,
  }), { host: local, port: o.port });

  controller = await Controller.start({
    dataDir: path.join(o.dataDir, 'controller'), host: process.env['DVR_API_HOST'] ?? '127.0.0.1', port: o.apiPort, log,
    ...(process.env['DVR_ADMIN_TOKEN'] ? { adminToken: process.env['DVR_ADMIN_TOKEN'] } : {}),
    provisioningTimeoutMs: 600_000, deadAfterMs: 18_000, sweepIntervalMs: 1000, originRtmpPort: o.rtmpPort, edgeHttpPort: o.port, endGraceSeconds: o.reconnectGraceSeconds, playbackTtlSeconds: 6 * 3600, scaleIntervalMs: 5000,
    // Its roles' capacities (the transcoder takes four publishers) until an admin stores another.
    initialLaunchConfig: path.join(LAUNCH_CONFIG_DIR, 'single-machine.json'),
  });

  // The origin: publishers connect here; each publish is authorised by the controller, which hands
  // the stream to the transcoder agent below. It segments copy-mode streams itself (nginx-rtmp's
  // HLS writer) and the agent takes the fragments from the same disk, so no puller runs per stream.
  const segmenter = { dir: path.join(o.dataDir, 'origin-fragments'), fragmentSeconds: 2, playlistSeconds: 60 };
  await prepareSegmenterDirs(segmenter, ['live']);
  await origin.start(renderConfig({
    role: 'origin', prefix: originPrefix, rtmpListen: { host: o.host, port: o.rtmpPort }, statusListen: { host: '127.0.0.1', port: o.rtmpStatusPort },
    apps: ['live'], controllerUrl: controller.url, hookToken: controller.agentToken, publishAllow: ['all'], playAllow: ['127.0.0.1'],
    rtmpModulePath: RTMP_MODULE_PATH, workerProcesses: 1, workerConnections: 1024, statusAllow: ['127.0.0.1'],
    nodeId: 'appliance-origin', segmenter,
  }), { host: local, port: o.rtmpPort });
  // The machine's origin and edge report their publishers and viewers, as a cluster's nodes do.
  const report = { storageRoot: mediaRoot, heartbeatSeconds: 2, controller: { url: controller.url, agentToken: controller.agentToken } };
  serving.push(ServingAgent.start(parseAgentConfig({ ...report, nodeId: 'appliance-origin', role: 'origin',
    nginxStatusUrl: `http://127.0.0.1:${o.rtmpStatusPort}` }), log));
  serving.push(ServingAgent.start(parseAgentConfig({ ...report, nodeId: 'appliance-edge', role: 'edge', nginxStatusUrl: `http://127.0.0.1:${o.port}` }), log));

  // The one-machine appliance runs the same agent a cluster's transcoder runs, with a local job.
  const demo = {
    app: 'live', stream: 'demo', source: { testPattern: { width: 1280, height: 720, fps: 25 } }, mode: 'transcode',
    ladder: [{ name: 'r720', height: 720, videoKbps: 2000 }, { name: 'r360', height: 360, videoKbps: 600 }, { name: 'audio' }],
    format: 'fmp4', segmentSeconds: 2, dvr: { windowSeconds: o.demoWindow },
  };
  agent = await Agent.start(parseAgentConfig({
    nodeId: 'appliance', storageRoot: mediaRoot, stateDir: path.join(o.dataDir, 'state'), jobs: o.demo ? [demo] : [],
    // Its heartbeats put the machine and its streams' figures on the dashboard, and bring it the
    // streams publishers send to the origin.
    controller: { url: controller.url, agentToken: controller.agentToken }, heartbeatSeconds: 2,
    originSegments: { dir: segmenter.dir, fragmentSeconds: segmenter.fragmentSeconds, sources: [`rtmp://127.0.0.1:${o.rtmpPort}`] },
  }), log);
  const publish = await publishUrl(controller.url, controller.adminToken, o);
  if (!o.demo) {
    console.log(`media: ${o.publicUrl}/`);
    console.log(`publish: ${publish}`);
    console.log(`api: ${controller.url}/api/v1`);
    console.log(`dashboard: ${controller.url}/dashboard/`);
    return;
  }
  const playback = `${o.publicUrl}/live/demo/master.m3u8`;
  await waitForHttp(playback, 60_000);
  await waitForHttp(`${o.publicUrl}/live/demo/manifest.mpd`, 10_000);
  console.log(`playback: ${playback}`);
  console.log(`dash: ${o.publicUrl}/live/demo/manifest.mpd`);
  console.log(`publish: ${publish}`);
  console.log(`api: ${controller.url}/api/v1`);
  console.log(`dashboard: ${controller.url}/dashboard/`);
  console.log(`admin token: ${process.env['DVR_ADMIN_TOKEN'] ? 'DVR_ADMIN_TOKEN' : path.join(o.dataDir, 'controller', 'admin-token')}`);
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof options>;
  try {
    parsed = options(process.argv.slice(2));
  } catch (err) {
    console.error(`dvr: ${err instanceof Error ? err.message : String(err)}\n\n${HELP}`);
    process.exit(2);
  }
  if (parsed.help || parsed.command !== 'start') {
    console.log(HELP);
    process.exit(parsed.help ? 0 : 2);
  }
  const log = createLogger();
  try {
    await start(parsed.start, log);
  } catch (err) {
    console.error(`dvr: ${isDvrError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}

void main();
