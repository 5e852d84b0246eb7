// End-to-end test of the backward-pass stepper over every tutorial preset, in Debian's
// headless Chromium.
//
// Usage: node tests/e2e/stepper.mjs DIST_DIR
//
// DIST_DIR is a `trunk build --release` output folder. The test compares the page with
// the native core's values for each preset, printed by
//
//   cargo run -q --release -p cnn-core --example preset_reference -- ID [CELL]...
//
// For every preset, the test walks all steps with the buttons, the arrow keys, Home, End
// and the step list, and compares the step count and each step's op with the core. It
// selects two cells of every step's result map and one forward cell, and compares their
// #cell-value, #cell-sum and printed value with the core.
//
// The test also checks the three pooling conventions cell by cell: mean gives δ/β, max
// gives δ to the row-major first maximum, and L2 gives δ·x/‖x‖ with 0 for an all-zero
// window. It checks the pooling comparison, the gather and scatter forms of the conv input
// gradient, the gradient check, Play and Pause, and the window animation with its
// reduced-motion replacement. It runs axe-core at 1280×720 and 390×844 and checks
// sideways scrolling at 390 px. No page may log a console error, throw, request another
// host or show #panic-message.
//
// Screenshots go to tests/e2e/out/steps/. The exit code is 0 only when every check passed.

import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import {
  Checks,
  DESKTOP_VIEWPORT,
  E2E_DIR,
  PHONE_VIEWPORT,
  READY_TIMEOUT_MS,
  coreExample,
  launchBrowser,
  openPage,
  panicText,
  screenshot,
  startStaticServer,
  waitReady,
} from './harness.mjs';

const PRESET_IDS = ['one-stage', 'two-stages', 'stride-2', 'max-tie', 'l2-zero', 'padding-dilation', 'digit'];
const RELATIVE_TOLERANCE = 1e-12;
const GRADIENT_CHECK_TOLERANCE = 1e-6;
// Timeout of a playwright action and of a wait for the page.
const ACTION_TIMEOUT_MS = 10_000;
const AXE_PATH = join(E2E_DIR, 'node_modules', 'axe-core', 'axe.min.js');
// Delay of "very fast" in the speed menu, so Play should advance one step per 250 ms.
const PLAY_SPEED_MS = 250;
// The window animation's period, set in src/components/step_view.rs.
const WINDOW_ANIMATION_MS = 700;

// The maps of a step whose cells the test selects. The first is the step's result.
const RESULT_TENSORS = {
  loss_gradient: ['grad_y'],
  upstream: ['grad_y'],
  dense_params: ['grad_w', 'grad_b'],
  dense_input: ['grad_x'],
  activation: ['grad_x', 'derivative'],
  pool: ['grad_x'],
  conv_weights: ['grad_w'],
  conv_bias: ['grad_b'],
  conv_input: ['grad_x'],
};

// The page's symbol of each selectable tensor, as the explanation heading prints it.
const SYMBOLS = {
  grad_y: 'δ',
  grad_x: 'δˣ',
  grad_w: '∂L/∂W',
  grad_b: '∂L/∂b',
  derivative: 'f′(z)',
};

// One screenshot per kind of step at 1280×720: the preset, the op and (for pool steps)
// the pooling kind that pick the step.
const STEP_SHOTS = [
  { name: 'loss-gradient', preset: 'two-stages', op: 'loss_gradient' },
  { name: 'upstream', preset: 'one-stage', op: 'upstream' },
  { name: 'dense-params', preset: 'two-stages', op: 'dense_params' },
  { name: 'dense-input', preset: 'two-stages', op: 'dense_input' },
  { name: 'activation', preset: 'one-stage', op: 'activation' },
  { name: 'pool-mean', preset: 'one-stage', op: 'pool', kind: 'mean' },
  { name: 'pool-max', preset: 'max-tie', op: 'pool', kind: 'max' },
  { name: 'pool-l2', preset: 'l2-zero', op: 'pool', kind: 'l2' },
  { name: 'conv-weights', preset: 'one-stage', op: 'conv_weights' },
  { name: 'conv-bias', preset: 'one-stage', op: 'conv_bias' },
  { name: 'conv-input-gather', preset: 'one-stage', op: 'conv_input' },
  { name: 'digit-conv-input', preset: 'digit', op: 'conv_input' },
];

const checks = new Checks('stepper e2e');
// Duplicates of the explanation's ids seen by selectCell, reported by checkUniqueIds.
const duplicateIds = new Set();
const startedAt = Date.now();

/** Seconds since the test started, for the progress lines. */
function elapsed() {
  return `${((Date.now() - startedAt) / 1000).toFixed(1)} s`;
}

// ---------------------------------------------------------------------------
// Numbers

/** Parses a Rust `{:?}` f64 ("1.0", "-2e-7", "NaN", "inf", "-inf"). */
function parseRust(text) {
  if (text === null || text === undefined) {
    return null;
  }
  return { NaN: Number.NaN, inf: Infinity, '-inf': -Infinity }[text] ?? Number(text);
}

function relativeDifference(a, b) {
  if (a === b) {
    return 0;
  }
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
}

/** "exact", or the relative difference, for a check's detail. */
function agreement(a, b) {
  return a === b ? 'exact' : `relative difference ${relativeDifference(a, b).toExponential(2)}`;
}

function close(a, b, tolerance = RELATIVE_TOLERANCE) {
  return a !== null && b !== null && relativeDifference(a, b) <= tolerance;
}

/**
 * Checks that `text`, a number printed in a map cell with a few significant digits
 * ("0.123", "−4.1e−3", "0"), is `value` rounded to the digits shown. The page prints "0"
 * only for 0.
 */
function printedMatches(text, value) {
  const plain = text.replaceAll('−', '-').trim();
  if (plain === '0') {
    return value === 0;
  }
  const [mantissa, exponent = '0'] = plain.split('e');
  const decimals = mantissa.includes('.') ? mantissa.split('.')[1].length : 0;
  const halfUnit = 0.5 * 10 ** (Number(exponent) - decimals);
  return Math.abs(Number(plain) - value) <= halfUnit * (1 + 1e-9);
}

function indexText(index) {
  return `[${index.join(', ')}]`;
}

function unravel(shape, flat) {
  const index = new Array(shape.length).fill(0);
  for (let axis = shape.length - 1; axis >= 0; axis -= 1) {
    index[axis] = flat % shape[axis];
    flat = Math.floor(flat / shape[axis]);
  }
  return index;
}

function ravel(shape, index) {
  return index.reduce((flat, i, axis) => flat * shape[axis] + i, 0);
}

/** Finds the flat index of the first cell with the largest magnitude. */
function argmaxAbs(data) {
  let best = 0;
  data.forEach((v, n) => {
    if (Math.abs(v) > Math.abs(data[best])) {
      best = n;
    }
  });
  return best;
}

/**
 * Locates tensor cell `index` on the page: the map (plane) among the tensor's canvases,
 * and the row and column in it. Channels, and kernel–channel pairs of 4-D kernels, get one
 * map each in order; vectors are one row.
 */
function mapCell(shape, index) {
  switch (shape.length) {
    case 1:
      return { plane: 0, row: 0, col: index[0] };
    case 2:
      return { plane: 0, row: index[0], col: index[1] };
    case 3:
      return { plane: index[0], row: index[1], col: index[2] };
    case 4:
      return { plane: index[0] * shape[1] + index[1], row: index[2], col: index[3] };
    default:
      throw new Error(`no map layout for shape ${indexText(shape)}`);
  }
}

