// Gavel's web pages as people work in them, in real Chromium: a position visibly received and
// revisable; lost answers, reloads and ended sessions that keep what was written and send it
// once; the language switch; a phone's narrow screen; a slow link; accessibility (axe-core).
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const H = require('./harness');

const { person, apiAs, openAction } = H;
let base;

test.before(async () => {
  await H.start();
  base = H.base;
});

test.after(H.stop);

// A new open consultation, for one test's own positions.
async function consultation(title) {
  const r = await apiAs('secretariat', 'POST', '/v1/forums/midiocc/items', { workflow: 'consultation', title,
    params: { question: { en: title + '?', fr: title + ' ?' }, deadline: new Date(Date.now() + 86400000 * 5).toISOString() } });
  return r.item.id;
}

const FORM = 'form[data-action="submit_position"]';

// A person whose profile (which the pages follow) is in lang.
async function as(user, lang, viewport) {
  await apiAs(user, 'PATCH', '/v1/me', { language: lang });
  return person(user, lang === 'fr' ? 'fr-FR' : 'en-GB', 'Indian/Mauritius', viewport);
}
const unsentKey = (user, id) => `gavel.unsent.${user}.${id}.submit_position`;

test('a position is visibly received, in French, and the form becomes its revision', async () => {
  const id = await consultation('Reçu visible');
  const km = await as('km.delegate', 'fr');
  await km.goto(base + '/items/' + id);
  await km.waitForSelector(FORM);
  await km.selectOption('#f-submit_position-stance', 'support');
  await km.fill('#f-submit_position-statement', 'Les Comores soutiennent le cadre.');
  await km.click(FORM + ' button[type=submit]');
  // Where the eye and the focus are: what was recorded, when, in the reader's time.
  await km.waitForSelector('#confirm:focus');
  assert.match(await km.textContent('#confirm .confirm-head'),
    /^Position de Comores enregistrée à \d\d:\d\d \(votre heure\)$/);
  assert.match(await km.textContent('#confirm dl.recorded'), /Soutien.*Les Comores soutiennent le cadre\./);
  assert.ok(await km.$eval('#confirm', (c) => {
    const r = c.getBoundingClientRect();
    return r.top >= 0 && r.bottom <= innerHeight;
  }), 'the confirmation is on screen');
  await km.click('#confirm details.receipt summary');
  assert.match(await km.textContent('#confirm details.receipt'), /Événement\s*\d+.*Entrée du journal d’audit\s*\d+/);
  // The form now revises the position, starting from it.
  assert.strictEqual((await km.textContent(FORM + ' button[type=submit]')).trim(), 'Réviser notre position');
  assert.strictEqual(await km.inputValue('#f-submit_position-stance'), 'support');
  assert.strictEqual(await km.inputValue('#f-submit_position-statement'), 'Les Comores soutiennent le cadre.');
  assert.strictEqual(await km.evaluate((k) => localStorage.getItem(k), unsentKey('km.delegate', id)), null,
    'nothing is left unsent');
  // A revision is received the same way, and a reload shows the revision form again.
  await km.selectOption('#f-submit_position-stance', 'abstain');
  await km.click(FORM + ' button[type=submit]');
  await km.waitForSelector('#confirm dl.recorded:has-text("Abstention")');
  await km.reload();
  await km.waitForSelector(FORM);
  assert.strictEqual(await km.inputValue('#f-submit_position-stance'), 'abstain');
  assert.match(await km.textContent(`details[data-for="submit_position"] summary`), /Réviser notre position/);
  await km.context().close();
});

test('a lost answer: the page asks the server, which holds the version sent', async () => {
  const id = await consultation('Lost answer');
  await apiAs('mg.delegate', 'PATCH', '/v1/me', { language: 'en' });
  const mg = await person('mg.delegate', 'en-GB', 'Europe/Paris');
  await mg.goto(base + '/items/' + id);
  await mg.waitForSelector(FORM);
  // The server receives and records the position; its answer never reaches the page.
  await mg.route(`**/v1/items/${id}/actions/**`, async (route) => {
    await route.fetch();
    await route.abort('connectionreset');
  });
  await mg.selectOption('#f-submit_position-stance', 'oppose');
  await mg.fill('#f-submit_position-statement', 'Madagascar objects.');
  await mg.click(FORM + ' button[type=submit]');
  await mg.waitForSelector('#confirm:has-text("the server holds the version you sent")');
  assert.match(await mg.textContent('#confirm .confirm-head'), /^Position of Madagascar recorded at \d\d:\d\d \(your time\)$/);
  assert.match(await mg.textContent('#confirm dl.recorded'), /Oppose.*Madagascar objects\./);
  assert.ok(!(await mg.textContent('main')).includes('Failed to fetch'));
  assert.strictEqual(await mg.evaluate((k) => localStorage.getItem(k), unsentKey('mg.delegate', id)), null);
  await mg.context().close();
});

