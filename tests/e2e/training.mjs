// End-to-end test of training in the browser, in Debian's headless Chromium.
//
// Usage: node tests/e2e/training.mjs DIST_DIR
//
// DIST_DIR is a `trunk build --release` output folder. The test opens the Train view,
// starts a run with batches of 4 and checks that:
// - the run trains in a web worker, and the step count in #training-step[data-step]
//   passes STEPS;
// - the plotted loss falls: #loss-plot[data-last-loss] (the mean of the last plotted
//   points) is below #loss-plot[data-first-loss] (the mean of the first ones);
// - the page stays responsive: page.evaluate round trips stay short, and "Next step" in
//   the stepper updates #step-counter while the run goes on;
// - Pause stops the step count, and a reload restores the paused run and its curve;
// - "Open in the step-through" shows a test digit with the run's weights;
// - a learning rate of 1e150 stops the run with a message naming the step, and the
//   weights before that step can go back into the run.
// No page may log a console error, throw, request another host or show #panic-message.
//
// Screenshots go to tests/e2e/out/training/. The exit code is 0 only when every check
// passed.

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

// Steps the run must pass before the loss is compared; with batches of 4 they take a few
// seconds.
const STEPS = 150;
const BATCH_SIZE = '4';
// Timeout of a playwright action and of a wait for the page.
const ACTION_TIMEOUT_MS = 10_000;
const TRAINING_TIMEOUT_MS = 45_000;
// Maximum page.evaluate round trip while the worker trains.
const MAX_ROUND_TRIP_MS = 250;
// How long a paused run must keep its step count.
const PAUSE_WATCH_MS = 1500;
const TEST_DIGIT = 3;

const checks = new Checks('training');

async function trainingState(page) {
  return page.evaluate(() => {
    const step = document.querySelector('#training-step');
    const loss = document.querySelector('#loss-plot');
    return {
      step: Number(step?.dataset.step ?? NaN),
      status: step?.dataset.status ?? null,
      text: step?.textContent ?? '',
      points: Number(loss?.dataset.points ?? 0),
      firstLoss: Number(loss?.dataset.firstLoss ?? NaN),
      lastLoss: Number(loss?.dataset.lastLoss ?? NaN),
    };
  });
}

async function waitStatus(page, status, timeout = ACTION_TIMEOUT_MS) {
  try {
    await page.waitForFunction(
      (expected) => document.querySelector('#training-step')?.dataset.status === expected,
      status,
      { timeout, polling: 50 },
    );
    return true;
  } catch {
    return false;
  }
}

/** Opens the Train view and waits until the worker has loaded the digits. */
async function openTraining(page) {
  await page.click('#mode-train');
  await page.waitForSelector('#train-start:not([disabled])', { timeout: 20_000 });
}

/** Types `value` into the input `selector` and fires its change event. */
async function setField(page, selector, value) {
  await page.fill(selector, value);
  await page.press(selector, 'Tab');
}

async function roundTrips(page, count) {
  const times = [];
  for (let i = 0; i < count; i += 1) {
    const start = Date.now();
    await page.evaluate(() => document.querySelector('#training-step')?.dataset.step);
    times.push(Date.now() - start);
    await page.waitForTimeout(50);
  }
  return times;
}

