// End-to-end test of the built app in Debian's headless Chromium.
//
// Usage: node tests/e2e/run.mjs DIST_DIR
//
// DIST_DIR is a `trunk build` output folder (scripts/test.sh uses
// target/dist-e2e). The test serves it on 127.0.0.1, drives the page with
// playwright-core and compares what the page shows with the native reference
// trace of the numeric core:
//
//   cargo run -q --release -p cnn-core --example reference_trace -- INDEX POOL
//
// which prints one JSON line {"loss": f64, "predicted": N, "label": N, "steps": N}.
//
// The page contract:
// - `#status[data-state]` is "loading" while the page computes and draws,
//   "ready" once it has drawn, and "error" on failure. Each control change
//   must change data-state (normally to "loading") before it returns to "ready".
// - `output#loss`, `output#predicted` and `output#label` carry the values in
//   `data-value` (the loss in Rust `{:?}` formatting, the others as integers).
// - `select#pool-kind` (max, mean, l2), `input#digit-index` (0-based index into
//   the 1,000 test digits) and the buttons "Previous digit" and "Next digit".
// - Heatmaps are `canvas.heatmap`. The input map is the one with
//   `data-tensor="input"`, or else the first heatmap outside a backward step.
// - Each backward step is a `section.backward-step[data-op]` whose canvases
//   carry `data-tensor`.
// - A panic shows `#panic-message`.
//
// Screenshots go to tests/e2e/out/. The exit code is 0 only when every check
// passed.

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { chromium } from 'playwright-core';

import { startStaticServer } from './static-server.mjs';

const E2E_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(E2E_DIR, '..', '..');
const OUT_DIR = join(E2E_DIR, 'out');

const CHROMIUM_PATH = '/usr/bin/chromium';
// Without the networking flags Chromium tries to contact Google's hosts at start.
// playwright-core adds --headless and a fresh --user-data-dir itself.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const READY_TIMEOUT_MS = 30_000;
// How long a playwright action waits for its element, such as #pool-kind.
const ACTION_TIMEOUT_MS = 10_000;
const LOSS_RELATIVE_TOLERANCE = 1e-9;
// The first reference run compiles cnn-core in release mode.
const REFERENCE_TIMEOUT_MS = 10 * 60_000;
const TEST_DIGIT_COUNT = 1000;
const DESKTOP_VIEWPORT = { width: 1280, height: 720 };
const PHONE_VIEWPORT = { width: 390, height: 844 };

const execFileAsync = promisify(execFile);

// ---------------------------------------------------------------------------
// Check bookkeeping

const results = { passed: 0, failed: [] };

function check(name, ok, detail) {
  if (ok) {
    results.passed += 1;
    console.log(`  ok    ${name}: ${detail}`);
  } else {
    results.failed.push(name);
    console.log(`  FAIL  ${name}: ${detail}`);
  }
  return ok;
}

/**
 * An error that ends the test, because later checks depend on a failed one.
 * The failed check has already been recorded and printed.
 */
class FatalCheck extends Error {}

function requireCheck(name, ok, detail) {
  if (!check(name, ok, detail)) {
    throw new FatalCheck(`${name} failed, so the remaining checks cannot run`);
  }
}

// ---------------------------------------------------------------------------
// Reference values from the native core

const referenceCache = new Map();

/** Runs the core's reference_trace example and returns its parsed JSON line. */
async function referenceTrace(digitIndex, poolKind) {
  const key = `${digitIndex} ${poolKind}`;
  if (!referenceCache.has(key)) {
    referenceCache.set(key, runReferenceTrace(digitIndex, poolKind));
  }
  return referenceCache.get(key);
}

