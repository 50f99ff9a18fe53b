// Signed playback: a token with an expiry covering one stream's path prefix, so the relative
// segment URLs inside its playlists stay valid. nginx checks it itself (secure_link).
// URL shape: /s/<expires>/<token>/<app>/<stream>/<file>
import { createHash } from 'node:crypto';
import { signedPrefix } from '../common/edge-paths.js';
import { STREAM_DIR_PATTERN, checkName } from '../common/names.js';
import { DvrError } from '../common/errors.js';

export const SECRET_RE = /^[A-Za-z0-9_-]{16,128}$/;

export function checkSecret(secret: string): string {
  if (!SECRET_RE.test(secret)) {
    throw new DvrError('DVR_ERR_CONFIG', 'playback signing secret must be 16-128 chars of [A-Za-z0-9_-]');
  }
  return secret;
}

/** The string nginx hashes (secure_link_md5 "$sl_expires/$sl_app/$sl_stream/ <secret>"). */
export function playbackToken(secret: string, app: string, stream: string, expires: number): string {
  return createHash('md5').update(`${expires}/${app}/${stream}/ ${secret}`).digest('base64url');
}

/** A signed path for `file` (e.g. master.m3u8) of a stream, valid until `expires` (epoch seconds). */
export function signedPlaybackPath(secret: string, app: string, stream: string, file: string, expires: number): string {
  checkName('app', app);
  if (!new RegExp(STREAM_DIR_PATTERN).test(stream)) checkName('stream', stream);
  const exp = Math.floor(expires);
  return `${signedPrefix(exp, playbackToken(checkSecret(secret), app, stream, exp))}/${app}/${stream}/${file}`;
}
