// A stream made through the controller's API and an ffmpeg test pattern published to it over RTMP,
// as the low-latency tests and benchmarks do it on the appliance and in the lab.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** The controller's API as its admin: its base URL (…/api/v1) and the admin token. */
export interface AdminApi { url: string; token: string }

/** The admin token a controller keeps in its data directory. */
export async function adminApi(url: string, controllerDataDir: string): Promise<AdminApi> {
  return { url, token: (await fs.readFile(path.join(controllerDataDir, 'controller', 'admin-token'), 'utf8')).trim() };
}

function headers(api: AdminApi): Record<string, string> {
  return { Authorization: `Bearer ${api.token}`, 'Content-Type': 'application/json' };
}

/** POST /streams with `settings`: the API's answer, for the caller to check. */
export function createStream(api: AdminApi, settings: Record<string, unknown>): Promise<Response> {
  return fetch(`${api.url}/streams`, { method: 'POST', headers: headers(api), body: JSON.stringify(settings) });
}

/** A stream's publish URL; with `host`, pointed there (the API names the origins as publishers reach them). */
export async function publishUrl(api: AdminApi, app: string, stream: string, host?: string): Promise<string> {
  const res = await fetch(`${api.url}/streams/${app}/${stream}/publish`, { headers: headers(api) });
  if (!res.ok) throw new Error(`GET /streams/${app}/${stream}/publish: ${res.status} ${await res.text()}`);
  const { url } = await res.json() as { url: string };
  return host === undefined ? url : url.replace(/\/\/[^/:]+:/, `//${host}:`);
}

export interface Publisher { proc: ChildProcess; exited: Promise<unknown>; stop: () => Promise<void> }

/**
 * ffmpeg publishing a lavfi `source` (a 320x180 test pattern by default; with `audio`, a tone beside
 * it) in real time to `url` for `seconds`; `wrap` runs it through another command (`ip netns exec
 * <ns>`). stop() is Ctrl-C, and resolves once it exited (at once if it already had).
 */
export function publishTestPattern(url: string, o: { seconds: number; source?: string; audio?: boolean; preset?: string;
  bitrate?: string; wrap?: string[] }): Publisher {
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-f', 'lavfi', '-i', o.source ?? 'testsrc2=size=320x180:rate=25',
    ...(o.audio ? ['-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'] : []), '-t', String(o.seconds),
    '-c:v', 'libx264', '-preset', o.preset ?? 'ultrafast', '-tune', 'zerolatency', '-g', '50',
    ...(o.bitrate ? ['-b:v', o.bitrate] : []), ...(o.audio ? ['-c:a', 'aac'] : []), '-f', 'flv', url];
  const [cmd = 'ffmpeg', ...rest] = [...o.wrap ?? [], 'ffmpeg', ...args];
  const proc = spawn(cmd, rest, { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = once(proc, 'exit');
  return { proc, exited, stop: async () => { proc.kill('SIGINT'); await exited; } };
}