async function runReferenceTrace(digitIndex, poolKind) {
  const args = ['run', '-q', '--release', '-p', 'cnn-core', '--example', 'reference_trace', '--'];
  args.push(String(digitIndex), poolKind);
  const command = `cargo ${args.join(' ')}`;

  let stdout;
  try {
    ({ stdout } = await execFileAsync('cargo', args, {
      cwd: REPO_ROOT,
      timeout: REFERENCE_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    }));
  } catch (error) {
    if (error.code === 'ENOENT') {
      requireCheck(
        `reference trace (digit ${digitIndex}, ${poolKind})`,
        false,
        `cargo not found on PATH (${process.env.PATH})`,
      );
    }
    const stderr = (error.stderr ?? '').trim().split('\n').slice(-15).join('\n');
    requireCheck(
      `reference trace (digit ${digitIndex}, ${poolKind})`,
      false,
      `'${command}' exited with ${error.code ?? error.signal}` +
        (stderr ? `:\n${stderr}` : '') +
        '\n(the example core/examples/reference_trace.rs must exist and print one JSON line)',
    );
  }

  const lines = stdout.trim().split('\n');
  const lastLine = lines[lines.length - 1];
  let trace;
  try {
    trace = JSON.parse(lastLine);
  } catch {
    requireCheck(
      `reference trace (digit ${digitIndex}, ${poolKind})`,
      false,
      `the last output line of '${command}' is not JSON: ${JSON.stringify(lastLine)}`,
    );
  }
  const missing = ['loss', 'predicted', 'label', 'steps'].filter((field) => typeof trace[field] !== 'number');
  requireCheck(
    `reference trace (digit ${digitIndex}, ${poolKind})`,
    missing.length === 0,
    missing.length === 0
      ? `loss ${trace.loss}, predicted ${trace.predicted}, label ${trace.label}, ${trace.steps} steps`
      : `'${command}' printed no numeric ${missing.join(', ')}: ${JSON.stringify(trace)}`,
  );
  return trace;
}

// ---------------------------------------------------------------------------
// Page helpers

/**
 * Installs a MutationObserver that counts every change of `#status` and its
 * data-state, including the element being replaced. `waitForRedraw` compares
 * against this count, so it can tell a fresh "ready" from the one before.
 */
async function installStatusObserver(page) {
  await page.evaluate(() => {
    window.__e2eStatusChanges = 0;
    const observer = new MutationObserver((records) => {
      for (const record of records) {
        if (record.type === 'attributes' && record.target.id === 'status') {
          window.__e2eStatusChanges += 1;
        }
        if (record.type === 'childList') {
          for (const node of record.addedNodes) {
            if (node.nodeType === Node.ELEMENT_NODE && (node.id === 'status' || node.querySelector('#status'))) {
              window.__e2eStatusChanges += 1;
            }
          }
        }
      }
    });
    observer.observe(document.documentElement, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ['data-state'],
    });
  });
}

async function statusChangeCount(page) {
  return page.evaluate(() => window.__e2eStatusChanges);
}

/** Waits until #status has changed since `changesBefore` and is "ready" or "error". */
async function waitForRedraw(page, changesBefore, changeDescription) {
  try {
    await page.waitForFunction(
      (before) => {
        const state = document.querySelector('#status')?.getAttribute('data-state');
        return window.__e2eStatusChanges > before && (state === 'ready' || state === 'error');
      },
      changesBefore,
      { timeout: READY_TIMEOUT_MS, polling: 50 },
    );
  } catch {
    const state = await readStatus(page);
    const changed = (await statusChangeCount(page)) > changesBefore;
    requireCheck(
      `redraw after ${changeDescription}`,
      false,
      changed
        ? `data-state is "${state}" ${READY_TIMEOUT_MS / 1000} s after ${changeDescription}, expected "ready"`
        : `data-state never changed within ${READY_TIMEOUT_MS / 1000} s after ${changeDescription} ` +
            `(still "${state}"); the page must leave "ready" while it recomputes`,
    );
  }
  const state = await readStatus(page);
  requireCheck(
    `redraw after ${changeDescription}`,
    state === 'ready',
    `data-state is "${state}"${await panicSuffix(page)}`,
  );
}

async function readStatus(page) {
  return page.evaluate(() => document.querySelector('#status')?.getAttribute('data-state') ?? null);
}

async function panicText(page) {
  const panic = page.locator('#panic-message');
  if ((await panic.count()) === 0 || !(await panic.first().isVisible())) {
    return null;
  }
  return (await panic.first().innerText()).trim();
}

