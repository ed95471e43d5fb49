// What the browser tests share: a real server on loopback with the demo forum, Debian's
// Chromium, one browser context per person (own cookies, storage, language and time zone).
'use strict';
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const { spawn, execFileSync } = require('node:child_process');
const { chromium } = require('playwright-core');

const BINARY = process.env.GAVEL_BINARY || path.join(__dirname, '../../build/release/gavel');
const PASSWORD = 'demo-password-1';
const CHROMIUM = process.env.GAVEL_CHROMIUM || '/usr/bin/chromium';
// Every wait is multiplied by this factor: a busy machine or a sanitizer build is slower,
// never differently behaved (ctest sets it per build).
const SCALE = Math.max(1, Number(process.env.GAVEL_TEST_TIMEOUT_SCALE) || 1);

const H = { base: null, browser: null, pageErrors: [], PASSWORD, SCALE };
let dir, server, serverLog;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitForServer(url) {
  const deadline = Date.now() + 30000 * SCALE;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url + '/healthz');
      if (r.ok) return;
    } catch (e) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the server did not start:\n' + fs.readFileSync(serverLog, 'utf8'));
}

// Starts the server on a fresh demo database, and the browser.
H.start = async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gavel-browser-'));
  const db = path.join(dir, 'web.db');
  execFileSync(BINARY, ['init', '--db', db, '--forum', 'midiocc', '--demo', '--sample', '--demo-password', PASSWORD],
    { stdio: 'ignore' });
  const port = await freePort();
  H.base = 'http://127.0.0.1:' + port;
  serverLog = path.join(dir, 'server.log');
  const out = fs.openSync(serverLog, 'a');
  server = spawn(BINARY, ['serve', '--db', db, '--listen', '127.0.0.1:' + port, '--test-clock'],
    { stdio: ['ignore', out, out], env: { ...process.env, GAVEL_LOG_LEVEL: 'info' } });
  await waitForServer(H.base);
  H.browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu',
    '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
};

// Stops both; the server's log must hold no sanitizer report, and no page may have thrown.
H.stop = async () => {
  if (H.browser) await H.browser.close();
  if (server) {
    server.kill('SIGTERM');
    await new Promise((r) => server.on('exit', r));
  }
  const log = fs.readFileSync(serverLog, 'utf8');
  for (const marker of ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:'])
    assert.ok(!log.includes(marker), 'sanitizer report from the server:\n' + log.slice(-4000));
  fs.rmSync(dir, { recursive: true, force: true });
  assert.deepStrictEqual(H.pageErrors, [], 'the pages threw no errors');
};

// An API call as a person (a bearer token of their own).
H.apiAs = async (username, method, p, body) => {
  const login = await fetch(H.base + '/v1/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }) });
  const { token } = await login.json();
  const r = await fetch(H.base + p, { method, headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json();
  assert.ok(r.ok, JSON.stringify(data));
  return data;
};

// A browser of its own (cookies, storage) for one person, in a language and a time zone,
// signed in through the sign-in form.
H.person = async (username, locale = 'fr-FR', timezoneId = 'Indian/Mauritius', viewport = { width: 1100, height: 900 }) => {
  const ctx = await H.browser.newContext({ locale, timezoneId, viewport });
  ctx.setDefaultTimeout(30000 * SCALE);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => H.pageErrors.push(username + ': ' + e));
  if (username) await H.signIn(page, username);
  return page;
};

H.signIn = async (page, username) => {
  await page.goto(H.base + '/login');
  await page.fill('#username', username);
  await page.fill('#password', PASSWORD);
  await page.click('form button[type=submit]:enabled');
  await page.waitForSelector('#items, h1:has-text("profil"), h1:has-text("profile")');
};

// Opens an action's form (a lone action's form is open already).
H.openAction = async (page, name) => {
  await page.waitForSelector(`form[data-action="${name}"]`, { state: 'attached' });
  await page.$eval(`form[data-action="${name}"]`, (f) => { f.closest('details').open = true; });
};

H.itemIdByTitle = async (page, title) => {
  const href = await page.getAttribute(`#items a:has-text("${title}")`, 'href');
  return Number(href.split('/').pop());
};

// Polls check() until it returns true, or fails with message after the scaled timeout.
H.eventually = async (check, message, ms = 10000) => {
  const deadline = Date.now() + ms * SCALE;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((r) => setTimeout(r, 50));
  }
};

module.exports = H;
