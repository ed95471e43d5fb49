// Gavel's web pages in real Chromium (Debian's), against the real server on loopback:
// signing in, the items, a delegate's position form and what other states see of it, the
// chair's outcome form, a draft's versions and differences, the profile and the language,
// the meeting record, and text from users never becoming markup.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const H = require('./harness');

const { person, apiAs, openAction, itemIdByTitle } = H;
const PASSWORD = H.PASSWORD;
let base;

test.before(async () => {
  await H.start();
  base = H.base;
});

test.after(H.stop);

test('signing in: a wrong password is refused, then the page asked for opens', async () => {
  const page = await person(null);
  await page.goto(base + '/meetings');
  await page.waitForSelector('#username');
  assert.strictEqual(await page.textContent('h1'), 'Se connecter');
  await page.fill('#username', 'km.delegate');
  await page.fill('#password', 'not-the-password');
  await page.click('form button[type=submit]');
  await page.waitForSelector('text=Nom d\'utilisateur ou mot de passe incorrect.');
  await page.fill('#password', PASSWORD);
  await page.click('form button[type=submit]');
  await page.waitForSelector('h1:has-text("Réunions")');
  assert.strictEqual(new URL(page.url()).pathname, '/meetings');
  // The session cookie is not readable by scripts.
  assert.strictEqual(await page.evaluate(() => document.cookie), '');
  await page.context().close();
});

test('a delegate submits its position; another state sees that it answered, never what', async () => {
  await apiAs('mg.delegate', 'PATCH', '/v1/me', { language: 'en' });
  const km = await person('km.delegate');
  const mg = await person('mg.delegate', 'en-GB', 'Europe/Paris');
  const id = await itemIdByTitle(mg, 'Support for the labour mobility framework');
  await mg.click(`#items a[href="/items/${id}"]`);
  await km.goto(base + '/items/' + id);
  await km.waitForSelector('#matrix');
  await mg.waitForSelector('form[data-action="submit_position"]');
  // Times are shown in the forum's zone and in the reader's.
  assert.match(await mg.textContent('#deadlines'), /Indian\/Mauritius.*your time/);
  await mg.selectOption('#f-submit_position-stance', 'oppose');
  await mg.fill('#f-submit_position-statement', 'Madagascar cannot accept paragraph 3 as drafted.');
  await mg.click('form[data-action="submit_position"] button[type=submit]');
  // Received, said where Madagascar's delegate is: what was recorded, and the receipt on request.
  await mg.waitForSelector('#confirm:focus');
  assert.match(await mg.textContent('#confirm .confirm-head'), /^Position of Madagascar recorded at \d\d:\d\d \(your time\)$/);
  assert.match(await mg.textContent('#confirm dl.recorded'), /Oppose.*Madagascar cannot accept paragraph 3 as drafted\./);
  await mg.click('#confirm details.receipt summary');
  assert.match(await mg.textContent('#confirm details.receipt'), /Event\s*\d+.*Audit log entry\s*\d+/);
  assert.match(await mg.textContent('#matrix tr[data-member="MG"]'), /Answered\s*Oppose/);
  // Comoros' page follows by itself: Madagascar answered; its stance and statement stay hidden.
  await km.waitForFunction(() => /A répondu/.test(document.querySelector('#matrix tr[data-member="MG"]').textContent));
  const row = await km.textContent('#matrix tr[data-member="MG"]');
  assert.ok(!/Opposition/.test(row), row);
  assert.ok(!(await km.content()).includes('paragraph 3'), 'another state never sees the statement');
  // Comoros still sees its own.
  assert.match(await km.textContent('#matrix tr[data-member="KM"]'), /Soutien/);
  await km.context().close();
  await mg.context().close();
});