async function panicSuffix(page) {
  const text = await panicText(page);
  return text === null ? '' : `; #panic-message: ${JSON.stringify(text)}`;
}

/** Reads the data-value attributes of the three outputs. */
async function readOutputs(page) {
  return page.evaluate(() => {
    const value = (id) => document.querySelector(`output#${id}`)?.getAttribute('data-value') ?? null;
    return { loss: value('loss'), predicted: value('predicted'), label: value('label') };
  });
}

/**
 * Returns one entry per `canvas.heatmap` and per canvas inside a backward
 * step: its name, whether it is a backward-step canvas, its size, its number
 * of distinct RGBA colours (counted up to 2) and its PNG data URL.
 */
async function readCanvases(page) {
  return page.evaluate(() => {
    const canvases = [
      ...new Set([...document.querySelectorAll('canvas.heatmap, .backward-step canvas')]),
    ];
    return canvases.map((canvas, index) => {
      const section = canvas.closest('.backward-step');
      const op = section?.getAttribute('data-op') ?? null;
      const tensor = canvas.getAttribute('data-tensor');
      const name = `${op ?? 'page'}/${tensor ?? `canvas ${index}`}`;
      const entry = {
        name,
        op,
        tensor,
        isHeatmap: canvas.classList.contains('heatmap'),
        inBackwardStep: section !== null,
        width: canvas.width,
        height: canvas.height,
        distinctColours: 0,
        dataUrl: '',
      };
      if (canvas.width === 0 || canvas.height === 0) {
        return entry;
      }
      // Copying into a fresh 2D canvas reads the pixels whatever context the
      // page drew with.
      const copy = document.createElement('canvas');
      copy.width = canvas.width;
      copy.height = canvas.height;
      const context = copy.getContext('2d');
      context.drawImage(canvas, 0, 0);
      const pixels = new Uint32Array(context.getImageData(0, 0, copy.width, copy.height).data.buffer);
      const first = pixels[0];
      entry.distinctColours = pixels.some((pixel) => pixel !== first) ? 2 : 1;
      entry.dataUrl = canvas.toDataURL();
      return entry;
    });
  });
}

function findInputMap(canvases) {
  return (
    canvases.find((canvas) => canvas.isHeatmap && canvas.tensor === 'input') ??
    canvases.find((canvas) => canvas.isHeatmap && !canvas.inBackwardStep) ??
    null
  );
}

async function readControls(page) {
  return {
    poolKind: await page.locator('#pool-kind').inputValue(),
    digitIndex: Number.parseInt(await page.locator('#digit-index').inputValue(), 10),
  };
}

/** Saves the whole page as `fileName` and the visible viewport as `fileName` with `-top`. */
async function takeScreenshot(page, fileName) {
  const path = join(OUT_DIR, fileName);
  await page.screenshot({ path, fullPage: true });
  const topPath = path.replace(/\.png$/, '-top.png');
  await page.screenshot({ path: topPath });
  console.log(`  shot  ${path} and ${topPath}`);
}

// ---------------------------------------------------------------------------
// Comparisons with the reference

function relativeDifference(actual, expected) {
  if (actual === expected) {
    return 0;
  }
  return Math.abs(actual - expected) / Math.max(Math.abs(actual), Math.abs(expected));
}

/** Checks loss, predicted class, label and step count against the reference. */
async function checkAgainstReference(page, state) {
  const reference = await referenceTrace(state.digitIndex, state.poolKind);
  const outputs = await readOutputs(page);
  const where = `digit ${state.digitIndex}, ${state.poolKind}`;

  // Rust's `{:?}` prints non-finite values as NaN, inf and -inf.
  const loss = { NaN: Number.NaN, inf: Infinity, '-inf': -Infinity }[outputs.loss] ?? Number(outputs.loss);
  const lossDifference = relativeDifference(loss, reference.loss);
  check(
    `loss (${where})`,
    outputs.loss !== null && Number.isFinite(loss) && lossDifference <= LOSS_RELATIVE_TOLERANCE,
    `expected ${reference.loss} (reference), page shows ${outputs.loss},` +
      ` relative difference ${lossDifference.toExponential(2)} (tolerance ${LOSS_RELATIVE_TOLERANCE})`,
  );
  check(
    `predicted class (${where})`,
    outputs.predicted === String(reference.predicted),
    `expected ${reference.predicted} (reference), page shows ${outputs.predicted}`,
  );
  check(
    `label (${where})`,
    outputs.label === String(reference.label),
    `expected ${reference.label} (reference), page shows ${outputs.label}`,
  );

  const stepCount = await page.locator('section.backward-step').count();
  check(
    `backward-step sections (${where})`,
    stepCount === reference.steps,
    `expected ${reference.steps} (reference), page shows ${stepCount}`,
  );
}

