// Where the appliance keeps its data, and who may read it. Run as root, nginx's workers run as an
// unprivileged account ('dvr', never root), so that account must reach the media: the data
// directory is made readable by its group, and a parent directory that shuts it out (a clone in
// /root, which is 0700) is refused at once, naming the directory, the account and the fix.
import { execFile, spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { DvrError } from '../common/errors.js';

const run = promisify(execFile);

/** The account nginx's workers run as when the appliance runs as root (the cluster's agent account). */
export const WORKER_ACCOUNT = 'dvr';
/** Its uid where it is free: the same number the cluster's nodes use (NFS compares numbers). */
const PREFERRED_UID = 5005;

export interface Account { name: string; uid: number; gid: number }

/**
 * DVR_DATA_DIR, else ./data when it already holds an appliance's state (an upgrade keeps its DVR),
 * else /var/lib/dvr as root (a service's place, readable by the workers' account) and ./data otherwise.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv, cwd: string, isRoot: boolean): { dir: string; why: string } {
  const given = env['DVR_DATA_DIR'];
  if (given !== undefined && given.trim() !== '') return { dir: path.resolve(cwd, given), why: 'DVR_DATA_DIR' };
  const local = path.resolve(cwd, 'data');
  if (!isRoot) return { dir: local, why: 'default' };
  if (existsSync(path.join(local, 'controller', 'controller.sqlite'))) return { dir: local, why: 'it holds this appliance\'s state' };
  return { dir: '/var/lib/dvr', why: 'default as root' };
}

async function lookup(name: string): Promise<Account | undefined> {
  try {
    const id = async (flag: string): Promise<number> => Number((await run('id', [flag, name])).stdout.trim());
    return { name, uid: await id('-u'), gid: await id('-g') };
  } catch {
    return undefined;
  }
}

/** The workers' account, created (system account, no login, no home) when missing. */
export async function ensureWorkerAccount(onCreate: (what: string) => void): Promise<Account> {
  const known = await lookup(WORKER_ACCOUNT);
  if (known) return known;
  const uidFree = (await run('getent', ['passwd', String(PREFERRED_UID)]).then(() => false, () => true))
    && (await run('getent', ['group', String(PREFERRED_UID)]).then(() => false, () => true));
  const ids = uidFree ? ['--uid', String(PREFERRED_UID)] : [];
  try {
    if (uidFree) await run('groupadd', ['--system', '--gid', String(PREFERRED_UID), WORKER_ACCOUNT]);
    await run('useradd', ['--system', ...ids, ...(uidFree ? ['--gid', String(PREFERRED_UID)] : ['--user-group']),
      '--home-dir', '/nonexistent', '--no-create-home', '--shell', '/usr/sbin/nologin', WORKER_ACCOUNT]);
  } catch (err) {
    throw new DvrError('DVR_ERR_CONFIG', `cannot create the system account '${WORKER_ACCOUNT}' that nginx's workers run as: `
      + `${(err as { stderr?: string }).stderr?.trim() || String(err)}; create it (useradd --system ${WORKER_ACCOUNT}) and start again`);
  }
  const made = await lookup(WORKER_ACCOUNT);
  if (!made) throw new DvrError('DVR_ERR_CONFIG', `the account '${WORKER_ACCOUNT}' was created `
    + `but 'id ${WORKER_ACCOUNT}' does not find it`);
  onCreate(`created the system account '${WORKER_ACCOUNT}' (uid ${made.uid}) that nginx's workers run as`);
  return made;
}

/** Whether `account` may use `dir` as `test` checks it (every parent is traversed, as a worker's open() would). */
function canAs(account: Account, flags: string[], dir: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('test', [...flags, dir], { uid: account.uid, gid: account.gid, stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}

async function describe(dir: string): Promise<string> {
  const st = await fs.stat(dir);
  const owner = async (kind: 'passwd' | 'group', id: number): Promise<string> =>
    (await run('getent', [kind, String(id)]).then((r) => r.stdout.split(':')[0] ?? String(id), () => String(id)));
  return `${(st.mode & 0o777).toString(8).padStart(4, '0')} ${await owner('passwd', st.uid)}:${await owner('group', st.gid)}`;
}

/**
 * Makes `dataDir` (created if missing) readable by the workers' account: its own group and mode are
 * set when it is root's and private; a parent that shuts the account out is an error with the fix.
 */
export async function shareWithWorkers(dataDir: string, account: Account, onChange: (what: string) => void): Promise<void> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o750 });
  if (await canAs(account, ['-x'], dataDir)) return;
  // Which parent stops it? Walk down from / and name the first one it cannot pass.
  const parts = dataDir.split(path.sep).filter((p) => p !== '');
  for (let i = 1; i < parts.length; i++) {
    const parent = path.sep + parts.slice(0, i).join(path.sep);
    if (!(await canAs(account, ['-x'], parent))) {
      throw new DvrError('DVR_ERR_CONFIG', `the data directory ${dataDir} is inside ${parent} (${await describe(parent)}), which nginx's `
        + `workers (account '${account.name}') cannot enter, so no stream could be served. Fix: put the data elsewhere, e.g. `
        + `DVR_DATA_DIR=/var/lib/dvr, or let the account through with 'chmod o+x ${parent}' `
        + `(or 'setfacl -m u:${account.name}:x ${parent}')`);
    }
  }
  const st = await fs.stat(dataDir);
  if (st.uid !== 0) {
    throw new DvrError('DVR_ERR_CONFIG', `the data directory ${dataDir} (${await describe(dataDir)}) cannot be entered by nginx's workers `
      + `(account '${account.name}'); fix: 'chgrp ${account.name} ${dataDir} && chmod g+rx ${dataDir}', or choose another DVR_DATA_DIR`);
  }
  await fs.chown(dataDir, 0, account.gid);
  await fs.chmod(dataDir, (st.mode & 0o700) | 0o050);
  onChange(`${dataDir}: group '${account.name}', mode 0750, so nginx's workers can read the media (the controller's secrets stay root's)`);
}
