// pm2 process file for a node's agent: `pm2 start ecosystem.config.cjs` (provisioning installs
// it with `pm2 startup` so it survives reboots). The agent's own config is DVR_AGENT_CONFIG.
module.exports = {
  apps: [
    {
      name: 'dvr-agent',
      script: 'dist/bin/dvr-agent.cjs',
      cwd: __dirname,
      args: ['--config', process.env.DVR_AGENT_CONFIG || '/etc/dvr/agent.json'],
      interpreter: 'node',
      exec_mode: 'fork',
      instances: 1,
      autorestart: true,
      // Crash loops back off exponentially (100 ms, doubling, up to 15 s) instead of spinning.
      exp_backoff_restart_delay: 100,
      max_memory_restart: '768M',
      // SIGTERM lets encoders finish their segment and playlists be written.
      kill_timeout: 15000,
      merge_logs: true,
      time: true,
      env: { NODE_ENV: 'production', DVR_LOG_LEVEL: 'info' },
    },
  ],
};
