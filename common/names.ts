// Names that become path components. Everything that builds a path from outside input
// goes through these checks first.
import { DvrError } from './errors.js';

const NAME_RE = /^[a-z0-9_-]{1,64}$/;

export type NameKind = 'app' | 'stream' | 'rendition';

export function checkName(kind: NameKind, value: unknown): string {
  if (typeof value !== 'string' || !NAME_RE.test(value)) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : String(value);
    throw new DvrError(
      'DVR_ERR_NAME',
      `${kind} name ${shown} may contain only [a-z0-9_-], 1-64 chars`,
      { kind },
    );
  }
  return value;
}