async function desktopRun(browser, url) {
  const { page, context, problems } = await openPage(browser, DESKTOP_VIEWPORT);
  page.setDefaultTimeout(ACTION_TIMEOUT_MS);
  await page.goto(url);
  checks.check('page ready', (await waitReady(page)) === 'ready');
  await openTraining(page);

  // Start a run and let it pass STEPS.
  await setField(page, '#train-batch-size', BATCH_SIZE);
  const startedAt = Date.now();
  await page.click('#train-start');
  checks.check('run is running', await waitStatus(page, 'running'));
  checks.check('training runs in a web worker', page.workers().length >= 1, `${page.workers().length} worker(s)`);
  try {
    await page.waitForFunction(
      (steps) => Number(document.querySelector('#training-step')?.dataset.step) >= steps,
      STEPS,
      { timeout: TRAINING_TIMEOUT_MS, polling: 100 },
    );
  } catch {
    // The next check reports the step reached.
  }
  const trained = await trainingState(page);
  const seconds = (Date.now() - startedAt) / 1000;
  checks.check(`run passes ${STEPS} steps`, trained.step >= STEPS, `step ${trained.step} after ${seconds.toFixed(1)} s`);
  checks.check(
    'plotted loss falls',
    trained.lastLoss < trained.firstLoss,
    `first ${trained.firstLoss.toFixed(4)}, last ${trained.lastLoss.toFixed(4)} over ${trained.points} points`,
  );

  // The page responds quickly while the worker trains, in the Train view and in the stepper.
  const times = await roundTrips(page, 10);
  checks.check('page.evaluate round trips stay short', Math.max(...times) <= MAX_ROUND_TRIP_MS, `max ${Math.max(...times)} ms`);
  await page.click('.mode-tabs button:has-text("Step through")');
  const before = Number(await page.getAttribute('#step-counter', 'data-step'));
  const clickedAt = Date.now();
  await page.click('.stepper button:has-text("Next step")');
  let updated = false;
  try {
    await page.waitForFunction(
      (previous) => Number(document.querySelector('#step-counter')?.dataset.step) === previous + 1,
      before,
      { timeout: 1000, polling: 20 },
    );
    updated = true;
  } catch {
    // Reported below.
  }
  checks.check('Next step updates the stepper within 1 s during training', updated, `${Date.now() - clickedAt} ms`);
  const hidden = await trainingState(page);
  await page.waitForTimeout(500);
  const later = await trainingState(page);
  checks.check('run goes on while the stepper is shown', later.step > hidden.step, `step ${hidden.step} → ${later.step}`);
  await page.click('#mode-train');
  await page.locator('#training-step').scrollIntoViewIfNeeded();
  await screenshot(page, 'training/1-running-1280x720.png');

  // Pause stops the step count.
  await page.click('#train-pause');
  checks.check('Pause stops the run', await waitStatus(page, 'paused'));
  const paused = await trainingState(page);
  await page.waitForTimeout(PAUSE_WATCH_MS);
  const still = await trainingState(page);
  checks.check('step count stays while paused', still.step === paused.step, `step ${paused.step} → ${still.step}`);
  await page.locator('#loss-plot').scrollIntoViewIfNeeded();
  await screenshot(page, 'training/2-paused-1280x720.png');
  await screenshot(page, 'training/2-paused-1280x720-full.png', true);

  // A reload shows the same run, paused.
  await page.reload();
  checks.check('page ready after reload', (await waitReady(page)) === 'ready');
  await openTraining(page);
  const restoredOk = await waitStatus(page, 'paused');
  const restored = await trainingState(page);
  checks.check('reload restores the paused run', restoredOk && restored.step === paused.step, `status ${restored.status}, step ${restored.step} (saved ${paused.step})`);
  checks.check('reload restores the loss curve', restored.points === paused.points && restored.lastLoss === paused.lastLoss, `${restored.points} points`);

  // The step-through opens on a test digit with the run's weights.
  await setField(page, '#try-digit', String(TEST_DIGIT));
  await page.waitForSelector('#try-prediction[data-predicted]');
  const predicted = await page.getAttribute('#try-prediction', 'data-predicted');
  await page.click('#open-trained');
  const state = await waitReady(page);
  checks.check('step-through opens on the digit', state === 'ready', `state ${state}`);
  const note = (await page.textContent('.network .hint')) ?? '';
  checks.check('weights note names typed weights', /typed|trained/i.test(note) && !/Glorot|this project's own core/.test(note), note.trim());
  const digit = await page.inputValue('#digit-index').catch(() => null);
  checks.check('stepper shows the test digit', digit === String(TEST_DIGIT), `digit ${digit}`);
  const shownPrediction = await page.getAttribute('#predicted', 'data-value');
  checks.check('stepper predicts as the Train view did', shownPrediction === predicted, `${shownPrediction} and ${predicted}`);
  checks.check('stepper is shown', await page.isVisible('#step-counter'));
  await screenshot(page, 'training/3-step-through-1280x720.png');

  // A wild learning rate stops the run and names the step.
  await openTraining(page);
  await setField(page, '#train-learning-rate', '1e150');
  await page.click('#train-start');
  const diverged = await waitStatus(page, 'diverged', 20_000);
  const message = diverged ? await page.textContent('#training-step') : '';
  checks.check('non-finite loss stops the run', diverged, message?.trim());
  checks.check('message names the step', /step \d+/i.test(message ?? ''));
  await page.locator('#training-step').scrollIntoViewIfNeeded();
  await screenshot(page, 'training/4-diverged-1280x720.png');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  checks.check('no sideways scrolling at 1280 px with a learning rate of 1e150', overflow <= 0, `${overflow} px too wide`);
  if (diverged) {
    await page.click('#train-last-good');
    checks.check('last good weights go back into the run', await waitStatus(page, 'paused'));
  }

  checks.check('no panic message on the desktop', (await panicText(page)) === null);
  checks.checkProblems(problems, 'on the desktop');
  await context.close();
}

async function phoneRun(browser, url) {
  const { page, context, problems } = await openPage(browser, PHONE_VIEWPORT);
  page.setDefaultTimeout(ACTION_TIMEOUT_MS);
  await page.goto(url);
  checks.check('phone page ready', (await waitReady(page)) === 'ready');
  await openTraining(page);
  await page.click('#train-start');
  try {
    await page.waitForFunction(() => Number(document.querySelector('#training-step')?.dataset.step) >= 40, null, {
      timeout: TRAINING_TIMEOUT_MS,
      polling: 100,
    });
  } catch {
    // The status check below fails instead.
  }
  await page.click('#train-pause');
  checks.check('phone run pauses', await waitStatus(page, 'paused'));
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  checks.check('no sideways scrolling at 390 px', overflow <= 0, `${overflow} px too wide`);
  await page.locator('#training-step').scrollIntoViewIfNeeded();
  await screenshot(page, 'training/5-phone-390x844.png');
  await screenshot(page, 'training/5-phone-390x844-full.png', true);
  checks.check('no panic message on the phone', (await panicText(page)) === null);
  checks.checkProblems(problems, 'on the phone');
  await context.close();
}

async function main() {
  const dist = process.argv[2];
  if (!dist) {
    console.error('usage: node tests/e2e/training.mjs DIST_DIR');
    process.exit(2);
  }
  const server = await startStaticServer(dist);
  const browser = await launchBrowser();
  try {
    await desktopRun(browser, server.url);
    await phoneRun(browser, server.url);
    checks.check('no failed requests', server.failedRequests.length === 0, server.failedRequests.join(', ') || 'none');
  } finally {
    await browser.close();
    await server.close();
  }
  process.exitCode = checks.finish();
}

await main();
