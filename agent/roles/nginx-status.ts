// A serving node's load, read from its own nginx: viewers on edges and relays (stub_status's
// active connections, less the status request itself), publishers on origins (rtmp_stat's
// publishing streams). The controller places viewers and scales roles by these.
import type { Role } from '../../common/protocol.js';
import { DvrError } from '../../common/errors.js';

export async function nginxConnections(role: Exclude<Role, 'transcoder'>, statusUrl: string, timeoutMs: number): Promise<number> {
  const base = statusUrl.replace(/\/+$/, '');
  const url = role === 'origin' ? `${base}/rtmp_stat` : `${base}/nginx_status`;
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new DvrError('DVR_ERR_DEPENDENCY', `${url} answered ${res.status}`);
  const text = await res.text();
  if (role === 'origin') {
    if (!text.includes('<rtmp>')) throw new DvrError('DVR_ERR_DEPENDENCY', `${url} is not nginx-rtmp's statistics page`);
    // <publishing/> marks both the publishing client and its stream: count the clients.
    return (text.match(/<client>[\s\S]*?<\/client>/g) ?? []).filter((c) => c.includes('<publishing/>')).length;
  }
  const m = /Active connections:\s*(\d+)/.exec(text);
  if (!m) throw new DvrError('DVR_ERR_DEPENDENCY', `${url} is not an nginx stub_status page`);
  return Math.max(0, Number(m[1]) - 1);
}
