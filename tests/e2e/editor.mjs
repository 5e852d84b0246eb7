// End-to-end test of the network, input, weights and objective editor in Debian's
// headless Chromium.
//
// Usage: node tests/e2e/editor.mjs DIST_DIR
//
// DIST_DIR is a `trunk build --release` output folder. On the one-stage preset the test
// changes a conv setting and adds a stage, and checks that the stepper's step count
// (#step-counter[data-count]) and the forward maps follow. It types an out-of-range value
// and a kernel too large for its input, and checks the message beside the field and that
// the step count and the maps stay. It draws on the input grid with the mouse and with
// the keyboard, and uploads a PNG made in the test and checks the decoded values. Then it
// uploads a text file, a broken PNG, a file over 20 MB and an image over 8192 pixels
// wide, and checks each message. It switches the weights to typed values and edits one.
// It runs axe-core on the editor at 1280×720 and 390×844 and checks sideways scrolling
// at 390 px. No page may log a console error, throw, request another host or show
// #panic-message.
//
// Screenshots go to tests/e2e/out/editor/. The exit code is 0 only when every check
// passed.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import {
  Checks,
  DESKTOP_VIEWPORT,
  E2E_DIR,
  PHONE_VIEWPORT,
  launchBrowser,
  openPage,
  panicText,
  screenshot,
  startStaticServer,
  waitReady,
} from './harness.mjs';

// Timeout of a playwright action, such as finding #layer-0-kernels.
const ACTION_TIMEOUT_MS = 10_000;
// How long the test waits to see that a rejected edit changed nothing.
const SETTLE_MS = 400;
const AXE_PATH = join(E2E_DIR, 'node_modules', 'axe-core', 'axe.min.js');
// Just over the editor's 20 MB limit on image files.
const OVERSIZED_FILE_BYTES = 21_000_000;

const checks = new Checks('editor e2e');

// ---------------------------------------------------------------------------
// Page helpers

async function loadPage(browser, url, viewport) {
  const opened = await openPage(browser, viewport);
  opened.page.setDefaultTimeout(ACTION_TIMEOUT_MS);
  await opened.page.goto(url);
  const state = await waitReady(opened.page);
  checks.check(`page ready at ${viewport.width}×${viewport.height}`, state === 'ready', `data-state ${state}`);
  return opened;
}

async function openEditor(page) {
  const open = await page.$eval('#editor', (element) => element.open);
  if (!open) {
    await page.click('#editor > summary');
  }
}

async function applyPreset(page, id) {
  await page.click(`#preset-${id}`);
  return waitReady(page);
}

/** Types `value` into a field and presses Enter, which commits it. */
async function commit(page, selector, value) {
  await page.fill(selector, value);
  await page.press(selector, 'Enter');
}

async function stepCount(page) {
  return Number(await page.getAttribute('#step-counter', 'data-count'));
}

/** Hashes every forward map's pixels, to tell whether the maps were redrawn. */
async function mapsDigest(page) {
  return page.evaluate(() => {
    const canvases = [...document.querySelectorAll('.forward canvas.heatmap')];
    let hash = 2166136261;
    for (const canvas of canvases) {
      const text = `${canvas.dataset.tensor}:${canvas.width}x${canvas.height}:${canvas.toDataURL()}`;
      for (let i = 0; i < text.length; i += 1) {
        hash = Math.imul(hash ^ text.charCodeAt(i), 16777619) >>> 0;
      }
    }
    return `${canvases.length} maps, digest ${hash.toString(16)}`;
  });
}

async function inputMap(page) {
  return page.$eval('.forward canvas[data-tensor="input"]', (canvas) => canvas.toDataURL());
}

async function mapCount(page, layer) {
  return page.locator(`.forward-step[data-layer="${layer}"] canvas.heatmap`).count();
}

async function textOf(page, selector) {
  const locator = page.locator(selector);
  if ((await locator.count()) === 0) {
    return null;
  }
  return (await locator.first().textContent())?.trim() ?? '';
}

/** Waits until `selector` exists and its text contains `part`; returns the text. */
async function waitForText(page, selector, part) {
  try {
    await page.waitForFunction(
      ([sel, want]) => document.querySelector(sel)?.textContent?.includes(want),
      [selector, part],
      { timeout: ACTION_TIMEOUT_MS, polling: 50 },
    );
  } catch {
    // The caller's check reports the text seen.
  }
  return textOf(page, selector);
}

async function checkNoPanic(page, where) {
  const panic = await panicText(page);
  checks.check(`no panic message ${where}`, panic === null, panic === null ? 'none shown' : JSON.stringify(panic));
}

