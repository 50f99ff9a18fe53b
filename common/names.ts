// Names that become path components (app, stream, rendition, node): one rule, written here once.
// The schemas, the nginx locations and the player page's patterns are made from (or checked
// against) these. Everything that builds a path from outside input goes through checkName first.
// Leaf module.
import { DvrError } from './errors.js';

/** A name as a regex source without anchors: 1-64 of a-z 0-9 _ -. */
export const NAME_SOURCE = '[a-z0-9_-]{1,64}';
export const NAME_PATTERN = `^${NAME_SOURCE}$`;
export const NAME_SCHEMA = { type: 'string', pattern: NAME_PATTERN } as const;
const NAME_RE = new RegExp(NAME_PATTERN);

/** A stream's directory name: the stream, or an ended event kept as a version of it (<stream>.<N>). */
export const STREAM_DIR_SOURCE = `${NAME_SOURCE}(\\.\\d{1,9})?`;
export const STREAM_DIR_PATTERN = `^${STREAM_DIR_SOURCE}$`;

export type NameKind = 'app' | 'stream' | 'rendition' | 'node';

export const isName = (value: unknown): value is string => typeof value === 'string' && NAME_RE.test(value);

export function checkName(kind: NameKind, value: unknown): string {
  if (!isName(value)) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : String(value);
    throw new DvrError(
      'DVR_ERR_NAME',
      `${kind} name ${shown} may contain only [a-z0-9_-], 1-64 chars`,
      { kind },
    );
  }
  return value;
}
