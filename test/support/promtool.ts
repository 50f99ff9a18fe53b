// `promtool check metrics` (Prometheus' own linter) on a /metrics text: counters are counters, units
// are base units, names and help are well-formed. scripts/install-deps.sh --test provides promtool.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const cached = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../.cache/promtool/usr/bin/promtool');

/** promtool's complaints about the text ('' when it has none). */
export function promtoolCheck(text: string): Promise<string> {
  const bin = existsSync(cached) ? cached : 'promtool';
  return new Promise((resolve, reject) => {
    const p = spawn(bin, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.once('error', (err) => reject(new Error(`promtool: ${err.message} (scripts/install-deps.sh --test provides it)`)));
    p.once('exit', (code) => resolve(code === 0 ? out.trim() : `exit ${String(code)}: ${out.trim()}`));
    p.stdin.end(text);
  });
}
