// End-to-end test of what must not be lost or broken: the view saved in localStorage
// across a reload, damaged or old saved data, "Reset to the default view" and its
// confirmation, and a trace with infinite values drawn and named as such.
//
// Usage: node tests/e2e/hardening.mjs DIST_DIR

import { Checks, launchBrowser, openPage, screenshot, startStaticServer, waitReady } from './harness.mjs';

const STORAGE_KEY = 'cnn-explorer/page/v1';
const DEFAULT_STEPS = 13;

const dist = process.argv[2];
if (!dist) {
  console.error('usage: node tests/e2e/hardening.mjs DIST_DIR');
  process.exit(2);
}

const checks = new Checks('hardening e2e');

function link(document) {
  return `v1.${Buffer.from(JSON.stringify(document)).toString('base64url')}`;
}

async function counter(page) {
  const element = page.locator('#step-counter');
  return {
    step: Number(await element.getAttribute('data-step')),
    count: Number(await element.getAttribute('data-count')),
  };
}

async function notice(page) {
  const element = page.locator('#notice');
  return (await element.count()) > 0 ? (await element.textContent()).trim() : null;
}

const server = await startStaticServer(dist);
const browser = await launchBrowser();

// A saved view comes back on a reload without a permalink.
{
  const { page, context, problems } = await openPage(browser);
  await page.goto(server.url);
  await waitReady(page);
  await page.click('#preset-stride-2');
  await waitReady(page);
  await page.getByRole('button', { name: 'Next step', exact: true }).click();
  await waitReady(page);
  const before = await counter(page);
  const stored = await page.evaluate((key) => localStorage.getItem(key), STORAGE_KEY);
  checks.check('the view is saved in localStorage', stored !== null && stored.includes('"version":1'), `${stored?.length ?? 0} characters`);
  await page.goto(server.url);
  await waitReady(page);
  const after = await counter(page);
  checks.check('reload without a link restores the step', after.step === before.step && after.count === before.count, `before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`);
  const heading = await page.textContent('#step-heading');
  checks.check('reload restores the stride-2 network', heading.includes('stride 2×2'), JSON.stringify(heading));
  checks.checkProblems(problems, 'while restoring a saved view');
  await context.close();
}

// Damaged and old saved views fall back to the default with a message.
for (const [name, text, expected] of [
  ['damaged', '{"version":1,"document":{"network":', 'damaged'],
  ['not JSON', 'hello', 'damaged'],
  ['old version', '{"version":0,"document":{}}', 'version 0'],
  ['huge size', JSON.stringify({ version: 1, document: { network: { input: [1, 100000, 100000], layers: [{ activation: 'relu' }] }, input: { digit: 0 }, weights: { seeded: 1 }, objective: { upstream: [[[1]]] }, step: 0 } }), 'budget'],
]) {
  const { page, context, problems } = await openPage(browser);
  await page.goto(server.url);
  await waitReady(page);
  await page.evaluate(([key, value]) => localStorage.setItem(key, value), [STORAGE_KEY, text]);
  await page.goto(server.url);
  const state = await waitReady(page);
  const message = await notice(page);
  const { count } = await counter(page);
  checks.check(`${name} saved view: page reaches ready`, state === 'ready', `data-state ${state}`);
  checks.check(`${name} saved view: message names the problem`, message !== null && message.toLowerCase().includes(expected), JSON.stringify(message));
  checks.check(`${name} saved view: default view shown`, count === DEFAULT_STEPS, `${count} steps`);
  checks.checkProblems(problems, `with a ${name} saved view`);
  await context.close();
}

