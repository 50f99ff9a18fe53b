import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, tempDir, until } from '../support/run.js';
import { patternJob } from '../support/jobs.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const pm2 = path.join(repo, 'node_modules', '.bin', 'pm2');

interface Pm2Proc { name: string; pid: number; pm2_env: { status: string; restart_time: number } }

describe('the agent under pm2', function () {
  this.timeout(90_000);

  it('runs from the ecosystem file, and a SIGKILLed agent is restarted and keeps packaging', async () => {
    const dir = await tempDir('pm2');
    const storage = path.join(dir, 'media');
    const config = path.join(dir, 'agent.json');
    await fs.writeFile(config, JSON.stringify({ nodeId: 'pm2-test', storageRoot: storage, jobs: [patternJob('pm2')] }));
    const env = { ...process.env, PM2_HOME: path.join(dir, 'pm2'), DVR_AGENT_CONFIG: config };
    const pm = (args: string[]): Promise<{ stdout: string; stderr: string; code: number }> => run('env',
      [...Object.entries({ PM2_HOME: env.PM2_HOME, DVR_AGENT_CONFIG: config }).map(([k, v]) => `${k}=${v}`), pm2, ...args], 60_000);
    const list = async (): Promise<Pm2Proc[]> => JSON.parse((await pm(['jlist'])).stdout || '[]') as Pm2Proc[];
    try {
      const started = await pm(['start', path.join(repo, 'ecosystem.config.cjs')]);
      assert.equal(started.code, 0, started.stderr);
      const first = await until('pm2 to list dvr-agent online', async () =>
        (await list()).find((p) => p.name === 'dvr-agent' && p.pm2_env.status === 'online' && p.pid > 0), 30_000, 200);
      const index = path.join(storage, 'live', 'pm2', 'source', 'index.m3u8');
      const count = async (): Promise<number> => (await fs.readFile(index, 'utf8').catch(() => '')).split('\n')
        .filter((l) => l.endsWith('.ts')).length;
      await until('segments listed', async () => ((await count()) >= 2 ? true : undefined), 30_000, 200);
      process.kill(first.pid, 'SIGKILL');
      const second = await until('pm2 to restart the agent', async () => (await list()).find((p) => p.name === 'dvr-agent'
        && p.pm2_env.status === 'online' && p.pid > 0 && p.pid !== first.pid), 30_000, 200);
      assert.ok(second.pm2_env.restart_time >= 1);
      const before = await count();
      await until('packaging to go on after the restart', async () => ((await count()) >= before + 2 ? true : undefined), 30_000, 200);
    } finally {
      await pm(['delete', 'all']);
      await pm(['kill']);
      await run('pkill', ['-f', storage]);
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
