// `dvr scale <role> <+N|-N>`: nodes of a role added or handed back by hand.
import { usageError } from '../../common/cli.js';
import { TARGET_HELP, out, type CommandGroup, type Parsed } from './common.js';
import type { ApiClient } from '../client.js';

async function scale(a: Parsed, api: () => Promise<ApiClient>): Promise<number> {
  const [role, n] = a.positionals;
  if (!role || !['transcoder', 'edge', 'origin', 'relay'].includes(role)) {
    throw usageError(`'${role ?? ''}' is not a role (transcoder, edge, origin, relay)`);
  }
  if (!/^[+-][1-9][0-9]*$/.test(n ?? '')) throw usageError(`'${n ?? ''}' is not +N or -N`);
  const r = await (await api()).call<{ nodes: string[] }>('POST', '/scale', { role, count: Number(n) });
  out(a.values.json, r, () => `${Number(n) > 0 ? 'added' : 'removed'}: ${r.nodes.join(', ') || '(none)'}`);
  return 0;
}

export const SCALE: CommandGroup = {
  help: `usage: dvr scale <role> <+N|-N>
Adds (+N) or removes (-N) nodes of a role by hand (transcoder, edge, origin, relay); the
controller's provider creates or hands them back and the action is in GET /api/v1/scale.

${TARGET_HELP}`,
  commands: {},
  direct: { positionals: [2, 2], run: scale },
};
