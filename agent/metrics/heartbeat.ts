// Heartbeats to the controller: who we are, host figures, per-stream figures. The reply may
// carry the jobs this node should run. Failures are logged and counted, never thrown.
import type { Logger } from '../../common/log.js';
import type { Heartbeat, HeartbeatReply } from '../../common/protocol.js';
import type { AgentConfig } from '../config.js';
import { DvrError } from '../../common/errors.js';

export interface HeartbeatOptions {
  /** The controllers, in the order tried: the one that answered last is asked first. */
  controllerUrls: string[];
  agentToken: string;
  nodeId: string;
  intervalMs: number;
  timeoutMs: number;
  log: Logger;
  build: () => Promise<Heartbeat>;
  onReply: (reply: HeartbeatReply) => Promise<void>;
}

export class HeartbeatSender {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private closed = false;
  failures = 0;
  sent = 0;

  constructor(private readonly o: HeartbeatOptions) {}

  start(): void {
    const tick = (): void => {
      if (this.closed) return;
      this.inFlight = this.beat().finally(() => {
        this.inFlight = undefined;
        if (!this.closed) this.timer = setTimeout(tick, this.o.intervalMs);
      });
    };
    tick();
  }

  /** The controller asked first (the last that answered). */
  private current = 0;

  /** One heartbeat to the controller that answered last, else to the next ones in turn (each within the timeout). */
  private async send(body: string): Promise<Response> {
    const urls = this.o.controllerUrls;
    let last: unknown;
    for (let i = 0; i < urls.length; i++) {
      const at = (this.current + i) % urls.length;
      const url = `${(urls[at] as string).replace(/\/+$/, '')}/api/v1/nodes/${encodeURIComponent(this.o.nodeId)}/heartbeat`;
      try {
        const res = await fetch(url, { method: 'POST', body, signal: AbortSignal.timeout(this.o.timeoutMs),
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${this.o.agentToken}` } });
        // A controller that cannot reach its store (5xx) is passed over like one that does not answer.
        if (res.status >= 500 && i < urls.length - 1) {
          await res.body?.cancel();
          throw new DvrError('DVR_ERR_DEPENDENCY', `${urls[at] ?? ''} answered ${res.status}`);
        }
        if (at !== this.current) {
          this.o.log.warn({ controller: urls[at], instead: urls[this.current] }, 'heartbeats go to another controller');
        }
        this.current = at;
        return res;
      } catch (err) {
        last = err;
      }
    }
    throw last instanceof Error ? last : new Error(String(last));
  }

  async beat(): Promise<void> {
    try {
      const res = await this.send(JSON.stringify(await this.o.build()));
      if (!res.ok) throw new DvrError('DVR_ERR_DEPENDENCY', `controller answered ${res.status}`);
      this.sent++;
      if (this.failures > 0) this.o.log.info({ after: this.failures }, 'heartbeats reach the controller again');
      this.failures = 0;
      const text = await res.text();
      if (text.trim() !== '') await this.o.onReply(JSON.parse(text) as HeartbeatReply);
    } catch (err) {
      this.failures++;
      // Say it on the first failure and then every tenth, not on every beat.
      if (this.failures === 1 || this.failures % 10 === 0) {
        this.o.log.warn({ failures: this.failures, err: err instanceof Error ? err.message : String(err) }, 'heartbeat failed');
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.inFlight;
  }
}

/** Heartbeats of a node's agent to the controller its config names (none without one), started. The
 * agent token comes from the config or DVR_AGENT_TOKEN. */
export function startAgentHeartbeat(config: Readonly<AgentConfig>, log: Logger, build: () => Promise<Heartbeat>,
  onReply: (reply: HeartbeatReply) => Promise<void>): HeartbeatSender | undefined {
  if (!config.controller) return undefined;
  const sender = new HeartbeatSender({
    controllerUrls: [config.controller.url, ...config.controller.fallbackUrls ?? []],
    agentToken: config.controller.agentToken ?? process.env['DVR_AGENT_TOKEN'] ?? '',
    nodeId: config.nodeId, intervalMs: config.heartbeatSeconds * 1000, timeoutMs: 5000, log: log.child({ part: 'heartbeat' }),
    build, onReply,
  });
  sender.start();
  return sender;
}