// ---------------------------------------------------------------------------
// Pooling conventions, written out independently of the core

/** Windows `[i, j]` of a pool and their cells `[row, col]` in row-major order. */
function poolWindows(pool, rows, cols) {
  const outRows = Math.floor((rows - pool.size[0]) / pool.stride[0]) + 1;
  const outCols = Math.floor((cols - pool.size[1]) / pool.stride[1]) + 1;
  const windows = [];
  for (let i = 0; i < outRows; i += 1) {
    for (let j = 0; j < outCols; j += 1) {
      const cells = [];
      for (let u = 0; u < pool.size[0]; u += 1) {
        for (let v = 0; v < pool.size[1]; v += 1) {
          cells.push([i * pool.stride[0] + u, j * pool.stride[1] + v]);
        }
      }
      windows.push({ i, j, cells });
    }
  }
  return windows;
}

/**
 * Computes the upsampled δ of a pool layer of `kind` by the page's conventions: mean gives every
 * cell δ/β, max gives δ to the row-major first maximum, L2 gives δ·x/‖x‖ and 0 to the
 * cells of an all-zero window. Overlapping windows add up.
 */
function expectedUpsampled(kind, pool, x, gradY) {
  const [chans, rows, cols] = x.shape;
  const [, outRows, outCols] = gradY.shape;
  const out = new Array(x.data.length).fill(0);
  const at = (c, row, col) => (c * rows + row) * cols + col;
  for (let c = 0; c < chans; c += 1) {
    for (const window of poolWindows(pool, rows, cols)) {
      const delta = gradY.data[(c * outRows + window.i) * outCols + window.j];
      const values = window.cells.map(([row, col]) => x.data[at(c, row, col)]);
      if (kind === 'mean') {
        for (const [row, col] of window.cells) {
          out[at(c, row, col)] += delta / window.cells.length;
        }
      } else if (kind === 'max') {
        const first = values.indexOf(Math.max(...values));
        const [row, col] = window.cells[first];
        out[at(c, row, col)] += delta;
      } else {
        const norm = Math.sqrt(values.reduce((sum, v) => sum + v * v, 0));
        window.cells.forEach(([row, col], n) => {
          out[at(c, row, col)] += norm === 0 ? 0 : (delta * values[n]) / norm;
        });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Native reference

/** Lists the backward cells the test selects in each step, with their queries. */
function chosenCells(reference) {
  const cells = [];
  for (const step of reference.backward) {
    RESULT_TENSORS[step.op].forEach((name, rank) => {
      const tensor = step.tensors[name];
      const flats = new Set([argmaxAbs(tensor.data)]);
      // The result map also gets its last cell, which sits in the last map.
      if (rank === 0) {
        flats.add(tensor.data.length - 1);
      }
      for (const flat of flats) {
        const index = unravel(tensor.shape, flat);
        cells.push({ step: step.step, tensor: name, index, query: `backward/${step.step}/${name}/${index.join(',')}` });
      }
    });
  }
  return cells;
}

/** Picks the forward cell the test selects, the largest output of the last layer. */
function chosenForwardCell(reference) {
  const last = reference.forward[reference.forward.length - 1];
  const index = unravel(last.y.shape, argmaxAbs(last.y.data));
  return { layer: last.layer, op: last.op, index, query: `forward/${last.layer}/${index.join(',')}` };
}

function scatterQuery(step, index) {
  return `scatter/${step}/${index.join(',')}`;
}

/**
 * Runs preset_reference for every preset: once for the trace, then again with the cells
 * the test will select. Returns a map from preset id to the reference with `cells`.
 */
async function loadReferences() {
  const references = new Map();
  const load = async (id) => {
    const reference = await coreExample('preset_reference', [id]);
    const cells = chosenCells(reference);
    const forwardCell = chosenForwardCell(reference);
    const scatter = cells
      .filter((cell) => reference.backward[cell.step].op === 'conv_input')
      .map((cell) => scatterQuery(cell.step, cell.index));
    const queries = [...cells.map((c) => c.query), forwardCell.query, ...scatter];
    const answered = await coreExample('preset_reference', [id, ...queries]);
    const byQuery = new Map(answered.cells.map((c) => [c.query, c]));
    references.set(id, { ...reference, cells, forwardCell, byQuery });
  };
  // The first run builds the example, so the other presets start after it, all at once.
  await load(PRESET_IDS[0]);
  await Promise.all(PRESET_IDS.slice(1).map(load));
  return references;
}

// ---------------------------------------------------------------------------
// Page helpers

async function stepCounter(page) {
  return page.evaluate(() => {
    const counter = document.querySelector('#step-counter');
    const view = document.querySelector('article.step-view');
    return {
      step: Number(counter?.getAttribute('data-step')),
      count: Number(counter?.getAttribute('data-count')),
      viewStep: Number(view?.getAttribute('data-step')),
      op: view?.getAttribute('data-op') ?? null,
    };
  });
}

/** Waits until the counter and the step view both show step `step`. */
async function waitStep(page, step) {
  try {
    await page.waitForFunction(
      (expected) =>
        document.querySelector('#step-counter')?.getAttribute('data-step') === String(expected) &&
        document.querySelector('article.step-view')?.getAttribute('data-step') === String(expected),
      step,
      { timeout: ACTION_TIMEOUT_MS, polling: 20 },
    );
  } catch {
    // The caller's check reports the step the page shows.
  }
  await waitReady(page);
  return stepCounter(page);
}

async function pressKey(page, key) {
  // The keys step the backward pass only outside form fields and maps.
  await page.evaluate(() => document.activeElement?.blur());
  await page.keyboard.press(key);
}

function button(page, name) {
  return page.getByRole('button', { name, exact: true });
}

async function openPreset(page, id, reference) {
  await page.locator(`#preset-${id}`).click();
  const state = await waitReady(page);
  try {
    await page.waitForFunction(
      ([presetId, count]) =>
        document.querySelector(`#preset-${presetId}`)?.getAttribute('aria-pressed') === 'true' &&
        document.querySelector('#step-counter')?.getAttribute('data-count') === String(count),
      [id, reference.steps],
      { timeout: ACTION_TIMEOUT_MS, polling: 20 },
    );
  } catch {
    // The count check reports what the page shows.
  }
  checks.check(`${id}: page ready after opening the preset`, state === 'ready', `data-state "${state}"`);
}

/**
 * Clicks the centre of cell `index` of tensor `tensor` (shape `shape`) among the maps in
 * `scope`, waits for the explanation heading to name it, and reads the explanation.
 */
async function selectCell(page, { scope, tensor, shape, index, heading }) {
  const { plane, row, col } = mapCell(shape, index);
  const canvas = page.locator(`${scope} .tensor[data-tensor="${tensor}"] canvas.heatmap`).nth(plane);
  const size = await canvas.evaluate((element) => ({
    width: element.clientWidth,
    height: element.clientHeight,
    rows: Number(element.dataset.rows),
    cols: Number(element.dataset.cols),
  }));
  const cellWidth = size.width / size.cols;
  const cellHeight = size.height / size.rows;
  await canvas.click({ position: { x: (col + 0.5) * cellWidth, y: (row + 0.5) * cellHeight } });
  let named = true;
  try {
    await page.waitForFunction(
      (text) => document.querySelector('#explanation-heading')?.textContent.includes(text),
      heading,
      { timeout: ACTION_TIMEOUT_MS, polling: 20 },
    );
  } catch {
    named = false;
  }
  const read = await page.evaluate(
    ({ scopeSelector, name, planeIndex, cell }) => {
      // The explanation's outputs; another element with the same id elsewhere on the page
      // is reported by checkUniqueIds.
      const value = (selector) => document.querySelector(`.explanation ${selector}`)?.getAttribute('data-value') ?? null;
      const map = document.querySelectorAll(`${scopeSelector} .tensor[data-tensor="${name}"] canvas.heatmap`)[planeIndex];
      const spans = map?.parentElement.querySelectorAll('.cell-values span');
      return {
        heading: document.querySelector('#explanation-heading')?.textContent ?? null,
        value: value('#cell-value'),
        sum: value('#cell-sum'),
        formula: document.querySelector('.explanation #cell-formula')?.textContent ?? null,
        idCounts: ['cell-value', 'cell-sum', 'cell-formula'].map((id) => [id, document.querySelectorAll(`[id="${id}"]`).length]),
        printed: spans && spans.length > 0 ? spans[cell].textContent : null,
      };
    },
    { scopeSelector: scope, name: tensor, planeIndex: plane, cell: row * size.cols + col },
  );
  for (const [id, count] of read.idCounts) {
    if (count > 1) {
      duplicateIds.add(`${count} elements with id "${id}"`);
    }
  }
  return { ...read, named, value: parseRust(read.value), sum: parseRust(read.sum), rawValue: read.value };
}

/**
 * Checks that the explanation's ids were unique whenever a cell was selected since the
 * last call, because the page contract and getElementById find only the first.
 */
function checkUniqueIds(where) {
  checks.check(
    `#cell-value, #cell-sum and #cell-formula unique ${where}`,
    duplicateIds.size === 0,
    duplicateIds.size === 0 ? 'one of each' : [...duplicateIds].join(', '),
  );
  duplicateIds.clear();
}

/** Selects a backward cell of step `step` and checks it against the native values. */
async function checkBackwardCell(page, id, reference, cell) {
  const step = reference.backward[cell.step];
  const tensor = step.tensors[cell.tensor];
  const expected = reference.byQuery.get(cell.query);
  const where = `${id} step ${cell.step} (${step.op}) ${cell.tensor}${indexText(cell.index)}`;
  const shown = await selectCell(page, {
    scope: 'article.step-view',
    tensor: cell.tensor,
    shape: tensor.shape,
    index: cell.index,
    heading: `${SYMBOLS[cell.tensor]}${indexText(cell.index)} in step ${cell.step + 1}`,
  });
  checks.check(`${where}: explanation names the clicked cell`, shown.named, `heading ${JSON.stringify(shown.heading)}`);
  checks.check(
    `${where}: #cell-value equals the core`,
    close(shown.value, expected.value),
    `page ${shown.rawValue}, core ${expected.value}, ${agreement(shown.value, expected.value)}`,
  );
  if (expected.result === null) {
    checks.check(`${where}: no sum shown for a cell without a formula`, shown.sum === null, `#cell-sum ${shown.sum}`);
  } else {
    checks.check(
      `${where}: #cell-sum equals #cell-value`,
      close(shown.sum, shown.value),
      `sum ${shown.sum} over ${expected.terms} terms, value ${shown.value}, ${agreement(shown.sum, shown.value)}`,
    );
    checks.check(
      `${where}: #cell-sum equals the core's sum`,
      close(shown.sum, expected.result),
      `page ${shown.sum}, core ${expected.result}, ${agreement(shown.sum, expected.result)}`,
    );
    checks.check(`${where}: #cell-formula shown`, Boolean(shown.formula?.trim()), `${shown.formula?.length ?? 0} characters`);
  }
  if (shown.printed !== null) {
    checks.check(
      `${where}: printed cell value`,
      printedMatches(shown.printed, expected.value),
      `cell prints ${JSON.stringify(shown.printed)}, core ${expected.value}`,
    );
  }
  return shown;
}

async function runGradientCheck(page, where, shownValue) {
  await button(page, 'Check this gradient').click();
  try {
    await page.waitForSelector('#grad-relative-error', { timeout: ACTION_TIMEOUT_MS });
  } catch {
    checks.check(`${where}: gradient check result shown`, false, 'no #grad-relative-error after "Check this gradient"');
    return;
  }
  const read = await page.evaluate(() =>
    ['#grad-analytic', '#grad-numeric', '#grad-relative-error'].map((s) => document.querySelector(s)?.getAttribute('data-value')),
  );
  const [analytic, numeric, relativeError] = read.map(parseRust);
  checks.check(
    `${where}: gradient check relative error < ${GRADIENT_CHECK_TOLERANCE}`,
    relativeError < GRADIENT_CHECK_TOLERANCE,
    `analytic ${analytic}, numeric ${numeric}, relative error ${relativeError}`,
  );
  checks.check(
    `${where}: gradient check analytic equals the selected cell`,
    close(analytic, shownValue),
    `analytic ${analytic}, cell ${shownValue}, ${agreement(analytic, shownValue)}`,
  );
}

/** Returns whether a selected cell gets a gradient check (dW, db and δ of the network input). */
function hasGradientCheck(step, tensor) {
  return ['grad_w', 'grad_b'].includes(tensor) || (step.op === 'conv_input' && step.layer === 0);
}

/**
 * Saves the step view as out/steps/`name`.png. The shot is cut from a full-page
 * screenshot taken at scroll position 0, where the sticky stepper bar sits above the step
 * instead of over its maps.
 */
async function stepShot(page, name, selector = 'article.step-view') {
  await page.evaluate(() => window.scrollTo(0, 0));
  const clip = await page.locator(selector).evaluate((element) => {
    const box = element.getBoundingClientRect();
    return { x: box.left + window.scrollX, y: box.top + window.scrollY, width: box.width, height: box.height };
  });
  const path = join(E2E_DIR, 'out', 'steps', `${name}.png`);
  await page.screenshot({ path, fullPage: true, clip });
  console.log(`  shot  ${path}`);
}

function shotsFor(id, reference) {
  const byStep = new Map();
  for (const shot of STEP_SHOTS.filter((s) => s.preset === id)) {
    const step = reference.backward.find((s) => s.op === shot.op && (!shot.kind || s.pool?.kind === shot.kind));
    if (step) {
      byStep.set(step.step, shot.name);
    } else {
      checks.check(`screenshot ${shot.name}: step exists`, false, `${id} has no ${shot.op} step`);
    }
  }
  return byStep;
}

// ---------------------------------------------------------------------------
// Scenarios

/** Walks every step with the buttons, the keys and the step list. */
async function checkNavigation(page, id, reference) {
  const ops = reference.backward.map((s) => s.op);
  const last = reference.steps - 1;
  let shown = await stepCounter(page);
  checks.check(`${id}: step count equals the trace`, shown.count === reference.steps, `data-count ${shown.count}, core ${reference.steps}`);
  checks.check(`${id}: opens on step 0`, shown.step === 0 && shown.op === ops[0], `step ${shown.step}, op ${shown.op}, core op ${ops[0]}`);
  checks.check(`${id}: "Previous step" disabled on step 0`, await button(page, 'Previous step').isDisabled(), '');

  const walk = { ok: true, detail: [] };
  for (let step = 1; step <= last; step += 1) {
    await button(page, 'Next step').click();
    shown = await waitStep(page, step);
    if (shown.step !== step || shown.op !== ops[step]) {
      walk.ok = false;
      walk.detail.push(`expected step ${step} ${ops[step]}, page shows ${shown.step} ${shown.op}`);
    }
  }
  checks.check(`${id}: "Next step" walks every step`, walk.ok, walk.detail.join('; ') || `${last} presses, ops ${ops.join(', ')}`);
  checks.check(`${id}: "Next step" disabled on the last step`, await button(page, 'Next step').isDisabled(), '');

  const back = { ok: true, detail: [] };
  for (let step = last - 1; step >= 0; step -= 1) {
    await pressKey(page, 'ArrowLeft');
    shown = await waitStep(page, step);
    if (shown.step !== step || shown.op !== ops[step]) {
      back.ok = false;
      back.detail.push(`expected step ${step} ${ops[step]}, page shows ${shown.step} ${shown.op}`);
    }
  }
  checks.check(`${id}: ArrowLeft walks back to step 0`, back.ok, back.detail.join('; ') || `${last} presses`);

  await pressKey(page, 'End');
  shown = await waitStep(page, last);
  checks.check(`${id}: End goes to the last step`, shown.step === last && shown.op === ops[last], `step ${shown.step} ${shown.op}`);
  await pressKey(page, 'ArrowRight');
  shown = await waitStep(page, last);
  checks.check(`${id}: ArrowRight stays on the last step`, shown.step === last, `step ${shown.step}`);
  await pressKey(page, 'Home');
  shown = await waitStep(page, 0);
  checks.check(`${id}: Home goes to step 0`, shown.step === 0 && shown.op === ops[0], `step ${shown.step} ${shown.op}`);
  if (last >= 1) {
    await button(page, 'Last step').click();
    shown = await waitStep(page, last);
    checks.check(`${id}: "Last step" goes to the last step`, shown.step === last, `step ${shown.step}`);
    await button(page, 'Previous step').click();
    shown = await waitStep(page, last - 1);
    checks.check(`${id}: "Previous step" goes back one`, shown.step === last - 1, `step ${shown.step}`);
    await pressKey(page, 'End');
    await waitStep(page, last);
    await button(page, 'First step').click();
    shown = await waitStep(page, 0);
    checks.check(`${id}: "First step" goes to step 0`, shown.step === 0, `step ${shown.step}`);
    await pressKey(page, 'ArrowRight');
    shown = await waitStep(page, 1);
    checks.check(`${id}: ArrowRight goes to step 1`, shown.step === 1 && shown.op === ops[1], `step ${shown.step} ${shown.op}`);
  }

  // The step list: one button per step, the current one marked.
  const middle = Math.floor(last / 2) + (last > 0 ? 1 : 0);
  const list = page.locator('details.step-list-box');
  await list.locator('summary').click();
  const links = list.locator('button');
  const linkCount = await links.count();
  checks.check(`${id}: step list has one button per step`, linkCount === reference.steps, `${linkCount} buttons`);
  const target = Math.min(middle, last);
  const label = (await links.nth(target).textContent()).trim();
  await links.nth(target).click();
  shown = await waitStep(page, target);
  const current = await list.locator('button[aria-current="step"]').allTextContents();
  checks.check(
    `${id}: step list opens step ${target}`,
    shown.step === target && shown.op === ops[target] && label.includes(ops[target].replaceAll('_', ' ')),
    `clicked ${JSON.stringify(label)}, page shows step ${shown.step} ${shown.op}`,
  );
  checks.check(`${id}: step list marks the current step`, current.length === 1 && current[0].trim() === label, JSON.stringify(current));
  await list.locator('summary').click();
}

/** Visits every step, checks the chosen cells, runs the gradient checks and takes the shots. */
async function checkCells(page, id, reference) {
  const shots = shotsFor(id, reference);
  await pressKey(page, 'Home');
  await waitStep(page, 0);
  for (const step of reference.backward) {
    if (step.step > 0) {
      await pressKey(page, 'ArrowRight');
      const shown = await waitStep(page, step.step);
      if (shown.step !== step.step) {
        checks.check(`${id}: reach step ${step.step} for its cells`, false, `page shows step ${shown.step}`);
        return;
      }
    }
    const cells = reference.cells.filter((c) => c.step === step.step);
    let checked = null;
    for (const cell of cells) {
      const shown = await checkBackwardCell(page, id, reference, cell);
      if (checked === null && hasGradientCheck(step, cell.tensor)) {
        await runGradientCheck(page, `${id} step ${step.step} (${step.op}) ${cell.tensor}${indexText(cell.index)}`, shown.value);
        checked = cell;
      }
    }
    if (shots.has(step.step)) {
      // The shot shows the result map's largest cell selected.
      const cell = cells[0];
      await selectCell(page, {
        scope: 'article.step-view',
        tensor: cell.tensor,
        shape: step.tensors[cell.tensor].shape,
        index: cell.index,
        heading: `${SYMBOLS[cell.tensor]}${indexText(cell.index)} in step ${cell.step + 1}`,
      });
      await stepShot(page, shots.get(step.step));
    }
  }
}

async function checkForwardCell(page, id, reference) {
  const cell = reference.forwardCell;
  const expected = reference.byQuery.get(cell.query);
  const layer = reference.forward.find((f) => f.layer === cell.layer);
  const name = ['conv', 'dense'].includes(cell.op) ? 'z' : 'y';
  const where = `${id} forward layer ${cell.layer} (${cell.op}) ${name}${indexText(cell.index)}`;
  const shown = await selectCell(page, {
    scope: `.forward-step[data-layer="${cell.layer}"]`,
    tensor: name,
    shape: layer.y.shape,
    index: cell.index,
    heading: `${name}${indexText(cell.index)} of layer ${cell.layer}`,
  });
  checks.check(`${where}: explanation names the clicked cell`, shown.named, `heading ${JSON.stringify(shown.heading)}`);
  checks.check(
    `${where}: #cell-value equals the core`,
    close(shown.value, expected.value),
    `page ${shown.rawValue}, core ${expected.value}, ${agreement(shown.value, expected.value)}`,
  );
  checks.check(
    `${where}: #cell-sum equals #cell-value`,
    close(shown.sum, shown.value),
    `sum ${shown.sum} over ${expected.terms} terms, value ${shown.value}, ${agreement(shown.sum, shown.value)}`,
  );

  // An input cell has a value and no formula.
  const input = reference.input;
  const flat = argmaxAbs(input.data);
  const index = unravel(input.shape, flat);
  const inputShown = await selectCell(page, {
    scope: '.forward-step[data-layer="input"]',
    tensor: 'input',
    shape: input.shape,
    index,
    heading: `x${indexText(index)} (input)`,
  });
  checks.check(
    `${id} input x${indexText(index)}: #cell-value equals the input`,
    inputShown.named && inputShown.value === input.data[flat],
    `page ${inputShown.rawValue}, core ${input.data[flat]}, heading ${JSON.stringify(inputShown.heading)}`,
  );
}

/**
 * Selects every cell of the pool step's upsampled δ and checks it against the convention,
 * computed here from the core's x and δ.
 */
async function checkPoolConvention(page, id, reference) {
  const step = reference.backward.find((s) => s.op === 'pool');
  const { x, grad_y: gradY, grad_x: gradX } = step.tensors;
  const expected = expectedUpsampled(step.pool.kind, step.pool, x, gradY);
  await goToOp(page, reference, 'pool');

  const wrong = [];
  const inexact = [];
  const shownValues = [];
  for (let flat = 0; flat < gradX.data.length; flat += 1) {
    const index = unravel(gradX.shape, flat);
    const shown = await selectCell(page, {
      scope: 'article.step-view',
      tensor: 'grad_x',
      shape: gradX.shape,
      index,
      heading: `δˣ${indexText(index)} in step ${step.step + 1}`,
    });
    shownValues.push(shown);
    if (!shown.named || !close(shown.value, expected[flat])) {
      wrong.push(`${indexText(index)}: page ${shown.rawValue}, convention ${expected[flat]}`);
    } else if (shown.value !== expected[flat]) {
      inexact.push(indexText(index));
    }
  }

  const rule = { mean: `δ/${step.pool.beta}`, max: 'δ to the row-major first maximum', l2: 'δ·x/‖x‖, 0 for an all-zero window' }[step.pool.kind];
  checks.check(
    `${id} ${step.pool.kind} pool: every upsampled δ cell follows ${rule}`,
    wrong.length === 0,
    wrong.length === 0
      ? `${gradX.data.length} cells; ${inexact.length === 0 ? 'all exact' : `within 1e-12 but not bit-equal: ${inexact.join(' ')}`}`
      : wrong.slice(0, 6).join('; '),
  );
  const poolRule = (await page.locator('#pool-rule').textContent()) ?? '';
  return { step, x, gradY, gradX, shownValues, poolRule };
}

async function checkMeanPool(page, id, reference) {
  const { step, poolRule } = await checkPoolConvention(page, id, reference);
  const beta = step.pool.size[0] * step.pool.size[1];
  checks.check(`${id}: β = PH·PW`, step.pool.beta === beta, `core β ${step.pool.beta}`);
  checks.check(
    `${id}: #pool-rule states β`,
    poolRule.includes(`β = PH·PW = ${step.pool.size[0]}·${step.pool.size[1]} = ${beta}`) && poolRule.includes(`δ/${beta}`),
    JSON.stringify(poolRule),
  );
  await checkComparison(page, id, step);
}

async function checkMaxPool(page, id, reference) {
  const { step, x, gradX, poolRule, shownValues } = await checkPoolConvention(page, id, reference);
  const [, rows, cols] = x.shape;
  // The tutorial's tie: window (0, 0) has the value 6 at [0, 1, 0] and at the centre [0, 2, 2].
  const windows = poolWindows(step.pool, rows, cols);
  const ties = windows.filter((w) => {
    const values = w.cells.map(([r, c]) => x.data[r * cols + c]);
    return values.filter((v) => v === Math.max(...values)).length > 1;
  });
  checks.check(`${id}: input has a tied window`, ties.length > 0, `${ties.length} tied windows`);
  // The page's δˣ[0, 1, 0] is window (0, 0)'s δ alone, and the centre's sum leaves it out.
  const firstMax = shownValues[1 * cols + 0];
  checks.check(
    `${id}: the tied window's δ goes to its first maximum [0, 1, 0]`,
    firstMax.value === step.tensors.grad_y.data[0],
    `δˣ[0, 1, 0] = ${firstMax.rawValue}, δ[0, 0, 0] = ${step.tensors.grad_y.data[0]}`,
  );
  const centre = [0, Math.floor(rows / 2), Math.floor(cols / 2)];
  const centreShown = await selectCell(page, {
    scope: 'article.step-view',
    tensor: 'grad_x',
    shape: gradX.shape,
    index: centre,
    heading: `δˣ${indexText(centre)} in step ${step.step + 1}`,
  });
  const delta = step.tensors.grad_y.data;
  const centreExpected = delta[1] + delta[2] + delta[3];
  const termsSummary = (await page.locator('details.terms summary').textContent()) ?? '';
  checks.check(
    `${id}: centre cell sums the δ of three windows`,
    centreShown.value === centreExpected && centreShown.sum === centreExpected,
    `δˣ${indexText(centre)} = ${centreShown.rawValue}, sum ${centreShown.sum}, δ[0,1] + δ[1,0] + δ[1,1] = ${centreExpected}; ${termsSummary}`,
  );
  // The centre ties with [0, 1, 0] in window (0, 0), so the loss has a kink there. Raising
  // the centre by h adds h·(1 + 2 + 3 + 4) to L = Σ δ·y, because it becomes window (0, 0)'s
  // maximum too. Lowering it takes away only h·(2 + 3 + 4). The central difference is
  // (10 + 9) / 2 = 9.5, not the analytic 9.
  await button(page, 'Check this gradient').click();
  await page.waitForSelector('#grad-relative-error', { timeout: ACTION_TIMEOUT_MS }).catch(() => {});
  const kink = await page.evaluate(() => ({
    numeric: document.querySelector('#grad-numeric')?.getAttribute('data-value') ?? null,
    relativeError: document.querySelector('#grad-relative-error')?.getAttribute('data-value') ?? null,
    verdict: document.querySelector('#grad-relative-error')?.parentElement.textContent ?? '',
  }));
  const kinkNumeric = (delta[0] + 2 * centreExpected) / 2;
  checks.check(
    `${id}: gradient check at the tied centre reports the kink`,
    close(parseRust(kink.numeric), kinkNumeric, 1e-6) && parseRust(kink.relativeError) > 1e-3 && kink.verdict.includes('kink'),
    `numeric ${kink.numeric} (the mean of the one-sided slopes is ${kinkNumeric}), relative error ${kink.relativeError}, ${JSON.stringify(kink.verdict.trim())}`,
  );
  checks.check(`${id}: #pool-rule states the row-major tie rule`, poolRule.includes('first in row-major order'), JSON.stringify(poolRule));
  const tieItems = await page.locator('ul.ties li').allTextContents();
  const listed = tieItems.find((text) => text.includes('Window (c 0, i 0, j 0)'));
  checks.check(
    `${id}: page lists the tie of window (0, 0)`,
    Boolean(listed) && listed.includes('[0, 1, 0], [0, 2, 2]') && listed.includes('the first, [0, 1, 0], is the switch'),
    JSON.stringify(tieItems),
  );
  // Leaving the step clears the selection, so that the input map outlines the tied cells.
  await pressKey(page, 'Home');
  await pressKey(page, 'End');
  await waitStep(page, step.step);
  await checkComparison(page, id, step);
}

async function checkL2Pool(page, id, reference) {
  const { step, x, poolRule, shownValues } = await checkPoolConvention(page, id, reference);
  const [, rows, cols] = x.shape;
  const zeroWindows = poolWindows(step.pool, rows, cols).filter((w) => w.cells.every(([r, c]) => x.data[r * cols + c] === 0));
  checks.check(`${id}: relu leaves an all-zero window`, zeroWindows.length === 1, `${zeroWindows.length} all-zero windows`);
  checks.check(
    `${id}: #pool-rule counts the all-zero windows`,
    poolRule.includes(`This input has ${zeroWindows.length} all-zero window(s)`),
    JSON.stringify(poolRule),
  );
  const zeroCells = zeroWindows.flatMap((w) => w.cells.map(([r, c]) => r * cols + c));
  checks.check(
    `${id}: the all-zero window's cells get exactly 0`,
    zeroCells.every((flat) => shownValues[flat].value === 0),
    zeroCells.map((flat) => `${indexText(unravel(x.shape, flat))} = ${shownValues[flat].rawValue}`).join(', '),
  );
}

/** Opens "Compare pooling…" and checks the three maps' printed values against the core. */
async function checkComparison(page, id, step) {
  await page.getByRole('button', { name: /^Compare pooling/ }).click();
  try {
    await page.waitForSelector('.tensor[data-tensor="compare-l2"] canvas.heatmap', { timeout: ACTION_TIMEOUT_MS });
  } catch {
    checks.check(`${id}: comparison shows three maps`, false, 'no .tensor[data-tensor="compare-l2"]');
    return;
  }
  for (const kind of ['max', 'mean', 'l2']) {
    const native = step.pool.compare[kind];
    const printed = await page
      .locator(`.tensor[data-tensor="compare-${kind}"] .cell-values span`)
      .allTextContents();
    const wrong = native.data
      .map((v, n) => (printedMatches(printed[n] ?? '', v) ? null : `${indexText(unravel(native.shape, n))}: page ${printed[n]}, core ${v}`))
      .filter(Boolean);
    checks.check(
      `${id}: comparison ${kind} map equals pool::compare_kinds`,
      printed.length === native.data.length && wrong.length === 0,
      `${printed.length} printed values for ${native.data.length} cells${wrong.length ? `; ${wrong.slice(0, 4).join('; ')}` : ''}`,
    );
  }
  const own = step.pool.compare[step.pool.kind].data;
  checks.check(
    `${id}: the comparison's ${step.pool.kind} map is the step's δˣ`,
    own.every((v, n) => v === step.tensors.grad_x.data[n]),
    'core values',
  );
}

/** Checks one conv input cell in the gather form and then in the scatter form. */
async function checkConvInput(page, id, reference, shotName) {
  const step = await goToOp(page, reference, 'conv_input');
  const cell = reference.cells.find((c) => c.step === step.step);
  await checkBackwardCell(page, id, reference, cell);
  const gatherMaps = await page.locator('article.step-view .tensor').evaluateAll((els) => els.map((e) => e.dataset.tensor));
  checks.check(
    `${id}: gather form shows the padded δ and the rotated kernels`,
    gatherMaps.includes('grad_y_full') && gatherMaps.includes('kernels_rotated'),
    gatherMaps.join(', '),
  );

  await page.getByRole('radio', { name: /scatter/ }).check();
  const expected = reference.byQuery.get(scatterQuery(step.step, cell.index));
  try {
    await page.waitForFunction(() => document.querySelector('article.step-view .tensor[data-tensor="w"]'), null, { timeout: ACTION_TIMEOUT_MS });
  } catch {
    // The map list check reports it.
  }
  const scatterMaps = await page.locator('article.step-view .tensor').evaluateAll((els) => els.map((e) => e.dataset.tensor));
  checks.check(`${id}: scatter form shows the kernels W`, scatterMaps.includes('w'), scatterMaps.join(', '));

  const shown = await selectCell(page, {
    scope: 'article.step-view',
    tensor: 'grad_x',
    shape: step.tensors.grad_x.shape,
    index: cell.index,
    heading: `δˣ${indexText(cell.index)} in step ${step.step + 1}`,
  });
  const note = (await page.locator('.explanation .note').textContent()) ?? '';
  checks.check(`${id}: scatter note names the form`, note.startsWith('Scatter form'), JSON.stringify(note));
  checks.check(
    `${id} scatter δˣ${indexText(cell.index)}: #cell-sum equals the core's scatter sum`,
    close(shown.sum, expected.result),
    `page ${shown.sum} over ${expected.terms} terms, core ${expected.result}, ${agreement(shown.sum, expected.result)}`,
  );
  checks.check(
    `${id} scatter δˣ${indexText(cell.index)}: #cell-sum equals #cell-value`,
    close(shown.sum, shown.value),
    `sum ${shown.sum}, value ${shown.value}, ${agreement(shown.sum, shown.value)}`,
  );
  if (shotName) {
    await stepShot(page, shotName);
  }
  await page.getByRole('radio', { name: /gather/ }).check();
}

/** Checks that "Next window" and "Previous window" move through δˣ in row-major order. */
async function checkWindowButtons(page, id, reference) {
  // Arriving at the step clears the selection, so "Next window" starts at the first cell.
  const step = await goToOp(page, reference, 'conv_input');
  const shape = step.tensors.grad_x.shape;
  const heading = async () => (await page.locator('#explanation-heading').textContent().catch(() => '')) ?? '';
  const expectHeading = async (name, flat) => {
    const text = `δˣ${indexText(unravel(shape, flat))} in step ${step.step + 1}`;
    try {
      await page.waitForFunction((t) => document.querySelector('#explanation-heading')?.textContent.includes(t), text, {
        timeout: ACTION_TIMEOUT_MS,
        polling: 20,
      });
    } catch {
      // The check reports the heading.
    }
    const shown = await heading();
    checks.check(`${id}: ${name} selects δˣ${indexText(unravel(shape, flat))}`, shown.includes(text), JSON.stringify(shown));
  };
  await button(page, 'Next window').click();
  await expectHeading('first "Next window"', 0);
  await button(page, 'Next window').click();
  await expectHeading('second "Next window"', 1);
  await button(page, 'Previous window').click();
  await expectHeading('"Previous window"', 0);
  await button(page, 'Previous window').click();
  const last = shape.reduce((a, b) => a * b, 1) - 1;
  await expectHeading('"Previous window" from the first cell', last);
}

async function checkWindowAnimation(page, id, reference) {
  const step = reference.backward.find((s) => s.op === 'conv_input');
  const shape = step.tensors.grad_x.shape;
  await button(page, 'Next window').click();
  const animate = button(page, 'Animate window by window');
  checks.check(`${id}: "Animate window by window" shown`, (await animate.count()) === 1, '');
  await animate.click();
  const started = Date.now();
  await page.waitForTimeout(WINDOW_ANIMATION_MS * 2.5);
  const stop = button(page, 'Stop window animation');
  const stopShown = (await stop.count()) === 1;
  if (stopShown) {
    await stop.click();
  }
  const elapsed = Date.now() - started;
  const text = (await page.locator('#explanation-heading').textContent()) ?? '';
  const match = text.match(/\[([\d, ]+)\]/);
  const flat = match ? ravel(shape, match[1].split(',').map(Number)) : -1;
  const expected = Math.floor(elapsed / WINDOW_ANIMATION_MS);
  checks.check(`${id}: the animation button turns into "Stop window animation"`, stopShown, '');
  checks.check(
    `${id}: the animation moves one cell per ${WINDOW_ANIMATION_MS} ms`,
    flat >= 1 && Math.abs(flat - expected) <= 1,
    `after ${elapsed} ms the selection is at flat cell ${flat} (${JSON.stringify(text)}), about ${expected} expected`,
  );
}

/** Checks that Play advances at the chosen speed, turns into Pause, and stops at the end. */
async function checkPlay(page, id, reference) {
  await pressKey(page, 'Home');
  await waitStep(page, 0);
  await page.locator('#speed').selectOption(String(PLAY_SPEED_MS));
  await page.evaluate(() => {
    window.__stepTimes = [];
    const counter = document.querySelector('#step-counter');
    new MutationObserver(() => window.__stepTimes.push([performance.now(), Number(counter.getAttribute('data-step'))])).observe(counter, {
      attributes: true,
      attributeFilter: ['data-step'],
    });
  });
  await button(page, 'Play').click();
  const pause = button(page, 'Pause');
  checks.check(
    `${id}: Play turns into Pause`,
    (await pause.count()) === 1 && (await pause.getAttribute('aria-pressed')) === 'true',
    `aria-pressed ${await pause.getAttribute('aria-pressed').catch(() => 'missing')}`,
  );
  const last = reference.steps - 1;
  try {
    await page.waitForFunction(
      (expected) => document.querySelector('#step-counter')?.getAttribute('data-step') === String(expected),
      last,
      { timeout: (last + 4) * PLAY_SPEED_MS * 3, polling: 20 },
    );
  } catch {
    // The checks below report where playback stopped.
  }
  await page.waitForTimeout(PLAY_SPEED_MS * 3);
  const times = await page.evaluate(() => window.__stepTimes);
  const steps = times.map(([, step]) => step);
  const gaps = times.slice(1).map(([t], n) => t - times[n][0]);
  const meanGap = gaps.reduce((a, b) => a + b, 0) / Math.max(gaps.length, 1);
  checks.check(
    `${id}: Play visits every step in order`,
    steps.join(',') === Array.from({ length: last }, (_, n) => n + 1).join(','),
    `steps ${steps.join(',')}`,
  );
  checks.check(
    `${id}: Play advances one step per ${PLAY_SPEED_MS} ms`,
    gaps.length > 0 && meanGap > PLAY_SPEED_MS * 0.8 && meanGap < PLAY_SPEED_MS * 1.6,
    `mean gap ${meanGap.toFixed(0)} ms over ${gaps.length} gaps`,
  );
  const playAgain = button(page, 'Play');
  checks.check(
    `${id}: Play stops at the last step and turns back into Play`,
    (await playAgain.count()) === 1 && (await stepCounter(page)).step === last,
    `step ${(await stepCounter(page)).step}`,
  );

  // Pause keeps the step.
  await playAgain.click();
  await page.waitForFunction(() => document.querySelector('#step-counter')?.getAttribute('data-step') === '1', null, {
    timeout: ACTION_TIMEOUT_MS,
    polling: 20,
  }).catch(() => {});
  await button(page, 'Pause').click();
  const pausedAt = (await stepCounter(page)).step;
  await page.waitForTimeout(PLAY_SPEED_MS * 3);
  const after = (await stepCounter(page)).step;
  checks.check(
    `${id}: Play on the last step restarts from step 0, and Pause keeps the step`,
    pausedAt >= 0 && pausedAt <= 2 && after === pausedAt && (await button(page, 'Play').count()) === 1,
    `paused at ${pausedAt}, ${PLAY_SPEED_MS * 3} ms later at ${after}`,
  );
}

/** Checks that the keys in a form field or on a focused map leave the step alone. */
async function checkKeysInFields(page, id) {
  await pressKey(page, 'Home');
  await pressKey(page, 'ArrowRight');
  await waitStep(page, 1);
  await page.locator('#digit-index').focus();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('End');
  await page.waitForTimeout(100);
  let shown = await stepCounter(page);
  checks.check(`${id}: keys typed in #digit-index do not step`, shown.step === 1, `step ${shown.step}`);
  const map = page.locator('article.step-view canvas.heatmap.selectable').first();
  await map.focus();
  await page.keyboard.press('ArrowRight');
  await page.waitForTimeout(100);
  shown = await stepCounter(page);
  const heading = (await page.locator('#explanation-heading').textContent().catch(() => null)) ?? '';
  checks.check(
    `${id}: ArrowRight on a focused map moves the selection, not the step`,
    shown.step === 1 && heading.includes('[0, 0, 1]'),
    `step ${shown.step}, ${JSON.stringify(heading)}`,
  );
}

// The page's Content-Security-Policy allows scripts from its own origin only, so the test
// serves axe from this same-origin path with a route (see serveAxe).
const AXE_ROUTE = '/__stepper-e2e/axe.min.js';

/** Fulfills requests for AXE_ROUTE on `page` with axe-core's script. */
async function serveAxe(page) {
  const source = readFileSync(AXE_PATH);
  await page.route(`**${AXE_ROUTE}`, (route) => route.fulfill({ contentType: 'text/javascript', body: source }));
}

async function runAxe(page, where) {
  if (!(await page.evaluate(() => 'axe' in window))) {
    await page.addScriptTag({ url: new URL(AXE_ROUTE, page.url()).href });
  }
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document);
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html.slice(0, 160), summary: n.failureSummary })),
    }));
  });
  for (const v of violations) {
    console.log(`        axe ${v.id} (${v.impact}): ${v.help}`);
    for (const node of v.nodes.slice(0, 8)) {
      console.log(`          ${node.target}  ${node.html}`);
      console.log(`            ${node.summary?.replaceAll('\n', ' | ')}`);
    }
    if (v.nodes.length > 8) {
      console.log(`          … and ${v.nodes.length - 8} more nodes`);
    }
  }
  checks.check(
    `axe: no violations (${where})`,
    violations.length === 0,
    violations.length === 0 ? 'none' : violations.map((v) => `${v.id} (${v.impact}, ${v.nodes.length} nodes)`).join(', '),
  );
}

