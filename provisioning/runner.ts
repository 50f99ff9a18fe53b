// Carries out the provisioning plan over SSH (node-ssh): hosts in parallel, live progress per host,
// every exit code checked, host keys pinned. Each host gets a private upload directory (mktemp -d,
// removed afterwards) holding nfs-kit and the files its steps need; a step that fails stops that
// host, with the step's output in the result. A re-run that changes nothing reports "unchanged".
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NodeSSH } from 'node-ssh';
import { hostId, storageKnownHosts, type KnownHosts } from './known-hosts.js';
import { PROVISIONING_DIR, type Inventory, type InventoryHost } from './inventory.js';
import { planHost, planStopAgent, UPLOAD, type PlanInputs, type Step } from './plan.js';
import { DvrError } from '../common/errors.js';

export type Outcome = 'changed' | 'unchanged' | 'would change' | 'failed';

export interface StepResult { name: string; outcome: Outcome; exitCode: number | null; output: string }
export interface HostResult { host: string; address: string; outcome: Outcome; steps: StepResult[]; error?: string }

export interface RunOptions extends PlanInputs {
  inventory: Inventory;
  knownHosts: KnownHosts;
  acceptNewHostKeys: boolean;
  /** Print what would change; change nothing. */
  check: boolean;
  /** Only these hosts (names); default all. */
  only?: string[];
  concurrency?: number;
  onProgress?: (host: string, line: string) => void;
}

const KIT_DIR = path.join(PROVISIONING_DIR, 'nfs-kit');

/** Single-quotes a word for the remote shell. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Splits a stream of chunks into lines for the progress callback. */
function lineSink(emit: (line: string) => void): { push: (chunk: Buffer) => void; end: () => void } {
  let rest = '';
  return {
    push: (chunk) => {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) emit(l);
    },
    end: () => { if (rest) emit(rest); rest = ''; },
  };
}

function combine(outcomes: Outcome[]): Outcome {
  for (const o of ['failed', 'changed', 'would change'] as const) if (outcomes.includes(o)) return o;
  return 'unchanged';
}

async function connect(o: RunOptions, h: InventoryHost, progress: (line: string) => void): Promise<NodeSSH> {
  const port = h.sshPort ?? o.inventory.ssh.port;
  const id = hostId(h.address, port);
  let refused: string | undefined;
  const pinned = o.knownHosts.typesFor(id);
  const ssh = new NodeSSH();
  try {
    await ssh.connect({
      host: h.address, port, username: o.inventory.ssh.user,
      privateKeyPath: o.inventory.ssh.privateKey ?? path.join(os.homedir(), '.ssh', 'id_ed25519'),
      readyTimeout: o.inventory.ssh.timeoutSeconds * 1000,
      // Ask for the key type we pinned, so a server with several keys shows the pinned one.
      ...(pinned.length ? { algorithms: { serverHostKey: pinned as never } } : {}),
      hostVerifier: (key: Buffer) => {
        const v = o.knownHosts.verify(id, key, o.acceptNewHostKeys);
        if (!v.ok) refused = v.reason;
        else if (v.added) progress(`host key pinned on first use in ${o.knownHosts.file}`);
        return v.ok;
      },
    });
  } catch (e) {
    ssh.dispose();
    throw new DvrError('DVR_ERR_DEPENDENCY', refused ?? `cannot connect to ${o.inventory.ssh.user}@${id}: ${(e as Error).message}`);
  }
  return ssh;
}

async function runStep(ssh: NodeSSH, step: Step, cmd: string, progress: (line: string) => void): Promise<StepResult> {
  const output: string[] = [];
  const emit = (line: string): void => { output.push(line); progress(`${step.name}: ${line}`); };
  const out = lineSink(emit), err = lineSink(emit);
  const r = await ssh.execCommand(cmd, { onStdout: out.push, onStderr: err.push });
  out.end(); err.end();
  const last = [...r.stdout.split('\n')].reverse().find((l) => l.startsWith('result: '));
  const outcome: Outcome = r.code !== 0 ? 'failed'
    : last === 'result: changed' ? 'changed' : last === 'result: would change' ? 'would change'
      : last === 'result: unchanged' ? 'unchanged' : 'failed';
  if (r.code === 0 && outcome === 'failed') emit(`(no result line: the script ended without saying what it did)`);
  return { name: step.name, outcome, exitCode: r.code, output: output.slice(-40).join('\n') };
}

