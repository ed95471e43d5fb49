// The secretariat's account page: creating accounts from a CSV file, the row errors when a
// line is wrong (nothing created), and the one-time passwords when every line is right.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const H = require('./harness');

test.before(H.start);
test.after(H.stop);

test('the secretariat imports accounts from a CSV file, all or nothing', async () => {
  const page = await H.person('secretariat', 'en-GB');
  await page.goto(H.base + '/me');
  await page.waitForSelector('#import-form');
  const upload = (name, text) => page.setInputFiles('#import-file', { name, mimeType: 'text/csv', buffer: Buffer.from(text) });

  await upload('bad.csv', 'username,role,member\nweb.one,observer,\nweb.two,delegate,ZZ\n');
  await page.click('#import-form button[type=submit]');
  await page.waitForSelector('#import-result li');
  assert.match(await page.textContent('#import-result'), /nothing was created/);
  assert.match(await page.textContent('#import-result li'), /^Line 3 \(member\): .*ZZ/);
  const users = async () => (await H.apiAs('secretariat', 'GET', '/v1/users')).users.map((u) => u.username);
  assert.ok(!(await users()).includes('web.one'), 'the right line was not created either');

  await upload('good.csv', 'username,role,member,name\nweb.one,observer,,"Web, One"\nweb.two,delegate,KM,\n');
  await page.click('#import-form button[type=submit]');
  await page.waitForSelector('#import-result table');
  assert.match(await page.textContent('#import-result p'), /^2 account\(s\) created/);
  const rows = await page.$$eval('#import-result tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.deepStrictEqual(rows.map((r) => r.slice(0, 2)), [['web.one', 'observer'], ['web.two', 'delegate · KM']]);
  assert.match(rows[0][2], /^\S{16,}$/, 'the one-time password is shown');
  assert.ok((await users()).includes('web.two'));

  // Other roles do not get the form.
  const km = await H.person('km.delegate', 'en-GB');
  await km.goto(H.base + '/me');
  await km.waitForSelector('#password-form');
  assert.strictEqual(await km.$('#import-form'), null);
});