async function checkNoSidewaysScroll(page, where) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  checks.check(`no sideways scrolling at ${PHONE_VIEWPORT.width} px (${where})`, width <= PHONE_VIEWPORT.width, `scrollWidth ${width} px`);
}

async function checkNoPanic(page, where) {
  const panic = await panicText(page);
  checks.check(`no panic message ${where}`, panic === null, panic === null ? 'none shown' : JSON.stringify(panic));
}

/** Opens a stepper page at `viewport` and waits for its first draw. */
async function loadPage(browser, url, viewport, options = {}) {
  const opened = await openPage(browser, viewport, options);
  opened.page.setDefaultTimeout(ACTION_TIMEOUT_MS);
  await serveAxe(opened.page);
  await opened.page.goto(url, { waitUntil: 'load' });
  const state = await waitReady(opened.page, READY_TIMEOUT_MS);
  checks.check(`page loads at ${viewport.width}×${viewport.height}`, state === 'ready', `data-state "${state}"`);
  return opened;
}

/** Moves to the first step with `op` by pressing ArrowRight from step 0. */
async function goToOp(page, reference, op, kind) {
  const step = reference.backward.find((s) => s.op === op && (!kind || s.pool?.kind === kind));
  await pressKey(page, 'Home');
  for (let n = 0; n < step.step; n += 1) {
    await pressKey(page, 'ArrowRight');
  }
  await waitStep(page, step.step);
  return step;
}

