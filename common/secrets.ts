// Comparing secrets (tokens, stream keys) in constant time, so a wrong guess's timing says nothing
// about how much of it was right.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Hashes have one length, so a wrong length is not answered sooner. */
const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Whether `given` is `expected`; the time taken does not depend on where they differ, nor on their lengths. */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected)) && given.length === expected.length;
}

/** sameSecret against one secret, its digest taken once (a token every request brings). */
export function secretCheck(expected: string): (given: string) => boolean {
  const want = digest(expected);
  return (given) => timingSafeEqual(digest(given), want) && given.length === expected.length;
}

/** Whether `header` (an Authorization header) carries `Bearer <token>`. */
export function bearerIs(header: string | undefined, token: string): boolean {
  return header !== undefined && header.startsWith('Bearer ') && sameSecret(header.slice(7), token);
}

/**
 * The key edges show a transcoder's live view (agent/transcoder/live-view-server.ts), derived from
 * the cluster's agent token: an edge's nginx holds this key, never the token itself.
 */
export function liveViewKey(agentToken: string): string {
  return createHmac('sha256', agentToken).update('dvr live view').digest('base64url');
}
