// A real nginx-rtmp origin on loopback whose publish callbacks go to a small hook server that
// accepts every key (the controller's key check has its own tests), and a real ffmpeg publisher.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import { silentLogger } from '../../common/log.js';
import { NginxProcess } from '../../nginx/process.js';
import { renderConfig } from '../../nginx/render.js';
import { RTMP_MODULE_PATH, type OriginSegmenter } from '../../nginx/model.js';
import { prepareSegmenterDirs } from '../../nginx/segmenter.js';
import { freePort, tempDir } from './run.js';

export interface Origin {
  rtmpUrl: (stream: string) => string;
  /** rtmp://host:port, as an agent's originSegments.sources names it. */
  base: string;
  stop: () => Promise<void>;
}

/** With a segmenter, nginx-rtmp also writes each stream's fragments under `segmenter.dir`. */
export async function startOrigin(segmenter?: OriginSegmenter): Promise<Origin> {
  const hooks = http.createServer((req, res) => { req.resume(); req.on('end', () => res.end()); });
  hooks.listen(0, '127.0.0.1');
  await once(hooks, 'listening');
  const prefix = await tempDir('origin');
  const rtmp = await freePort();
  const nginx = new NginxProcess({ binary: 'nginx', prefix, log: silentLogger(), startTimeoutMs: 10_000, stopTimeoutMs: 5_000 });
  if (segmenter) await prepareSegmenterDirs(segmenter, ['live']);
  await nginx.start(renderConfig({
    role: 'origin', prefix, rtmpListen: { host: '127.0.0.1', port: rtmp }, statusListen: { host: '127.0.0.1', port: await freePort() },
    apps: ['live'], controllerUrl: `http://127.0.0.1:${(hooks.address() as { port: number }).port}`, hookToken: 'test-hook-token',
    publishAllow: ['127.0.0.1'], playAllow: ['127.0.0.1'], rtmpModulePath: RTMP_MODULE_PATH,
    workerProcesses: 1, workerConnections: 1024, statusAllow: ['127.0.0.1'], ...(segmenter ? { segmenter } : {}),
  }), { host: '127.0.0.1', port: rtmp });
  return {
    rtmpUrl: (stream) => `rtmp://127.0.0.1:${rtmp}/live/${stream}`,
    base: `rtmp://127.0.0.1:${rtmp}`,
    stop: async () => {
      await nginx.stop();
      hooks.close();
      await fs.rm(prefix, { recursive: true, force: true });
    },
  };
}

/** A live publisher: test pattern in real time, 1 s GOPs, to an RTMP URL. */
export function publish(url: string, seconds = 600): ChildProcess {
  return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error',
    '-re', '-t', String(seconds), '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
    '-re', '-t', String(seconds), '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-map', '0:v', '-map', '1:a',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', url], { stdio: 'ignore' });
}

export async function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}