async function checkNoNotice(page, where) {
  const notice = await textOf(page, '#notice');
  checks.check(`no page notice ${where}`, notice === null, notice ?? 'none');
}

/** Scrolls `selector` to the top of the viewport, for a screenshot of what follows it. */
async function scrollTo(page, selector) {
  await page.locator(selector).first().evaluate((element) => element.scrollIntoView({ block: 'start' }));
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => done())));
}

async function runAxe(page, where) {
  if (!(await page.evaluate(() => 'axe' in window))) {
    // Evaluated through the DevTools protocol: the page's Content-Security-Policy blocks
    // the inline script tag that addScriptTag would insert.
    await page.evaluate(readFileSync(AXE_PATH, 'utf8'));
  }
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run('#editor');
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html.slice(0, 160) })),
    }));
  });
  for (const v of violations) {
    console.log(`        axe ${v.id} (${v.impact}): ${v.help}`);
    for (const node of v.nodes.slice(0, 6)) {
      console.log(`          ${node.target}  ${node.html}`);
    }
  }
  checks.check(
    `axe: no violations in the editor (${where})`,
    violations.length === 0,
    violations.length === 0 ? 'none' : violations.map((v) => `${v.id} (${v.nodes.length} nodes)`).join(', '),
  );
}

/**
 * Lists the elements of the editor that reach past the right edge of the viewport outside
 * a sideways-scrolling box, which would make the page scroll sideways.
 */
