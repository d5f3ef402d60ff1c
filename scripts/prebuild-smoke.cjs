// Load test of one prebuilt addon (scripts/prebuild.sh runs it, under
// qemu-user with Debian's arm64 node for linux-arm64):
//   node scripts/prebuild-smoke.cjs prebuilds/linux-x64/node.napi.glibc.node
// Loads the file, then runs the library (dist/, from `npm run build`) on
// it: probe(), and 64 datagrams echoed between two UDP sockets on
// 127.0.0.1, which must use the addon (io_uring, or recvmmsg where the
// kernel or an emulator has no io_uring), not node:dgram. CommonJS and no
// syntax newer than Node 18's, since that is Debian 12's arm64 node.
'use strict';
const path = require('node:path');

const file = path.resolve(process.argv[2] || '');
const COUNT = 64;
const fail = (msg) => {
  process.stderr.write(`prebuild-smoke: FAILED: ${msg}\n`);
  process.exit(1);
};
// Bounded: qemu is slow, but not this slow.
setTimeout(() => fail(`no echo of all ${COUNT} datagrams within 60 s`), 60_000).unref();

async function main() {
  const addon = require(file);
  for (const fn of ['init', 'probe', 'udpCreate']) {
    if (typeof addon[fn] !== 'function') fail(`${file} exports no ${fn}()`);
  }
  process.env.IOURING_NET_ADDON_PATH = file;
  const lib = await import(path.join(__dirname, '..', 'dist', 'src', 'index.js'));
  const p = lib.probe();
  const a = lib.openUdp({ type: 'udp4', address: '127.0.0.1', quiet: true });
  const b = lib.openUdp({ type: 'udp4', address: '127.0.0.1', quiet: true });
  if (a.backend === 'dgram') fail('the library fell back to node:dgram');
  b.onBatch = (batch) => {
    for (let i = 0; i < batch.length; i++) b.reply(batch, i);
  };
  let got = 0;
  await new Promise((resolve) => {
    a.onBatch = (batch) => {
      got += batch.length;
      if (got >= COUNT) resolve();
    };
    const port = b.address().port;
    for (let i = 0; i < COUNT; i++) a.send(Buffer.from(`ping ${i}`), port, '127.0.0.1');
  });
  a.close();
  b.close();
  const why = p.available ? 'io_uring available' : `no io_uring: ${p.code} ${p.reason}`;
  process.stdout.write(
    `prebuild-smoke: ok: ${process.arch} node ${process.version}, ${path.basename(path.dirname(file))}, ` +
      `backend ${a.backend}, ${got} echoes (${why})\n`,
  );
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
