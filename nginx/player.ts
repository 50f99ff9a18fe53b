// Where the player page's files are: web/player in the project (or an installed bundle) and the
// build of hls.js in its npm package, which the edge serves as the page's vendored copy.
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PlayerFiles { dir: string; hlsJsDir: string }

/** The project's root: dist/nginx/player.js sits two levels below it. */
const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The page's own files, as web/player holds them. */
const PAGE_FILES = ['index.html', 'player.css', 'player.js'] as const;

/** The player files of this installation (the appliance, or a node's unpacked bundle). */
export function localPlayerFiles(): PlayerFiles {
  const pkg = createRequire(import.meta.url).resolve('hls.js/package.json');
  return { dir: path.join(PROJECT_ROOT, 'web', 'player'), hlsJsDir: path.join(path.dirname(pkg), 'dist') };
}

/**
 * This installation's player files copied into `into`/player, for an nginx whose workers cannot read
 * the checkout (a clone in root's 0700 home; nginx's workers run unprivileged): `into` is a place
 * they read (its prefix, in the data directory). Copied again at every start, so an upgrade's page is
 * served; the files are readable by all, as the page is public.
 */
export async function stagePlayerFiles(into: string, from: PlayerFiles = localPlayerFiles()): Promise<PlayerFiles> {
  const dir = path.join(into, 'player');
  const vendor = path.join(dir, 'vendor');
  await fs.mkdir(vendor, { recursive: true, mode: 0o755 });
  const copies: Array<[string, string]> = [...PAGE_FILES.map((f): [string, string] => [path.join(from.dir, f), path.join(dir, f)]),
    [path.join(from.hlsJsDir, 'hls.min.js'), path.join(vendor, 'hls.min.js')]];
  for (const [src, dst] of copies) {
    // Under a temporary name, then renamed: a running nginx never serves half a file.
    const tmp = `${dst}.tmp`;
    await fs.copyFile(src, tmp);
    await fs.chmod(tmp, 0o644);
    await fs.rename(tmp, dst);
  }
  for (const d of [dir, vendor]) await fs.chmod(d, 0o755);
  return { dir, hlsJsDir: vendor };
}

/** The same files in a bundle unpacked at `root` (a provisioned node's /opt/dvr/current). */
export function bundledPlayerFiles(root: string): PlayerFiles {
  return { dir: `${root}/web/player`, hlsJsDir: `${root}/node_modules/hls.js/dist` };
}
