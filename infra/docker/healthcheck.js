#!/usr/bin/env node
'use strict';
/**
 * The images' HEALTHCHECK (Docker and compose run it; Container Apps and Kubernetes use their own probes).
 *
 *   node healthcheck.js supervisor   GET /healthz on 127.0.0.1:$TASKFLEET_PORT answers 200 within 3 s.
 *   node healthcheck.js worker       a `taskfleet worker` process exists and is neither stopped nor a zombie.
 *
 * The worker check is deliberately only the process: a worker has no port, and the check that matters for its
 * tasks is its heartbeat, which the supervisor enforces (suspended after 5 missed heartbeats, its leases
 * reclaimed). Exits 0 when healthy, 1 with a one-line reason otherwise.
 */
const fs = require('node:fs');
const http = require('node:http');

const TIMEOUT_MS = 3000;

function supervisor(env) {
  const port = Number(env.TASKFLEET_PORT || 8080);
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: TIMEOUT_MS }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? null : `GET /healthz answered ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', (err) => resolve(`GET /healthz on port ${port}: ${err.message}`));
  });
}

/** The state letter of /proc/<pid>/stat (R, S, D, T, t, Z, X, …): the field after the command in parentheses. */
function processState(stat) {
  const m = /\)\s+(\S)/.exec(stat);
  return m ? m[1] : '?';
}

function worker(proc) {
  const states = [];
  for (const pid of fs.readdirSync(proc).filter((d) => /^\d+$/.test(d))) {
    let argv;
    let stat;
    try {
      argv = fs.readFileSync(`${proc}/${pid}/cmdline`, 'utf8').split('\0');
      stat = fs.readFileSync(`${proc}/${pid}/stat`, 'utf8');
    } catch {
      continue; // the process ended while we looked
    }
    // node itself (`node /app/bin/taskfleet.js worker …`), not tini, whose command line holds the same words.
    const isWorker =
      /(^|\/)node$/.test(argv[0] || '') && (argv[1] || '').endsWith('taskfleet.js') && argv[2] === 'worker';
    if (isWorker) states.push(processState(stat));
  }
  if (states.length === 0) return 'no taskfleet worker process';
  const bad = states.filter((s) => 'TtZXx'.includes(s));
  return bad.length === states.length ? `the worker process is ${bad.join(', ')} (stopped or dead)` : null;
}

async function check(kind, env = process.env, proc = '/proc') {
  if (kind === 'supervisor') return supervisor(env);
  if (kind === 'worker') return worker(proc);
  return `usage: healthcheck.js supervisor|worker (got ${JSON.stringify(kind)})`;
}

module.exports = { check, processState };

if (require.main === module) {
  check(process.argv[2]).then((problem) => {
    if (problem) console.error(`unhealthy: ${problem}`);
    process.exit(problem ? 1 : 0);
  });
}