// Reset asks before it discards edits, and keeps them when the reader says no.
{
  const { page, context, problems } = await openPage(browser);
  const edited = {
    network: { input: [1, 4, 4], layers: [{ conv: { kernels: 1, size: [2, 2] } }, { activation: 'tanh' }] },
    input: { values: [[[0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]]] },
    weights: { seeded: 9 },
    objective: { upstream: [[[1, -1, 1], [-1, 1, -1], [1, -1, 1]]] },
    step: 1,
  };
  await page.goto(`${server.url}#${link(edited)}`);
  await waitReady(page);
  const editedCount = (await counter(page)).count;
  const dialogs = [];
  page.once('dialog', async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  await page.click('#reset');
  await page.waitForTimeout(300);
  checks.check('reset asks before discarding edits', dialogs.length === 1, JSON.stringify(dialogs));
  checks.check('declining keeps the edits', (await counter(page)).count === editedCount, `${(await counter(page)).count} steps`);
  page.once('dialog', (dialog) => dialog.accept());
  await page.click('#reset');
  await waitReady(page);
  const reset = await counter(page);
  checks.check('accepting restores the default view', reset.count === DEFAULT_STEPS && reset.step === 0, JSON.stringify(reset));
  const cleared = await page.evaluate((key) => localStorage.getItem(key), STORAGE_KEY);
  checks.check('the saved view is the default again', cleared !== null && cleared.includes('"trained":"max"'), `${cleared?.slice(0, 80)}…`);
  checks.checkProblems(problems, 'while resetting');
  await context.close();
}

// Infinite values are drawn and named, never shown as an ordinary colour.
{
  const { page, context, problems } = await openPage(browser);
  const overflowing = {
    network: { input: [1, 1, 2], layers: [{ dense: { outputs: 1 } }] },
    input: { values: [[[1e10, 1e10]]] },
    weights: { values: [{ weights: [[1e300, 1e300]], bias: [0] }] },
    objective: { upstream: [1] },
    step: 0,
  };
  await page.goto(`${server.url}#${link(overflowing)}`);
  await waitReady(page);
  const warning = page.locator('#non-finite');
  const text = (await warning.count()) > 0 ? await warning.textContent() : '';
  checks.check('the non-finite warning is shown', text.includes('not finite'), JSON.stringify(text.slice(0, 160)));
  checks.check('the warning names the layer', text.includes('forward pass, layer 0'), JSON.stringify(text.slice(0, 200)));
  const printed = await page.locator('.forward .cell-values span.not-finite').allTextContents();
  checks.check('the output cell prints +∞ in its own style', printed.includes('+∞'), JSON.stringify(printed));
  const pixel = await page.evaluate(() => {
    const canvas = [...document.querySelectorAll('.forward canvas.heatmap')].find((c) => c.getAttribute('data-rows') === '1' && c.getAttribute('data-cols') === '1');
    const context2d = canvas.getContext('2d');
    const corner = context2d.getImageData(1, 3, 1, 1).data;
    const centre = context2d.getImageData(canvas.width / 2, canvas.height / 2, 1, 1).data;
    return { corner: [...corner.slice(0, 3)], centre: [...centre.slice(0, 3)] };
  });
  checks.check('the cell is black with a white cross', pixel.corner.every((v) => v < 40) && pixel.centre.every((v) => v > 200), JSON.stringify(pixel));
  await screenshot(page, 'hardening/non-finite-1280x720.png');
  checks.checkProblems(problems, 'with infinite values');
  await context.close();
}

// Switching views back and forth keeps the page alive: a reconciliation of differently
// shaped fragments once panicked here.
{
  const { page, context, problems } = await openPage(browser);
  await page.goto(server.url);
  await waitReady(page);
  const views = ['All steps at once', 'Step through', 'Train', 'All steps at once', 'Train', 'Step through'];
  for (const [n, name] of views.entries()) {
    await page.getByRole('button', { name, exact: true }).click();
    await page.waitForTimeout(150);
    if (n === 1) {
      await page.click('#preset-two-stages');
      await waitReady(page);
    }
  }
  const { count } = await counter(page);
  checks.check('after six view switches the stepper still shows a trace', count > 0, `${count} steps`);
  checks.checkProblems(problems, 'while switching views');
  await context.close();
}

await browser.close();
await server.close();
process.exit(checks.finish());
