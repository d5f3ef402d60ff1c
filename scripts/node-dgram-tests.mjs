// Runs Node's own dgram tests, unchanged, on node:dgram and on iouring-net's
// node:dgram layer (through scripts/node-dgram-shim.cjs) on each UDP backend,
// and reports every test that passes on node:dgram but fails on the layer.
//
//   node scripts/node-dgram-tests.mjs --dir NODE_TREE [--backends io_uring,mmsg,dgram]
//        [--only REGEX] [--timeout SECONDS] [--json FILE] [--verbose]
//
// NODE_TREE is a Node.js v20 source tree (or any directory holding its
// test/common, test/parallel, test/sequential and test/async-hooks); see
// scripts/node-dgram-tests.sh, which finds or fetches one. Node's test files
// are read from there and never copied into this repository.
//
// A test passes when it exits with status 0 within the timeout, as in Node's
// own runner (a test that skips itself exits 0 and is reported as skipped).
// Exit status: 0 when every test that passes on node:dgram passes on the
// layer on every backend, or fails there for a reason listed in EXPLAINED;
// 1 otherwise; 2 on bad usage.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const shim = fileURLToPath(new URL('./node-dgram-shim.cjs', import.meta.url));

/**
 * Tests that cannot pass on the layer, and why (by test file; an object
 * keyed by backend where only some fail). Each reaches into node:dgram's
 * internals, not its API: socket[kStateSymbol].handle (internal/dgram,
 * --expose-internals) is the libuv UDP handle node:dgram drives, and the
 * layer's lookups, binds, sends and receives do not go through one.
 */
const EXPLAINED = {
  'test-dgram-close-during-bind.js':
    "replaces the native handle's lookup() and bind() to close the socket during bind()'s lookup",
  'test-dgram-recv-error.js': "calls the native handle's onmessage(-1, ...) to fake a receive error",
  'test-dgram-send-error.js': "replaces the native handle's lookup() and send() to fake DNS and send errors",
  'test-udpsendwrap.js': {
    dgram:
      'under --test-udp-no-try-send the node:dgram socket underneath the dgram backend makes its own UDPSENDWRAP per send, so async_hooks see two where the test wants one',
  },
};

/** Why a test fails on a backend, if that is explained. */
function explained(test, backend) {
  const why = EXPLAINED[test];
  return typeof why === 'object' ? why[backend] : why;
}

function usage(msg) {
  if (msg) console.error(msg);
  console.error('usage: node scripts/node-dgram-tests.mjs --dir NODE_TREE [--backends io_uring,mmsg,dgram] [--only REGEX] [--timeout S] [--json FILE] [--verbose]');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { dir: process.env.NODE_TEST_TREE, backends: ['io_uring', 'mmsg', 'dgram'], only: null, timeout: 60, json: null, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i] ?? usage(`${a} needs a value`);
    if (a === '--dir') o.dir = next();
    else if (a === '--backends') o.backends = next().split(',').filter(Boolean);
    else if (a === '--only') o.only = new RegExp(next());
    else if (a === '--timeout') o.timeout = Number(next());
    else if (a === '--json') o.json = next();
    else if (a === '--verbose') o.verbose = true;
    else usage(`unknown option ${a}`);
  }
  if (!o.dir) usage('--dir (or NODE_TEST_TREE) is required');
  if (!existsSync(join(o.dir, 'test', 'common', 'index.js'))) usage(`${o.dir}/test/common/index.js not found`);
  if (!(o.timeout > 0)) usage('--timeout must be positive');
  return o;
}

/** Every dgram / UDP test of the suites that run without network access. */
function discover(dir) {
  const out = [];
  for (const suite of ['parallel', 'sequential', 'async-hooks']) {
    const base = join(dir, 'test', suite);
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base).sort()) {
      if (!/^test-.*(dgram|udp).*\.m?js$/.test(name)) continue;
      out.push(join(base, name));
    }
  }
  return out;
}

/** The `// Flags:` of a test file, as Node's runner reads them. */
function flagsOf(file) {
  const m = /^\/\/ Flags: (.*)$/m.exec(readFileSync(file, 'utf8'));
  return m ? m[1].trim().split(/\s+/) : [];
}

/** Run one test; resolves { status: 'pass' | 'skip' | 'fail' | 'timeout', output }. */
function runOne(dir, file, extraArgs, env, timeoutS) {
  return new Promise((done) => {
    const args = [...extraArgs, ...flagsOf(file), file];
    const child = spawn(process.execPath, args, {
      cwd: dir,
      env: { ...process.env, ...env, NODE_TEST_DIR: join(dir, 'test') },
      detached: true, // its own process group: cluster workers die with it
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (b) => {
      if (output.length < 20000) output += b.toString();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      try {
        process.kill(-child.pid, 'SIGKILL'); // stray workers of the group
      } catch {
        // none left
      }
      let status = code === 0 ? 'pass' : 'fail';
      if (timedOut) status = 'timeout';
      else if (code === 0 && /^1\.\.0 # Skipped/m.test(output)) status = 'skip';
      done({ status, code, signal, output });
    });
  });
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const dir = resolve(o.dir);
  const tests = discover(dir).filter((f) => !o.only || o.only.test(f));
  const columns = ['node:dgram', ...o.backends];
  console.log(`${tests.length} tests from ${dir}/test; node ${process.version}; columns: ${columns.join(', ')}`);
  const results = [];
  for (const file of tests) {
    const name = relative(join(dir, 'test'), file);
    const row = { test: name };
    row['node:dgram'] = await runOne(dir, file, [], {}, o.timeout);
    for (const b of o.backends) {
      row[b] = await runOne(dir, file, ['--require', shim], { IOURING_NET_BACKEND: b }, o.timeout);
    }
    results.push(row);
    console.log(`${name.padEnd(62)} ${columns.map((c) => row[c].status.padEnd(8)).join(' ')}`);
    if (o.verbose) {
      for (const c of o.backends) {
        if (row['node:dgram'].status === 'pass' && row[c].status !== 'pass') {
          console.log(`--- ${name} on ${c} (exit ${row[c].code}${row[c].signal ? `, ${row[c].signal}` : ''}):\n${row[c].output.trim()}\n---`);
        }
      }
    }
  }
  const regressions = [];
  for (const row of results) {
    if (row['node:dgram'].status !== 'pass') continue;
    for (const b of o.backends) {
      if (row[b].status === 'pass') continue;
      const base = row.test.split('/').pop();
      regressions.push({ test: row.test, backend: b, status: row[b].status, why: explained(base, b) });
    }
  }
  const unexplained = regressions.filter((r) => !r.why);
  console.log('');
  console.log(`passing on node:dgram: ${results.filter((r) => r['node:dgram'].status === 'pass').length} of ${results.length}`);
  for (const b of o.backends) {
    const n = results.filter((r) => r['node:dgram'].status === 'pass' && r[b].status === 'pass').length;
    console.log(`  ... and on the layer (${b}): ${n}`);
  }
  console.log(`pass on node:dgram but not on the layer: ${regressions.length} (unexplained: ${unexplained.length})`);
  for (const r of regressions) console.log(`  ${r.test} [${r.backend}: ${r.status}] ${r.why ? `explained: ${r.why}` : 'UNEXPLAINED'}`);
  if (o.json) {
    const slim = results.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' ? v : v.status])));
    writeFileSync(o.json, JSON.stringify({ node: process.version, dir, results: slim, regressions }, null, 2));
  }
  process.exit(unexplained.length === 0 ? 0 : 1);
}

await main();
