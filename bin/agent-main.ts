// The agent process (run under pm2 on every node): `dvr-agent --config /etc/dvr/agent.json`.
import { parseArgs } from 'node:util';
import { isDvrError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { Agent } from '../agent/agent.js';
import { loadAgentConfig } from '../agent/config.js';
import { ServingAgent } from '../agent/roles/serving-agent.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help || !values.config) {
    console.log('usage: dvr-agent --config <agent.json>\n\nRuns this node\'s role: a transcoder\'s encoders and packager, '
      + 'or an edge\'s, relay\'s or\norigin\'s reports to the controller. Logs go to stderr.');
    process.exit(values.help ? 0 : 2);
  }
  const log = createLogger({ name: 'dvr-agent' });
  let agent: Agent | ServingAgent;
  try {
    const config = await loadAgentConfig(values.config);
    agent = config.role === 'transcoder' ? await Agent.start(config, log) : await ServingAgent.start(config, log);
  } catch (err) {
    console.error(`dvr-agent: ${isDvrError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: encoders finish their segment, playlists are written');
    void agent.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (agent.metricsPort !== undefined) console.log(`metrics: http://${agent.config.metrics?.host ?? '127.0.0.1'}:${agent.metricsPort}/metrics`);
  console.log('ready');
}

void main();
