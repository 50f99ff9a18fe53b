// Settings read from the environment: each names its variable when it is wrong. Leaf module.
import { DvrError } from './errors.js';

/** A number from `name`, or `fallback` when unset; outside [min, max] (or not a number) is an error naming it. */
export function envNumber(name: string, fallback: number, range: { min: number; max: number; integer?: boolean }): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < range.min || v > range.max || (range.integer === true && !Number.isInteger(v))) {
    throw new DvrError('DVR_ERR_CONFIG',
      `${name}: '${raw}' is not ${range.integer === true ? 'an integer' : 'a number'} from ${range.min} to ${range.max}`);
  }
  return v;
}
