// The agent process (run under pm2 on every node): `dvr-agent --config /etc/dvr/agent.json`.
import { parseCommandLine, runCommand, usageError } from '../common/cli.js';
import { createLogger } from '../common/log.js';
import { Agent } from '../agent/agent.js';
import { loadAgentConfig } from '../agent/config.js';
import { ServingAgent } from '../agent/roles/serving-agent.js';

const USAGE = `usage: dvr-agent --config <agent.json>
       dvr-agent --help | --version

Runs this node's role: a transcoder's encoders and packager, or an edge's, relay's or origin's
reports to the controller (and an edge's time-shift service). dvr-provision writes the config and
runs it under pm2. Logs go to stderr (DVR_LOG_LEVEL, DVR_LOG_FORMAT=json|pretty).`;

async function main(): Promise<number | undefined> {
  const parsed = parseCommandLine({ command: 'dvr-agent', usage: USAGE, options: { config: { type: 'string', short: 'c' } } },
    process.argv.slice(2));
  if (!parsed) return 0;
  if (parsed.values.config === undefined) throw usageError('--config <agent.json> is required');
  const log = createLogger({ name: 'dvr-agent' });
  const config = await loadAgentConfig(parsed.values.config);
  const agent = config.role === 'transcoder' ? await Agent.start(config, log) : await ServingAgent.start(config, log);
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
  return undefined;
}

runCommand('dvr-agent', main);
