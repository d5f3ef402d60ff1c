/**
 * The npm package as a user gets it: `npm pack`'s tarball installed into an
 * empty consumer project with no working compiler (CC=/bin/false,
 * CXX=/bin/false, so node-gyp cannot build).
 *
 * 1. With the linux prebuild for this machine (made by scripts/prebuild.sh
 *    into a staging copy): the install takes the prebuild, builds nothing,
 *    and the library runs on the io_uring backend (mmsg where io_uring is
 *    refused here); a strict `nodenext` TypeScript project with only this
 *    package and typescript installed type-checks against the published
 *    .d.ts (typed events and errors); require() works (CommonJS).
 * 2. Without prebuilds: the install still succeeds, the library runs on
 *    node:dgram, probe().code says why, and the one fallback warning names
 *    what is missing (no prebuild for this platform, no build/Release, the
 *    failed source build).
 *
 * Installs are `npm install --offline`: everything comes from npm's cache,
 * filled by this repository's own `npm install` (node-gyp-build, @types/node
 * and typescript at the versions of our package-lock.json, pinned in the
 * consumer with "overrides" so the offline resolution finds them). Only if
 * the cache lacks them (ENOTCACHED) does the install retry with
 * --prefer-offline, which needs the npm registry; the test says so.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { probe } from '../src/core/probe.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TUPLE = `linux-${process.arch}`;
const NO_COMPILER = { CC: '/bin/false', CXX: '/bin/false' };

function skipReason(): string | false {
  if (process.platform !== 'linux') return 'the package ships Linux prebuilds only';
  if (process.arch !== 'x64' && process.arch !== 'arm64') return `no prebuild is made for ${process.arch}`;
  if (spawnSync('npm', ['--version']).status !== 0) return 'npm is not on PATH';
  if (!existsSync(join(ROOT, 'dist', 'src', 'index.js'))) return 'dist/ is not built (npm run build)';
  return false;
}
const skip = skipReason();

interface Run {
  status: number | null;
  out: string;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** The version of a package in our lock file (what npm's cache holds). */
function lockedVersion(name: string): string {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string }>;
  };
  const v = lock.packages[`node_modules/${name}`]?.version;
  assert.ok(v, `${name} is not in package-lock.json`);
  return v;
}

let work = '';
let withPrebuild = '';
let withoutPrebuild = '';

/**
 * A staging copy of what the package consists of, with this machine's
 * prebuild, packed with `npm pack`; then the same tarball without
 * prebuilds/. The repository's own prebuilds/ and build/ are not touched.
 */
before(() => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'iouring-net-pkg-'));
  const stage = join(work, 'stage');
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
  for (const f of [...pkg.files.filter((f) => f !== 'prebuilds'), 'package.json', 'README.md', 'LICENSE', 'scripts']) {
    cpSync(join(ROOT, f), join(stage, f), { recursive: true });
  }
  const pre = run('bash', [join(ROOT, 'scripts', 'prebuild.sh'), '--arch', process.arch, '--out', join(stage, 'prebuilds')], ROOT);
  assert.equal(pre.status, 0, `scripts/prebuild.sh failed:\n${pre.out}`);
  // The prepack check, as `npm pack` in the repository runs it.
  const check = run(process.execPath, ['scripts/check-prebuilds.cjs'], stage, { IOURING_NET_PACK_ARCHS: process.arch });
  assert.equal(check.status, 0, check.out);
  const packed = run('npm', ['pack', '--ignore-scripts', '--pack-destination', work], stage);
  assert.equal(packed.status, 0, packed.out);
  const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
  assert.ok(tgz, `npm pack made no tarball:\n${packed.out}`);
  withPrebuild = join(work, tgz);
  const listing = execFileSync('tar', ['tzf', withPrebuild], { encoding: 'utf8' });
  for (const f of ['LICENSE', 'scripts/install-failed.cjs', 'binding.gyp', `prebuilds/${TUPLE}/node.napi.glibc.node`, 'dist/src/index.d.ts']) {
    assert.ok(listing.includes(`package/${f}\n`), `the tarball has no ${f}`);
  }
  // The same package with its prebuilds removed.
  const x = join(work, 'x');
  execFileSync('mkdir', ['-p', x]);
  execFileSync('tar', ['xzf', withPrebuild, '-C', x]);
  rmSync(join(x, 'package', 'prebuilds'), { recursive: true });
  withoutPrebuild = join(work, 'no-prebuilds.tgz');
  execFileSync('tar', ['czf', withoutPrebuild, '-C', x, 'package']);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** An empty project that depends on the tarball (and on `extra`), installed with no compiler. */
