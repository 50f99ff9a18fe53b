// A copy of this checkout inside a private (0700) directory, as a clone in root's home is: what the
// appliance serves from it must still reach nginx's unprivileged workers.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout the tests run from: dist/test/support is three levels below it. */
const PROJECT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Packages whose files an edge or the dashboard serves: copied, so their paths resolve inside the copy. */
const SERVED_PACKAGES = ['hls.js', 'uplot'];

export interface PrivateCheckout {
  /** The 0700 directory (a home directory's stand-in). */
  home: string;
  /** The copy of the checkout inside it. */
  root: string;
  /** Its `dvr` command. */
  cli: string;
  remove: () => Promise<void>;
}

/**
 * dist/, web/, launch-configs/ and package.json copied into <0700 dir>/clone; its node_modules holds
 * copies of the packages whose files are served and links to the rest (which only node reads, as root).
 */
export async function privateCheckout(): Promise<PrivateCheckout> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'dvr-home-'));
  await fs.chmod(home, 0o700);
  const root = path.join(home, 'clone');
  await fs.mkdir(path.join(root, 'node_modules'), { recursive: true });
  for (const part of ['dist', 'web', 'launch-configs', 'package.json']) {
    await fs.cp(path.join(PROJECT, part), path.join(root, part), { recursive: true });
  }
  for (const entry of await fs.readdir(path.join(PROJECT, 'node_modules'))) {
    const from = path.join(PROJECT, 'node_modules', entry);
    const to = path.join(root, 'node_modules', entry);
    if (SERVED_PACKAGES.includes(entry)) await fs.cp(from, to, { recursive: true });
    else await fs.symlink(from, to);
  }
  return { home, root, cli: path.join(root, 'dist', 'bin', 'dvr.cjs'), remove: () => fs.rm(home, { recursive: true, force: true }) };
}
