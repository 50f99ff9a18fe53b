// One structured logger for the project; parts take child loggers bound to their context.
// On a terminal the lines are for people (time, level, message, then the fields); anywhere else
// (pm2's files, a pipe, journald) one JSON object per line. DVR_LOG_FORMAT=json|pretty decides.
import { isatty } from 'node:tty';
import { destination, pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export type LogFormat = 'json' | 'pretty';

/** The format for a file descriptor: DVR_LOG_FORMAT when set, else pretty on a terminal. */
export function logFormat(fd: number, env: NodeJS.ProcessEnv = process.env): LogFormat {
  const asked = env['DVR_LOG_FORMAT'];
  if (asked === 'json' || asked === 'pretty') return asked;
  return isatty(fd) ? 'pretty' : 'json';
}

/** Logs go to stderr (fd 2) by default: a CLI's stdout is for the lines people read. */
export function createLogger(options: { level?: string; name?: string; fd?: number; format?: LogFormat } = {}): Logger {
  const level = options.level ?? process.env['DVR_LOG_LEVEL'] ?? 'info';
  const fd = options.fd ?? 2;
  const opts = { name: options.name ?? 'dvr', level, base: undefined };
  if ((options.format ?? logFormat(fd)) === 'pretty') {
    return pino(opts, pretty({ destination: fd, sync: true, colorize: isatty(fd), translateTime: 'SYS:HH:MM:ss', ignore: 'name',
      singleLine: true }));
  }
  return pino(opts, destination({ fd, sync: false }));
}

/** A logger that drops everything: for tests and benchmarks that assert on state, not logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
