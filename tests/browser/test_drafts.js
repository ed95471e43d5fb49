// Drafts as texts in real Chromium, in French and in English: paragraphs numbered once, each
// with its comments and amendments beside it; commenting and amending from a paragraph;
// amendments as tracked changes; the revision taking amendments by checkbox; the comparison
// of two versions paragraph by paragraph, both languages side by side; axe-core with the
// forms open.
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

async function as(user, lang, viewport) {
  await apiAs(user, 'PATCH', '/v1/me', { language: lang });
  return person(user, lang === 'fr' ? 'fr-FR' : 'en-GB', 'Indian/Mauritius', viewport);
}

const TEXT = {
  en: '1. The states meet every year.\n\n2. They share data on labour migration.\n\n3. The secretariat reports to the chair.',
  fr: '1. Les États se réunissent chaque année.\n\n2. Ils partagent leurs données sur la migration de travail.\n\n3. Le secrétariat rend compte à la présidence.',
};

// A draft of three paragraphs, circulating for comments.
async function draft(title) {
  const r = await apiAs('secretariat', 'POST', '/v1/forums/midiocc/items', { workflow: 'draft', title, params: { text: TEXT } });
  await apiAs('secretariat', 'POST', `/v1/items/${r.item.id}/actions/circulate`,
    { params: { comment_deadline: new Date(Date.now() + 86400000 * 10).toISOString() } });
  return r.item.id;
}

