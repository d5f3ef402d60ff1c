// `npm install` runs `node-gyp-build || node scripts/install-failed.cjs`:
// node-gyp-build takes the prebuild in prebuilds/<platform>-<arch>/ if it
// loads here, else builds from source with node-gyp. When both fail we end
// up here. The package must still install (it then uses node:dgram), so
// this says why once, records it for the runtime warning
// (build/install-failed.json, read by src/core/binding.ts), and exits 0.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const tuple = `${os.platform()}-${os.arch()}`;
const prebuildDir = path.join(root, 'prebuilds', tuple);
const hasPrebuild = fs.existsSync(prebuildDir) && fs.readdirSync(prebuildDir).some((f) => f.endsWith('.node'));
const prebuild = hasPrebuild
  ? `the prebuild in prebuilds/${tuple}/ did not load here`
  : `there is no prebuild for ${tuple}`;
const cc = process.env.CC ? ` with CC=${process.env.CC}` : '';
const reason = `${prebuild}, and node-gyp could not build from source${cc}`;

try {
  fs.mkdirSync(path.join(root, 'build'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'build', 'install-failed.json'),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, tuple, reason }, null, 2)}\n`,
  );
} catch {
  // Read-only install location: the runtime warning is then less specific.
}
process.stderr.write(
  `\n[iouring-net] native addon unavailable: ${reason} (see node-gyp's output above).\n` +
    '[iouring-net] The package is installed and works on the node:dgram backend (no io_uring, no recvmmsg).\n' +
    '[iouring-net] For io_uring: install a C compiler, make and python3, then run `npm rebuild iouring-net`.\n\n',
);
