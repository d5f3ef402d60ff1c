// Before `npm pack`/`npm publish` (package.json "prepack"): the tarball must
// carry a prebuild for every platform we ship (linux-x64, linux-arm64; or
// the comma list in IOURING_NET_PACK_ARCHS), each built from the native
// sources as they are now. scripts/prebuild.sh writes SOURCES.sha256 beside
// each prebuild; a mismatch means the C code changed since: rebuild them.
//   node scripts/check-prebuilds.cjs          check (exit 1 with the reason)
//   node scripts/check-prebuilds.cjs --hash   print the hash of the sources
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

/** Every file the addon is built from, sorted, as paths relative to root. */
function sources() {
  const out = ['binding.gyp'];
  const walk = (dir) => {
    for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else out.push(rel);
    }
  };
  walk('src/native');
  return out.sort();
}

function sourcesHash() {
  const h = crypto.createHash('sha256');
  for (const rel of sources()) {
    h.update(`${rel}\0`);
    h.update(fs.readFileSync(path.join(root, rel)));
    h.update('\0');
  }
  return h.digest('hex');
}

if (process.argv[2] === '--hash') {
  process.stdout.write(`${sourcesHash()}\n`);
  process.exit(0);
}

const want = sourcesHash();
const arches = (process.env.IOURING_NET_PACK_ARCHS || 'x64,arm64').split(',').filter(Boolean);
const problems = [];
for (const arch of arches) {
  const dir = path.join(root, 'prebuilds', `linux-${arch}`);
  const file = path.join(dir, 'node.napi.glibc.node');
  if (!fs.existsSync(file)) {
    problems.push(`prebuilds/linux-${arch}/node.napi.glibc.node is missing`);
    continue;
  }
  let got = '';
  try {
    got = fs.readFileSync(path.join(dir, 'SOURCES.sha256'), 'utf8').trim();
  } catch {
    // reported below as stale
  }
  if (got !== want) problems.push(`prebuilds/linux-${arch} was built from other sources than src/native/ now`);
}
if (problems.length > 0) {
  process.stderr.write(
    `check-prebuilds: ${problems.join('; ')}.\n` +
      'Run `npm run build:prebuilds` (scripts/prebuild.sh; scripts/prebuild-tools.sh installs the arm64 cross compiler and qemu) before packing.\n',
  );
  process.exit(1);
}
process.stdout.write(`check-prebuilds: ${arches.map((a) => `linux-${a}`).join(', ')} up to date\n`);