async function editorOverflow(page) {
  return page.evaluate(() => {
    const limit = document.documentElement.clientWidth;
    const scrolls = (element) => ['auto', 'scroll', 'hidden'].includes(getComputedStyle(element).overflowX);
    const clipped = (element) => {
      for (let parent = element.parentElement; parent && parent.id !== 'editor'; parent = parent.parentElement) {
        if (scrolls(parent)) {
          return true;
        }
      }
      return false;
    };
    return [...document.querySelectorAll('#editor, #editor *')]
      .filter((element) => element.getBoundingClientRect().right > limit + 0.5 && !clipped(element))
      .map((element) => `${element.tagName.toLowerCase()}${element.id ? `#${element.id}` : ''}.${element.className} (right ${Math.round(element.getBoundingClientRect().right)} px)`);
  });
}

/** Lists every form control in the editor that has no accessible name. */
async function unnamedControls(page) {
  return page.evaluate(() => {
    const controls = [...document.querySelectorAll('#editor input, #editor select, #editor button, #editor canvas')];
    return controls
      .filter((element) => {
        const labelled =
          element.labels?.length > 0 || element.getAttribute('aria-label') || element.getAttribute('aria-labelledby');
        const text = element.tagName === 'BUTTON' && element.textContent.trim().length > 0;
        return !labelled && !text;
      })
      .map((element) => element.id || element.outerHTML.slice(0, 80));
  });
}

// ---------------------------------------------------------------------------
// Files for the upload checks

/** Makes a PNG in the page: a 12×12 image, black on the left half and white on the right. */
async function makePng(page) {
  const dataUrl = await page.evaluate(() => {
    const canvas = document.createElement('canvas');
    canvas.width = 12;
    canvas.height = 12;
    const context = canvas.getContext('2d');
    context.fillStyle = '#ffffff';
    context.fillRect(0, 0, 12, 12);
    context.fillStyle = '#000000';
    context.fillRect(0, 0, 6, 12);
    return canvas.toDataURL('image/png');
  });
  return Buffer.from(dataUrl.split(',')[1], 'base64');
}

/** Reads input cell (row, col) of channel 0 through the cell fields. */
async function inputCell(page, row, col) {
  await commit(page, '#cell-row', String(row));
  await commit(page, '#cell-col', String(col));
  return page.inputValue('#input-cell-value');
}

// ---------------------------------------------------------------------------
// Runs

async function desktopRun(browser, url, tempDir) {
  const { page, context, problems } = await loadPage(browser, url, DESKTOP_VIEWPORT);
  await openEditor(page);
  const presetState = await applyPreset(page, 'one-stage');
  checks.check('one-stage preset shown', presetState === 'ready', `data-state ${presetState}`);
  await scrollTo(page, '#editor');
  await screenshot(page, 'editor/1-network-1280x720.png');

  // A valid conv edit: 3 kernels give layer 0 three maps.
  const steps0 = await stepCount(page);
  const maps0 = await mapsDigest(page);
  await commit(page, '#layer-0-kernels', '3');
  await waitReady(page);
  checks.check('kernels 3: layer 0 shows 3 maps', (await mapCount(page, 0)) === 3, `${await mapCount(page, 0)} maps`);
  const maps1 = await mapsDigest(page);
  checks.check('kernels 3: the maps changed', maps1 !== maps0, `${maps0} → ${maps1}`);
  const note = await textOf(page, '#editor-note');
  checks.check('kernels 3: the note says δ was resized', Boolean(note?.includes('resized to [3, 2, 2]')), JSON.stringify(note));
  checks.check('kernels 3: the step count stays', (await stepCount(page)) === steps0, `${steps0} → ${await stepCount(page)}`);

  // A stage adds three layers and their backward steps.
  await page.click('#add-stage');
  await waitReady(page);
  const steps1 = await stepCount(page);
  checks.check('add stage: more backward steps', steps1 > steps0, `${steps0} → ${steps1}`);
  checks.check('add stage: layer 5 is drawn', (await mapCount(page, 5)) > 0, `${await mapCount(page, 5)} maps in layer 5`);
  const maps2 = await mapsDigest(page);

  // An out-of-range value is rejected at the field and changes nothing.
  await commit(page, '#layer-0-kernels', '99');
  await page.waitForTimeout(SETTLE_MS);
  const rangeMessage = await textOf(page, '#layer-0-kernels-error');
  checks.check(
    'kernels 99: the message names the value and the range',
    Boolean(rangeMessage?.includes('99 is out of range') && rangeMessage.includes('from 1 to 8')),
    JSON.stringify(rangeMessage),
  );
  const invalid = await page.getAttribute('#layer-0-kernels', 'aria-invalid');
  checks.check('kernels 99: the field is marked invalid', invalid === 'true', `aria-invalid ${invalid}`);
  checks.check('kernels 99: the step count stays', (await stepCount(page)) === steps1, `${await stepCount(page)}`);
  checks.check('kernels 99: the maps stay', (await mapsDigest(page)) === maps2, await mapsDigest(page));
  await scrollTo(page, '#editor-network-heading');
  await screenshot(page, 'editor/2-invalid-1280x720.png');
  await commit(page, '#layer-0-kernels', '3');
  await page.waitForTimeout(SETTLE_MS);
  checks.check('kernels back to 3: the message goes', (await textOf(page, '#layer-0-kernels-error')) === null, '');

  // A kernel larger than the padded input is the core's error, at the field typed.
  await commit(page, '#layer-0-size-h', '7');
  await page.waitForTimeout(SETTLE_MS);
  const coreMessage = await textOf(page, '#layer-0-size-h-error');
  checks.check(
    'kernel height 7 on 6 rows: the core explains',
    Boolean(coreMessage?.includes('the kernel spans 7 rows') && coreMessage.includes('more padding')),
    JSON.stringify(coreMessage),
  );
  checks.check('kernel height 7: the step count stays', (await stepCount(page)) === steps1, `${await stepCount(page)}`);
  checks.check('kernel height 7: the maps stay', (await mapsDigest(page)) === maps2, await mapsDigest(page));
  await commit(page, '#layer-0-size-h', '3');
  await page.waitForTimeout(SETTLE_MS);
  await checkNoNotice(page, 'after the rejected edits');

  // Drawing with the mouse on the input grid.
  await scrollTo(page, '#editor-input-heading');
  const inputBefore = await inputMap(page);
  const box = await page.locator('#input-grid').boundingBox();
  await page.mouse.move(box.x + box.width * 0.1, box.y + box.height * 0.1);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.9, box.y + box.height * 0.9, { steps: 10 });
  await page.mouse.up();
  await waitReady(page);
  const inputDrawn = await inputMap(page);
  checks.check('mouse stroke: the input map changed', inputDrawn !== inputBefore, '');
  const corner = await page.inputValue('#input-cell-value');
  checks.check('mouse stroke: the last cell holds the brush value 1', corner === '1', `x = ${corner}`);
  await screenshot(page, 'editor/3-input-1280x720.png');

  // The keyboard path: the arrows move the selected cell, and Delete sets it to 0.
  await page.focus('#input-grid');
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('Delete');
  await waitReady(page);
  const inputKeyed = await inputMap(page);
  checks.check('keyboard: Delete on the cell above changed the input', inputKeyed !== inputDrawn, '');
  const keyed = await page.inputValue('#input-cell-value');
  checks.check('keyboard: the selected cell is 0', keyed === '0', `x = ${keyed}`);

  // Uploading a PNG: the black half becomes ink 1, the white half 0.
  const pngPath = join(tempDir, 'half-black.png');
  writeFileSync(pngPath, await makePng(page));
  await page.setInputFiles('#input-file', pngPath);
  const loaded = await waitForText(page, '#input-file-message', 'Loaded');
  checks.check('PNG upload: loaded message', Boolean(loaded?.includes('scaled to 6 × 6')), JSON.stringify(loaded));
  await waitReady(page);
  const inputPng = await inputMap(page);
  checks.check('PNG upload: the input map changed', inputPng !== inputKeyed, '');
  const left = await inputCell(page, 2, 0);
  const right = await inputCell(page, 2, 5);
  checks.check('PNG upload: black pixels give x = 1', left === '1', `x[0][2][0] = ${left}`);
  checks.check('PNG upload: white pixels give x = 0', right === '0', `x[0][2][5] = ${right}`);
  const mapsPng = await mapsDigest(page);

  // Files that are not usable images are rejected with a message and change nothing.
  const rejected = [
    ['a text file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') }, 'is not an image'],
    ['a broken PNG', { name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('no PNG bytes here') }, 'could not be decoded'],
    [
      'a file over 20 MB',
      { name: 'huge.png', mimeType: 'image/png', buffer: Buffer.alloc(OVERSIZED_FILE_BYTES) },
      'is 21.0 MB; choose an image file of at most 20 MB',
    ],
    [
      'an image 9000 pixels wide',
      {
        name: 'wide.svg',
        mimeType: 'image/svg+xml',
        buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="9000" height="10"><rect width="9000" height="10"/></svg>'),
      },
      'is 9000 × 10 pixels',
    ],
  ];
  for (const [what, file, expected] of rejected) {
    await page.setInputFiles('#input-file', file);
    const message = await waitForText(page, '#input-file-message', expected);
    checks.check(`upload of ${what}: rejected with a message`, Boolean(message?.includes(expected)), JSON.stringify(message));
    const role = await page.getAttribute('#input-file-message', 'role');
    checks.check(`upload of ${what}: the message is an alert`, role === 'alert', `role ${role}`);
    await page.waitForTimeout(SETTLE_MS / 2);
    checks.check(`upload of ${what}: the maps stay`, (await mapsDigest(page)) === mapsPng, await mapsDigest(page));
  }
  await scrollTo(page, '#editor-input-heading');
  await screenshot(page, 'editor/4-upload-error-1280x720.png');

  // Typed weights: the same numbers first, then one edited weight.
  await page.check('#weights-typed');
  await waitReady(page);
  checks.check('typed weights: the maps stay the same', (await mapsDigest(page)) === mapsPng, await mapsDigest(page));
  const firstWeight = page.locator('.weights-grid input').first();
  const weightId = await firstWeight.getAttribute('id');
  await commit(page, `#${weightId}`, '0.5');
  await waitReady(page);
  const mapsTyped = await mapsDigest(page);
  checks.check('typed weight 0.5: the maps changed', mapsTyped !== mapsPng, mapsTyped);
  checks.check('typed weight 0.5: the trace still has steps', (await stepCount(page)) === steps1, `${await stepCount(page)} steps`);
  const weightShown = await page.inputValue(`#${weightId}`);
  checks.check('typed weight 0.5: the field shows it', weightShown === '0.5', weightShown);
  await checkNoNotice(page, 'after the typed weight');
  await scrollTo(page, '#editor-weights-heading');
  await screenshot(page, 'editor/5-weights-1280x720.png');

  // Seeded weights again, with a new seed.
  await page.check('#weights-seeded');
  await waitReady(page);
  const seedBefore = await page.inputValue('#weights-seed');
  await page.click('#new-seed');
  await waitReady(page);
  const seedAfter = await page.inputValue('#weights-seed');
  checks.check('new seed: the seed field changed', seedAfter !== seedBefore, `${seedBefore} → ${seedAfter}`);

  // The objective: two stages with a dense layer, then a label out of range.
  await applyPreset(page, 'two-stages');
  await commit(page, '#objective-label', '5');
  await page.waitForTimeout(SETTLE_MS);
  const labelMessage = await textOf(page, '#objective-label-error');
  checks.check('label 5 of 3 outputs: rejected', Boolean(labelMessage?.includes('from 0 to 2')), JSON.stringify(labelMessage));
  await page.click('#layer-6-remove');
  await waitReady(page);
  const upstream = await page.isChecked('#objective-upstream');
  checks.check('dense removed: the objective is an upstream gradient', upstream, `checked ${upstream}`);
  await scrollTo(page, '#editor-objective-heading');
  await screenshot(page, 'editor/6-objective-1280x720.png');

  // The trained digit network stays editable although layer 3 has 12 kernels, above the
  // editor's range; one pool changed to mean no longer fits the trained weights.
  await applyPreset(page, 'digit');
  const keptNote = await textOf(page, '.layer-box:nth-child(4) .kept');
  checks.check('digit network: 12 kernels are kept with a note', Boolean(keptNote?.includes('kernels K = 12')), JSON.stringify(keptNote));
  await page.selectOption('#layer-2-pool-kind', 'mean');
  await waitReady(page);
  const seeded = await page.isChecked('#weights-seeded');
  checks.check('digit network, one mean pool: seeded weights', seeded, `checked ${seeded}`);
  const trainedNote = await textOf(page, '#editor-note');
  checks.check(
    'digit network, one mean pool: the note says why',
    Boolean(trainedNote?.includes('trained weights fit only the digit network')),
    JSON.stringify(trainedNote),
  );
  checks.check('digit network, one mean pool: layer 2 is mean', (await textOf(page, '.forward-step[data-layer="2"] h3'))?.includes('mean pool'), '');
  const pageNotice = await textOf(page, '#notice');
  checks.check(
    'digit network, one mean pool: the page says the weights are untrained now',
    Boolean(pageNotice?.includes('seeded random weights')),
    JSON.stringify(pageNotice),
  );

  const unnamed = await unnamedControls(page);
  checks.check('every editor control has an accessible name', unnamed.length === 0, unnamed.join(', ') || 'all named');
  await runAxe(page, '1280×720');
  await checkNoPanic(page, 'at 1280×720');
  checks.checkProblems(problems, 'at 1280×720');
  await context.close();
}

