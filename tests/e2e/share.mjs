// End-to-end test of "Export and share" in Debian's headless Chromium: permalinks,
// the golden-case JSON, the NumPy script, and hostile links.
//
// Usage: node tests/e2e/share.mjs DIST_DIR
//
// DIST_DIR is a `trunk build --release` output folder. For every preset the test moves to
// a middle step, opens the page's permalink in a new page and checks that the step, the
// step count, the loss and the step heading come back. It then runs the NumPy script with
// python3 (NumPy must be installed) and parses the JSON export. It downloads both files
// for one preset and copies the link with and without the Clipboard API. It opens links
// that are too long, of an unknown version, damaged, cut off, wrongly typed, out of range,
// over the size budget, deeply nested or carrying HTML, and each must show #notice with
// the reason, fall back to the default preset and insert no HTML. At 390 px the share section
// must stay inside the viewport with both panels open.
//
// Screenshots go to tests/e2e/out/share/. The exit code is 0 only when every check passed.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

import {
  Checks,
  DESKTOP_VIEWPORT,
  PHONE_VIEWPORT,
  launchBrowser,
  openPage,
  panicText,
  screenshot,
  startStaticServer,
  waitReady,
} from './harness.mjs';

const PRESET_IDS = ['one-stage', 'two-stages', 'stride-2', 'max-tie', 'l2-zero', 'padding-dilation', 'digit'];
const DEFAULT_PRESET = 'digit';
// The same limit as `permalink::MAX_LINK_BYTES` in src/permalink.rs.
const MAX_LINK_BYTES = 1_000_000;
const GOLDEN_CASE_KEYS = ['network', 'input', 'params', 'expected'];
// How long a playwright action or a wait for the page waits.
const ACTION_TIMEOUT_MS = 10_000;
// The digit network's script loops over every window in Python.
const PYTHON_TIMEOUT_MS = 180_000;
const INJECTED_HTML = '<img src=x onerror="window.__injected=1">';

const execFileAsync = promisify(execFile);

/** Unpadded base64url of `text` in UTF-8, as the page's format version 1 writes it. */
function base64url(text) {
  return Buffer.from(text, 'utf8').toString('base64url');
}

function linkTo(json) {
  return `v1.${base64url(json)}`;
}

/** Reads what the restored view must repeat: step, count, loss and heading. */
async function readView(page) {
  const counter = page.locator('#step-counter');
  const loss = page.locator('#loss');
  return {
    step: await counter.getAttribute('data-step'),
    count: await counter.getAttribute('data-count'),
    loss: (await loss.count()) > 0 ? await loss.getAttribute('data-value') : null,
    heading: (await page.locator('#step-heading').textContent())?.trim() ?? null,
  };
}

async function noticeText(page) {
  const notice = page.locator('#notice');
  if ((await notice.count()) === 0) {
    return null;
  }
  return (await notice.locator('p').textContent())?.trim() ?? '';
}

/** Opens a details panel by its summary text and returns the text of `preId`. */
async function openPanel(page, summary, preId) {
  await page.locator('summary', { hasText: summary }).click();
  const pre = page.locator(`#${preId}`);
  await pre.waitFor({ timeout: 60_000 });
  return (await pre.textContent()) ?? '';
}

