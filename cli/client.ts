// How `dvr streams|nodes|launch-config|scale` reach the controller's API: its URL and the admin
// token from flags, the environment or the data directory (where the controller writes both), and
// one request helper whose errors say what the API answered, or why it could not be reached.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { defaultDataDir } from '../appliance/data-dir.js';
import { DvrError, errnoCode } from '../common/errors.js';

export interface ApiTarget {
  /** The API's base, ending in /api/v1. */
  base: string;
  token: string;
  /** Where the URL and the token came from, for error messages. */
  urlFrom: string;
  tokenFrom: string;
}

export interface TargetFlags { api?: string | undefined; tokenFile?: string | undefined }

async function readSmall(file: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new DvrError('DVR_ERR_CONFIG', `${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * The API's URL: --api, else DVR_API_URL, else the one the controller wrote into the data directory,
 * else http://127.0.0.1:$DVR_API_PORT (8000). The token: --token-file, else DVR_ADMIN_TOKEN, else
 * the data directory's admin-token. (No token flag: a command line is visible to every user.)
 */
export async function resolveTarget(flags: TargetFlags, env: NodeJS.ProcessEnv, cwd: string, isRoot: boolean): Promise<ApiTarget> {
  const dataDir = defaultDataDir(env, cwd, isRoot).dir;
  const controllerDir = path.join(dataDir, 'controller');
  let url: string | undefined;
  let urlFrom: string;
  if (flags.api !== undefined) { url = flags.api; urlFrom = '--api'; }
  else if (env['DVR_API_URL']) { url = env['DVR_API_URL']; urlFrom = 'DVR_API_URL'; }
  else {
    const file = path.join(controllerDir, 'api-url');
    url = await readSmall(file);
    urlFrom = file;
    if (!url) { url = `http://127.0.0.1:${env['DVR_API_PORT'] ?? '8000'}`; urlFrom = 'the default (DVR_API_PORT)'; }
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DvrError('DVR_ERR_USAGE', `${urlFrom}: '${url}' is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new DvrError('DVR_ERR_USAGE', `${urlFrom}: '${url}' is not http(s)`);
  }
  const base = `${parsed.origin}${parsed.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '')}/api/v1`;
  if (parsed.protocol === 'http:' && !/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(parsed.hostname)) {
    process.stderr.write(`dvr: warning: ${base} is plain http beyond this machine: the admin token crosses the network in clear text\n`);
  }

  let token: string | undefined;
  let tokenFrom: string;
  if (flags.tokenFile !== undefined) {
    token = await readSmall(flags.tokenFile);
    tokenFrom = flags.tokenFile;
    if (token === undefined) throw new DvrError('DVR_ERR_USAGE', `--token-file: ${flags.tokenFile} does not exist`);
  } else if (env['DVR_ADMIN_TOKEN']) { token = env['DVR_ADMIN_TOKEN']; tokenFrom = 'DVR_ADMIN_TOKEN'; }
  else {
    tokenFrom = path.join(controllerDir, 'admin-token');
    token = await readSmall(tokenFrom);
    if (token === undefined) throw new DvrError('DVR_ERR_CONFIG', `no admin token: set DVR_ADMIN_TOKEN, pass --token-file FILE, `
      + `or run this where the controller's data directory is (${tokenFrom} does not exist; DVR_DATA_DIR moves it)`);
  }
  if (token === '') throw new DvrError('DVR_ERR_CONFIG', `${tokenFrom}: the admin token is empty`);
  return { base, token, urlFrom, tokenFrom };
}

export class ApiClient {
  constructor(readonly target: ApiTarget) {}

  /** The JSON body of a 2xx answer (undefined for 204); anything else is an error naming the route and what the API said. */
  async call<T>(method: string, route: string, body?: unknown): Promise<T> {
    const url = `${this.target.base}${route}`;
    let res: Response;
    try {
      // redirect: 'error': the bearer token never follows a redirect elsewhere.
      res = await fetch(url, { method, signal: AbortSignal.timeout(30_000), redirect: 'error',
        headers: { Authorization: `Bearer ${this.target.token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      const why = errnoCode(cause) ?? (cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err));
      throw new DvrError('DVR_ERR_DEPENDENCY', `cannot reach the API at ${this.target.base} (from ${this.target.urlFrom}): ${why}; `
        + 'is the controller running (dvr start, dvr-controller)? --api or DVR_API_URL name another one');
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new DvrError('DVR_ERR_DEPENDENCY', `${method} ${url}: ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
    if (res.status === 401 || res.status === 403) {
      throw new DvrError('DVR_ERR_UNAUTHORIZED', `the API at ${this.target.base} refused the admin token from ${this.target.tokenFrom}`);
    }
    if (!res.ok) {
      const e = json as { code?: unknown; message?: unknown } | undefined;
      throw new DvrError(typeof e?.code === 'string' && e.code.startsWith('DVR_ERR_') ? e.code as never : 'DVR_ERR_DEPENDENCY',
        `${typeof e?.message === 'string' ? e.message : text.slice(0, 200)} (${method} ${route}: ${res.status})`);
    }
    return json as T;
  }
}
