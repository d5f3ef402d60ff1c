/**
 * The 'iouring-net/dgram' entry point: node:dgram's module shape. Named
 * exports, and a default export that is the module itself, so that
 * `import dgram from 'iouring-net/dgram'` gives `dgram.createSocket` and the
 * type `dgram.Socket`, exactly as `import dgram from 'node:dgram'` does.
 */
/// <reference types="node" preserve="true" />
import * as dgram from './socket.js';

export * from './socket.js';
export default dgram;