function checkNoBlankHeatmap(canvases, where) {
  const heatmaps = canvases.filter((canvas) => canvas.isHeatmap);
  const blank = heatmaps.filter((canvas) => canvas.distinctColours < 2);
  check(
    `heatmaps drawn (${where})`,
    heatmaps.length > 0 && blank.length === 0,
    heatmaps.length === 0
      ? 'expected at least one canvas.heatmap, found none'
      : `${heatmaps.length - blank.length} of ${heatmaps.length} have more than one colour` +
          (blank.length > 0 ? `; blank: ${blank.map((canvas) => canvas.name).join(', ')}` : ''),
  );
}

/** Checks that switching the pool kind redrew the backward-step canvases. */
function checkDeltaMapsChanged(before, after, changeDescription) {
  const beforeByName = new Map(before.filter((c) => c.inBackwardStep).map((c) => [c.name, c.dataUrl]));
  const afterSteps = after.filter((canvas) => canvas.inBackwardStep);
  const changed = afterSteps.filter((canvas) => beforeByName.get(canvas.name) !== canvas.dataUrl);
  check(
    `δ maps change (${changeDescription})`,
    changed.length > 0,
    `${changed.length} of ${afterSteps.length} backward-step canvases changed`,
  );

  const poolCanvases = afterSteps.filter((canvas) => canvas.op?.toLowerCase().includes('pool'));
  if (poolCanvases.length > 0) {
    const poolChanged = poolCanvases.filter((canvas) => beforeByName.get(canvas.name) !== canvas.dataUrl);
    check(
      `pooling-step δ maps change (${changeDescription})`,
      poolChanged.length > 0,
      `${poolChanged.length} of ${poolCanvases.length} canvases of the pooling steps changed` +
        ` (${[...new Set(poolCanvases.map((canvas) => canvas.op))].join(', ')})`,
    );
  }
}

// ---------------------------------------------------------------------------
// Scenarios

async function selectPoolKind(page, poolKind) {
  const changesBefore = await statusChangeCount(page);
  await page.locator('#pool-kind').selectOption(poolKind);
  await waitForRedraw(page, changesBefore, `selecting pool kind ${poolKind}`);
  return { ...(await readControls(page)), poolKind };
}

async function checkPoolKindSwitch(page, state, poolKind) {
  const before = await readCanvases(page);
  const next = await selectPoolKind(page, poolKind);
  const after = await readCanvases(page);
  checkNoBlankHeatmap(after, `${poolKind}`);
  checkDeltaMapsChanged(before, after, `${state.poolKind} to ${poolKind}`);
  await checkAgainstReference(page, next);
  return next;
}

/** Runs `action`, waits for the redraw and checks the new digit against the reference. */
async function checkDigitChange(page, state, changeDescription, expectedIndex, action) {
  const inputBefore = findInputMap(await readCanvases(page));
  const changesBefore = await statusChangeCount(page);
  await action();
  await waitForRedraw(page, changesBefore, changeDescription);

  const next = await readControls(page);
  check(
    `digit index after ${changeDescription}`,
    next.digitIndex === expectedIndex,
    `expected ${expectedIndex}, page shows ${next.digitIndex}`,
  );
  const inputAfter = findInputMap(await readCanvases(page));
  const inputChanged = inputBefore !== null && inputAfter !== null && inputBefore.dataUrl !== inputAfter.dataUrl;
  let inputDetail = 'no input map found (expected canvas.heatmap[data-tensor="input"])';
  if (inputAfter !== null) {
    inputDetail = `${inputAfter.name} ${inputChanged ? 'changed' : 'unchanged'}`;
  }
  check(`input map changes (${changeDescription})`, inputChanged, inputDetail);
  await checkAgainstReference(page, next);
  return next;
}

