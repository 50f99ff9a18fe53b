// `dvr streams|nodes|recordings|launch-config|scale`: the controller's API without hand-written curl.
// Each group is a module of cli/commands; this finds the command and runs it.
import { usageError } from '../common/cli.js';
import { clientOf, parse, type Command, type CommandGroup } from '../cli/commands/common.js';
import { LAUNCH_CONFIG } from '../cli/commands/launch-config.js';
import { NODES, RECORDINGS } from '../cli/commands/nodes.js';
import { SCALE } from '../cli/commands/scale.js';
import { STREAMS } from '../cli/commands/streams.js';

export { sizeMain, SIZE_HELP } from '../cli/commands/size.js';
export { parseLadder } from '../cli/commands/streams.js';

const GROUPS = { streams: STREAMS, nodes: NODES, recordings: RECORDINGS, 'launch-config': LAUNCH_CONFIG, scale: SCALE } as const;

export type ApiCommand = keyof typeof GROUPS;
export const isApiCommand = (s: string | undefined): s is ApiCommand => s !== undefined && s in GROUPS;

/** Each group's help, as `dvr <group> --help` prints it. */
export const API_HELP: Record<ApiCommand, string> = Object.fromEntries(Object.entries(GROUPS).map(([k, g]) => [k, g.help])) as
  Record<ApiCommand, string>;

const isHelp = (s: string | undefined): boolean => s === '--help' || s === '-h' || s === 'help';

/** Runs `dvr <group> ...`; the exit status. */
export async function apiMain(group: ApiCommand, argv: string[]): Promise<number> {
  const g: CommandGroup = GROUPS[group];
  let command: Command | undefined = g.direct;
  let args = argv;
  if (!command) {
    const [sub, ...rest] = argv;
    if (sub === undefined) throw usageError(`'dvr ${group}' needs a subcommand`);
    if (isHelp(sub)) {
      console.log(g.help);
      return 0;
    }
    command = Object.hasOwn(g.commands, sub) ? g.commands[sub] : undefined;
    if (!command) throw usageError(`unknown subcommand '${sub}' of 'dvr ${group}'`);
    args = rest;
  }
  const a = parse(group, g.help, command, args);
  if (!a) return 0;
  return command.run(a, () => clientOf(a.values));
}