/** Runs `script` with python3 and returns { code, lastLine, stderr }. */
async function runPython(script, workDir, name) {
  const path = join(workDir, `${name}.py`);
  writeFileSync(path, script);
  try {
    const { stdout } = await execFileAsync('python3', [path], {
      timeout: PYTHON_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, lastLine: stdout.trim().split('\n').pop() ?? '', stderr: '' };
  } catch (error) {
    return {
      code: error.code ?? 'killed',
      lastLine: (error.stdout ?? '').trim().split('\n').pop() ?? '',
      stderr: (error.stderr ?? '').slice(0, 400),
    };
  }
}

/** Scrolls `selector` to just below the sticky stepper, which would cover it. */
async function scrollBelowStepper(page, selector) {
  await page.evaluate((target) => {
    const element = document.querySelector(target);
    const stepper = document.querySelector('.stepper')?.getBoundingClientRect().height ?? 0;
    window.scrollTo(0, element.getBoundingClientRect().top + window.scrollY - stepper - 8);
  }, selector);
}

/** Clicks "Next step" until the counter shows `target`. */
async function goToStep(page, target) {
  const next = page.getByRole('button', { name: 'Next step', exact: true });
  for (let step = 0; step < target; step += 1) {
    await next.click({ timeout: ACTION_TIMEOUT_MS });
    await page.waitForFunction(
      (want) => document.querySelector('#step-counter')?.getAttribute('data-step') === String(want),
      step + 1,
      { timeout: ACTION_TIMEOUT_MS },
    );
  }
}

// ---------------------------------------------------------------------------------------
// Every preset: permalink round trip, NumPy script, JSON

async function checkPreset(browser, baseUrl, id, workDir, checks) {
  console.log(`preset ${id}`);
  const first = await openPage(browser, DESKTOP_VIEWPORT);
  const { page } = first;
  page.setDefaultTimeout(ACTION_TIMEOUT_MS);
  await page.goto(baseUrl);
  await waitReady(page);
  await page.click(`#preset-${id}`);
  checks.check(`${id}: ready after the preset button`, (await waitReady(page)) === 'ready');

  const count = Number(await page.getAttribute('#step-counter', 'data-count'));
  // A step past the first, so the link has to carry it.
  const middle = Math.min(Math.floor(count / 2), count - 1);
  await goToStep(page, middle);
  const before = await readView(page);
  checks.check(`${id}: moved to the middle step`, before.step === String(middle), `${before.step} of ${count}`);

  const link = await page.inputValue('#permalink');
  const fragment = new URL(link).hash;
  checks.check(`${id}: permalink is page URL with v1 fragment`, link.startsWith(baseUrl) && fragment.startsWith('#v1.'), link.slice(0, 60));
  const hash = await page.evaluate(() => window.location.hash);
  checks.check(`${id}: address bar carries the same link`, hash === fragment, `${hash.length} characters`);
  checks.checkProblems(first.problems, `(${id}, first page)`);
  await first.context.close();

  // The restored view, in a new page.
  const second = await openPage(browser, DESKTOP_VIEWPORT);
  const restored = second.page;
  restored.setDefaultTimeout(ACTION_TIMEOUT_MS);
  await restored.goto(link);
  checks.check(`${id}: restored page reaches ready`, (await waitReady(restored)) === 'ready');
  const after = await readView(restored);
  checks.check(`${id}: restored step`, after.step === before.step, `${after.step} vs ${before.step}`);
  checks.check(`${id}: restored step count`, after.count === before.count, `${after.count} vs ${before.count}`);
  checks.check(`${id}: restored loss`, after.loss === before.loss, `${after.loss} vs ${before.loss}`);
  checks.check(`${id}: restored step heading`, after.heading === before.heading, after.heading ?? 'none');
  checks.check(`${id}: no notice on the restored page`, (await noticeText(restored)) === null, (await noticeText(restored)) ?? 'none');
  await screenshot(restored, `share/${id}-restored.png`);

  // The NumPy script reproduces every value.
  const python = await openPanel(restored, 'Show the NumPy script', 'export-python');
  const run = await runPython(python, workDir, id);
  checks.check(`${id}: NumPy script exits with status 0`, run.code === 0, run.code === 0 ? 'ok' : `${run.code}: ${run.stderr}`);
  checks.check(`${id}: NumPy script reports all checks passed`, /^all \d+ checks passed$/.test(run.lastLine), run.lastLine);

  // The JSON export is a golden case named after the preset.
  const jsonText = await openPanel(restored, 'Show the trace as JSON', 'export-json');
  let golden = null;
  try {
    golden = JSON.parse(jsonText);
  } catch (error) {
    checks.check(`${id}: JSON export parses`, false, error.message);
  }
  if (golden !== null) {
    const missing = GOLDEN_CASE_KEYS.filter((key) => !(key in golden));
    checks.check(`${id}: JSON export has the golden-case keys`, missing.length === 0, missing.length ? `missing ${missing}` : GOLDEN_CASE_KEYS.join(', '));
    checks.check(`${id}: JSON export is named after the preset`, golden.name === id, golden.name);
    if (after.loss !== null) {
      checks.check(`${id}: JSON loss equals the page's loss`, golden.expected?.loss === Number(after.loss), `${golden.expected?.loss}`);
    }
  }
  await scrollBelowStepper(restored, '#share-heading');
  await screenshot(restored, `share/${id}-export-panels.png`);
  checks.checkProblems(second.problems, `(${id}, restored page)`);
  checks.check(`no panic message (${id})`, (await panicText(restored)) === null);
  await second.context.close();
}

// ---------------------------------------------------------------------------------------
// Downloads and the copy button

async function checkDownloads(browser, baseUrl, workDir, checks) {
  console.log('downloads');
  const opened = await openPage(browser, DESKTOP_VIEWPORT);
  const { page } = opened;
  page.setDefaultTimeout(ACTION_TIMEOUT_MS);
  await page.goto(baseUrl);
  await waitReady(page);
  await page.click('#preset-two-stages');
  await waitReady(page);

  const [jsonDownload] = await Promise.all([page.waitForEvent('download'), page.click('#download-json')]);
  checks.check('JSON download is named cnn-trace.json', jsonDownload.suggestedFilename() === 'cnn-trace.json', jsonDownload.suggestedFilename());
  const jsonPath = join(workDir, 'download.json');
  await jsonDownload.saveAs(jsonPath);
  let golden = null;
  try {
    golden = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (error) {
    checks.check('downloaded JSON parses', false, error.message);
  }
  if (golden !== null) {
    const missing = GOLDEN_CASE_KEYS.filter((key) => !(key in golden));
    checks.check('downloaded JSON has the golden-case keys', missing.length === 0, missing.join(', ') || 'all present');
  }
  const status = (await page.textContent('#share-status'))?.trim() ?? '';
  checks.check('status names the JSON download', status.startsWith('Downloading cnn-trace.json'), status);

  const [pythonDownload] = await Promise.all([page.waitForEvent('download'), page.click('#download-python')]);
  checks.check('script download is named cnn-trace.py', pythonDownload.suggestedFilename() === 'cnn-trace.py', pythonDownload.suggestedFilename());
  const pythonPath = join(workDir, 'download.py');
  await pythonDownload.saveAs(pythonPath);
  const shownScript = await openPanel(page, 'Show the NumPy script', 'export-python');
  checks.check('downloaded script equals the shown script', readFileSync(pythonPath, 'utf8') === shownScript, `${shownScript.length} characters`);
  const run = await runPython(readFileSync(pythonPath, 'utf8'), workDir, 'downloaded');
  checks.check('downloaded script passes', run.code === 0 && /^all \d+ checks passed$/.test(run.lastLine), run.lastLine || run.stderr);

  // The Clipboard API copies the link.
  await opened.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(baseUrl).origin });
  await page.click('#copy-link');
  await page.waitForFunction(() => document.querySelector('#share-status')?.textContent.includes('copied'), null, { timeout: ACTION_TIMEOUT_MS }).catch(() => {});
  const copied = await page.evaluate(() => navigator.clipboard.readText()).catch((error) => `read failed: ${error.message}`);
  checks.check('Copy link puts the permalink on the clipboard', copied === (await page.inputValue('#permalink')), copied.slice(0, 60));
  checks.check('status says the link is copied', ((await page.textContent('#share-status')) ?? '').includes('copied'));
  checks.checkProblems(opened.problems, '(downloads)');
  await opened.context.close();

  // Without the Clipboard API the button selects the field's text.
  const bare = await openPage(browser, DESKTOP_VIEWPORT);
  await bare.page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined, configurable: true });
  });
  await bare.page.goto(baseUrl);
  await waitReady(bare.page);
  await bare.page.click('#copy-link');
  const selection = await bare.page.evaluate(() => {
    const field = document.querySelector('#permalink');
    return {
      focused: document.activeElement === field,
      whole: field.selectionStart === 0 && field.selectionEnd === field.value.length,
      status: document.querySelector('#share-status')?.textContent ?? '',
    };
  });
  checks.check('without the Clipboard API the field is focused', selection.focused);
  checks.check('without the Clipboard API the whole link is selected', selection.whole);
  checks.check('without the Clipboard API the status explains the shortcut', selection.status.includes('Ctrl+C'), selection.status);
  checks.checkProblems(bare.problems, '(copy without the Clipboard API)');
  await bare.context.close();
}

