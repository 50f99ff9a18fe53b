// What an earlier run of the appliance on the same data directory left running: a crash of `node`
// (kill -9, the OOM killer) before its children were leashed to it left both nginx instances
// holding their ports and the encoders writing into the data directory. At start, each is found
// by its pid file, checked to be this data directory's own by its command line, and stopped; a pid
// file that names another program (the pid was reused) is reported and that program left alone.
// A live appliance on the same data directory is another matter: it is refused, never stopped.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DvrError, errnoCode } from '../common/errors.js';

/** How long a leftover has to stop after SIGTERM before it is killed. */
const STOP_GRACE_MS = 5000;

/** The command line of a running process (NUL-separated arguments joined by spaces), or undefined. */
async function commandLine(pid: number): Promise<string | undefined> {
  try {
    const raw = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8');
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    // A zombie is not running (its parent has not reaped it yet).
    if (/\) Z /.test(stat)) return undefined;
    return raw.split('\0').filter((a) => a !== '').join(' ');
  } catch {
    return undefined;
  }
}

async function stop(pid: number): Promise<void> {
  const alive = async (): Promise<boolean> => (await commandLine(pid)) !== undefined;
  const signal = (sig: NodeJS.Signals): void => {
    try { process.kill(pid, sig); } catch (err) { if (errnoCode(err) !== 'ESRCH') throw err; }
  };
  signal('SIGTERM');
  const until = Date.now() + STOP_GRACE_MS;
  while (await alive()) {
    if (Date.now() > until) {
      signal('SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A pid file's number: nginx writes one line, the agent's encoder records are JSON. */
async function pidIn(file: string): Promise<{ pid: number; session?: string } | undefined> {
  let text: string;
  try {
    text = (await fs.readFile(file, 'utf8')).trim();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  if (/^\d+$/.test(text)) return { pid: Number(text) };
  try {
    const j = JSON.parse(text) as { pid?: unknown; session?: unknown };
    if (typeof j.pid === 'number' && Number.isInteger(j.pid) && j.pid > 1) {
      return { pid: j.pid, ...(typeof j.session === 'string' ? { session: j.session } : {}) };
    }
  } catch { /* not a record of ours */ }
  return undefined;
}

export interface LeftoverPlaces {
  dataDir: string;
  /** nginx prefixes by the part's name: each holds its nginx.pid. */
  nginx: Record<string, string>;
  /** Where the agent keeps its encoder records (<name>.pid, JSON). */
  stateDir: string;
}

/**
 * Stops what an earlier run of this data directory left running, and says each thing it stopped or
 * left alone. The lock file (`appliance.pid`) names the appliance that holds the directory: one that
 * still runs is an error, so that a second `dvr start` never stops the first's children.
 */
export async function reclaim(p: LeftoverPlaces, say: (line: string) => void): Promise<void> {
  const lock = path.join(p.dataDir, 'appliance.pid');
  const holder = await pidIn(lock);
  if (holder && holder.pid !== process.pid) {
    const cmd = await commandLine(holder.pid);
    if (cmd !== undefined && /\bnode\b/.test(cmd) && / start\b/.test(cmd)) {
      throw new DvrError('DVR_ERR_CONFLICT', `another appliance (pid ${holder.pid}: ${cmd}) runs on the data directory ${p.dataDir}; `
        + 'stop it first (Ctrl-C in its terminal, or kill -TERM ' + `${holder.pid}), or give this one another DVR_DATA_DIR`);
    }
  }
  for (const [part, prefix] of Object.entries(p.nginx)) {
    const found = await pidIn(path.join(prefix, 'nginx.pid'));
    if (!found) continue;
    const cmd = await commandLine(found.pid);
    if (cmd === undefined) continue;
    if (/\bnginx\b/.test(cmd) && cmd.includes(`-p ${prefix}`)) {
      await stop(found.pid);
      say(`stopped ${part} (pid ${found.pid}), left running by an earlier run on this data directory`);
    } else {
      say(`${part}'s pid file names pid ${found.pid}, which is not this data directory's nginx (${cmd.slice(0, 120)}): left alone`);
    }
  }
  const records = await fs.readdir(p.stateDir).catch(() => [] as string[]);
  for (const name of records.filter((f) => f.endsWith('.pid'))) {
    const found = await pidIn(path.join(p.stateDir, name)).catch(() => undefined);
    if (!found) continue;
    const cmd = await commandLine(found.pid);
    if (cmd === undefined) continue;
    const stream = name.slice(0, -'.pid'.length);
    if (found.session !== undefined && cmd.includes(`${found.session}-`) && cmd.includes(p.dataDir)) {
      await stop(found.pid);
      say(`stopped the encoder of ${stream} (pid ${found.pid}), left running by an earlier run on this data directory`);
    } else {
      say(`the encoder record of ${stream} names pid ${found.pid}, which is not this data directory's encoder `
        + `(${cmd.slice(0, 120)}): left alone`);
    }
  }
  await fs.writeFile(lock, `${process.pid}\n`, { mode: 0o644 });
}

/** Removes the lock when this appliance stops (only its own). */
export async function release(dataDir: string): Promise<void> {
  const lock = path.join(dataDir, 'appliance.pid');
  if ((await pidIn(lock).catch(() => undefined))?.pid === process.pid) await fs.rm(lock, { force: true });
}
