// The agent bundle agent.sh installs: the compiled project (without tests and benchmarks), the pm2
// ecosystem file, the alerting rules and the production node_modules, so a node needs neither a
// build nor the npm registry. The tarball is made by tar.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { DvrError } from '../common/errors.js';

const run = promisify(execFile);

export async function buildAgentBundle(projectRoot: string, outFile: string): Promise<string> {
  try {
    await fs.access(path.join(projectRoot, 'dist', 'bin', 'dvr-agent.cjs'));
  } catch {
    throw new DvrError('DVR_ERR_CONFIG', `${projectRoot}/dist is not built: run npm run build first`);
  }
  // package-lock.json marks what only development needs ("dev": true); everything else ships.
  const lock = JSON.parse(await fs.readFile(path.join(projectRoot, 'package-lock.json'), 'utf8')) as
    { packages?: Record<string, { dev?: boolean; optional?: boolean }> };
  const installed = async (d: string): Promise<boolean> => fs.access(path.join(projectRoot, d)).then(() => true, () => false);
  const dirs: string[] = [];
  for (const [d, p] of Object.entries(lock.packages ?? {})) {
    if (d.startsWith('node_modules/') && !p.dev && await installed(d)) dirs.push(d);
  }
  // A package inside another listed package's directory comes with it.
  const listed = new Set(dirs);
  const top = dirs.filter((d) => {
    for (let p = path.dirname(d); p !== '.' && p !== 'node_modules'; p = path.dirname(p)) if (listed.has(p)) return false;
    return true;
  });
  const dist = ['agent', 'appliance', 'bin', 'cli', 'common', 'lab', 'controller', 'nginx', 'packager', 'provisioning']
    .map((d) => `dist/${d}`);
  const list = path.join(path.dirname(outFile), `.${path.basename(outFile)}.list`);
  await fs.mkdir(path.dirname(outFile), { recursive: true });
  await fs.writeFile(list, [...dist, 'package.json', 'ecosystem.config.cjs', 'launch-configs', 'provisioning/inventory.schema.json',
    'monitoring/alerts.rules.yml', 'web/player', ...top].join('\n'));
  try {
    // Fixed owner and times make the same tree give the same checksum, so a re-run is "unchanged".
    await run('tar', ['-czf', `${outFile}.tmp`, '--owner=0', '--group=0', '--numeric-owner', '--sort=name', '--mtime=@0',
      '--exclude=*.map', '--exclude=*.md', '-C', projectRoot, '-T', list], { maxBuffer: 16 << 20, env: { ...process.env, GZIP: '-n' } });
    await fs.rename(`${outFile}.tmp`, outFile);
  } finally {
    await fs.rm(list, { force: true });
  }
  return outFile;
}
