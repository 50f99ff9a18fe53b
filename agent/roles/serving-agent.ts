// The agent on a serving node (edge, relay, origin): nginx does the work; the agent reports the
// node's figures and its connections to the controller with each heartbeat.
import type { Logger } from '../../common/log.js';
import type { Heartbeat, Role } from '../../common/protocol.js';
import type { AgentConfig } from '../config.js';
import { startAgentHeartbeat, type HeartbeatSender } from '../metrics/heartbeat.js';
import { systemFigures } from '../metrics/system.js';
import { nginxConnections } from './nginx-status.js';

export class ServingAgent {
  private heartbeat: HeartbeatSender | undefined;
  private statusFailures = 0;
  readonly metricsPort = undefined;

  private constructor(readonly config: Readonly<AgentConfig>, private readonly role: Exclude<Role, 'transcoder'>, private readonly log: Logger) {}

  static start(config: Readonly<AgentConfig>, log: Logger): ServingAgent {
    if (config.role === 'transcoder') throw new Error('ServingAgent serves edge, relay and origin nodes');
    const agent = new ServingAgent(config, config.role, log);
    agent.heartbeat = startAgentHeartbeat(config, log, () => agent.heartbeatBody(), async () => undefined);
    log.info({ node: config.nodeId, role: config.role }, 'agent started');
    return agent;
  }

  /** Connections now, or undefined when nginx cannot be asked (reported once, then every tenth time). */
  async connections(): Promise<number | undefined> {
    if (!this.config.nginxStatusUrl) return undefined;
    try {
      const n = await nginxConnections(this.role, this.config.nginxStatusUrl, 2000);
      if (this.statusFailures > 0) this.log.info({ after: this.statusFailures }, 'nginx status answers again');
      this.statusFailures = 0;
      return n;
    } catch (err) {
      this.statusFailures++;
      if (this.statusFailures === 1 || this.statusFailures % 10 === 0) {
        this.log.warn({ url: this.config.nginxStatusUrl, err: err instanceof Error ? err.message : String(err) }, 'cannot read nginx status');
      }
      return undefined;
    }
  }

  async heartbeatBody(): Promise<Heartbeat> {
    const [system, connections] = await Promise.all([systemFigures(undefined), this.connections()]);
    return {
      nodeId: this.config.nodeId, role: this.role, sentAt: new Date().toISOString(), storage: { available: true, reason: undefined },
      system, streams: [], ...(connections === undefined ? {} : { connections }),
    };
  }

  async close(): Promise<void> {
    await this.heartbeat?.close();
  }
}
