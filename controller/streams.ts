// A stream's settings as the API takes them: the creation schema, the cluster's defaults for new
// streams (set once in the controller's configuration, as Red5's forceVODRecord forces recording),
// and the DVR settings a PATCH may change on a running stream. Pure, apart from reading the file.
import { DvrError } from '../common/errors.js';
import { readJsonFile } from '../common/json-file.js';
import { compile, describeErrors, validateOrThrow } from '../common/schema.js';
import { NAME_SCHEMA } from '../common/names.js';
import { DVR_PROPERTIES, ENCODING_PROPERTIES, encodingProblem, type DvrSettings } from '../common/stream-settings.js';
import type { StreamOptions } from './store.js';

export const streamSchema = {
  $id: 'stream-create', type: 'object', additionalProperties: false, required: ['app', 'stream'],
  properties: {
    app: NAME_SCHEMA, stream: NAME_SCHEMA, ...ENCODING_PROPERTIES, ...DVR_PROPERTIES,
    signedPlayback: { type: 'boolean', default: false },
  },
} as const;
const validateStream = compile<StreamOptions & { app: string; stream: string }>(streamSchema);

/** Without the schema's defaults: what was given is told apart from what was filled in. */
const strip = (props: Record<string, object>): Record<string, object> =>
  Object.fromEntries(Object.entries(props).map(([k, v]) => {
    const { default: _omitted, ...rest } = v as { default?: unknown };
    return [k, rest];
  }));

/** What a PATCH may change on a stream, running or not: its DVR settings and whether playback is signed. */
export const streamPatchSchema = {
  $id: 'stream-patch', type: 'object', additionalProperties: false, minProperties: 1,
  properties: { ...strip(DVR_PROPERTIES), signedPlayback: { type: 'boolean' } },
} as const;
const validatePatch = compile<Partial<DvrSettings> & { signedPlayback?: boolean }>(streamPatchSchema);

/** The cluster's defaults for new streams: any setting a creation may give, and forceRecording. */
export const streamDefaultsSchema = {
  $id: 'stream-defaults', type: 'object', additionalProperties: false,
  properties: {
    ...strip({ ...ENCODING_PROPERTIES, ...DVR_PROPERTIES }), signedPlayback: { type: 'boolean' },
    forceRecording: { type: 'boolean', description: 'Record every stream (Red5\'s forceVODRecord): recording: false is refused' },
  },
} as const;
export type StreamDefaults = Partial<StreamOptions> & { forceRecording?: boolean };
const validateDefaults = compile<StreamDefaults>(streamDefaultsSchema);

/** The stream settings a JSON file sets as the cluster's defaults; errors name the file and the JSON path. */
export async function loadStreamDefaults(file: string): Promise<Readonly<StreamDefaults>> {
  return parseStreamDefaults(await readJsonFile(file), file);
}

export function parseStreamDefaults(json: unknown, where = 'stream defaults'): Readonly<StreamDefaults> {
  const copy: unknown = structuredClone(json);
  if (!validateDefaults(copy)) throw new DvrError('DVR_ERR_CONFIG', `${where}: ${describeErrors(validateDefaults.errors)}`);
  if (copy.forceRecording === true && copy.recording === false) {
    throw new DvrError('DVR_ERR_CONFIG', `${where}: $.recording: false contradicts forceRecording`);
  }
  if (copy.mode !== undefined || copy.ladder !== undefined) {
    const problem = encodingProblem({ mode: copy.mode ?? 'copy', ladder: copy.ladder ?? [{ name: 'source' }] });
    if (problem) throw new DvrError('DVR_ERR_CONFIG', `${where}: ${problem}`);
  }
  return copy;
}

const forced = (defaults: Readonly<StreamDefaults>, recording: boolean | undefined, at: string): void => {
  if (defaults.forceRecording === true && recording === false) {
    throw new DvrError('DVR_ERR_BAD_REQUEST', `${at}.recording: every stream is recorded on this cluster (forceRecording in its `
      + 'stream defaults)');
  }
};

/** A new stream's settings: the request over the cluster's defaults over the schema's. */
export function newStream(body: unknown, defaults: Readonly<StreamDefaults>): { app: string; stream: string; settings: StreamOptions } {
  const given = (body ?? {}) as Record<string, unknown>;
  forced(defaults, given['recording'] as boolean | undefined, '$');
  const { forceRecording, ...preset } = defaults;
  // A mode given without a ladder does not take the default's ladder (made for the default's mode).
  if ('mode' in given && !('ladder' in given) && given['mode'] !== preset.mode) delete preset.ladder;
  const merged = typeof body === 'object' && body !== null && !Array.isArray(body)
    ? { ...preset, ...(forceRecording === true ? { recording: true } : {}), ...given } : body;
  const v = validateOrThrow(validateStream, merged, 'stream');
  const { app, stream, ...settings } = v;
  const problem = encodingProblem(settings);
  if (problem) throw new DvrError('DVR_ERR_BAD_REQUEST', `invalid stream: ${problem}`);
  return { app, stream, settings: settings as StreamOptions };
}

/** A stream's settings after a PATCH of its DVR settings; its encoding cannot change (a new stream can). */
export function patchedStream(current: Readonly<StreamOptions>, body: unknown, defaults: Readonly<StreamDefaults>): StreamOptions {
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    for (const k of Object.keys(body)) {
      if (k in ENCODING_PROPERTIES || k === 'app' || k === 'stream') {
        throw new DvrError('DVR_ERR_BAD_REQUEST', `stream update: $.${k} cannot change on an existing stream (its segments are `
          + 'already made that way); create another stream');
      }
    }
  }
  const patch = validateOrThrow(validatePatch, body, 'stream update');
  forced(defaults, patch.recording, '$');
  return { ...current, ...patch };
}