test('the chair records an outcome through its form; a delegate has no such form', async () => {
  const sec = await person('secretariat', 'en-GB');
  await sec.click('a[href="/new/decision"]');
  await sec.waitForSelector('form[data-action="create"]');
  await sec.fill('#f-create-title-en', 'Regional data sharing');
  await sec.fill('#f-create-title-fr', 'Partage régional des données');
  await sec.fill('#f-create-text-en', 'The states share anonymised migration data.');
  await sec.fill('#f-create-text-fr', 'Les États partagent des données migratoires anonymisées.');
  await sec.click('form[data-action="create"] button[type=submit]');
  await sec.waitForSelector('#state');
  const id = Number(new URL(sec.url()).pathname.split('/').pop());
  assert.strictEqual(await sec.textContent('h1'), 'Regional data sharing');

  const sc = await person('sc.delegate');
  await sc.goto(base + '/items/' + id);
  await sc.waitForSelector('#state');
  assert.strictEqual(await sc.$('form[data-action="record_outcome"]'), null);

  const chair = await person('chair');
  await chair.goto(base + '/items/' + id);
  const form = 'form[data-action="record_outcome"]';
  await openAction(chair, 'record_outcome');
  await chair.selectOption('#f-record_outcome-outcome', 'adopted_with_reservations');
  await chair.click(form + ' button[type=submit]');
  // The rule the workflow enforces is shown at the field it concerns.
  await chair.waitForSelector(`${form} [data-name="record_outcome.reservations"] .field-error:has-text("needs at least one reservation")`);
  await chair.click('#f-record_outcome-reservations-add');
  await chair.selectOption('#f-record_outcome-reservations-0-member', 'MU');
  await chair.fill('#f-record_outcome-reservations-0-text', 'Maurice réserve sa position sur le paragraphe 2.');
  for (const m of ['KM', 'MG', 'MU', 'RE', 'SC']) await chair.check('#f-record_outcome-present-' + m);
  await chair.click(form + ' button[type=submit]');
  await chair.waitForSelector('#state:has-text("Adoptée avec réserves")');
  assert.match(await chair.textContent('main'), /Maurice: Maurice réserve sa position/);
  assert.match(await chair.textContent('main'), /MiDIOCC\/\d{4}\/\d+/);
  for (const p of [sec, sc, chair]) await p.context().close();
});

test('a draft shows its versions and what changed between them', async () => {
  const sec = await person('secretariat', 'en-GB');
  const id = await itemIdByTitle(sec, 'Regional framework on labour mobility');
  await sec.click(`#items a[href="/items/${id}"]`);
  await sec.waitForSelector('#text li');
  // The sample draft has an amendment from a state, beside the paragraph it amends.
  assert.match(await sec.textContent('#p-2 .para-notes'), /§2 · version 1 · Madagascar · mg.delegate · amendment · proposed/);
  await openAction(sec, 'revise');
  // The revision starts from the current text.
  const before = await sec.inputValue('#f-revise-text-en');
  assert.match(before, /^1\. The member states agree/);
  await sec.fill('#f-revise-text-en', before + '\n\nReviewed biennially.');
  await sec.fill('#f-revise-text-fr', 'Texte révisé. Revu tous les deux ans.');
  await sec.click('form[data-action="revise"] button[type=submit]');
  // The comparison is by paragraph and language: the English column shows the added paragraph.
  await sec.waitForSelector('#diff .cmp-cell[lang=en] ins');
  assert.match(await sec.textContent('#diff .cmp-cell[lang=en] ins'), /biennially/);
  await sec.context().close();
});

test('the profile sets the language and the address; the pages follow', async () => {
  const mu = await person('mu.delegate');
  await mu.click('a[href="/me"]');
  await mu.waitForSelector('#prefs');
  await mu.selectOption('#lang', 'en');
  await mu.fill('#email', 'mu.office@example.org');
  await mu.selectOption('#notify', 'digest');
  await mu.click('#prefs button[type=submit]');
  await mu.waitForSelector('#prefs .notice:has-text("Saved.")');
  assert.strictEqual(await mu.textContent('h1'), 'My profile');
  await mu.reload();
  await mu.waitForSelector('#prefs');
  assert.strictEqual(await mu.inputValue('#email'), 'mu.office@example.org');
  assert.strictEqual(await mu.inputValue('#notify'), 'digest');
  // And the language switch in the header goes back to French.
  await mu.click('header button:has-text("Français")');
  await mu.waitForSelector('h1:has-text("Mon profil")');
  await mu.context().close();
});

test('the meeting page shows the agenda and the record of decisions', async () => {
  const obs = await person('observer', 'en-GB');
  await obs.click('a[href="/meetings"]');
  await obs.click('main li a');
  await obs.waitForSelector('#record');
  await obs.waitForFunction(() => !/Loading/.test(document.querySelector('#record').textContent));
  assert.match(await obs.textContent('#record'), /MiDIOCC/);
  assert.ok((await obs.$$('main ol li a')).length >= 1, 'the agenda lists the scheduled item');
  await obs.context().close();
});