function consumer(name: string, tgz: string, extra: Record<string, string>): { dir: string; install: Run } {
  const dir = join(work, name);
  execFileSync('mkdir', ['-p', dir]);
  const manifest = {
    name,
    version: '1.0.0',
    private: true,
    type: 'module',
    dependencies: { 'iouring-net': `file:${tgz}`, ...extra },
    // Pin what our lock has, so that --offline finds it in npm's cache.
    overrides: { '@types/node': lockedVersion('@types/node'), 'node-gyp-build': lockedVersion('node-gyp-build') },
    // npm >= 11.? lists dependencies' install scripts for approval; this
    // package's (pick the prebuild or build from source) is approved here
    // so that the no-compiler path is exercised as older npm runs it.
    allowScripts: { [`file:${tgz}`]: true },
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const args = ['install', '--no-audit', '--no-fund', '--foreground-scripts'];
  let install = run('npm', [...args, '--offline'], dir, NO_COMPILER);
  if (install.status !== 0 && /ENOTCACHED/.test(install.out)) {
    // Not in npm's cache (e.g. a cleaned cache): this retry needs the registry.
    install = run('npm', [...args, '--prefer-offline'], dir, NO_COMPILER);
  }
  return { dir, install };
}

/** Runs in the consumer: opens a socket, echoes a datagram, reports. */
const RUNTIME_CHECK = `
import { openUdp, probe } from 'iouring-net';
const warnings = [];
process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }));
const a = openUdp({ type: 'udp4', address: '127.0.0.1' });
const b = openUdp({ type: 'udp4', address: '127.0.0.1' });
await Promise.all([a.ready, b.ready]);
b.onBatch = (batch) => { for (let i = 0; i < batch.length; i++) b.reply(batch, i); };
const echoed = await new Promise((resolve) => {
  a.onBatch = (batch) => resolve(Buffer.from(batch.copy(0)).toString());
  a.send(Buffer.from('hello'), b.address().port, '127.0.0.1');
});
a.close();
b.close();
await new Promise((r) => setImmediate(r));
const p = probe();
console.log(JSON.stringify({ backend: a.backend, echoed, probe: { available: p.available, code: p.code, reason: p.reason }, warnings }));
`;

interface RuntimeReport {
  backend: string;
  echoed: string;
  probe: { available: boolean; code?: string; reason: string };
  warnings: { code?: string; message: string }[];
}

function runtimeReport(dir: string): RuntimeReport {
  writeFileSync(join(dir, 'check.mjs'), RUNTIME_CHECK);
  const r = run(process.execPath, ['check.mjs'], dir, { IOURING_NET_BACKEND: '', IOURING_NET_QUIET: '', IOURING_NET_ADDON_PATH: '' });
  assert.equal(r.status, 0, r.out);
  const line = r.out.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line, r.out);
  return JSON.parse(line) as RuntimeReport;
}

/** A strict nodenext consumer of the published types: every line must type-check. */
const TYPES_CHECK = `
import { openUdp, probe, type ObjectError, type TunDevice, type Tunnel, type UdpSocket } from 'iouring-net';
import dgram from 'iouring-net/dgram';
import { once } from 'node:events';

const sock: UdpSocket = openUdp({ type: 'udp4', address: '127.0.0.1', port: 0 });
await sock.ready;
sock.send(Buffer.from('x'), 9, '127.0.0.1', (err, bytes) => {
  if (err) {
    const code: string = err.code; // no cast: send errors are SystemErrors
    const errno: number = err.errno;
    const syscall: string = err.syscall;
    console.log(code, errno, syscall);
  } else {
    const n: number = bytes;
    console.log(n);
  }
});
// 'error' carries a kernel error or one of the library's coded failures:
// code is a string either way; syscall only on the kernel's.
sock.on('error', (err: ObjectError) => console.log(err.code, 'syscall' in err ? err.syscall : 'coded'));
sock.on('drain', () => undefined);
// @ts-expect-error: events are typed; 'message' is not one of a UdpSocket's
sock.on('message', () => undefined);
await once(sock, 'listening');

declare const tun: TunDevice;
tun.on('error', (err) => { const c: string = err.code; const s: string | undefined = 'syscall' in err ? err.syscall : undefined; console.log(c, s); });
tun.write(new Uint8Array(20), (err) => { if (err) { const c: string = err.code; console.log(c); } });
declare const tunnel: Tunnel;
tunnel.on('error', (err) => { const side: 'udp' | 'tun' | undefined = err.source; console.log(side, err.code); });

const d = dgram.createSocket('udp4');
d.on('error', (err) => { const c: string | undefined = err.code; console.log(c); });
d.send('x', 9, 'localhost', (err) => { if (err) console.log(err.code, err.syscall); });
d.close();

const code: string | undefined = probe().code;
console.log(code);
sock.close();
`;

