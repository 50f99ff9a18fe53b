// The fault suite: every fault `dvr lab fault` knows, one after another on a running lab, each
// measured and checked by a drill (drill.ts). The host a fault hits is chosen from what the
// controller says at that moment: the transcoder writing the stream, the origin its publisher is on.
// `apply` injects a fault (the tests and the benchmark go through the `dvr lab fault` command).
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { api, drill, type DrillPlan, type DrillResult, type DrillTarget } from './drill.js';
import { host, LAB_STREAM } from './lab.js';
import type { LabState } from './state.js';
import { LAB_HOSTS, LAB_PORTS, labPaths } from './topology.js';

export type ApplyFault = (kind: string, hostName?: string) => Promise<void>;

export async function drillTarget(s: LabState): Promise<DrillTarget> {
  const token = (await fs.readFile(path.join(labPaths(s.options.dir).controllerData, 'controller', 'admin-token'), 'utf8')).trim();
  return {
    edges: ['edge-1', 'edge-2'].map((e) => `http://${host(s, e).address}:${LAB_PORTS.http}`),
    stream: `${LAB_STREAM.app}/${LAB_STREAM.stream}`, rendition: 'source',
    api: { urls: s.controllers.length > 0 ? s.controllers.map((c) => c.url) : [s.controller.url], token },
    storageDir: path.join(labPaths(s.options.dir).export, LAB_STREAM.app, LAB_STREAM.stream, 'source'),
  };
}

async function streamInfo(t: DrillTarget): Promise<{ transcoder: string; origin: string }> {
  const s = await api<{ transcoder: string | null; origin: string | null }>(t, `/streams/${t.stream}`);
  return { transcoder: s.transcoder ?? '', origin: s.origin ?? '' };
}

/** The stream a drill publishes anew, as a second encoder would. */
const DRILL_STREAM = { app: 'live', stream: 'drill' };

/**
 * A publisher of DRILL_STREAM (made when the lab has none) from this machine to an origin other
 * than `avoid`'s: accepted once the controller says the stream is live with a transcoder.
 */
async function drillPublisher(s: LabState, t: DrillTarget, avoid: string):
Promise<{ start: () => void; stop: () => void; accepted: () => Promise<boolean> }> {
  const name = `${DRILL_STREAM.app}/${DRILL_STREAM.stream}`;
  await fetch(`${t.api.urls[0] ?? ''}/streams`, { method: 'POST', body: JSON.stringify({ ...DRILL_STREAM, format: 'ts', mode: 'copy' }),
    headers: { Authorization: `Bearer ${t.api.token}`, 'Content-Type': 'application/json' } });
  const { url } = await api<{ url: string }>(t, `/streams/${name}/publish`);
  const origin = LAB_HOSTS.find((h) => h.roles.includes('origin') && h.name !== avoid)?.name ?? 'ot-2';
  const target = new URL(url);
  target.hostname = host(s, origin).address;
  let child: ChildProcess | undefined;
  return {
    start: () => {
      child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-f', 'lavfi', '-i',
        'testsrc2=size=320x180:rate=25', '-t', '90', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-f', 'flv', target.toString()],
      { stdio: 'ignore' });
    },
    stop: () => { child?.kill('SIGKILL'); },
    accepted: async () => {
      const st = await api<{ status: string; transcoder: string | null }>(t, `/streams/${name}`);
      return st.status === 'live' && st.transcoder !== null;
    },
  };
}

/** The drills, in an order that leaves the lab whole after each; `only` picks some by kind. */
export async function faultSuite(s: LabState, apply: ApplyFault,
  o: { only?: string[]; log?: (line: string) => void } = {}): Promise<DrillResult[]> {
  const t = await drillTarget(s);
  const node = async (what: 'transcoder' | 'origin'): Promise<string> => (await streamInfo(t))[what];
  const plans: Array<{ kind: string; plan: () => Promise<DrillPlan> }> = [
    { kind: 'drop-publisher', plan: async () => ({ label: 'drop-publisher', apply: () => apply('drop-publisher'),
      holdS: 6, maxHoldS: 40 }) },
    { kind: 'kill-agent', plan: async () => {
      const h = await node('transcoder');
      return { label: `kill-agent ${h} (its transcoder)`, apply: () => apply('kill-agent', h), heal: () => apply('heal', h), detect: h,
        holdS: 5, maxHoldS: 45 };
    } },
    { kind: 'cut', plan: async () => {
      const h = await node('transcoder');
      return { label: `cut ${h} (its transcoder)`, apply: () => apply('cut', h), heal: () => apply('heal', h), detect: h,
        holdS: 5, maxHoldS: 45 };
    } },
    { kind: 'cut-controller', plan: async () => {
      const h = await node('transcoder');
      return { label: `cut-controller ${h} (its transcoder)`, apply: () => apply('cut-controller', h), heal: () => apply('heal', h),
        detect: h, holdS: 5, maxHoldS: 45 };
    } },
    { kind: 'cut-origin', plan: async () => {
      const h = await node('origin');
      return { label: `cut ${h} (its publisher's origin)`, apply: () => apply('cut', h), heal: () => apply('heal', h), detect: h,
        holdS: 5, maxHoldS: 45 };
    } },
    { kind: 'kill-edge', plan: async () => ({ label: 'kill-edge edge-2', apply: () => apply('kill-edge', 'edge-2'),
      heal: () => apply('heal', 'edge-2'), edgesDown: [t.edges[1] ?? ''], holdS: 8, maxHoldS: 30 }) },
    { kind: 'stop-storage', plan: async () => ({ label: 'stop-storage (30 s)', apply: () => apply('stop-storage'),
      heal: () => apply('start-storage'), holdS: 30, maxHoldS: 30, holdOnly: true }) },
    { kind: 'fill-storage', plan: async () => ({ label: 'fill-storage (15 s)', apply: () => apply('fill-storage'),
      heal: () => apply('free-storage'), holdS: 15, maxHoldS: 15, holdOnly: true }) },
    // The leader dies; with it down, a transcoder dies and a new publisher comes: the other
    // controller takes over, replaces the transcoder and accepts the publisher.
    { kind: 'kill-controller', plan: async () => {
      const h = await node('transcoder');
      const publisher = await drillPublisher(s, t, h);
      return { label: `kill-controller (the leader) + kill-agent ${h}`, detect: h, newPublish: () => publisher.accepted(),
        apply: async () => { await apply('kill-controller'); await apply('kill-agent', h); publisher.start(); },
        heal: async () => { publisher.stop(); await apply('start-controller'); await apply('heal', h); }, holdS: 15, maxHoldS: 45 };
    } },
  ];
  const results: DrillResult[] = [];
  for (const p of plans) {
    if (o.only && !o.only.includes(p.kind)) continue;
    const plan = await p.plan();
    o.log?.(`drill: ${plan.label}`);
    const r = await drill(t, plan);
    o.log?.(`  detect ${r.detectS?.toFixed(1) ?? '-'} s, advances ${r.advanceS?.toFixed(1) ?? '-'} s, stall ${r.stallS.toFixed(1)} s, `
      + `${r.reqPerS.toFixed(1)} req/s, ${(r.errorRate * 100).toFixed(1)} % errors`
      + `${r.problems.length ? `; problems: ${r.problems.join('; ')}` : ''}`);
    results.push(r);
  }
  return results;
}