test('what people write is shown as text, never run as markup', async () => {
  const title = '<img src=x onerror="window.__pwned=1">Seasonal <b>workers</b>';
  await apiAs('km.delegate', 'POST', '/v1/forums/midiocc/items',
    { workflow: 'agenda_item', title, params: { description: '<script>window.__pwned=2</script>' } });
  const sec = await person('secretariat', 'en-GB');
  await sec.waitForSelector('#items a:has-text("Seasonal <b>workers</b>")');
  assert.strictEqual((await sec.$$('#items img, #items b')).length, 0);
  await sec.click('#items a:has-text("Seasonal")');
  await sec.waitForSelector('text=<script>window.__pwned=2</script>');
  assert.strictEqual(await sec.evaluate(() => window.__pwned), undefined);
  await sec.context().close();
});

async function streams() {
  const r = await fetch(base + '/metrics');
  const m = (await r.text()).match(/^gavel_stream_clients (\d+)/m);
  return Number(m[1]);
}

test('a new account changes its password first, then reaches the pages', async () => {
  const made = await apiAs('secretariat', 'POST', '/v1/users',
    { username: 'km.second', role: 'delegate', member: 'KM', display_name: 'Second delegate of Comoros' });
  const page = await person(null);
  await page.goto(base + '/');
  await page.fill('#username', 'km.second');
  await page.fill('#password', made.password);
  await page.click('form button[type=submit]');
  await page.waitForSelector('text=Veuillez choisir un nouveau mot de passe pour continuer.');
  await page.goto(base + '/items/1');
  await page.waitForSelector('#password-form');
  assert.strictEqual(new URL(page.url()).pathname, '/me', 'nothing else until the password is changed');
  await page.fill('#current', made.password);
  await page.fill('#new', 'a-new-password-for-km');
  await page.click('#password-form button[type=submit]');
  await page.waitForSelector('#password-form .notice');
  await page.click('a[href="/"]');
  await page.waitForSelector('#items');
  await page.context().close();
});

test('live updates: one stream per page, and what is being typed is kept', async () => {
  // The pages of earlier tests (lists and meetings are live too) are closed: their streams end.
  await H.eventually(async () => (await streams()) === 0, 'the earlier pages\' streams end');
  const before = await streams();
  const km = await person('km.delegate');
  const id = await apiAs('secretariat', 'POST', '/v1/forums/midiocc/items', { workflow: 'consultation', title: 'Live',
    params: { question: 'Live?', deadline: new Date(Date.now() + 86400000 * 5).toISOString() } }).then((b) => b.item.id);
  await km.goto(base + '/items/' + id);
  await km.waitForSelector('form[data-action="submit_position"]');
  // Three positions from this page: still one stream for it.
  for (const stance of ['support', 'oppose', 'abstain']) {
    await km.selectOption('#f-submit_position-stance', stance);
    await km.click('form[data-action="submit_position"] button[type=submit]');
    await km.waitForSelector(`#matrix tr[data-member="KM"]:has-text("${stance === 'support' ? 'Soutien' : stance === 'oppose' ? 'Opposition' : 'Abstention'}")`);
  }
  await km.waitForTimeout(300);
  assert.strictEqual(await streams() - before, 1, 'one live stream for the open page');
  // Comoros is typing when Madagascar answers: the text stays, and a line offers the update.
  await km.fill('#f-submit_position-statement', 'Comoros is still drafting this.');
  await apiAs('mg.delegate', 'POST', `/v1/items/${id}/actions/submit_position`, { params: { stance: 'support' } });
  await km.waitForSelector('#updated');
  assert.strictEqual(await km.inputValue('#f-submit_position-statement'), 'Comoros is still drafting this.');
  await km.click('#updated button');
  await km.waitForFunction(() => /A répondu/.test(document.querySelector('#matrix tr[data-member="MG"]').textContent));
  await km.context().close();
  await H.eventually(async () => (await streams()) === before, 'closing the page closes its stream');
  assert.strictEqual(await streams(), before, 'closing the page closes its stream');
});

test('signing in as someone else in another tab changes who every tab acts as', async () => {
  const tab1 = await person('km.delegate');
  const tab2 = await tab1.context().newPage();
  await tab2.goto(base + '/me');
  await tab2.waitForSelector('#prefs');
  await tab2.click('header button:has-text("Se déconnecter")');
  await tab2.waitForSelector('#username');
  await tab2.fill('#username', 're.delegate');
  await tab2.fill('#password', PASSWORD);
  await tab2.click('form button[type=submit]');
  await tab2.waitForSelector('#items');
  // The first tab no longer shows Comoros: it shows who it now acts as.
  await tab1.waitForSelector('header:has-text("France/La Réunion")');
  assert.ok(!(await tab1.textContent('header')).includes('Comores'));
  await tab1.context().close();
});
