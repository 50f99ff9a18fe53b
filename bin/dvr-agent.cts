#!/usr/bin/env node
// The agent's launcher (run under pm2 on every node): `dvr-agent --config /etc/dvr/agent.json`.
//
// Every asynchronous file operation runs on libuv's thread pool (4 threads by default). An
// operation on a hung NFS mount holds its thread until the mount answers, so a few streams writing
// at the moment of a hang would take every thread, and the local spool, the /proc reads behind the
// heartbeats and everything else on disk would wait behind them. libuv sizes the pool once, at its
// first use, and an ES module entry point is too late for that (loading it already uses the pool):
// this CommonJS file sets the size and then loads the agent.
process.env['UV_THREADPOOL_SIZE'] ??= '64';
void import('./agent-main.js');