// ---------------------------------------------------------------------------------------
// Hostile links

function hostileLinks(validLink) {
  const valid = JSON.parse(Buffer.from(validLink.slice(3), 'base64url').toString('utf8'));
  const withInput = (input) => JSON.stringify({ ...valid, input });
  const hugeNetwork = (input) => JSON.stringify({ ...valid, network: { ...valid.network, input: [1, 100000, 100000] }, input });
  const deep = '['.repeat(10_000);
  return [
    { name: 'too long', fragment: `v1.${'A'.repeat(MAX_LINK_BYTES)}`, expect: /too long/ },
    { name: 'unknown version', fragment: 'v9.AAAA', expect: /format version 9/ },
    { name: 'no version', fragment: 'eyJuZXR3b3JrIjogMX0', expect: /format version such as 'v1\.'/ },
    { name: 'bad characters', fragment: 'v1.%%%', expect: /character 4 after the '#'/ },
    { name: 'cut off', fragment: validLink.slice(0, Math.floor(validLink.length * 0.6)), expect: /cut off|damaged/ },
    { name: 'wrong JSON', fragment: linkTo('{"network": 1}'), expect: /does not describe a view of this page: invalid type/ },
    { name: 'unknown field', fragment: linkTo(JSON.stringify({ ...valid, colour: 'red' })), expect: /unknown field `colour`/ },
    { name: 'out-of-range number', fragment: linkTo(withInput({ values: ['X'] }).replace('"X"', '[[1e400]]')), expect: /number out of range/ },
    { name: 'negative size', fragment: linkTo(JSON.stringify({ ...valid, network: { ...valid.network, input: [1, -6, 6] } })), expect: /invalid value: integer `-6`/ },
    { name: 'huge size, typed input', fragment: linkTo(hugeNetwork(valid.input)), expect: /over the budget/ },
    { name: 'huge size, digit input', fragment: linkTo(hugeNetwork({ digit: 0 })), expect: /over the budget/ },
    { name: 'deep nesting', fragment: linkTo(withInput({ values: 'X' }).replace('"X"', deep)), expect: /does not describe a view/ },
    { name: 'HTML field name', fragment: linkTo(JSON.stringify({ ...valid, [INJECTED_HTML]: '<script>window.__injected=2</script>' })), expect: /unknown field `<img src=x/ },
    { name: 'HTML variant', fragment: linkTo(JSON.stringify({ ...valid, objective: { loss: { kind: `<script>window.__injected=3</script>${INJECTED_HTML}` } } })), expect: /unknown variant `<script>/ },
    { name: 'HTML as the fragment', fragment: `${INJECTED_HTML}<script>window.__injected=4</script>`, expect: /format version such as 'v1\.'/ },
  ];
}

