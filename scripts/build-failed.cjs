// Runs when `node-gyp rebuild` fails during `npm install`. The package still
// installs: it then uses the node:dgram backend. Say so loudly, once.
'use strict';
process.stderr.write(
  '\n[iouring-net] The native addon did not build; the library will use the ' +
    'node:dgram backend. Run `npx node-gyp rebuild` to see why.\n\n',
);
