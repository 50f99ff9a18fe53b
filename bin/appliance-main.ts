// The appliance's command line: `dvr start` runs everything one machine needs (see
// appliance/appliance.ts) and prints the URLs to use, each `name: <url>` on its own line.
import path from 'node:path';
import { Appliance, StartupError, tail, type ApplianceOptions } from '../appliance/appliance.js';
import { defaultDataDir } from '../appliance/data-dir.js';
import { packageVersion, parseCommandLine, runCommand, usageError } from '../common/cli.js';
import { envNumber } from '../common/env.js';
import { DvrError, isDvrError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { apiMain, isApiCommand, sizeMain } from './api-cli.js';
import { controllerTimings } from '../controller/controller.js';
import { loadStreamDefaults } from '../controller/streams.js';
import { labMain } from './lab-cli.js';

const HELP = `usage: dvr start [--port N] [--host ADDR] [--no-demo]
       dvr streams list | create | url | rm       (the controller's API: dvr streams --help)
       dvr nodes list | drain
       dvr recordings list
       dvr launch-config validate | apply | list | rm
       dvr scale <role> <+N|-N>
       dvr size --streams N --bitrate B --window W ...     (storage, NFS and egress a deployment needs)
       dvr lab up | status | fault <kind> [host] | down     (a cluster on this machine: dvr lab --help)
       dvr --version

Runs the DVR appliance on this machine and prints, each on its own line:
  playback: <HLS master playlist URL of the demo stream>
  dash: <DASH manifest URL>
  player: <the edge's player page for the demo stream>
  publish: <RTMP URL, with its stream key, to publish live/cam1 from OBS or ffmpeg>
  api: <the controller's REST API>   dashboard: <its dashboard>

environment:
  DVR_DATA_DIR     where media and state live (default ./data; as root /var/lib/dvr, unless ./data
                   already holds an appliance's state)
  DVR_HTTP_PORT    port nginx serves playback on (default 8080)
  DVR_HTTP_HOST    address nginx listens on, for playback and RTMP (default 0.0.0.0)
  DVR_RTMP_PORT    port publishers connect to (default 1935)
  DVR_RTMP_STATUS_PORT  the origin's local status port (default 8081, on 127.0.0.1)
  DVR_TIMESHIFT_PORT  the edge's time-shift service (default 8082, on 127.0.0.1)
  DVR_PUBLIC_URL   base URL printed for players (default http://127.0.0.1:<port>)
  DVR_DEMO_WINDOW  DVR window of the demo stream in seconds (default 3600; 0 = whole event)
  DVR_API_PORT     port of the controller's REST API (default 8000, on DVR_API_HOST, default 127.0.0.1)
  DVR_RECONNECT_GRACE_SECONDS  how long a publisher may be away before its event ends (default 30)
  DVR_STREAM_DEFAULTS  a JSON file of defaults for new streams (windowSeconds, format, ..., forceRecording)
  DVR_ADMIN_TOKEN  the API's admin token (default: generated once, kept in DVR_DATA_DIR/controller/admin-token)
  DVR_LOG_LEVEL    log level (default info); logs go to stderr
`;


/** A port from the command line (given), else the environment variable, else the default. */
function portOf(name: string, fallback: number, given?: string): number {
  const raw = given ?? process.env[name];
  const v = Number(raw ?? fallback);
  if (!Number.isInteger(v) || v < 1 || v > 65535) {
    if (given !== undefined) throw usageError(`--port: '${given}' is not a TCP port`);
    throw new DvrError('DVR_ERR_CONFIG', `${name}: '${raw ?? ''}' is not a TCP port`);
  }
  return v;
}

/** `dvr start`'s options; undefined when it printed its help or version. */
function options(argv: string[]): { start: ApplianceOptions; dataDirWhy: string } | undefined {
  const parsed = parseCommandLine({ command: 'dvr start', usage: HELP,
    options: { port: { type: 'string' }, host: { type: 'string' }, 'no-demo': { type: 'boolean' } } }, argv);
  if (!parsed) return undefined;
  const { values } = parsed;
  const port = portOf('DVR_HTTP_PORT', 8080, values.port);
  const data = defaultDataDir(process.env, process.cwd(), process.getuid?.() === 0);
  return {
    dataDirWhy: data.why,
    start: {
      port, apiPort: portOf('DVR_API_PORT', 8000), rtmpPort: portOf('DVR_RTMP_PORT', 1935),
      rtmpStatusPort: portOf('DVR_RTMP_STATUS_PORT', 8081), timeshiftPort: portOf('DVR_TIMESHIFT_PORT', 8082),
      host: values.host ?? process.env['DVR_HTTP_HOST'] ?? '0.0.0.0', apiHost: process.env['DVR_API_HOST'] ?? '127.0.0.1',
      demo: values['no-demo'] !== true, dataDir: data.dir,
      publicUrl: (process.env['DVR_PUBLIC_URL'] ?? `http://127.0.0.1:${port}`).replace(/\/+$/, ''),
      demoWindowSeconds: envNumber('DVR_DEMO_WINDOW', 3600, { min: 0, max: 31 * 86400 }),
      reconnectGraceSeconds: controllerTimings().endGraceSeconds,
      playableWithinMs: 60_000,
      ...(process.env['DVR_ADMIN_TOKEN'] ? { adminToken: process.env['DVR_ADMIN_TOKEN'] } : {}),
    },
  };
}

async function main(): Promise<number | undefined> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'lab') return labMain(rest);
  if (command === 'size' || isApiCommand(command)) {
    const run = async (): Promise<number> => (command === 'size' ? sizeMain(rest) : apiMain(command, rest));
    return run().catch((err: unknown) => {
      if (isDvrError(err, 'DVR_ERR_USAGE')) {
        console.error(`dvr ${command}: ${err.message} (see dvr ${command} --help)`);
        return 2;
      }
      console.error(`dvr ${command}: ${isDvrError(err) ? `${err.code}: ` : ''}${err instanceof Error ? err.message : String(err)}`);
      return 1;
    });
  }
  if (command === '--help' || command === '-h' || command === 'help') { console.log(HELP); return 0; }
  if (command === '--version' || command === '-V') { console.log(`dvr ${packageVersion()}`); return 0; }
  if (command !== 'start') {
    throw usageError(command === undefined ? 'which command? (dvr start runs the appliance)' : `unknown command '${command}'`);
  }
  const parsed = options(rest);
  if (!parsed) return 0;
  const o = parsed.start;
  const defaultsFile = process.env['DVR_STREAM_DEFAULTS'];
  if (defaultsFile) o.streamDefaults = await loadStreamDefaults(path.resolve(defaultsFile));
  const log = createLogger();
  const appliance = new Appliance(o, log, (line) => console.log(`- ${line}`));
  let stopping = false;
  const stop = (signal: string, code: number): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    void appliance.stop().then(() => process.exit(code));
  };
  process.on('SIGINT', () => stop('SIGINT', 0));
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  console.log(`- data: ${o.dataDir} (${parsed.dataDirWhy})`);
  try {
    await appliance.start();
  } catch (err) {
    if (stopping) return;
    stopping = true;
    const part = err instanceof StartupError ? err.part : 'start-up';
    const code = err instanceof StartupError ? err.code : isDvrError(err) ? err.code : undefined;
    console.error(`dvr: ${part} failed: ${code !== undefined ? `${code}: ` : ''}${err instanceof Error ? err.message : String(err)}`);
    for (const file of err instanceof StartupError ? err.logFiles : []) console.error(`\nlast lines of ${file}:\n${await tail(file)}`);
    console.error('\ndvr: stopping everything it started');
    await appliance.stop();
    process.exit(1);
  }
  const controller = appliance.controller;
  if (!controller) return undefined;
  if (o.demo) {
    console.log(`playback: ${appliance.playbackUrl}`);
    console.log(`dash: ${appliance.dashUrl}`);
    console.log(`player: ${appliance.playerUrl}`);
  } else {
    console.log(`media: ${o.publicUrl}/`);
  }
  console.log(`publish: ${appliance.publishUrl}`);
  console.log(`api: ${controller.url}/api/v1`);
  console.log(`dashboard: ${controller.url}/dashboard/`);
  console.log(`admin token: ${o.adminToken !== undefined ? 'DVR_ADMIN_TOKEN' : path.join(o.dataDir, 'controller', 'admin-token')}`);
  return undefined;
}

runCommand('dvr', main);
