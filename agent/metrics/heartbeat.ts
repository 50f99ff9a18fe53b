// Heartbeats to the controller: who we are, host figures, per-stream figures. The reply may
// carry the jobs this node should run. Failures are logged and counted, never thrown.
import type { Logger } from '../../common/log.js';
import type { Heartbeat, HeartbeatReply } from '../../common/protocol.js';
import type { AgentConfig } from '../config.js';
import { DvrError } from '../../common/errors.js';

export interface HeartbeatOptions {
  controllerUrl: string;
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

  async beat(): Promise<void> {
    const url = `${this.o.controllerUrl.replace(/\/+$/, '')}/api/v1/nodes/${encodeURIComponent(this.o.nodeId)}/heartbeat`;
    try {
      const body = await this.o.build();
      const res = await fetch(url, {
        method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(this.o.timeoutMs),
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${this.o.agentToken}` },
      });
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
    controllerUrl: config.controller.url, agentToken: config.controller.agentToken ?? process.env['DVR_AGENT_TOKEN'] ?? '',
    nodeId: config.nodeId, intervalMs: config.heartbeatSeconds * 1000, timeoutMs: 5000, log: log.child({ part: 'heartbeat' }),
    build, onReply,
  });
  sender.start();
  return sender;
}
