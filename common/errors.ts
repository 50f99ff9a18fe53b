// The catalogue of coded errors. Leaf module: imports nothing from the project.

export type ErrorCode =
  | 'DVR_ERR_NAME'
  | 'DVR_ERR_CONFIG'
  | 'DVR_ERR_SEGMENT'
  | 'DVR_ERR_OUTPUT_DIR'
  | 'DVR_ERR_STREAM_UNKNOWN'
  | 'DVR_ERR_STREAM_EXISTS'
  | 'DVR_ERR_DEPENDENCY'
  | 'DVR_ERR_NGINX'
  | 'DVR_ERR_BAD_REQUEST'
  | 'DVR_ERR_UNAUTHORIZED'
  | 'DVR_ERR_FORBIDDEN'
  | 'DVR_ERR_NOT_FOUND'
  | 'DVR_ERR_CONFLICT'
  | 'DVR_ERR_NO_CAPACITY'
  | 'DVR_ERR_FENCED'
  | 'DVR_ERR_TOO_LARGE'
  | 'DVR_ERR_UNSUPPORTED_MEDIA'
  /** The controller's store (PostgreSQL) does not answer: another controller may, later this one will. */
  | 'DVR_ERR_STORE_UNAVAILABLE'
  /** A command line that cannot be run as given: exit status 2. */
  | 'DVR_ERR_USAGE'
  /** An invariant of the project's own broke: a bug to report. */
  | 'DVR_ERR_INTERNAL';

const STATUS: Record<ErrorCode, number> = {
  DVR_ERR_NAME: 400,
  DVR_ERR_CONFIG: 400,
  DVR_ERR_SEGMENT: 422,
  DVR_ERR_OUTPUT_DIR: 500,
  DVR_ERR_STREAM_UNKNOWN: 404,
  DVR_ERR_STREAM_EXISTS: 409,
  DVR_ERR_DEPENDENCY: 500,
  DVR_ERR_NGINX: 500,
  DVR_ERR_BAD_REQUEST: 400,
  DVR_ERR_UNAUTHORIZED: 401,
  DVR_ERR_FORBIDDEN: 403,
  DVR_ERR_NOT_FOUND: 404,
  DVR_ERR_CONFLICT: 409,
  DVR_ERR_NO_CAPACITY: 503,
  DVR_ERR_FENCED: 409,
  DVR_ERR_TOO_LARGE: 413,
  DVR_ERR_UNSUPPORTED_MEDIA: 415,
  DVR_ERR_STORE_UNAVAILABLE: 503,
  DVR_ERR_USAGE: 400,
  DVR_ERR_INTERNAL: 500,
};

export class DvrError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'DvrError';
    this.code = code;
    this.statusCode = STATUS[code];
    this.details = details;
  }

  toJSON(): { statusCode: number; code: ErrorCode; message: string } {
    return { statusCode: this.statusCode, code: this.code, message: this.message };
  }
}

export function isDvrError(err: unknown, code?: ErrorCode): err is DvrError {
  return err instanceof DvrError && (code === undefined || err.code === code);
}

/** errno of a Node.js system error, or undefined. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
