// One structured logger for the project; parts take child loggers bound to their context.
import { destination, pino, type Logger } from 'pino';

export type { Logger };

/** Logs go to stderr (fd 2) by default: a CLI's stdout is for the lines people read. */
export function createLogger(options: { level?: string; name?: string; fd?: number } = {}): Logger {
  const level = options.level ?? process.env['DVR_LOG_LEVEL'] ?? 'info';
  return pino({ name: options.name ?? 'dvr', level, base: undefined }, destination({ fd: options.fd ?? 2, sync: false }));
}

/** A logger that drops everything: for tests and benchmarks that assert on state, not logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