async function axeViolations(page) {
  await page.evaluate(fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
  const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return r.violations.map((v) => `${v.id} (${v.impact}) ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
}

const W = {
  fr: { delegate: 'km.delegate', state: 'Comores', comment: 'Commenter un paragraphe', amend: 'Proposer un amendement',
    start: 'Partir du texte du paragraphe', amendment: 'amendement', comment_word: 'observation', taken: 'retenu',
    version: 'version', ins: '[ajouté]', del: '[supprimé]', recorded: 'enregistré', revise: 'Publier une révision',
    amended: '2. Ils partagent chaque mois leurs données sur la mobilité de travail.',
    note: 'Le paragraphe 3 doit nommer le secrétariat exécutif.', added: 'chaque mois' },
  en: { delegate: 'mu.delegate', state: 'Mauritius', comment: 'Comment on a paragraph', amend: 'Propose an amendment',
    start: 'Start from the paragraph’s text', amendment: 'amendment', comment_word: 'comment', taken: 'taken',
    version: 'version', ins: '[inserted]', del: '[deleted]', recorded: 'recorded', revise: 'Issue a revision',
    amended: '2. They share monthly data on regular labour mobility.',
    note: 'Paragraph 3 should name the executive secretariat.', added: 'monthly' },
};

for (const lang of ['fr', 'en']) {
  const w = W[lang];
  test(`a draft as a text, in ${lang}: numbered once, commented and amended from its paragraphs, revised by checkbox, compared by paragraph`, async () => {
    const id = await draft('Draft ' + lang);
    const d = await as(w.delegate, lang);
    await d.goto(base + '/items/' + id);
    await d.waitForSelector('#text li.para');
    // Numbered once: the paragraphs carry their numbers, the page adds none.
    assert.strictEqual(await d.$$eval('#text li.para', (ps) => ps.length), 3);
    const first = (await d.innerText('#p-1 .para-text')).trim();
    assert.ok(first.startsWith('1. ' + TEXT[lang].split(' ').slice(1, 3).join(' ')), first);
    assert.doesNotMatch(await d.innerText('#text'), /(\d+)\.\s*\1\./, 'no paragraph is numbered twice');
    // No form asks for a version or a paragraph number.
    assert.strictEqual(await d.$('input[id$="-version"], input[id$="-paragraph"]'), null);

    // A comment, from paragraph 3.
    await d.click(`#p-3 button:has-text("${w.comment}")`);
    await d.waitForSelector('#p-3 .para-form form');
    assert.strictEqual(await d.$('#p-3 .para-form input[type=number]'), null, 'no number to type');
    // Another state comments meanwhile: the page follows, and the open form stays open, focused.
    await apiAs('sc.delegate', 'POST', `/v1/items/${id}/actions/comment`, { params: { version: 1, paragraph: 1, text: 'Seychelles: fine.' } });
    await d.waitForSelector('#p-1 .para-notes li.comment:has-text("Seychelles: fine.")');
    assert.ok(await d.$eval('#p-3 .para-form textarea', (x) => x === document.activeElement), 'the form keeps the focus');
    await d.fill('#p-3 .para-form textarea', w.note);
    await d.click('#p-3 .para-form button[type=submit]');
    await d.waitForSelector(`#p-3 .para-notes li.comment:has-text("${w.note}")`);
    assert.match(await d.textContent('#p-3 .para-notes li.comment'),
      new RegExp(`§3 · ${w.version} 1 · ${w.state} · ${w.delegate.replace('.', '\\.')} · ${w.comment_word}`));

    // An amendment, from paragraph 2, starting from its text: shown as changes to it.
    await d.click(`#p-2 button:has-text("${w.amend}")`);
    await d.click(`#p-2 .para-form button:has-text("${w.start}")`);
    assert.strictEqual(await d.inputValue('#p-2 .para-form textarea'), TEXT[lang].split('\n\n')[1]);
    await d.fill('#p-2 .para-form textarea', w.amended);
    // The forms open, in this language: no accessibility violation.
    await d.click(`#p-1 button:has-text("${w.comment}")`);
    assert.deepStrictEqual(await axeViolations(d), []);
    await d.click('#p-2 .para-form button[type=submit]');
    await d.waitForSelector('#p-2 .para-notes li.amendment ins');
    assert.match(await d.textContent('#p-2 .para-notes li.amendment ins'), new RegExp(w.added));
    assert.ok((await d.textContent('#p-2 .para-notes li.amendment')).includes(w.ins), 'insertions are said in words');
    const struck = await d.$$eval('#p-2 .para-notes li.amendment del', (ds) => ds.map((x) => getComputedStyle(x).textDecorationLine));
    assert.ok(struck.length > 0 && struck.every((x) => x.includes('line-through')), 'deletions are struck through');
    assert.ok((await d.textContent('#p-2 .para-notes li.amendment')).includes(w.del), 'deletions are said in words');
    assert.match(await d.textContent('#p-2 .para-notes li.amendment'), new RegExp(`§2 · ${w.version} 1 · ${w.state}.*${w.amendment}`));
    await d.context().close();

    // The secretariat's revision takes the amendment by its box.
    const sec = await as('secretariat', lang);
    await sec.goto(base + '/items/' + id);
    await openAction(sec, 'revise');
    const box = '#f-revise-adopted_amendments-1';
    await sec.waitForSelector(box);
    assert.match(await sec.textContent(`label[for="f-revise-adopted_amendments-1"]`), new RegExp(`#1 · §2 · ${w.state}`));
    assert.strictEqual(await sec.$(`label[for="f-revise-adopted_amendments-1"] ins`) != null, true, 'the amendment shown as its changes');
    assert.strictEqual(await sec.$('details[data-for="revise"] textarea[id="f-revise-adopted_amendments"]'), null, 'no numbers to type');
    assert.deepStrictEqual(await axeViolations(sec), []);
    await sec.check(box);
    const other = lang === 'fr' ? 'en' : 'fr';
    const fill = async (l, text) => sec.fill(`#f-revise-text-${l}`, text);
    await fill(lang, TEXT[lang].replace(TEXT[lang].split('\n\n')[1], w.amended));
    await fill(other, TEXT[other] + (other === 'en' ? '\n\n4. Reviewed biennially.' : '\n\n4. Revu tous les deux ans.'));
    await sec.click('form[data-action="revise"] button[type=submit]');
    await sec.waitForSelector('#diff .cmp-row');
    const item = await apiAs('secretariat', 'GET', '/v1/items/' + id);
    assert.strictEqual(item.data.amendments[0].status, 'adopted');
    await sec.waitForSelector(`#notes li.amendment:has-text("${w.taken}")`, { state: 'attached' });

    // The comparison: per paragraph, in both languages, side by side on a wide screen.
    assert.strictEqual(await sec.$eval('#diff-from', (s) => s.labels.length), 1, 'the first selector is labelled');
    assert.strictEqual(await sec.$eval('#diff-to', (s) => s.labels.length), 1, 'the second selector is labelled');
    const rows = await sec.$$eval('#diff .cmp-row', (rs) => rs.map((r) => ({
      head: r.querySelector('h3').textContent, changed: r.classList.contains('changed'),
      cells: [...r.querySelectorAll('.cmp-cell')].map((c) => ({ lang: c.lang, ins: [...c.querySelectorAll('ins')].map((x) => x.textContent).join(' '),
        top: c.getBoundingClientRect().top, left: c.getBoundingClientRect().left })) })));
    assert.strictEqual(rows.length, 4, JSON.stringify(rows));
    assert.deepStrictEqual(rows.map((r) => r.changed), [false, true, false, true]);
    assert.deepStrictEqual(rows[0].cells.map((c) => c.lang), [lang, other], 'the reader\'s language first');
    assert.match(rows[1].cells[0].ins, new RegExp(w.added));
    assert.match(rows[3].cells[1].ins, other === 'en' ? /Reviewed biennially/ : /Revu tous les deux ans/);
    assert.strictEqual(rows[1].cells[0].top, rows[1].cells[1].top, 'side by side');
    assert.ok(rows[1].cells[0].left < rows[1].cells[1].left);
    // Any two versions: the same one against itself changes nothing.
    await sec.selectOption('#diff-from', '2');
    await sec.waitForFunction(() => !document.querySelector('#diff .cmp-row.changed'));
    assert.deepStrictEqual(await axeViolations(sec), []);
    await sec.context().close();
  });
}

test('a paragraph without its own number gets one, once; on a phone the languages of a comparison stack', async () => {
  const r = await apiAs('secretariat', 'POST', '/v1/forums/midiocc/items',
    { workflow: 'draft', title: 'Plain paragraphs', params: { text: { en: 'Alpha.\n\nBeta.', fr: 'Alpha.\n\nBêta.' } } });
  await apiAs('secretariat', 'POST', `/v1/items/${r.item.id}/actions/revise`, { params: { text: { en: 'Alpha.\n\nBeta, amended.', fr: 'Alpha.\n\nBêta, modifié.' } } });
  const p = await as('observer', 'en', { width: 390, height: 800 });
  await p.goto(base + '/items/' + r.item.id);
  await p.waitForSelector('#text li.para');
  assert.strictEqual((await p.innerText('#p-2 .para-text')).trim(), '2. Beta, amended.');
  await p.waitForSelector('#diff .cmp-row.changed');
  const cells = await p.$$eval('#diff .cmp-row.changed .cmp-cell', (cs) => cs.map((c) => c.getBoundingClientRect().top));
  assert.ok(cells[0] < cells[1], 'one language under the other');
  assert.ok(await p.evaluate(() => document.documentElement.scrollWidth) <= 390);
  await p.context().close();
});