async function phoneRun(browser, url) {
  const { page, context, problems } = await loadPage(browser, url, PHONE_VIEWPORT);
  await openEditor(page);
  await applyPreset(page, 'two-stages');
  await page.check('#weights-typed');
  await waitReady(page);
  const overflow = await editorOverflow(page);
  checks.check(`editor fits ${PHONE_VIEWPORT.width} px`, overflow.length === 0, overflow.slice(0, 5).join(', ') || 'nothing wider');
  await scrollTo(page, '#editor');
  await screenshot(page, 'editor/7-network-390x844.png');
  await scrollTo(page, '.layer-box:nth-child(3)');
  await screenshot(page, 'editor/8-layer-390x844.png');
  await scrollTo(page, '#editor-input-heading');
  await screenshot(page, 'editor/9-input-390x844.png');
  await scrollTo(page, '#editor-weights-heading');
  await screenshot(page, 'editor/10-weights-390x844.png');
  await commit(page, '#layer-0-kernels', '0');
  await page.waitForTimeout(SETTLE_MS);
  await scrollTo(page, '.layer-box:nth-child(1)');
  await screenshot(page, 'editor/11-invalid-390x844.png');
  const overflowInvalid = await editorOverflow(page);
  checks.check(
    `editor fits ${PHONE_VIEWPORT.width} px with a message shown`,
    overflowInvalid.length === 0,
    overflowInvalid.slice(0, 5).join(', ') || 'nothing wider',
  );
  // The one-stage preset's maps are small, so the whole page must fit as well.
  await applyPreset(page, 'one-stage');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  checks.check(
    `no sideways scrolling at ${PHONE_VIEWPORT.width} px on the one-stage preset`,
    width <= PHONE_VIEWPORT.width,
    `scrollWidth ${width} px`,
  );
  await runAxe(page, '390×844');
  await checkNoPanic(page, 'at 390×844');
  checks.checkProblems(problems, 'at 390×844');
  await context.close();
}

async function main() {
  const distArgument = process.argv[2];
  if (!distArgument) {
    console.error('usage: node tests/e2e/editor.mjs DIST_DIR   (a trunk build --release output folder)');
    return 2;
  }
  const distDir = resolve(distArgument);
  if (!existsSync(join(distDir, 'index.html'))) {
    console.error(`editor e2e: ${join(distDir, 'index.html')} not found; build it with 'trunk build --release --dist ${distArgument}'.`);
    return 2;
  }

  const tempDir = mkdtempSync(join(tmpdir(), 'editor-e2e-'));
  const server = await startStaticServer(distDir);
  const browser = await launchBrowser();
  try {
    for (const run of [desktopRun, phoneRun]) {
      console.log(run.name);
      try {
        await run(browser, server.url, tempDir);
      } catch (error) {
        checks.check(`${run.name} ran to the end`, false, String(error?.stack ?? error));
      }
    }
  } finally {
    await browser.close();
    await server.close();
    rmSync(tempDir, { recursive: true, force: true });
  }
  checks.check('no failed requests', server.failedRequests.length === 0, server.failedRequests.join(', ') || 'none');
  return checks.finish();
}

process.exitCode = await main();
