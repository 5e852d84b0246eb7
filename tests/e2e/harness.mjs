// Shared pieces of the end-to-end tests: the static server, Chromium with the flags
// this machine needs, a page that records console errors, page errors and requests
// off 127.0.0.1 (and blocks the latter), the check bookkeeping, and the native
// reference examples of the core.

import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { chromium } from 'playwright-core';

export { startStaticServer } from './static-server.mjs';

export const E2E_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(E2E_DIR, '..', '..');
export const OUT_DIR = join(E2E_DIR, 'out');

export const DESKTOP_VIEWPORT = { width: 1280, height: 720 };
export const PHONE_VIEWPORT = { width: 390, height: 844 };
export const READY_TIMEOUT_MS = 30_000;

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

const execFileAsync = promisify(execFile);

/** How the app's panic hook starts its console message. */
const PANIC_PREFIX = 'The page stopped because of an internal error';

/** Launches Debian's Chromium headless. */
export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

function isLocalUrl(url) {
  try {
    const { protocol, hostname } = new URL(url);
    if (['data:', 'blob:', 'about:'].includes(protocol)) {
      return true;
    }
    return hostname === '127.0.0.1';
  } catch {
    return false;
  }
}

/**
 * Opens a page of `browser` at `viewport`, with `problems` collecting every console
 * error, page error and request not aimed at 127.0.0.1 (those are also aborted).
 * Options: `reducedMotion: 'reduce'` emulates the reduced-motion preference.
 */
export async function openPage(browser, viewport = DESKTOP_VIEWPORT, options = {}) {
  const context = await browser.newContext({ viewport, reducedMotion: options.reducedMotion ?? 'no-preference' });
  const page = await context.newPage();
  const problems = { consoleErrors: [], pageErrors: [], offHost: [], panics: [] };
  page.on('console', (message) => {
    if (message.type() === 'error') {
      problems.consoleErrors.push(message.text());
      // The app's panic hook (src/panic.rs) logs every panic with this prefix.
      if (message.text().startsWith(PANIC_PREFIX)) {
        problems.panics.push(message.text());
      }
    }
  });
  page.on('pageerror', (error) => problems.pageErrors.push(error.message));
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (isLocalUrl(url)) {
      return route.continue();
    }
    problems.offHost.push(url);
    return route.abort();
  });
  return { page, context, problems };
}

/** Waits until `#status[data-state]` is "ready" (or "error") and returns the state. */
export async function waitReady(page, timeout = READY_TIMEOUT_MS) {
  try {
    await page.waitForFunction(
      () => ['ready', 'error'].includes(document.querySelector('#status')?.getAttribute('data-state')),
      null,
      { timeout, polling: 50 },
    );
  } catch {
    // The caller checks the state it returns.
  }
  return page.getAttribute('#status', 'data-state');
}

/** The text of a visible `#panic-message`, or null. */
export async function panicText(page) {
  const panic = page.locator('#panic-message');
  if ((await panic.count()) === 0 || !(await panic.isVisible())) {
    return null;
  }
  return (await panic.textContent())?.trim() ?? '';
}

/** Saves a screenshot into tests/e2e/out/`name` and returns its path. */
export async function screenshot(page, name, fullPage = false) {
  const path = join(OUT_DIR, name);
  mkdirSync(dirname(path), { recursive: true });
  await page.screenshot({ path, fullPage });
  console.log(`  shot  ${path}`);
  return path;
}

/** Check bookkeeping: prints one line per check and sets the exit code at the end. */
export class Checks {
  constructor(title) {
    this.title = title;
    this.passed = 0;
    this.failed = [];
  }

  check(name, ok, detail = '') {
    if (ok) {
      this.passed += 1;
      console.log(`  ok    ${name}${detail ? `: ${detail}` : ''}`);
    } else {
      this.failed.push(name);
      console.log(`  FAIL  ${name}${detail ? `: ${detail}` : ''}`);
    }
    return ok;
  }

  /** Checks that nothing in `problems` was recorded. */
  checkProblems(problems, where) {
    this.check(`panic hook never fired ${where}`, problems.panics.length === 0, problems.panics.slice(0, 3).join(' | ') || 'no panic');
    this.check(`no console errors ${where}`, problems.consoleErrors.length === 0, problems.consoleErrors.slice(0, 5).join(' | ') || 'none');
    this.check(`no page errors ${where}`, problems.pageErrors.length === 0, problems.pageErrors.slice(0, 5).join(' | ') || 'none');
    this.check(`no requests off 127.0.0.1 ${where}`, problems.offHost.length === 0, problems.offHost.slice(0, 5).join(' | ') || 'none');
  }

  /** Prints the summary and returns the process exit code. */
  finish() {
    console.log(`${this.title}: ${this.passed} passed, ${this.failed.length} failed`);
    for (const name of this.failed) {
      console.log(`  - ${name}`);
    }
    return this.failed.length === 0 ? 0 : 1;
  }
}

/**
 * Runs `cargo run -q --release -p cnn-core --example NAME -- ARGS` from the repository
 * root and returns its stdout parsed as JSON.
 */
export async function coreExample(name, args = []) {
  const cargoArgs = ['run', '-q', '--release', '-p', 'cnn-core', '--example', name, '--', ...args.map(String)];
  const { stdout } = await execFileAsync('cargo', cargoArgs, {
    cwd: REPO_ROOT,
    timeout: 10 * 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout);
}
