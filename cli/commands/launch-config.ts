// `dvr launch-config validate | apply | list | rm`: the controller's launch configs (validate works offline).
import { table } from '../table.js';
import { isDvrError } from '../../common/errors.js';
import { readJsonFile } from '../../common/json-file.js';
import { parseLaunchConfig } from '../../controller/launch-config.js';
import { TARGET_HELP, out, type CommandGroup, type Parsed } from './common.js';
import type { ApiClient } from '../client.js';

async function validate(a: Parsed): Promise<number> {
  const file = a.positionals[0] ?? '';
  let config;
  try {
    config = parseLaunchConfig(await readJsonFile(file));
  } catch (err) {
    if (!isDvrError(err, 'DVR_ERR_BAD_REQUEST')) throw err;
    // One line per problem, each with its JSON path.
    for (const p of err.message.replace(/^invalid launch config: /, '').split('; ')) console.error(`${file}: ${p}`);
    return 1;
  }
  console.log(`${file}: valid launch config '${config.launchconfig.name}' (${config.launchconfig.targets.target
    .map((t) => t.role).join(', ')})`);
  return 0;
}

async function apply(a: Parsed, api: () => Promise<ApiClient>): Promise<number> {
  const file = a.positionals[0] ?? '';
  const config = parseLaunchConfig(await readJsonFile(file));
  const name = config.launchconfig.name;
  const client = await api();
  const had = (await client.call<Array<{ launchconfig: { name: string } }>>('GET', '/launch-configs'))
    .some((c) => c.launchconfig.name === name);
  const stored = await client.call('PUT', `/launch-configs/${encodeURIComponent(name)}`, config);
  out(a.values.json, stored, () => `${had ? 'replaced' : 'added'}: launch config '${name}' (applied with the nodes' next heartbeats)`);
  return 0;
}

async function list(a: Parsed, api: () => Promise<ApiClient>): Promise<number> {
  const configs = await (await api()).call<Array<{ launchconfig: { name: string; description?: string;
    targets: { target: Array<{ role: string; connectionCapacity?: number; scalePolicy?: { min: number; max: number } }> } } }>>(
    'GET', '/launch-configs');
  out(a.values.json, configs, () => (configs.length === 0 ? 'no launch configs' : table(['NAME', 'ROLE', 'CAPACITY', 'MIN..MAX'],
    configs.flatMap((c) => c.launchconfig.targets.target.map((t) => [c.launchconfig.name, t.role, t.connectionCapacity,
      t.scalePolicy ? `${t.scalePolicy.min}..${t.scalePolicy.max}` : '-'])))));
  return 0;
}

async function rm(a: Parsed, api: () => Promise<ApiClient>): Promise<number> {
  const name = a.positionals[0] ?? '';
  await (await api()).call('DELETE', `/launch-configs/${encodeURIComponent(name)}`);
  out(a.values.json, { deleted: name }, () => `deleted: launch config '${name}'`);
  return 0;
}

export const LAUNCH_CONFIG: CommandGroup = {
  help: `usage: dvr launch-config validate <file>   check it offline: each error with its JSON path
       dvr launch-config apply <file>      add it, or replace the one of the same name
       dvr launch-config list
       dvr launch-config rm <name>

${TARGET_HELP}`,
  commands: {
    validate: { positionals: [1, 1], offline: true, run: validate },
    apply: { positionals: [1, 1], run: apply },
    list: { positionals: [0, 0], run: list },
    rm: { positionals: [1, 1], run: rm },
  },
};