async function runChecks(page, serverUrl) {
  console.log(`page: ${serverUrl}`);
  await page.goto(serverUrl, { waitUntil: 'load' });
  try {
    await page.waitForFunction(
      () => ['ready', 'error'].includes(document.querySelector('#status')?.getAttribute('data-state')),
      null,
      { timeout: READY_TIMEOUT_MS, polling: 50 },
    );
  } catch {
    // The check below reports the state that the page is stuck in.
  }
  const initialState = await readStatus(page);
  requireCheck(
    'initial load',
    initialState === 'ready',
    `data-state is "${initialState}" after load (expected "ready" within ${READY_TIMEOUT_MS / 1000} s)` +
      (await panicSuffix(page)),
  );
  await installStatusObserver(page);
  await checkNoPanic(page, 'after load');

  // The page opens on the stepper; this test checks the view with every step at once.
  await page.getByRole('button', { name: 'All steps at once', exact: true }).click();
  await page.waitForSelector('section.backward-step', { timeout: READY_TIMEOUT_MS });

  let state = await readControls(page);
  check('pool kind control', ['max', 'mean', 'l2'].includes(state.poolKind), `#pool-kind is "${state.poolKind}"`);
  requireCheck(
    'digit index control',
    Number.isInteger(state.digitIndex) && state.digitIndex >= 0 && state.digitIndex < TEST_DIGIT_COUNT,
    `#digit-index is ${state.digitIndex}`,
  );

  checkNoBlankHeatmap(await readCanvases(page), 'initial');
  await checkAgainstReference(page, state);
  await takeScreenshot(page, '1-initial-1280x720.png');

  if (state.poolKind !== 'max') {
    state = await selectPoolKind(page, 'max');
    await checkAgainstReference(page, state);
  }
  state = await checkPoolKindSwitch(page, state, 'mean');
  await takeScreenshot(page, '2-mean-1280x720.png');
  state = await checkPoolKindSwitch(page, state, 'l2');
  await takeScreenshot(page, '3-l2-1280x720.png');

  // Move to a neighbouring digit with the buttons, then type an index.
  const forward = state.digitIndex < TEST_DIGIT_COUNT - 1;
  const stepButton = forward ? 'Next digit' : 'Previous digit';
  const backButton = forward ? 'Previous digit' : 'Next digit';
  const stepped = state.digitIndex + (forward ? 1 : -1);
  state = await checkDigitChange(page, state, `pressing "${stepButton}"`, stepped, () =>
    page.getByRole('button', { name: stepButton, exact: true }).click(),
  );
  state = await checkDigitChange(page, state, `pressing "${backButton}"`, stepped + (forward ? -1 : 1), () =>
    page.getByRole('button', { name: backButton, exact: true }).click(),
  );
  const typedIndex = state.digitIndex === 123 ? 456 : 123;
  state = await checkDigitChange(page, state, `entering digit index ${typedIndex}`, typedIndex, async () => {
    const field = page.locator('#digit-index');
    await field.fill(String(typedIndex));
    await field.dispatchEvent('change');
  });

  await page.setViewportSize(PHONE_VIEWPORT);
  // Let layout and any resize-driven redraw settle before the screenshot.
  await page.waitForTimeout(500);
  const pageWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  check(
    `no sideways scrolling at ${PHONE_VIEWPORT.width} px`,
    pageWidth <= PHONE_VIEWPORT.width,
    `page width ${pageWidth} px`,
  );
  await takeScreenshot(page, '4-phone-390x844.png');

  await checkNoPanic(page, 'at the end');
}

async function checkNoPanic(page, when) {
  const panic = await panicText(page);
  const detail = panic === null ? 'none shown' : `#panic-message shows ${JSON.stringify(panic)}`;
  check(`no panic message ${when}`, panic === null, detail);
}

