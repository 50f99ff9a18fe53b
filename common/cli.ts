// What every command of the project does with its command line: --help on stdout (exit 0),
// --version (exit 0), a usage error as one line on stderr (exit 2), any other failure as one line
// with its code (exit 1).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DvrError, isDvrError } from './errors.js';

/** A command line that cannot be run as given. */
export function usageError(message: string): DvrError {
  return new DvrError('DVR_ERR_USAGE', message);
}

/** The project's version, from its package.json (dist/common/cli.js sits two levels below it). */
export function packageVersion(): string {
  try {
    const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json');
    const v = (JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface CommandSpec<T extends Options> {
  /** As the user types it: 'dvr-agent', 'dvr streams'. */
  command: string;
  usage: string;
  options: T;
  /** How many positional arguments it takes (default none). */
  positionals?: { min: number; max: number };
}

const STANDARD = { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'V' } } as const;

/**
 * Parses argv against the spec. Returns undefined when it printed the help or the version (the
 * command is done, exit 0); throws a usage error naming what was wrong.
 */
export function parseCommandLine<T extends Options>(spec: CommandSpec<T>, argv: string[]):
{ values: ReturnType<typeof parseArgs<{ options: T; args: string[]; allowPositionals: true; strict: true }>>['values'];
  positionals: string[] } | undefined {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...spec.options, ...STANDARD }, allowPositionals: true, strict: true });
  } catch (err) {
    // node:util names the option ("Unknown option '--x'", "Option '--port <value>' argument missing").
    throw usageError((err instanceof Error ? err.message : String(err)).split('\n')[0]?.replace(/\. To specify .*$/, '') ?? 'bad usage');
  }
  const v = parsed.values as Record<string, unknown>;
  if (v['help'] === true) {
    process.stdout.write(`${spec.usage.trimEnd()}\n`);
    return undefined;
  }
  if (v['version'] === true) {
    process.stdout.write(`${spec.command.split(' ')[0] ?? spec.command} ${packageVersion()}\n`);
    return undefined;
  }
  const { min, max } = spec.positionals ?? { min: 0, max: 0 };
  const n = parsed.positionals.length;
  if (n > max) throw usageError(`unexpected argument '${parsed.positionals[max] ?? ''}'`);
  if (n < min) throw usageError(`missing argument${min - n > 1 ? 's' : ''}`);
  return { values: parsed.values as never, positionals: parsed.positionals };
}

/**
 * Runs a command's main: its result is the exit status (undefined: it keeps running); an error is
 * one line on stderr and ends the process (2 for usage, 1 otherwise), whatever it had started.
 */
export function runCommand(command: string, main: () => Promise<number | undefined>): void {
  main().then((code) => { if (code !== undefined) process.exitCode = code; }, (err: unknown) => {
    if (isDvrError(err, 'DVR_ERR_USAGE')) {
      console.error(`${command}: ${err.message} (see ${command} --help)`);
      process.exit(2);
    }
    console.error(`${command}: ${isDvrError(err) ? `${err.code}: ` : ''}${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
