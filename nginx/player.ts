// Where the player page's files are: web/player in the project (or an installed bundle) and the
// build of hls.js in its npm package, which the edge serves as the page's vendored copy.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root: dist/nginx/player.js sits two levels below it. */
const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The player files of this installation (the appliance, or a node's unpacked bundle). */
export function localPlayerFiles(): { dir: string; hlsJsDir: string } {
  const pkg = createRequire(import.meta.url).resolve('hls.js/package.json');
  return { dir: path.join(PROJECT_ROOT, 'web', 'player'), hlsJsDir: path.join(path.dirname(pkg), 'dist') };
}

/** The same files in a bundle unpacked at `root` (a provisioned node's /opt/dvr/current). */
export function bundledPlayerFiles(root: string): { dir: string; hlsJsDir: string } {
  return { dir: `${root}/web/player`, hlsJsDir: `${root}/node_modules/hls.js/dist` };
}