async function runSteps(o: RunOptions, h: InventoryHost, steps: Step[]): Promise<HostResult> {
  const progress = (line: string): void => o.onProgress?.(h.name, line);
  const result: HostResult = { host: h.name, address: h.address, outcome: 'unchanged', steps: [] };
  let ssh: NodeSSH | undefined;
  let work: string | undefined;
  try {
    progress(`connecting to ${h.address}`);
    ssh = await connect(o, h, progress);
    const sudo = o.inventory.ssh.user === 'root' ? '' : 'sudo -n ';
    const made = await ssh.execCommand('umask 077 && mktemp -d /tmp/dvr-provision.XXXXXXXX');
    if (made.code !== 0 || !made.stdout.startsWith('/tmp/dvr-provision.')) throw new DvrError('DVR_ERR_DEPENDENCY',
      `cannot make an upload directory on the host: ${made.stderr}`);
    work = made.stdout.trim();
    const kit = await fs.readdir(KIT_DIR);
    const uploads = steps.flatMap((s) => s.uploads);
    const staged: { local: string; remote: string }[] = kit.map((f) => ({ local: path.join(KIT_DIR, f), remote: `${work}/kit/${f}` }));
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'dvr-provision-'));
    try {
      for (const u of uploads) {
        let local = u.localPath;
        if (local === undefined) {
          local = path.join(tmp, u.name);
          await fs.writeFile(local, u.content ?? '', { mode: 0o600 });
        }
        staged.push({ local, remote: `${work}/files/${u.name}` });
      }
      await ssh.execCommand(`mkdir -m 700 ${work}/kit ${work}/files`);
      await ssh.putFiles(staged, { transferOptions: { mode: 0o600 } });
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
    progress(`uploaded nfs-kit and ${uploads.length} file(s)`);
    for (const step of steps) {
      const args = step.args.map((a) => (a.startsWith(UPLOAD) ? `${work}/files/${a.slice(UPLOAD.length)}` : a));
      const cmd = `${sudo}bash ${work}/kit/${step.script} ${args.map(shellQuote).join(' ')}${o.check ? ' --check' : ''}`;
      const r = await runStep(ssh, step, cmd, progress);
      result.steps.push(r);
      if (r.outcome === 'failed') {
        result.error = `step ${step.name} failed (exit ${String(r.exitCode)}):\n${r.output}`;
        break;
      }
    }
  } catch (e) {
    result.error = (e as Error).message;
  } finally {
    if (ssh && work) await ssh.execCommand(`rm -rf ${work}`).catch(() => undefined);
    ssh?.dispose();
  }
  result.outcome = result.error ? 'failed' : combine(result.steps.map((s) => s.outcome));
  progress(`${result.outcome}${result.error ? `: ${result.error.split('\n')[0] ?? ''}` : ''}`);
  return result;
}

export async function provision(o: RunOptions): Promise<HostResult[]> {
  const hosts = o.only ? o.inventory.hosts.filter((h) => o.only?.includes(h.name)) : [...o.inventory.hosts];
  const unknown = o.only?.filter((n) => !o.inventory.hosts.some((h) => h.name === n)) ?? [];
  if (unknown.length) throw new DvrError('DVR_ERR_CONFIG', `no host in the inventory is named ${unknown.join(', ')}`);
  // The storage server goes first: the others mount it.
  hosts.sort((a, b) => Number(b.roles.includes('storage')) - Number(a.roles.includes('storage')));
  const results: HostResult[] = [];
  const first = hosts[0]?.roles.includes('storage') ? hosts.shift() : undefined;
  const run = async (h: InventoryHost, inputs: RunOptions): Promise<HostResult> => {
    let steps: Step[];
    try {
      steps = planHost(o.inventory, h, inputs);
    } catch (e) {
      return { host: h.name, address: h.address, outcome: 'failed', steps: [], error: (e as Error).message };
    }
    return runSteps(o, h, steps);
  };
  if (first) results.push(await run(first, o));
  // Nodes that mount the storage with sshfs pin its host key, as this run did (or an earlier one).
  const inputs = { ...o, ...storageKnownHosts(o.inventory, o.knownHosts, o.storageKnownHosts) };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < hosts.length) {
      const h = hosts[next++];
      if (h) results.push(await run(h, inputs));
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 10, hosts.length) }, worker));
  await o.knownHosts.flush();
  return results;
}

/** A node leaves the cluster: its agent stops (and stays stopped across reboots). nginx and the
 * installed files stay, so adding the host again is quick. */
export async function stopAgent(o: RunOptions, name: string): Promise<HostResult> {
  const h = o.inventory.hosts.find((x) => x.name === name);
  if (!h) throw new DvrError('DVR_ERR_CONFIG', `no host in the inventory is named ${name}`);
  const r = await runSteps(o, h, planStopAgent(h));
  await o.knownHosts.flush();
  return r;
}