test('unsent text survives a server that is away and a reload, and is sent once, with the same key, when it is back', async () => {
  const id = await consultation('Away');
  const km = await as('km.delegate', 'fr');
  await km.goto(base + '/items/' + id);
  await km.waitForSelector(FORM);
  const keys = [];
  km.on('request', (r) => { if (r.method() === 'POST' && r.url().includes('/actions/')) keys.push(r.headers()['idempotency-key']); });
  const away = (route) => route.abort('connectionrefused');
  await km.route(`**/v1/items/${id}/actions/**`, away);
  await km.selectOption('#f-submit_position-stance', 'oppose');
  await km.fill('#f-submit_position-statement', 'Texte écrit hors ligne.');
  await km.click(FORM + ' button[type=submit]');
  await km.waitForSelector('#kept:has-text("Pas encore envoyé")');
  // The whole server is away now; a reload says so in French, and the page waits for it.
  await km.route('**/v1/**', away);
  await km.reload();
  await km.waitForSelector('main .error:has-text("Le serveur n\'a pas pu être joint")');
  assert.ok(!(await km.textContent('main')).includes('Failed to fetch'));
  assert.match(await km.evaluate((k) => localStorage.getItem(k), unsentKey('km.delegate', id)), /Texte écrit hors ligne/);
  // The server is back: the page comes back by itself and the text goes, once.
  await km.unroute('**/v1/**', away);
  await km.unroute(`**/v1/items/${id}/actions/**`, away);
  await km.waitForSelector('#confirm:has-text("Position de Comores enregistrée")');
  assert.match(await km.textContent('#confirm dl.recorded'), /Opposition.*Texte écrit hors ligne\./);
  assert.ok(keys.length >= 2, 'sent again');
  assert.deepStrictEqual(new Set(keys).size, 1, 'every attempt carries the same Idempotency-Key');
  assert.strictEqual(await km.evaluate((k) => localStorage.getItem(k), unsentKey('km.delegate', id)), null);
  const events = await apiAs('km.delegate', 'GET', `/v1/items/${id}/events`);
  assert.strictEqual(events.events.filter((e) => e.action === 'submit_position').length, 1, 'recorded once');
  await km.context().close();
});

test('an ended session: the text is kept, restored after signing in again, and sent', async () => {
  const id = await consultation('Session ended');
  const mu = await as('mu.delegate', 'en');
  await mu.goto(base + '/items/' + id);
  await mu.waitForSelector(FORM);
  await mu.selectOption('#f-submit_position-stance', 'support_with_reservations');
  await mu.fill('#f-submit_position-statement', 'Mauritius supports, with a reservation on paragraph 2.');
  // A reload keeps what was typed and says so.
  await mu.reload();
  await mu.waitForSelector(FORM + ' .restored');
  assert.strictEqual(await mu.inputValue('#f-submit_position-statement'), 'Mauritius supports, with a reservation on paragraph 2.');
  assert.strictEqual(await mu.inputValue('#f-submit_position-stance'), 'support_with_reservations');
  // The session ends; sending brings the sign-in form, which says why.
  await mu.context().clearCookies();
  await mu.click(FORM + ' button[type=submit]');
  await mu.waitForSelector('#signin');
  await mu.waitForSelector('.notice:has-text("Your session has ended")');
  await mu.fill('#username', 'mu.delegate');
  await mu.fill('#password', H.PASSWORD);
  await mu.click('#signin button[type=submit]');
  // Back on the item, the text goes by itself.
  await mu.waitForSelector('#confirm:has-text("Position of Mauritius recorded")');
  assert.strictEqual(new URL(mu.url()).pathname, '/items/' + id);
  assert.match(await mu.textContent('#confirm dl.recorded'), /Support with reservations.*reservation on paragraph 2/);
  assert.strictEqual(await mu.evaluate((k) => localStorage.getItem(k), unsentKey('mu.delegate', id)), null);
  await mu.context().close();
});

test('the header language switch keeps the items page and the chair\'s agenda button', async () => {
  const km = await as('km.delegate', 'fr');
  await km.waitForSelector('#items');
  await km.click('header button:has-text("English")');
  await km.waitForSelector('h1:has-text("Items")');
  await km.waitForSelector('#items');
  assert.ok(!(await km.textContent('main')).includes('Not found'));
  await km.click('header button:has-text("Français")');
  await km.waitForSelector('h1:has-text("Dossiers")');
  await km.waitForSelector('#items');
  await km.context().close();

  const mid = 1; // the sample meeting, its agenda not yet adopted
  const chair = await as('chair', 'en');
  await chair.goto(base + '/meetings/' + mid);
  await chair.waitForSelector('button:has-text("Adopt the agenda")');
  await chair.click('header button:has-text("Français")');
  await chair.waitForSelector('h1:has-text("Troisième réunion")');
  await chair.waitForSelector('button:has-text("Adopter l\'ordre du jour")');
  await chair.click('header button:has-text("English")');
  await chair.waitForSelector('button:has-text("Adopt the agenda")');
  await chair.context().close();
});

