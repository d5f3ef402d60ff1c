// Preload for running programs written for node:dgram on iouring-net's
// node:dgram layer, unchanged: `node --import scripts/node-dgram-shim.mjs
// program.js`. Outside this package, require('dgram') / require('node:dgram')
// and import 'dgram' / 'node:dgram' give the layer (dist/src/dgram/entry.js);
// the library itself still gets Node's own node:dgram (its dgram backend and
// the child_process handle passing use it). Node's internals (cluster,
// child_process) load their own node:dgram and are not affected.
//
// Used by scripts/node-dgram-tests.mjs to run Node's own dgram tests on the
// layer. Needs a built package (npm run build).
import Module, { register } from 'node:module';
import { fileURLToPath } from 'node:url';

const layerUrl = new URL('../dist/src/dgram/entry.js', import.meta.url);
const distUrl = new URL('../dist/', import.meta.url);
const distPath = fileURLToPath(distUrl);

register(new URL('./node-dgram-hooks.mjs', import.meta.url), {
  data: { layer: layerUrl.href, dist: distUrl.href },
});

const layer = await import(layerUrl.href);
// A plain object, like node:dgram's module.exports (tests may add to it).
const exportsObject = { ...layer.default };

const isDgram = (request) => request === 'dgram' || request === 'node:dgram';
const load = Module._load;
Module._load = function loadWithLayer(request, parent, isMain) {
  if (isDgram(request) && !(parent?.filename ?? '').startsWith(distPath)) return exportsObject;
  return load.call(this, request, parent, isMain);
};
