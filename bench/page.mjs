// The page benchmark: how fast the tutorial page reacts in headless Chromium.
//
// Usage: node bench/page.mjs DIST_DIR [ROUNDS]
//
// DIST_DIR is a release build (`trunk build --release --dist DIST_DIR`). Measured on
// the one-stage tutorial preset:
// - input edit → every heatmap redrawn: a change of one input cell in the editor's value
//   table, timed from the change event to the App's `#status[data-state="ready"]`
//   write, which runs after every map's canvas was drawn (child effects run first);
// - step transition: an ArrowRight key press, timed the same way;
// - page load → first drawn map: navigation start to the first `ready`, from the
//   Navigation Timing origin;
// - the gzip size of every .wasm and .js file of the build.
// Prints medians with min and max. Targets: edit and step ≤ 16 ms median, load ≤ 1 s,
// sizes ≤ 400 KB gzip.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { launchBrowser, openPage, startStaticServer, waitReady } from '../tests/e2e/harness.mjs';

const dist = process.argv[2];
const rounds = Number(process.argv[3] ?? 30);
if (!dist) {
  console.error('usage: node bench/page.mjs DIST_DIR [ROUNDS]');
  process.exit(2);
}

function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

function format({ median, min, max }, unit) {
  return `median ${median.toFixed(2)} ${unit} (min ${min.toFixed(2)}, max ${max.toFixed(2)})`;
}

/** Installs an observer that records the time of every write of data-state="ready". */
async function watchReady(page) {
  await page.evaluate(() => {
    window.__readyTimes = [];
    const status = document.querySelector('#status');
    new MutationObserver(() => {
      if (status.getAttribute('data-state') === 'ready') {
        window.__readyTimes.push(performance.now());
      }
    }).observe(status, { attributes: true, attributeFilter: ['data-state'] });
  });
}

/**
 * Performs `kind` ("edit" with a value, or "key" with a key name) in the page and returns
 * the milliseconds from just before it to the next ready write.
 */
async function timeToReady(page, kind, argument) {
  return page.evaluate(
    async ([kind, argument]) => {
      const before = window.__readyTimes.length;
      const t0 = performance.now();
      if (kind === 'edit') {
        const field = document.querySelector('#x-cell-0');
        field.value = String(argument);
        field.dispatchEvent(new Event('input', { bubbles: true }));
        field.dispatchEvent(new Event('change', { bubbles: true }));
      } else {
        document.body.dispatchEvent(new KeyboardEvent('keydown', { key: argument, bubbles: true }));
      }
      for (let i = 0; i < 2000 && window.__readyTimes.length === before; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      return window.__readyTimes[before] - t0;
    },
    [kind, argument],
  );
}

const sizes = [];
for (const name of readdirSync(dist)) {
  if (name.endsWith('.wasm') || name.endsWith('.js')) {
    const bytes = readFileSync(join(dist, name));
    sizes.push({ name, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length });
  }
}

const server = await startStaticServer(dist);
const browser = await launchBrowser();
const loads = [];
for (let i = 0; i < 5; i += 1) {
  const { page, context } = await openPage(browser);
  await page.goto(server.url);
  await waitReady(page);
  const loadMs = await page.evaluate(() => {
    const status = document.querySelector('#status');
    return status.getAttribute('data-state') === 'ready' ? performance.now() : NaN;
  });
  loads.push(loadMs);
  await context.close();
}

const { page } = await openPage(browser);
await page.goto(server.url);
await waitReady(page);
await page.click('#preset-one-stage');
await waitReady(page);
await page.click('#editor > summary');
await page.click('#input-table > summary');
await page.waitForSelector('#x-cell-0');
await watchReady(page);

const edits = [];
for (let i = 0; i < rounds; i += 1) {
  const value = ((i % 7) - 3) / 4;
  edits.push(await timeToReady(page, 'edit', value));
}

const steps = [];
for (let i = 0; i < rounds; i += 1) {
  const key = i % 8 < 4 ? 'ArrowRight' : 'ArrowLeft';
  steps.push(await timeToReady(page, 'key', key));
}

await browser.close();
await server.close();

const total = sizes.reduce((sum, s) => sum + s.gzip, 0);
console.log(`page benchmark, ${rounds} rounds, Chromium headless, ${new Date().toISOString()}`);
console.log(`  input edit → maps redrawn: ${format(summary(edits), 'ms')}`);
console.log(`  step transition:           ${format(summary(steps), 'ms')}`);
console.log(`  load → first drawn map:    ${format(summary(loads), 'ms')}`);
for (const s of sizes) {
  console.log(`  ${s.name}: ${s.raw} bytes, ${s.gzip} gzip`);
}
console.log(`  all wasm and JS: ${(total / 1000).toFixed(1)} kB gzip (target 400 kB)`);
