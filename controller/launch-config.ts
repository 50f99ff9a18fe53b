// Launch configurations: validated against the JSON Schema shipped in launch-configs/ (which
// editors can use too), plus the rules a schema cannot say. Errors name the JSON path.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DvrError } from '../common/errors.js';
import { compile, describeErrors, deepFreeze } from '../common/schema.js';

export const ROLES = ['origin', 'edge', 'relay', 'transcoder'] as const;
export type Role = typeof ROLES[number];

export function isRole(value: unknown): value is Role {
  return (ROLES as readonly unknown[]).includes(value);
}

export interface ScalePolicy {
  min: number;
  max: number;
  increment: number;
  scaleOutAbovePercent: number;
  scaleInBelowPercent: number;
  warmUpSeconds: number;
  coolDownSeconds: number;
}

export interface Target { role: Role; connectionCapacity: number; instanceType: string; image?: string; scalePolicy?: ScalePolicy }

export interface LaunchConfig {
  launchconfig: {
    name: string;
    description?: string;
    version: string;
    image?: string;
    targets: { target: Target[] };
    properties?: { property?: Array<{ name: string; value: string }> };
  };
}

export const LAUNCH_CONFIG_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../launch-configs');
const schema = JSON.parse(readFileSync(path.join(LAUNCH_CONFIG_DIR, 'launch-config.schema.json'), 'utf8')) as object;
const validate = compile<LaunchConfig>(schema);

/** Each role's target: from the first stored launch config that declares the role. */
export function targetsByRole(configs: Array<{ body: unknown }>): Map<Role, Target> {
  const out = new Map<Role, Target>();
  for (const c of configs) {
    for (const t of (c.body as LaunchConfig).launchconfig.targets.target) if (!out.has(t.role)) out.set(t.role, t);
  }
  return out;
}

/**
 * Red5 Pro's scale policy names, accepted as they are: minLimit, maxLimit, scaleAdjustment and
 * coolDownPeriod (milliseconds), in a target's scalePolicy or on the target itself as Red5's scale
 * policy files put them. They become min, max, increment and coolDownSeconds; a field given under
 * both names is an error naming both.
 */
const RED5_NAMES: Array<[red5: string, ours: keyof ScalePolicy, convert: (v: unknown) => unknown]> = [
  ['minLimit', 'min', (v) => v], ['maxLimit', 'max', (v) => v], ['scaleAdjustment', 'increment', (v) => v],
  ['coolDownPeriod', 'coolDownSeconds', (v) => (typeof v === 'number' ? Math.round(v / 1000) : v)],
];

function red5Names(config: unknown): string[] {
  const problems: string[] = [];
  const targets = (config as { launchconfig?: { targets?: { target?: unknown } } } | null)?.launchconfig?.targets?.target;
  if (!Array.isArray(targets)) return problems;
  targets.forEach((t: unknown, i) => {
    if (!t || typeof t !== 'object') return;
    const target = t as Record<string, unknown>;
    const at = `$.launchconfig.targets.target[${i}]`;
    for (const [red5, ours, convert] of RED5_NAMES) {
      const onTarget = red5 in target;
      const policy = target['scalePolicy'];
      const inPolicy = policy !== null && typeof policy === 'object' && red5 in policy;
      if (!onTarget && !inPolicy) continue;
      const p = (policy !== null && typeof policy === 'object' ? policy : (target['scalePolicy'] = {})) as Record<string, unknown>;
      const where = onTarget ? `${at}.${red5}` : `${at}.scalePolicy.${red5}`;
      if (ours in p || (onTarget && inPolicy)) {
        const other = ours in p ? `${at}.scalePolicy.${ours}` : `${at}.scalePolicy.${red5}`;
        problems.push(`${where}: given beside ${other} (one name per field)`);
        continue;
      }
      p[ours] = convert(onTarget ? target[red5] : p[red5]);
      delete target[red5];
      delete p[red5];
    }
  });
  return problems;
}

export function parseLaunchConfig(input: unknown): Readonly<LaunchConfig> {
  const copy: unknown = structuredClone(input);
  const renamed = red5Names(copy);
  if (renamed.length > 0) throw new DvrError('DVR_ERR_BAD_REQUEST', `invalid launch config: ${renamed.join('; ')}`);
  if (!validate(copy)) throw new DvrError('DVR_ERR_BAD_REQUEST', `invalid launch config: ${describeErrors(validate.errors)}`);
  const problems: string[] = [];
  const seen = new Set<Role>();
  copy.launchconfig.targets.target.forEach((t, i) => {
    const at = `$.launchconfig.targets.target[${i}]`;
    if (seen.has(t.role)) problems.push(`${at}.role: role '${t.role}' appears twice`);
    seen.add(t.role);
    const p = t.scalePolicy;
    if (p && p.min > p.max) problems.push(`${at}.scalePolicy: min (${p.min}) must not exceed max (${p.max})`);
    if (p && p.scaleInBelowPercent >= p.scaleOutAbovePercent) {
      problems.push(`${at}.scalePolicy: scaleInBelowPercent (${p.scaleInBelowPercent}) `
        + `must be below scaleOutAbovePercent (${p.scaleOutAbovePercent})`);
    }
  });
  if (problems.length > 0) throw new DvrError('DVR_ERR_BAD_REQUEST', `invalid launch config: ${problems.join('; ')}`);
  return deepFreeze(copy);
}
