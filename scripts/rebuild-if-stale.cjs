// In a checkout (package.json "prepare": runs on `npm install` in the
// repository and on `npm pack`, never when a user installs the package):
// rebuild build/Release/iouring_net.node when a native source is newer.
// The install script (node-gyp-build) builds only when no addon loads, so
// without this a checkout would keep an old build after C changes arrive.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const built = path.join(root, 'build', 'Release', 'iouring_net.node');
if (!fs.existsSync(built)) process.exit(0); // never built here: the install script's business

function newest(dir) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

const sources = Math.max(newest(path.join(root, 'src', 'native')), fs.statSync(path.join(root, 'binding.gyp')).mtimeMs);
if (sources <= fs.statSync(built).mtimeMs) process.exit(0);
process.stderr.write('rebuild-if-stale: native sources changed since build/Release was built: node-gyp rebuild\n');
// npm runs scripts with its node-gyp on PATH (and in npm_config_node_gyp).
const gyp = process.env.npm_config_node_gyp;
const r = gyp
  ? spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: root, stdio: 'inherit' })
  : spawnSync('node-gyp', ['rebuild'], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
