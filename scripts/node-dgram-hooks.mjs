// Module resolution hooks of scripts/node-dgram-shim.mjs: ES module imports
// of 'dgram' / 'node:dgram' from outside this package's dist/ resolve to
// iouring-net's node:dgram layer.
let layer = '';
let dist = '';

export function initialize(data) {
  layer = data.layer;
  dist = data.dist;
}

export async function resolve(specifier, context, next) {
  const fromLibrary = (context.parentURL ?? '').startsWith(dist);
  if ((specifier === 'dgram' || specifier === 'node:dgram') && !fromLibrary) {
    return { url: layer, shortCircuit: true };
  }
  return next(specifier, context);
}
