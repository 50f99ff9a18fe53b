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

export function parseLaunchConfig(input: unknown): Readonly<LaunchConfig> {
  const copy: unknown = structuredClone(input);
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
