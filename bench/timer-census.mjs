// The fleet soak's timer census (bench/fleet.ts, FLEET_SOAK_MINUTES): loaded into the daemon with
// `node --import <this file>`, it keeps every live timer (setTimeout/setInterval, ref'd or not) with
// the place that made it, and every CENSUS_EVERY_MS (5 s) writes to CENSUS_FILE:
//   { at, live, refd, unrefd, probeDialogs, others: [[site, count]…], heap: { usedMB, totalMB, externalMB, arrayBuffersMB },
//     afterFullGc: { usedMB, fullGcs }, spaces: { <V8 space>: [usedMB, sizeMB] } }
// `afterFullGc` is the heap in use just after the newest full (mark-compact) collection: what the
// daemon retains, without the garbage a sample at a random moment of the GC sawtooth carries.
// `probeDialogs` are the TCP probes in flight (one timer each, DialogRun in src/probe/dialog.ts;
// not kept here, counted as the ref'd Timeouts Node reports beyond the census's own):
// they come and go with the load (a snapshot at 2,000 probes/s under a busy event loop held 400 of
// them) and are not what a soak looks for. What lingers is the rest.
//
// Why not prom-client's nodejs_active_resources{type="Timeout"}: it counts ref'd timers only, so it
// is blind to the daemon's own unref'd ones (the controller's, the page's batching, SSE keepalives…)
// and counts the probes in flight: it measured the load, not a leak.
//
// Cost: a stack of 7 frames captured at each timer's creation (formatted only for timers alive at
// a census), about 1 µs each. Bench tooling only: the daemon never loads it otherwise.
import { renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { isMainThread } from 'node:worker_threads';

// Worker threads inherit the daemon's --import (the shell parser's): only the main thread reports.
const FILE = isMainThread ? process.env.CENSUS_FILE : undefined;
const EVERY_MS = Number(process.env.CENSUS_EVERY_MS ?? 5000);
const timers = createRequire(import.meta.url)('node:timers');
const original = { setTimeout: globalThis.setTimeout, setInterval: globalThis.setInterval };
/** Live (or fired and not yet swept) timers but the probes' → the stack holder of their creation. */
const live = new Map();

function capture() {
  const holder = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 7;
  Error.captureStackTrace(holder, capture);
  Error.stackTraceLimit = limit;
  return holder;
}

for (const name of FILE !== undefined && FILE !== '' ? ['setTimeout', 'setInterval'] : []) {
  const make = original[name];
  const wrapped = function (...args) {
    const t = make.apply(this, args);
    // A TCP probe's timer (src/probe/dialog.ts arms `onRunTimer`): counted, no stack. They are
    // nearly all the timers at 2,000 probes/s, and a stack each cost the daemon ~3 % of its main
    // thread and kept the stacks into the old space (the soak measured the census, not the daemon).
    // Nor is it kept: held here until the next sweep, every probe (the timer's argument) and its
    // socket outlived scavenges and filled the old generation — the soak measured the census.
    // They are counted from Node's active resources at each census instead.
    if (t !== null && typeof t === 'object' && args[0]?.name !== 'onRunTimer') live.set(t, capture());
    return t;
  };
  globalThis[name] = wrapped;
  timers[name] = wrapped;
}

/** The first frames that are not the clock wrappers: where the timer comes from. */
function siteOf(holder) {
  const frames = String(holder.stack ?? '')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().replace(/^at /, '').replace(/\(.*\/(dist|src|node_modules)\//, '($1/').replace(/file:\/\/\S*\/(dist|src)\//, '$1/'));
  const useful = frames.filter((f) => !/^wrapped |^(Object\.)?setTimeout \(|^(Object\.)?setInterval \(|^new Promise|^Timeout\._onTimeout|^listOnTimeout|^process\.processTimers/.test(f));
  return useful.slice(0, 2).join(' < ') || frames[0] || '?';
}

function census() {
  let refd = 0;
  let unrefd = 0;
  let probeDialogs = 0;
  const bySite = new Map();
  for (const [t, holder] of live) {
    // A timer that fired (and was not an interval) or was cleared is destroyed: swept here.
    if (t._destroyed === true) {
      live.delete(t);
      continue;
    }
    if (t.hasRef()) refd += 1;
    else unrefd += 1;
    const site = siteOf(holder);
    if (site.startsWith('DialogRun.')) {
      probeDialogs += 1;
      continue;
    }
    bySite.set(site, (bySite.get(site) ?? 0) + 1);
  }
  // The probes' timers: the ref'd Timeouts Node holds beyond the ones kept here (all of theirs are ref'd).
  const activeTimeouts = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const untracked = Math.max(0, activeTimeouts - refd);
  probeDialogs += untracked;
  const others = [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 12);
  // The heap beside the timers: RSS alone cannot tell retained data from a heap V8 chose to keep large.
  const m = process.memoryUsage();
  const heap = { usedMB: Math.round(m.heapUsed / 2 ** 20), totalMB: Math.round(m.heapTotal / 2 ** 20), externalMB: Math.round(m.external / 2 ** 20), arrayBuffersMB: Math.round(m.arrayBuffers / 2 ** 20) };
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((x) => [x.space_name, [Math.round(x.space_used_size / 2 ** 20), Math.round(x.space_size / 2 ** 20)]]));
  return { at: new Date().toISOString(), live: refd + unrefd + untracked, refd, unrefd, probeDialogs, others, heap, ...(afterFullGc.fullGcs > 0 ? { afterFullGc } : {}), spaces };
}

/** The heap in use right after the newest full collection (its observer runs just after it). */
const afterFullGc = { usedMB: 0, fullGcs: 0 };

if (FILE !== undefined && FILE !== '') {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.detail?.kind !== perfConstants.NODE_PERFORMANCE_GC_MAJOR) continue;
      afterFullGc.usedMB = Math.round(process.memoryUsage().heapUsed / 2 ** 20);
      afterFullGc.fullGcs += 1;
    }
  }).observe({ entryTypes: ['gc'] });
  const write = () => {
    try {
      writeFileSync(`${FILE}.tmp`, JSON.stringify(census()));
      renameSync(`${FILE}.tmp`, FILE);
    } catch {
      // the bench's folder went away: nothing to report to
    }
  };
  original.setInterval(write, EVERY_MS).unref();
  // Swept between censuses too, so that fired timers do not pile up in the map.
  original.setInterval(() => {
    for (const t of live.keys()) if (t._destroyed === true) live.delete(t);
  }, 1000).unref();
}