// ---------------------------------------------------------------------------
// Main

const LISTED_ITEM_MAX = 10;

/** Formats `items` one per line, merging repeats into "(N times)". */
function listItems(items) {
  const counts = new Map();
  for (const item of items) {
    counts.set(item, (counts.get(item) ?? 0) + 1);
  }
  const lines = [...counts].slice(0, LISTED_ITEM_MAX).map(([item, count]) =>
    count > 1 ? `${item} (${count} times)` : item,
  );
  if (counts.size > LISTED_ITEM_MAX) {
    lines.push(`... and ${counts.size - LISTED_ITEM_MAX} more distinct messages`);
  }
  return lines.map((line) => `\n          ${line}`).join('');
}

function isLocalUrl(url) {
  if (url.startsWith('data:') || url.startsWith('blob:') || url.startsWith('about:')) {
    return true;
  }
  try {
    return new URL(url).hostname === '127.0.0.1';
  } catch {
    return false;
  }
}

async function main() {
  const distArgument = process.argv[2];
  if (!distArgument) {
    console.error('usage: node tests/e2e/run.mjs DIST_DIR   (a trunk build output folder)');
    return 2;
  }
  const distDir = resolve(distArgument);
  if (!existsSync(join(distDir, 'index.html'))) {
    console.error(
      `e2e: ${join(distDir, 'index.html')} not found. ` +
        `Build it first with 'trunk build --release --dist ${distArgument}'.`,
    );
    return 2;
  }
  if (!existsSync(CHROMIUM_PATH)) {
    console.error(`e2e: ${CHROMIUM_PATH} not found. Run scripts/setup.sh to install Debian's chromium.`);
    return 2;
  }
  mkdirSync(OUT_DIR, { recursive: true });

  const consoleErrors = [];
  const pageErrors = [];
  const externalRequests = [];

  const server = await startStaticServer(distDir);
  let browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: DESKTOP_VIEWPORT });
    // Abort every request to another host, so the test never sends traffic
    // off the machine. The 'request' listener below records each one.
    await context.route('**/*', (route) =>
      isLocalUrl(route.request().url()) ? route.continue() : route.abort('blockedbyclient'),
    );
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') {
        consoleErrors.push(message.text());
      }
    });
    page.on('pageerror', (error) => pageErrors.push(String(error?.stack ?? error)));
    page.on('request', (request) => {
      if (!isLocalUrl(request.url())) {
        externalRequests.push(request.url());
      }
    });
    page.on('websocket', (socket) => {
      if (!isLocalUrl(socket.url())) {
        externalRequests.push(socket.url());
      }
    });

    page.setDefaultTimeout(ACTION_TIMEOUT_MS);
    try {
      await runChecks(page, server.url);
    } catch (error) {
      // A FatalCheck has printed its own check line. Any other error, such as
      // a playwright timeout on a missing element, is reported here.
      if (error instanceof FatalCheck) {
        console.log(`  STOP  ${error.message}`);
      } else {
        results.failed.push(`unexpected error: ${String(error?.message ?? error).split('\n')[0]}`);
        console.log(`  STOP  unexpected error: ${error?.stack ?? error}`);
      }
    }

    check('no console errors', consoleErrors.length === 0, `${consoleErrors.length} seen${listItems(consoleErrors)}`);
    check('no page errors', pageErrors.length === 0, `${pageErrors.length} seen${listItems(pageErrors)}`);
    check(
      'no requests off 127.0.0.1',
      externalRequests.length === 0,
      `${externalRequests.length} seen${listItems(externalRequests)}`,
    );
    check(
      'no failed requests',
      server.failedRequests.length === 0,
      `${server.failedRequests.length} answered with an error status${listItems(server.failedRequests)}`,
    );
  } finally {
    await browser?.close();
    await server.close();
  }

  console.log(`e2e: ${results.passed} passed, ${results.failed.length} failed`);
  if (results.failed.length > 0) {
    console.log(`failed checks:${results.failed.map((name) => `\n  - ${name}`).join('')}`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