async function checkHostileLink(browser, baseUrl, hostile, defaultView, checks) {
  const opened = await openPage(browser, DESKTOP_VIEWPORT);
  const { page } = opened;
  page.setDefaultTimeout(ACTION_TIMEOUT_MS);
  await page.goto(`${baseUrl}#${hostile.fragment}`);
  const state = await waitReady(page);
  const where = `(${hostile.name})`;
  checks.check(`hostile link reaches ready ${where}`, state === 'ready', state);
  const notice = await noticeText(page);
  checks.check(`hostile link shows the reason ${where}`, notice !== null && hostile.expect.test(notice), (notice ?? 'no #notice').slice(0, 240));
  const count = await page.getAttribute('#step-counter', 'data-count');
  checks.check(`hostile link falls back to the default step count ${where}`, count === defaultView.count, `${count} vs ${defaultView.count}`);
  const current = await page.getAttribute(`#preset-${DEFAULT_PRESET}`, 'aria-pressed');
  checks.check(`hostile link leaves the default preset selected ${where}`, current === 'true');
  const injected = await page.evaluate(() => ({
    images: document.querySelectorAll('img[src="x"]').length,
    scripts: [...document.querySelectorAll('script')].filter((s) => s.textContent.includes('__injected')).length,
    flag: window.__injected ?? null,
  }));
  checks.check(`no injected element or script ran ${where}`, injected.images === 0 && injected.scripts === 0 && injected.flag === null, JSON.stringify(injected));
  const hash = await page.evaluate(() => window.location.hash);
  const shownLink = await page.inputValue('#permalink');
  checks.check(`address bar shows the default view's link ${where}`, hash === new URL(shownLink).hash, hash.slice(0, 40));
  checks.checkProblems(opened.problems, where);
  checks.check(`no panic message ${where}`, (await panicText(page)) === null);
  const file = hostile.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
  await screenshot(page, `share/hostile-${file}.png`);
  await opened.context.close();
}