async function desktopRun(browser, url, references) {
  const { page, context, problems } = await loadPage(browser, url, DESKTOP_VIEWPORT);
  for (const id of PRESET_IDS) {
    const reference = references.get(id);
    console.log(`preset ${id} at ${elapsed()}: ${reference.steps} steps (${reference.backward.map((s) => s.op).join(', ')})`);
    await openPreset(page, id, reference);
    await checkNavigation(page, id, reference);
    await checkCells(page, id, reference);
    await checkForwardCell(page, id, reference);
    if (id === 'one-stage') {
      await checkMeanPool(page, id, reference);
      await checkConvInput(page, id, reference, 'conv-input-scatter');
      await checkWindowButtons(page, id, reference);
      await checkWindowAnimation(page, id, reference);
      await checkKeysInFields(page, id);
    }
    if (id === 'padding-dilation') {
      await checkConvInput(page, id, reference, null);
    }
    if (id === 'max-tie') {
      await checkMaxPool(page, id, reference);
      await stepShot(page, 'pool-max-ties-compare');
    }
    if (id === 'l2-zero') {
      await checkL2Pool(page, id, reference);
    }
    if (id === 'two-stages') {
      await checkPlay(page, id, reference);
    }
  }

  // axe at 1280×720: a conv step with a cell selected, a pool step comparing kinds, and
  // every step at once.
  const oneStage = references.get('one-stage');
  await openPreset(page, 'one-stage', oneStage);
  const convWeights = await goToOp(page, oneStage, 'conv_weights');
  await checkBackwardCell(page, 'one-stage', oneStage, oneStage.cells.find((c) => c.step === convWeights.step));
  await button(page, 'Check this gradient').click();
  await runAxe(page, '1280×720, conv weights step with a cell selected and its gradient check');
  await goToOp(page, oneStage, 'pool');
  await page.getByRole('button', { name: /^Compare pooling/ }).click();
  await runAxe(page, '1280×720, mean pool step with the comparison open');
  await button(page, 'All steps at once').click();
  await page.waitForSelector('section.backward-step', { timeout: ACTION_TIMEOUT_MS });
  const sections = await page.locator('section.backward-step').count();
  checks.check('one-stage: "All steps at once" shows every step', sections === oneStage.steps, `${sections} sections`);
  await runAxe(page, '1280×720, all steps at once');
  await screenshot(page, 'steps/all-steps-1280x720.png');
  await button(page, 'Step through').click();
  const digit = references.get('digit');
  await openPreset(page, 'digit', digit);
  await runAxe(page, '1280×720, digit preset on its first step');

  checkUniqueIds('at 1280×720');
  await checkNoPanic(page, 'at 1280×720');
  checks.checkProblems(problems, 'at 1280×720');
  await context.close();
}

