/**
 * Child script for the EPERM test: run without CAP_NET_ADMIN (the parent
 * starts it under `setpriv --bounding-set=-net_admin`), tries to create a
 * TUN device and prints the error it got as JSON.
 */
import { openTun } from '../src/index.js';

try {
  const dev = openTun({ name: process.argv[2] ?? '' });
  dev.close();
  process.stdout.write(JSON.stringify({ opened: true }));
} catch (e) {
  const err = e as NodeJS.ErrnoException;
  process.stdout.write(JSON.stringify({ code: err.code, errno: err.errno, syscall: err.syscall, message: err.message }));
}
