// promtool, Prometheus' own checker: `check metrics` on a /metrics text (counters are counters, units
// are base units, names and help are well-formed), and the alerting rules' checks and unit tests.
// scripts/install-deps.sh --test provides it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const cached = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../.cache/promtool/usr/bin/promtool');

/** promtool's complaints about the text ('' when it has none). */
export function promtoolCheck(text: string): Promise<string> {
  return promtool(['check', 'metrics'], text);
}

/** promtool with `args` (and `input` on its stdin): '' or what it printed when it succeeds, `exit <code>: <output>` when it fails. */
export function promtool(args: string[], input = '', cwd?: string): Promise<string> {
  const bin = existsSync(cached) ? cached : 'promtool';
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.once('error', (err) => reject(new Error(`promtool: ${err.message} (scripts/install-deps.sh --test provides it)`)));
    p.once('exit', (code) => resolve(code === 0 ? out.trim() : `exit ${String(code)}: ${out.trim()}`));
    p.stdin.end(input);
  });
}