// WCAG contrast of a text against the first opaque background behind it.
function contrastOf(sel) {
  return (s) => {
    const e = document.querySelector(s);
    const rgb = (c) => c.match(/[\d.]+/g).map(Number);
    const lum = ([r, g, b]) => [r, g, b].map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    }).reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
    let bg = null;
    for (let n = e; n && !bg; n = n.parentElement) {
      const c = rgb(getComputedStyle(n).backgroundColor);
      if (c.length < 4 || c[3] > 0) bg = c;
    }
    const a = lum(rgb(getComputedStyle(e).color)), b = lum(bg || [255, 255, 255]);
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  };
}

test('"Show the changes" is readable (contrast at least 4.5:1), in both languages', async () => {
  for (const [user, lang, word] of [['km.delegate', 'fr', 'Afficher les changements'], ['sc.delegate', 'en', 'Show the changes']]) {
    const id = await consultation('Changes ' + user);
    const p = await as(user, lang);
    await p.goto(base + '/items/' + id);
    await p.waitForSelector(FORM);
    await p.fill('#f-submit_position-statement', 'Still drafting.');
    await apiAs('mg.delegate', 'POST', `/v1/items/${id}/actions/submit_position`, { params: { stance: 'support' } });
    await p.waitForSelector(`#updated button:has-text("${word}")`);
    const ratio = await p.evaluate(contrastOf(), '#updated button');
    assert.ok(ratio >= 4.5, `contrast ${ratio.toFixed(2)}:1`);
    await p.context().close();
  }
});

test('the page the server sends: the sign-in form naming the forum, before any script, and assets compressed and kept', async () => {
  for (const [locale, h1, name] of [['fr-FR', 'Se connecter', 'Dialogue sur la migration'], ['en-GB', 'Sign in', 'Migration Dialogue']]) {
    const ctx = await H.browser.newContext({ locale, javaScriptEnabled: false });
    const page = await ctx.newPage();
    await page.goto(base + '/');
    assert.strictEqual(await page.textContent('h1'), h1);
    assert.match(await page.textContent('main'), new RegExp(name));
    assert.ok(await page.isVisible('#signin #username') && await page.isVisible('#signin #password'));
    await page.fill('#username', 'typed before the script');
    assert.strictEqual(await page.title(), h1 + ' — MiDIOCC');
    await ctx.close();
  }
  const html = await (await fetch(base + '/', { headers: { 'Accept-Language': 'fr' } })).text();
  const assets = [...html.matchAll(/\/assets\/([^"]+)"/g)].map((m) => m[1]);
  assert.ok(assets.length >= 3, html);
  for (const a of assets) {
    assert.match(a, /\.[0-9a-f]{10}\.(js|css|svg)$/, 'hashed name: ' + a);
    const r = await fetch(base + '/assets/' + a, { headers: { 'Accept-Encoding': 'gzip, deflate, br' } });
    assert.strictEqual(r.status, 200);
    assert.strictEqual(r.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    if (!a.endsWith('.svg')) assert.strictEqual(r.headers.get('content-encoding'), 'gzip', a);
    const plain = await fetch(base + '/assets/' + a, { headers: { 'Accept-Encoding': 'identity' } });
    assert.strictEqual(plain.headers.get('content-encoding'), null);
    assert.strictEqual(await plain.text(), await r.text(), 'the same file either way');
  }
});

// Every page a person reaches, for the phone and axe passes.
async function pagesOf(page) {
  await page.goto(base + '/');
  await page.waitForSelector('#items');
  const paths = new Set(['/', '/?awaiting=me', '/meetings', '/me']);
  for (const a of await page.$$eval('main a[href^="/"]', (as) => as.map((x) => x.getAttribute('href')))) paths.add(a);
  await page.goto(base + '/meetings');
  await page.waitForSelector('main h1');
  for (const a of await page.$$eval('main a[href^="/meetings/"]', (as) => as.map((x) => x.getAttribute('href')))) paths.add(a);
  return [...paths];
}

async function settle(page, p) {
  await page.goto(base + p);
  await page.waitForFunction(() => document.querySelector('main h1') && !/…$/.test(document.querySelector('main').textContent.trim()));
  await page.waitForFunction(() => !document.querySelector('#record') || !/Loading|Chargement/.test(document.querySelector('#record').textContent));
}

// Opens every form of the page: the actions' details, one entry of each list of entries.
async function openForms(page) {
  await page.$$eval('main details', (ds) => ds.forEach((d) => { d.open = true; }));
  for (const b of await page.$$('main button[id$="-add"]')) await b.click();
}

test('on a 360 px phone nothing scrolls sideways and tables become lists', async () => {
  for (const [user, lang] of [['km.delegate', 'fr'], ['secretariat', 'en'], ['chair', 'fr']]) {
    const page = await as(user, lang, { width: 360, height: 740 });
    for (const p of await pagesOf(page)) {
      await settle(page, p);
      await openForms(page);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(wide <= 360, `${user} ${p}: the page is ${wide} px wide`);
      if (p === '/') assert.strictEqual(await page.$eval('#items tbody tr', (tr) => getComputedStyle(tr).display), 'block');
    }
    await page.context().close();
  }
});

test('a first visit on a slow link (400/150 kbit/s, 400 ms round trips): bytes and time to a usable dashboard', async () => {
  const ctx = await H.browser.newContext({ locale: 'fr-FR' });
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 400,
    downloadThroughput: 400 * 1000 / 8, uploadThroughput: 150 * 1000 / 8 });
  let bytes = 0;
  cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });
  const t0 = Date.now();
  await page.goto(base + '/');
  await page.waitForSelector('#signin button[type=submit]:enabled');
  const form = Date.now() - t0;
  await page.fill('#username', 'km.delegate');
  await page.fill('#password', H.PASSWORD);
  const t1 = Date.now();
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('#items tbody tr');
  const dash = Date.now() - t1;
  const total = bytes;
  console.log(`# slow link, first visit: ${(total / 1024).toFixed(1)} KB transferred; sign-in form usable after ` +
    `${(form / 1000).toFixed(1)} s; dashboard usable ${(dash / 1000).toFixed(1)} s after signing in`);
  assert.ok(total < 60 * 1024, `first visit transferred ${total} bytes`);
  // A second visit fetches no asset again.
  bytes = 0;
  const t2 = Date.now();
  await page.reload();
  await page.waitForSelector('#items tbody tr');
  console.log(`# slow link, next visit: ${(bytes / 1024).toFixed(1)} KB; dashboard after ${((Date.now() - t2) / 1000).toFixed(1)} s`);
  await ctx.close();
});

