// Live pages in real Chromium: the items list, the dashboard (what awaits me) and the meeting
// page follow what others do, in another browser, without a reload; the "this page changed"
// line appears on screen wherever the reader has scrolled, readable, in a live region.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const H = require('./harness');

const { person, apiAs } = H;
let base;

test.before(async () => {
  await H.start();
  base = H.base;
});

test.after(H.stop);

async function as(user, lang, viewport) {
  await apiAs(user, 'PATCH', '/v1/me', { language: lang });
  return person(user, lang === 'fr' ? 'fr-FR' : 'en-GB', 'Indian/Mauritius', viewport);
}

// Marks the page: the mark is gone if the page was loaded again.
const mark = (page) => page.evaluate(() => { window.__same = true; });
const unmarked = async (page) => assert.strictEqual(await page.evaluate(() => window.__same), true, 'the page was not reloaded');

test('the items list and the dashboard show a new item without a reload, in both languages', async () => {
  const km = await as('km.delegate', 'fr');
  await km.waitForSelector('#items');
  const mg = await as('mg.delegate', 'en');
  await mg.goto(base + '/?awaiting=me');
  await mg.waitForSelector('main h1');
  await mark(km);
  await mark(mg);
  // The secretariat, in a browser of its own, opens a consultation.
  const sec = await as('secretariat', 'en');
  await sec.click('a[href="/new/consultation"]');
  await sec.waitForSelector('form[data-action="create"]');
  await sec.fill('#f-create-title-en', 'Live list');
  await sec.fill('#f-create-title-fr', 'Liste en direct');
  await sec.fill('#f-create-question-en', 'Does the list follow?');
  await sec.fill('#f-create-question-fr', 'La liste suit-elle ?');
  const deadline = new Date(Date.now() + 5 * 86400000);
  const local = new Date(deadline.getTime() - deadline.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  await sec.fill('#f-create-deadline', local);
  await sec.click('form[data-action="create"] button[type=submit]');
  await sec.waitForSelector('#state');
  await km.waitForSelector('#items a:has-text("Liste en direct")');
  await mg.waitForSelector('#items a:has-text("Live list")');
  await unmarked(km);
  await unmarked(mg);
  // Madagascar answers: the item no longer awaits Madagascar, and its dashboard says so by itself.
  const id = Number(new URL(sec.url()).pathname.split('/').pop());
  await apiAs('mg.delegate', 'POST', `/v1/items/${id}/actions/submit_position`, { params: { stance: 'support' } });
  await mg.waitForSelector('#items a:has-text("Live list")', { state: 'detached' });
  await unmarked(mg);
  for (const p of [km, mg, sec]) await p.context().close();
});

test('the meeting page follows the agenda\'s adoption by the chair in another browser', async () => {
  const watching = await as('chair', 'en');
  await watching.goto(base + '/meetings/1');
  await watching.waitForSelector('button:has-text("Adopt the agenda")');
  const obs = await as('observer', 'fr');
  await obs.goto(base + '/meetings/1');
  await obs.waitForSelector('#agenda-state:has-text("pas encore adopté")');
  await mark(watching);
  await mark(obs);
  const acting = await person('chair', 'en-GB');
  await acting.goto(base + '/meetings/1');
  await acting.click('button:has-text("Adopt the agenda")');
  await acting.waitForSelector('button:has-text("Adopt the agenda")', { state: 'detached' });
  await watching.waitForSelector('button:has-text("Adopt the agenda")', { state: 'detached' });
  await obs.waitForSelector('#agenda-state:has-text("Ordre du jour adopté le")');
  await obs.waitForSelector('#agenda li .badge:has-text("Adopté")');
  await unmarked(watching);
  await unmarked(obs);
  for (const p of [watching, obs, acting]) await p.context().close();
});

// WCAG contrast of an element's text against the first opaque background behind it.
function contrast(s) {
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
}

test('"this page changed" appears where the reader is, announced, with a readable button', async () => {
  for (const [user, lang, words] of [['km.delegate', 'fr', ['Cette page a changé.', 'Afficher les changements']],
    ['sc.delegate', 'en', ['This page has changed.', 'Show the changes']]]) {
    const r = await apiAs('secretariat', 'POST', '/v1/forums/midiocc/items', { workflow: 'consultation', title: 'Notice ' + user,
      params: { question: 'Seen?', deadline: new Date(Date.now() + 86400000 * 5).toISOString() } });
    const id = r.item.id;
    // A short screen: the form is far below the top of the page.
    const p = await as(user, lang, { width: 390, height: 500 });
    await p.goto(base + '/items/' + id);
    await p.waitForSelector('form[data-action="submit_position"]');
    await p.fill('#f-submit_position-statement', 'Still drafting.');
    await p.$eval('#f-submit_position-statement', (x) => x.scrollIntoView({ block: 'end' }));
    await apiAs('mg.delegate', 'POST', `/v1/items/${id}/actions/submit_position`, { params: { stance: 'support' } });
    await p.waitForSelector(`#updated:has-text("${words[0]}") button:has-text("${words[1]}")`);
    assert.ok(await p.$eval('#updated', (n) => {
      const b = n.getBoundingClientRect();
      return b.top >= 0 && b.bottom <= innerHeight && b.height > 0;
    }), 'the notice is on screen');
    assert.ok(await p.$eval('#updated', (n) => !!n.closest('[aria-live], [role=status]')), 'announced');
    assert.ok(await p.$eval('#updated', (n) => !!n.closest('main')), 'inside the page\'s main landmark');
    const ratio = await p.evaluate(contrast, '#updated button');
    assert.ok(ratio >= 4.5, `button contrast ${ratio.toFixed(2)}:1`);
    assert.strictEqual(await p.inputValue('#f-submit_position-statement'), 'Still drafting.');
    await p.click('#updated button');
    await p.waitForSelector('#updated', { state: 'detached' });
    await p.waitForSelector('#matrix tr[data-member="MG"] .badge.yes');
    await p.context().close();
  }
});
