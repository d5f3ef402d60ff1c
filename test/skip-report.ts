/**
 * The skip report at the end of `npm test` (scripts/test.sh runs it after
 * every run, CI or not, also after a failure): every skipped test of every
 * run, with its reason and whether test/skips.ts allows it on this
 * machine. With CI=true it exits 1 when a skip is not allowed, or when no
 * run left a report at all.
 *
 * usage: node dist/test/skip-report.js <reports directory>
 */
import { allowedBy, collectSkips } from './skips.js';

const dir = process.argv[2] ?? 'build/test-reports';
const ci = process.env.CI === 'true';
const { skips, passes } = collectSkips(dir);
let bad = 0;

console.log(`== skipped tests (${passes.length} runs reported: ${passes.join(', ') || 'none'})`);
if (skips.length === 0) console.log('   none');
for (const s of skips) {
  const ok = allowedBy(s);
  if (!ok) bad++;
  console.log(`   [${s.pass}] ${s.test}`);
  console.log(`       reason: ${s.reason || '(none given)'}`);
  console.log(`       ${ok ? `allowed: ${ok.why}` : 'NOT ALLOWED: this machine can run it (see test/skips.ts)'}`);
}
console.log(`== ${skips.length} skipped, ${skips.length - bad} allowed by design, ${bad} not allowed`);
if (passes.length === 0) console.log('   no test run left a report (did the run stop before the first suite?)');

if (ci && (bad > 0 || passes.length === 0)) {
  console.error(`skip report: FAILED (CI=true): ${bad > 0 ? `${bad} test(s) skipped that this machine can run` : 'no reports'}`);
  process.exit(1);
}