test('a skip link, a title of its own for every page, and input borders at 3:1', async () => {
  for (const [user, lang, skip] of [['km.delegate', 'fr', 'Aller au contenu'], ['secretariat', 'en', 'Skip to the content']]) {
    const page = await as(user, lang);
    const titles = new Map();
    for (const p of await pagesOf(page)) {
      await settle(page, p);
      const tt = await page.title();
      assert.ok(!titles.has(tt), `${p} has the title of ${titles.get(tt)}: ${tt}`);
      titles.set(tt, p);
    }
    await settle(page, '/me');
    await page.keyboard.press('Tab');
    assert.strictEqual(await page.evaluate(() => document.activeElement.textContent), skip);
    assert.ok(await page.isVisible('a.skip'));
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement.id === 'main');
    const ratio = await page.evaluate(() => {
      const e = document.querySelector('#email');
      const c = getComputedStyle(e).borderTopColor.match(/\d+/g).map(Number);
      const lum = (v) => v.map((x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; })
        .reduce((a, x, i) => a + x * [0.2126, 0.7152, 0.0722][i], 0);
      return 1.05 / (lum(c) + 0.05);
    });
    assert.ok(ratio >= 3, `input border contrast ${ratio.toFixed(2)}:1`);
    await page.context().close();
  }
});

test('axe-core finds no violation on any page, for any role, with the forms open', async () => {
  const axe = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  const found = [];
  const check = async (page, who, p) => {
    await page.evaluate(axe);
    const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    for (const v of r.violations) {
      found.push(`${who} ${p}: ${v.id} (${v.impact}) ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
    }
  };
  const anon = await person(null);
  await anon.goto(base + '/login');
  await anon.waitForSelector('#signin button:enabled');
  await check(anon, 'anonymous', '/login');
  await anon.context().close();
  let pages = 0;
  for (const [user, lang] of [['secretariat', 'en'], ['chair', 'fr'], ['km.delegate', 'fr'], ['observer', 'en']]) {
    const page = await as(user, lang);
    const paths = await pagesOf(page);
    if (user === 'secretariat') for (const w of (await apiAs(user, 'GET', '/v1/workflows')).workflows) if (w.create) paths.push('/new/' + w.name);
    for (const p of paths) {
      await settle(page, p);
      await openForms(page);
      await check(page, user, p);
      pages++;
    }
    await page.context().close();
  }
  console.log(`# axe-core: ${pages + 1} pages, ${found.length} violations`);
  assert.deepStrictEqual(found, []);
});
