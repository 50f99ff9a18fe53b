// One structured logger for the project; parts take child loggers bound to their context.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  const level = options.level ?? process.env['DVR_LOG_LEVEL'] ?? 'info';
  return pino({ name: options.name ?? 'dvr', level, base: undefined });
}

/** A logger that drops everything: for tests and benchmarks that assert on state, not logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