async function phoneRun(browser, url, references) {
  const { page, context, problems } = await loadPage(browser, url, PHONE_VIEWPORT);
  const shoot = (name) => screenshot(page, `steps/phone-${name}.png`);
  await checkNoSidewaysScroll(page, 'digit preset, first step');

  const oneStage = references.get('one-stage');
  await openPreset(page, 'one-stage', oneStage);
  const convWeights = await goToOp(page, oneStage, 'conv_weights');
  await checkBackwardCell(page, 'one-stage (390 px)', oneStage, oneStage.cells.find((c) => c.step === convWeights.step));
  await button(page, 'Check this gradient').click();
  await page.locator('.explanation #cell-value').scrollIntoViewIfNeeded();
  await checkNoSidewaysScroll(page, 'conv weights step with a cell selected');
  await runAxe(page, '390×844, conv weights step with a cell selected');
  await shoot('conv-weights');

  const maxTie = references.get('max-tie');
  await openPreset(page, 'max-tie', maxTie);
  await goToOp(page, maxTie, 'pool');
  await page.getByRole('button', { name: /^Compare pooling/ }).click();
  await page.locator('.compare').scrollIntoViewIfNeeded();
  await checkNoSidewaysScroll(page, 'max pool step with the comparison open');
  await runAxe(page, '390×844, max pool step with the comparison open');
  await shoot('pool-compare');

  const twoStages = references.get('two-stages');
  await openPreset(page, 'two-stages', twoStages);
  const dense = await goToOp(page, twoStages, 'dense_params');
  await checkBackwardCell(page, 'two-stages (390 px)', twoStages, twoStages.cells.find((c) => c.step === dense.step));
  await page.locator('.explanation #cell-formula').scrollIntoViewIfNeeded();
  await checkNoSidewaysScroll(page, 'dense params step with a cell selected');
  await shoot('dense-params');

  const digit = references.get('digit');
  await openPreset(page, 'digit', digit);
  const convInput = await goToOp(page, digit, 'conv_input');
  await checkBackwardCell(page, 'digit (390 px)', digit, digit.cells.find((c) => c.step === convInput.step));
  await checkNoSidewaysScroll(page, 'digit conv input step with a cell selected');
  // The 300-term formula overflows its scrolling box at this width.
  await runAxe(page, '390×844, digit conv input step with a 300-term formula');
  await stepShot(page, 'phone-digit-conv-input');

  await button(page, 'All steps at once').click();
  await page.waitForSelector('section.backward-step', { timeout: ACTION_TIMEOUT_MS });
  await checkNoSidewaysScroll(page, 'all steps at once');
  await runAxe(page, '390×844, all steps at once');
  await shoot('all-steps');

  checkUniqueIds('at 390×844');
  await checkNoPanic(page, 'at 390×844');
  checks.checkProblems(problems, 'at 390×844');
  await context.close();
}

