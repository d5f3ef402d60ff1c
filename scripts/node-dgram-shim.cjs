// Preload for running programs written for node:dgram on iouring-net's
// node:dgram layer, unchanged: `node --require scripts/node-dgram-shim.cjs
// program.js`. Outside this package, require('dgram') / require('node:dgram')
// and import 'dgram' / 'node:dgram' give the layer (dist/src/dgram/entry.js);
// the library itself still gets Node's own node:dgram (its dgram backend and
// the child_process handle passing use it). Node's internals (cluster,
// child_process) load their own node:dgram and are not affected.
//
// A --require preload, not --import: it runs synchronously, before the
// event loop turns, so a child's first IPC message cannot arrive before the
// program has listened for it (an asynchronous preload would lose it).
// Needs a built package (npm run build) and require() of ES modules (Node
// 20.19+, 22.12+).
'use strict';
const Module = require('node:module');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const dist = path.join(__dirname, '..', 'dist') + path.sep;
const entry = path.join(dist, 'src', 'dgram', 'entry.js');

// ES module imports of 'dgram' need resolve hooks, which run on a loader
// thread whose messages async_hooks would see: registered only for an ES
// module program (Node's .mjs tests); a CommonJS one gets require() only.
if (/\.mjs$/.test(process.argv[1] ?? '') || process.env.NODE_DGRAM_SHIM_ESM === '1') {
  Module.register(pathToFileURL(path.join(__dirname, 'node-dgram-hooks.mjs')), {
    data: { layer: pathToFileURL(entry).href, dist: pathToFileURL(dist).href },
  });
}

const layer = require(entry);
// A plain object, like node:dgram's module.exports (tests may add to it).
const exportsObject = { ...layer.default };

const isDgram = (request) => request === 'dgram' || request === 'node:dgram';
const load = Module._load;
Module._load = function loadWithLayer(request, parent, isMain) {
  if (isDgram(request) && !(parent?.filename ?? '').startsWith(dist)) return exportsObject;
  return load.call(this, request, parent, isMain);
};