// ---------------------------------------------------------------------------------------
// The phone layout

/** Measures the page's scroll width and the right edge of the share section's widest element. */
function measureShare(page) {
  return page.evaluate(() => {
    const section = document.querySelector('section.share');
    const rights = [section, ...section.querySelectorAll('*')].map((el) => el.getBoundingClientRect().right);
    return {
      pageScroll: document.documentElement.scrollWidth,
      client: document.documentElement.clientWidth,
      shareRight: Math.max(...rights),
    };
  });
}

async function checkPhoneLayout(browser, baseUrl, checks) {
  console.log('phone layout');
  const opened = await openPage(browser, PHONE_VIEWPORT);
  const { page } = opened;
  page.setDefaultTimeout(ACTION_TIMEOUT_MS);
  await page.goto(baseUrl);
  await waitReady(page);
  const closed = await measureShare(page);
  await openPanel(page, 'Show the trace as JSON', 'export-json');
  await openPanel(page, 'Show the NumPy script', 'export-python');
  const open = await measureShare(page);
  // Other sections of the page have their own width checks. This one checks that the share
  // section stays inside the viewport and adds no sideways scrolling of its own.
  checks.check('share section fits the 390 px viewport with both panels open', open.shareRight <= open.client, `right edge ${open.shareRight}, viewport ${open.client}`);
  checks.check('open panels do not widen the page', open.pageScroll <= Math.max(closed.pageScroll, open.client), `${open.pageScroll} vs ${closed.pageScroll}`);
  const scrollsInside = await page.evaluate(() => {
    const pre = document.querySelector('#export-python');
    return pre.scrollWidth > pre.clientWidth && getComputedStyle(pre).overflowX === 'auto';
  });
  checks.check('long script lines scroll inside their box', scrollsInside);
  await scrollBelowStepper(page, '#share-heading');
  await screenshot(page, 'share/phone-390-share.png');
  await scrollBelowStepper(page, '#export-python');
  await screenshot(page, 'share/phone-390-script.png');
  checks.checkProblems(opened.problems, '(phone layout)');
  await opened.context.close();
}

// ---------------------------------------------------------------------------------------

async function main() {
  const distArgument = process.argv[2];
  if (!distArgument) {
    console.error('usage: node tests/e2e/share.mjs DIST_DIR');
    return 2;
  }
  const dist = resolve(distArgument);
  if (!existsSync(join(dist, 'index.html'))) {
    console.error(`${dist} has no index.html; build it first with trunk build --release --dist ${distArgument}`);
    return 2;
  }

  const checks = new Checks('share');
  const server = await startStaticServer(dist);
  const browser = await launchBrowser();
  const workDir = mkdtempSync(join(tmpdir(), 'cnn-share-'));
  try {
    for (const id of PRESET_IDS) {
      await checkPreset(browser, server.url, id, workDir, checks);
    }
    await checkDownloads(browser, server.url, workDir, checks);

    // The default view and a valid link to build hostile variants from.
    const plain = await openPage(browser, DESKTOP_VIEWPORT);
    await plain.page.goto(server.url);
    await waitReady(plain.page);
    const defaultView = await readView(plain.page);
    await plain.page.click('#preset-one-stage');
    await waitReady(plain.page);
    const validLink = new URL(await plain.page.inputValue('#permalink')).hash.slice(1);
    await plain.context.close();

    console.log('hostile links');
    for (const hostile of hostileLinks(validLink)) {
      await checkHostileLink(browser, server.url, hostile, defaultView, checks);
    }
    await checkPhoneLayout(browser, server.url, checks);
    checks.check('no failed requests', server.failedRequests.length === 0, server.failedRequests.slice(0, 5).join(', ') || 'none');
  } catch (error) {
    checks.check('test ran to the end', false, error.stack ?? String(error));
  } finally {
    await browser.close();
    await server.close();
    rmSync(workDir, { recursive: true, force: true });
  }
  return checks.finish();
}

process.exit(await main());