async function reducedMotionRun(browser, url, references) {
  const { page, context, problems } = await loadPage(browser, url, DESKTOP_VIEWPORT, { reducedMotion: 'reduce' });
  const oneStage = references.get('one-stage');
  await openPreset(page, 'one-stage', oneStage);
  await goToOp(page, oneStage, 'conv_input');
  const animate = await button(page, 'Animate window by window').count();
  const hint = await page.locator('.window-controls .hint').textContent().catch(() => null);
  checks.check('reduced motion: no "Animate window by window" button', animate === 0, `${animate} such buttons`);
  checks.check(
    'reduced motion: the hint replaces it',
    Boolean(hint?.includes('reduced motion')),
    JSON.stringify(hint),
  );
  checks.check('reduced motion: "Next window" still shown', (await button(page, 'Next window').count()) === 1, '');
  await checkNoPanic(page, 'with reduced motion');
  checks.checkProblems(problems, 'with reduced motion');
  await context.close();
}

async function main() {
  const distArgument = process.argv[2];
  if (!distArgument) {
    console.error('usage: node tests/e2e/stepper.mjs DIST_DIR   (a trunk build --release output folder)');
    return 2;
  }
  const distDir = resolve(distArgument);
  if (!existsSync(join(distDir, 'index.html'))) {
    console.error(`stepper e2e: ${join(distDir, 'index.html')} not found; build it with 'trunk build --release --dist ${distArgument}'.`);
    return 2;
  }

  const references = await loadReferences();
  console.log(`native references ready at ${elapsed()}`);
  const server = await startStaticServer(distDir);
  const browser = await launchBrowser();
  try {
    for (const run of [desktopRun, reducedMotionRun, phoneRun]) {
      console.log(`${run.name} at ${elapsed()}`);
      try {
        await run(browser, server.url, references);
      } catch (error) {
        checks.check(`${run.name} ran to the end`, false, String(error?.stack ?? error));
      }
    }
  } finally {
    await browser.close();
    await server.close();
  }
  console.log(`stepper e2e took ${elapsed()}`);
  return checks.finish();
}

process.exitCode = await main();