const CJS_TYPES_CHECK = `
import iou = require('iouring-net');
const p: iou.ProbeResult = iou.probe();
console.log(p.available);
`;

test('no compiler, with the prebuild: installs, builds nothing, runs on the prebuilt addon; types and require() work', { skip, timeout: 300_000 }, () => {
  const { dir, install } = consumer('with-prebuild', withPrebuild, { typescript: lockedVersion('typescript') });
  assert.equal(install.status, 0, `npm install failed:\n${install.out}`);
  const pkgDir = join(dir, 'node_modules', 'iouring-net');
  assert.ok(existsSync(join(pkgDir, 'prebuilds', TUPLE, 'node.napi.glibc.node')));
  assert.equal(existsSync(join(pkgDir, 'build', 'Release', 'iouring_net.node')), false, 'a source build was made although the prebuild fits');
  assert.equal(existsSync(join(pkgDir, 'build', 'install-failed.json')), false, install.out);

  const report = runtimeReport(dir);
  const here = probe();
  assert.equal(report.echoed, 'hello');
  assert.equal(report.backend, here.available ? 'io_uring' : 'mmsg', JSON.stringify(report));
  assert.equal(report.probe.available, here.available);
  assert.deepEqual(report.warnings.filter((w) => w.code === 'IOURING_NET_FALLBACK' && /addon/.test(w.message)), []);

  // CommonJS: require(esm), on by default from Node 20.19.
  writeFileSync(join(dir, 'check.cjs'), "const { probe } = require('iouring-net'); const d = require('iouring-net/dgram');\n" +
    "console.log(JSON.stringify({ available: probe().available, createSocket: typeof d.createSocket }));\n");
  const cjs = run(process.execPath, ['check.cjs'], dir);
  assert.equal(cjs.status, 0, cjs.out);
  assert.deepEqual(JSON.parse(cjs.out.split('\n').find((l) => l.startsWith('{')) ?? '{}'), { available: here.available, createSocket: 'function' });

  // Types: strict nodenext, library files checked too, "types": [] so that
  // @types/node comes only through this package's own reference.
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true,
      exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, skipLibCheck: false, types: [],
    },
    include: ['*.mts', '*.cts'],
  }));
  writeFileSync(join(dir, 'main.mts'), TYPES_CHECK);
  writeFileSync(join(dir, 'cjs.cts'), CJS_TYPES_CHECK);
  const tsc = run(process.execPath, [join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], dir);
  assert.equal(tsc.status, 0, `the consumer does not type-check:\n${tsc.out}`);
});

test('no compiler, no prebuild: installs anyway, runs on node:dgram, and the warning says what is missing and why', { skip, timeout: 300_000 }, () => {
  const { dir, install } = consumer('without-prebuild', withoutPrebuild, {});
  assert.equal(install.status, 0, `npm install failed:\n${install.out}`);
  // The install step tried to build (node-gyp with CC=/bin/false) and recorded the failure.
  assert.match(install.out, /\[iouring-net\] native addon unavailable: there is no prebuild for linux-/);
  const pkgDir = join(dir, 'node_modules', 'iouring-net');
  const failed = JSON.parse(readFileSync(join(pkgDir, 'build', 'install-failed.json'), 'utf8')) as { reason: string };
  assert.match(failed.reason, /no prebuild for .*node-gyp could not build from source with CC=\/bin\/false/);

  const report = runtimeReport(dir);
  assert.equal(report.echoed, 'hello');
  assert.equal(report.backend, 'dgram');
  assert.equal(report.probe.available, false);
  assert.equal(report.probe.code, 'ERR_IOURING_NET_ADDON_MISSING');
  const fallbacks = report.warnings.filter((w) => w.code === 'IOURING_NET_FALLBACK');
  assert.equal(fallbacks.length, 1, JSON.stringify(report.warnings));
  const msg = fallbacks[0]?.message ?? '';
  assert.match(msg, new RegExp(`no prebuild for ${TUPLE} in .*/prebuilds/${TUPLE}/`));
  assert.match(msg, /no source build at .*\/build\/Release\/iouring_net\.node/);
  assert.match(msg, /the source build during `npm install` failed \(there is no prebuild/);
  assert.match(msg, /using node:dgram/);
  assert.doesNotMatch(msg, /Debug/);
});
