// What every `dvr <group> <command>` shares: the connection flags, the client they make, the output
// (a table for a person, the API's JSON with --json), and the parsing of a stream's name and of
// numeric flags.
import { ApiClient, resolveTarget } from '../client.js';
import { parseCommandLine, usageError } from '../../common/cli.js';
import { isName } from '../../common/names.js';

export const TARGET_HELP = `connection (every command but 'launch-config validate'):
  --api URL          the controller's API (default: DVR_API_URL, else the URL the controller wrote
                     into DVR_DATA_DIR/controller/api-url, else http://127.0.0.1:$DVR_API_PORT)
  --token-file FILE  the admin token (default: DVR_ADMIN_TOKEN, else DVR_DATA_DIR/controller/admin-token)
  --json             print the API's JSON instead of a table
  A controller with a self-signed certificate: NODE_EXTRA_CA_CERTS=<its certificate>.`;

const TARGET_OPTIONS = { api: { type: 'string' }, 'token-file': { type: 'string' }, json: { type: 'boolean' } } as const;

export type Flags = Record<string, string | boolean | undefined>;

/** One parsed command line: its flags (connection ones included) and positionals. */
export interface Parsed { values: Flags & { api?: string; 'token-file'?: string; json?: boolean }; positionals: string[] }

/** A command of a group: its name in the group's help, how it parses, and what it does (the exit status). */
export interface Command {
  options?: Record<string, { type: 'string' | 'boolean' }>;
  positionals: [min: number, max: number];
  /** Works without the API (no connection flags). */
  offline?: boolean;
  run: (a: Parsed, api: () => Promise<ApiClient>) => Promise<number>;
}

/** A group of commands (`dvr streams ...`) and its help; `direct`: the group is one command (`dvr scale ...`). */
export interface CommandGroup { help: string; commands: Record<string, Command>; direct?: Command }

/** Parses `argv` for `command` of `group`; undefined when it printed its help. */
export function parse(group: string, help: string, command: Command, argv: string[]): Parsed | undefined {
  const [min, max] = command.positionals;
  return parseCommandLine({ command: `dvr ${group}`, usage: help, options: { ...(command.offline ? {} : TARGET_OPTIONS),
    ...command.options }, positionals: { min, max } }, argv) as Parsed | undefined;
}

/** The API client of a parsed command line (flags, environment, data directory). */
export async function clientOf(v: Parsed['values']): Promise<ApiClient> {
  return new ApiClient(await resolveTarget({ api: v.api, tokenFile: v['token-file'] }, process.env, process.cwd(),
    process.getuid?.() === 0));
}

/** The API's JSON with --json, else the text for a person. */
export function out(json: boolean | undefined, value: unknown, text: () => string): void {
  console.log(json === true ? JSON.stringify(value, null, 2) : text());
}

/** The API's advice on a stream's settings, on stderr (stdout stays the result). */
export function warn(s: { warnings?: string[] }): void {
  for (const w of s.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
}

export function streamRef(arg: string | undefined): { app: string; stream: string } {
  const m = /^([^/]+)\/([^/]+)$/.exec(arg ?? '');
  if (!m || !isName(m[1]) || !isName(m[2])) {
    throw usageError(`'${arg ?? ''}' is not <app>/<stream> (each 1-64 of a-z 0-9 _ -)`);
  }
  return { app: m[1], stream: m[2] };
}

export function numberFlag(name: string, raw: string | undefined, integer = false): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    throw usageError(`--${name}: '${raw}' is not a${integer ? ' whole' : ''} number >= 0`);
  }
  return v;
}

export const stringFlag = (v: Flags, k: string): string | undefined => (typeof v[k] === 'string' ? v[k] : undefined);

export const ago = (ms: number): string => (ms <= 0 ? '-' : `${Math.max(0, Math.round((Date.now() - ms) / 1000))}s ago`);
