// Gavel's pages: one small script over the JSON API (docs/openapi.yaml). Every text from the
// server is set as text, never as HTML. The session is the browser's cookie; each change
// carries the CSRF token given at sign-in.
'use strict';

const S = {lang: null, me: null, forum: null, workflows: null, workflow: null, stream: null, gen: 0, view: null, retry: null};

// The forum's names as the server wrote them into the page, for the pages seen before signing in.
const SITE = (() => {
  const d = (document.getElementById('top') || {}).dataset || {};
  return {short: d.short || 'Gavel', name: {en: d.nameEn || d.short || 'Gavel', fr: d.nameFr || d.short || 'Gavel'}};
})();

// Forgets whoever was signed in (another person may sign in on this browser next).
function forget() {
  S.me = null;
  S.forum = null;
  S.workflows = null;
}

function closeStream() {
  if (S.stream) S.stream.close();
  S.stream = null;
  updates().replaceChildren();
  clearTimeout(S.retry);
  S.retry = null;
}

// ---- Small helpers -------------------------------------------------------------------------

function t(key, ...args) {
  const v = (T[S.lang] || T.en)[key] || T.en[key] || key;
  return typeof v === 'function' ? v(...args) : v;
}

// The page's own title, then the forum's short name.
function pageTitle(...parts) {
  document.title = parts.filter(Boolean).concat(S.forum ? S.forum.short_name || SITE.short : SITE.short).join(' — ');
}

// A time of day in the reader's zone (14:32), with the date when it is not today.
function clock(iso) {
  const d = new Date(iso);
  const loc = S.lang === 'fr' ? 'fr-FR' : 'en-GB';
  const today = new Date().toDateString() === d.toDateString();
  return new Intl.DateTimeFormat(loc, today ? {timeStyle: 'short'} : {dateStyle: 'medium', timeStyle: 'short'}).format(d);
}

// One text in the reader's language: a string, or an object with one string per language.
function tx(v) {
  if (v == null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'object') return v[S.lang] || v.en || v.fr || Object.values(v)[0] || '';
  return String(v);
}

// The label a workflow declares for state v (workflow wf's first, then any), or null.
function stateLabel(v, wf) {
  const all = (S.workflows || []).slice().sort((a, b) => (b.name === wf) - (a.name === wf));
  for (const w of all) for (const s of w.states || []) if (s.name === v) return tx(s.label);
  return null;
}

function valueName(v, wf) {
  const known = VALUES[v];
  if (known) return known[S.lang] || known.en;
  return stateLabel(v, wf || S.workflow) || String(v).replace(/_/g, ' ');
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v === true) e.setAttribute(k, '');
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function link(href, ...children) {
  return el('a', {href, onclick: (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
    ev.preventDefault();
    go(href);
  }}, ...children);
}

function memberName(code) {
  const m = S.forum && S.forum.members.find((x) => x.code === code);
  return m ? tx(m.name) : code;
}

// A time in the forum's zone, and in the reader's when it differs.
function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const tz = S.forum ? S.forum.time_zone : 'UTC';
  const opts = {dateStyle: 'medium', timeStyle: 'short'};
  const here = Intl.DateTimeFormat().resolvedOptions().timeZone;
  let s = new Intl.DateTimeFormat(S.lang, {...opts, timeZone: tz}).format(d) + ' (' + tz + ')';
  if (here && here !== tz) s += ' · ' + new Intl.DateTimeFormat(S.lang, opts).format(d) + ' (' + t('your_time') + ')';
  return s;
}

function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// ---- The API -----------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || t('failed'));
    this.status = status;
    this.code = e.code;
    this.field = e.field;
    this.body = body;
  }
}

async function api(method, path, body, extra, raw) {
  const headers = {Accept: 'application/json'};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = localStorage.getItem('gavel.csrf') || '';
  Object.assign(headers, extra || {});
  let r, data;
  try {
    r = await fetch(path, {method, headers, credentials: 'same-origin',
                           body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body)});
    const type = r.headers.get('Content-Type') || '';
    data = type.includes('json') ? await r.json() : await r.text();
  } catch (e) {
    // No answer, or half of one: whether the server acted is unknown (status 0).
    throw new ApiError(0, {error: {message: t('unreachable')}});
  }
  if (r.status === 401 && path !== '/v1/login') {
    // Someone who was signed in is told why the sign-in form is back; what they wrote stays.
    if (S.me) sessionStorage.setItem('gavel.ended', '1');
    forget();
    // Back to the page asked for once signed in.
    if (location.pathname !== '/login') sessionStorage.setItem('gavel.next', location.pathname + location.search);
    go('/login', true);
    throw new ApiError(401, data);
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

// ---- Frame: header, navigation, language --------------------------------------------------------

function setLang(l) {
  S.lang = l === 'fr' ? 'fr' : 'en';
  document.documentElement.lang = S.lang;
  localStorage.setItem('gavel.lang', S.lang);
}

function frame() {
  const top = document.getElementById('top');
  const other = S.lang === 'fr' ? 'en' : 'fr';
  const switcher = el('button', {class: 'link', lang: other, 'aria-label': other === 'fr' ? 'Français' : 'English',
    onclick: async () => {
      setLang(other);
      if (S.me) {
        // The answer is the whole profile; what the page knew stays if it ever lacks a field.
        try { S.me = Object.assign({}, S.me, await api('PATCH', '/v1/me', {language: other})); } catch (e) { /* keep the page's choice */ }
      }
      render();
    }}, other === 'fr' ? 'Français' : 'English');
  const nav = S.me ? el('nav', {},
    link('/', t('items')), link('/meetings', t('meetings')), link('/me', t('profile')),
    el('span', {class: 'small'}, S.me.display_name + (S.me.member ? ' · ' + memberName(S.me.member) : '')),
    el('button', {class: 'link', onclick: signOut}, t('signout')), switcher) : el('nav', {}, switcher);
  top.replaceChildren(el('div', {class: 'bar'},
    el('span', {class: 'forum'}, S.forum ? tx(S.forum.name) : tx(SITE.name)), nav));
  const skip = document.querySelector('a.skip');
  if (skip) skip.textContent = t('skip');
  pageTitle();
}

async function signOut() {
  try {
    await api('POST', '/v1/logout');
  } catch (e) {
    // Signed out only if the server says so (or the session was gone already).
    if (e.status !== 401) {
      show(problem(e));
      return;
    }
  }
  localStorage.removeItem('gavel.csrf');
  // Signing out on purpose leaves nothing of one's own behind on this browser.
  const mine = 'gavel.unsent.' + (S.me ? S.me.username : '') + '.';
  for (const k of Object.keys(localStorage)) if (k.startsWith(mine)) localStorage.removeItem(k);
  forget();
  go('/login');
}

function go(path, replace) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render().then(() => {
    // Screen readers and keyboards start at the new page, not at the link left behind.
    const h = main().querySelector('h1');
    if (h && document.activeElement === document.body) { h.tabIndex = -1; h.focus({preventScroll: true}); }
  });
}

function main() { return document.getElementById('main'); }

// Where "this page changed" is said: a region fixed at the bottom of the screen, so it is
// seen wherever the reader has scrolled, and announced (polite) by screen readers. It lives
// inside main (every text in a landmark) and outlasts the page's redrawings.
function updates() {
  if (!S.updates) S.updates = el('div', {id: 'updates', class: 'updates', role: 'status'});
  return S.updates;
}

function show(...nodes) {
  main().replaceChildren(...nodes.flat().filter((n) => n != null && n !== false), updates());
}

function problem(e) {
  return el('p', {class: 'error', role: 'alert'}, e && e.message ? e.message : t('failed'));
}

// ---- Pages ----------------------------------------------------------------------------------------------

async function render() {
  // Each drawing has a number: a slower, older one never overwrites a newer page.
  const gen = ++S.gen;
  closeStream();
  const path = location.pathname;
  if (!S.me && path !== '/login') {
    try {
      S.me = await api('GET', '/v1/me');
    } catch (e) {
      if (e.status !== 401) unreachable(e, gen);
      return;
    }
  }
  if (S.me && !localStorage.getItem('gavel.lang')) setLang(S.me.language);
  let m;
  try {
    // An account that must change its password sees only its profile until it has.
    if (S.me && !S.forum && !S.me.must_change_password) S.forum = await api('GET', '/v1/forums/' + encodeURIComponent(S.me.forum));
    if (gen !== S.gen) return;
    frame();
    if (path === '/login') return pageLogin();
    if (S.me.must_change_password && path !== '/me') return go('/me', true);
    if (path === '/') {
      await pageItems();
      // Any item may enter, leave or move in the list (or in what awaits the reader).
      if (gen === S.gen) live((ev, kind) => kind === 'item', pageItems);
      return;
    }
    if ((m = path.match(/^\/items\/(\d+)$/))) return await pageItem(Number(m[1]));
    if ((m = path.match(/^\/new\/([a-z0-9_]+)$/))) return await pageNew(m[1]);
    if (path === '/meetings') return await pageMeetings();
    if ((m = path.match(/^\/meetings\/(\d+)$/))) {
      const id = Number(m[1]);
      await pageMeeting(id);
      // Any item may join its agenda, be adopted with it or be decided in it.
      if (gen === S.gen) live((ev, kind) => kind === 'item', () => pageMeeting(id));
      return;
    }
    if (path === '/me') return await pageMe();
    notFound();
  } catch (e) {
    if (e.status === 404) notFound();
    else if (e.status !== 401) unreachable(e, gen);
  }
}

// Says what went wrong; when the server could not be reached, the page tries again by itself.
function unreachable(e, gen) {
  show(problem(e));
  if (e.status !== 0) return;
  clearTimeout(S.retry);
  S.retry = setTimeout(() => { if (gen === S.gen) render(); }, 3000);
}

function notFound() {
  pageTitle(t('not_found'));
  show(el('h1', {}, t('not_found')), el('p', {}, link('/', t('back'))));
}

function pageLogin() {
  // The server's page already holds the form: what was typed there before the script came stays.
  const typed = (id) => { const x = document.getElementById(id); return x ? x.value : ''; };
  const focused = document.activeElement && document.activeElement.id;
  const err = el('p', {class: 'error', role: 'alert'});
  const user = el('input', {type: 'text', id: 'username', name: 'username', autocomplete: 'username', required: true,
    value: typed('username') || null});
  const pass = el('input', {type: 'password', id: 'password', name: 'password', autocomplete: 'current-password', required: true});
  pass.value = typed('password');
  const ended = sessionStorage.getItem('gavel.ended');
  const form = el('form', {class: 'card', id: 'signin', onsubmit: async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const r = await api('POST', '/v1/login', {username: user.value, password: pass.value, cookie: true});
      localStorage.setItem('gavel.csrf', r.csrf);
      sessionStorage.removeItem('gavel.ended');
      forget();
      localStorage.removeItem('gavel.lang');
      const next = sessionStorage.getItem('gavel.next');
      sessionStorage.removeItem('gavel.next');
      go(r.must_change_password ? '/me' : next && next.startsWith('/') && !next.startsWith('//') ? next : '/');
    } catch (e) {
      err.textContent = e.status === 401 ? t('wrong_login') : e.message;
      button.disabled = false;
    }
  }},
  el('label', {for: 'username'}, t('username')), user,
  el('label', {for: 'password'}, t('password')), pass,
  el('div', {}, el('button', {type: 'submit'}, t('signin'))), err);
  pageTitle(t('signin'));
  show(el('h1', {}, t('signin')), el('p', {class: 'muted'}, tx(SITE.name)),
    ended ? el('p', {class: 'notice', role: 'status'}, t('session_ended')) : null, form);
  (focused === 'password' ? pass : user).focus();
}

function deadlineOf(item) {
  const d = item.deadlines || {};
  const first = Object.values(d).sort()[0];
  return first ? when(first) : '';
}

async function pageItems() {
  const gen = S.gen;
  const awaiting = new URLSearchParams(location.search).get('awaiting') === 'me';
  const q = '/v1/forums/' + encodeURIComponent(S.me.forum) + '/items?limit=200' + (awaiting ? '&awaiting=me' : '');
  const [list, wfs] = await Promise.all([api('GET', q), workflows()]);
  // Every page of the list, a few hundred items at a time.
  for (let next = list.next, pages = 0; next != null && pages < 50; pages++) {
    const more = await api('GET', q + '&after=' + encodeURIComponent(next));
    list.items.push(...more.items);
    next = more.next;
  }
  if (gen !== S.gen) return;
  pageTitle(awaiting ? t('awaiting') : t('items'));
  const creatable = wfs.filter((w) => w.create);
  const rows = list.items.map((it) => el('tr', {},
    el('td', {}, link('/items/' + it.id, tx(it.title)), it.number ? el('div', {class: 'small muted'}, it.number) : null),
    el('td', {'data-label': t('workflow')}, tx((wfs.find((w) => w.name === it.workflow) || {}).title) || it.workflow),
    el('td', {'data-label': t('state')}, el('span', {class: 'badge'}, tx(it.state_label) || it.state)),
    el('td', {class: 'small', 'data-label': t('deadline')}, deadlineOf(it))));
  show(
    el('h1', {}, t('items')),
    el('p', {class: 'row'},
      awaiting ? link('/', t('all')) : el('strong', {}, t('all')),
      awaiting ? el('strong', {}, t('awaiting')) : link('/?awaiting=me', t('awaiting')),
      ...creatable.map((w) => link('/new/' + w.name, '+ ' + (tx(w.title) || w.name)))),
    rows.length ? el('table', {id: 'items', class: 'stack'},
      el('thead', {}, el('tr', {}, el('th', {}, t('title')), el('th', {}, t('workflow')),
        el('th', {}, t('state')), el('th', {}, t('deadline')))),
      el('tbody', {}, rows)) : el('p', {class: 'muted'}, t('nothing')));
}

async function workflows() {
  if (!S.workflows) S.workflows = (await api('GET', '/v1/workflows')).workflows;
  return S.workflows;
}

// ---- One item -------------------------------------------------------------------------------------------

// The current text of a draft or decision, to start a revision from.
function currentText(item) {
  const v = item.data && item.data.versions;
  if (!v) return undefined;
  const list = Array.isArray(v) ? v : Object.values(v);
  const cur = list.find((x) => x && x.version === item.data.version) || list[list.length - 1];
  return cur ? cur.text : undefined;
}

function dataBlock(item) {
  const d = item.data || {};
  const out = [];
  for (const [key, label] of [['question', 'question'], ['description', 'description']]) {
    if (d[key]) out.push(el('h2', {}, t(label)), el('p', {class: 'text'}, tx(d[key])));
  }
  if (d.text && !d.versions) out.push(el('h2', {}, t('adopted_text')), el('pre', {class: 'text'}, tx(d.text)));
  if (d.outcome) out.push(el('h2', {}, t('outcome')), el('p', {}, valueName(d.outcome, item.workflow)));
  if (Array.isArray(d.reservations) && d.reservations.length) {
    out.push(el('h2', {}, t('reservations')), el('ul', {id: 'reservations'}, d.reservations.map((r) =>
      el('li', {}, memberName(r.member) + ': ' + tx(r.text)))));
  }
  return out;
}

function positionsBlock(item, positions) {
  const s = item.summary;
  if (!s) return [];
  const byMember = {};
  for (const p of positions || []) byMember[p.member] = p;
  const rows = s.members.map((m) => {
    const p = byMember[m.member];
    const stance = p ? (p.sealed ? el('span', {class: 'muted'}, '—') : valueName(p.stance)) : '';
    return el('tr', {'data-member': m.member},
      el('th', {scope: 'row'}, memberName(m.member)),
      el('td', {'data-label': t('answered')}, el('span', {class: 'badge ' + (m.answered ? 'yes' : 'no')}, m.answered ? t('answered') : t('pending'))),
      el('td', {'data-label': t('position')}, stance, p && p.on_behalf ? el('div', {class: 'small muted'}, t('on_behalf') + (p.reference ? ' · ' + p.reference : '')) : null),
      el('td', {class: 'small', 'data-label': t('statement')}, p && !p.sealed && p.statement ? p.statement : ''));
  });
  const out = [el('h2', {}, t('states')),
    s.hidden ? el('p', {class: 'muted small'}, t('hidden')) : null,
    el('table', {id: 'matrix', class: 'stack'}, el('thead', {}, el('tr', {}, el('th', {}, t('states')), el('th', {}, t('answered')),
      el('th', {}, t('position')), el('th', {}, t('statement')))), el('tbody', {}, rows))];
  if (s.counts && Object.keys(s.counts).length) {
    out.push(el('p', {class: 'small', id: 'counts'}, t('summary_counts') + ': ',
      Object.entries(s.counts).map(([k, v]) => valueName(k) + ' ' + v).join(' · ')));
  }
  if (s.reservations && s.reservations.length) {
    out.push(el('h2', {}, t('reservations')),
      el('ul', {}, s.reservations.map((r) => el('li', {}, memberName(r.member) + (r.statement ? ': ' + r.statement : '')))));
  }
  return out;
}

// The text of a draft with its notes and forms by paragraph, and the comparison of versions.
async function versionsBlock(item, pinned, open) {
  let v;
  try { v = await api('GET', '/v1/items/' + item.id + '/versions'); } catch (e) { return []; }
  if (!v.versions || !v.versions.length) return [];
  const cur = v.versions.find((x) => x.version === v.current) || v.versions[v.versions.length - 1];
  return [...textBlock(item, v.versions, cur, pinned, open), ...compareBlock(v.versions, cur)];
}

// A form pinned to paragraph n of the version being circulated: the page gives the numbers.
function paragraphForm(id, item, a, n, para) {
  const params = Object.assign({}, a.params);
  delete params.version;
  delete params.paragraph;
  const fixed = {version: item.data.version, paragraph: n};
  const form = actionForm(a.name, {label: a.label, params}, async (p, key) => {
    const r = await api('POST', '/v1/items/' + id + '/actions/' + a.name, {params: Object.assign({}, p, fixed)},
      {'Idempotency-Key': key});
    if (S.view) S.view.para = null;
    await recorded(id, a, r.receipt || {});
  }, a.name + '-' + n, null, {draft: {scope: id, action: a.name + '.' + n}});
  // A new text for the paragraph (an amendment) may start from the paragraph as it stands.
  const box = params.text && params.text.type === 'string' && form.querySelector('#f-' + CSS.escape(a.name + '-' + n + '-text'));
  if (box) {
    box.after(el('button', {type: 'button', class: 'secondary small', onclick: () => {
      box.value = para;
      box.dispatchEvent(new Event('input', {bubbles: true}));
      box.focus();
    }}, t('from_para')));
  }
  return form;
}

// What a paragraph's button does: opens the action's form under the paragraph (closing any
// other open there), or closes it. The page remembers which, to open it again when redrawn.
function paragraphOpener(id, item) {
  const open = (a, n, para, holder, button) => {
    const was = holder.dataset.open;
    holder.replaceChildren();
    delete holder.dataset.open;
    holder.parentNode.querySelectorAll('[data-opens]').forEach((b) => b.setAttribute('aria-expanded', 'false'));
    if (!S.view || S.view.id !== id) S.view = {id};
    S.view.para = null;
    if (was === a.name) return;
    S.view.para = {action: a.name, n};
    holder.dataset.open = a.name;
    button.setAttribute('aria-expanded', 'true');
    holder.append(paragraphForm(id, item, a, n, para));
    // Opened by the reader: the focus goes to it; opened again by a live redrawing: it stays.
    const first = holder.querySelector('textarea, input, select');
    if (first && !open.quiet) first.focus();
  };
  return open;
}

// An action's parameters, with the choices the page can offer for lists of ids.
function withChoices(a, item) {
  const params = {};
  for (const [k, sp] of Object.entries(a.params || {})) {
    const choices = choicesFor(k, sp, item);
    params[k] = choices ? Object.assign({}, sp, {choices}) : sp;
  }
  return Object.assign({}, a, {params});
}

function eventsBlock(events) {
  return [el('h2', {}, t('history')), el('ul', {class: 'plain small', id: 'history'}, events.map((e) =>
    el('li', {}, when(e.at) + ' — ' + (e.actor || 'Gavel') + (e.member ? ' (' + memberName(e.member) + ')' : '') +
      ' — ' + (e.sentence || e.action_label || e.action) +
      (e.to_state && e.to_state !== e.from_state ? ' → ' + (e.state_label || e.to_state) : ''))))];
}

async function pageItem(id) {
  // What the page says about the reader's last action (received, lost, kept), where they are.
  S.view = {id, note: null, noteFor: null, focus: false};
  const item = await drawItem(id);
  live((ev) => ev.item_id === id, () => drawItem(id));
  if (item) resendPending(id, item);
}

// The reader's own recorded position, when the server shows it to them.
function ownPosition(positions) {
  const mine = S.me && S.me.member;
  return (positions || []).find((p) => mine && p.member === mine && !p.sealed && p.stance != null) || null;
}

// An action that sets the reader's position: every one of its required fields is a field of
// the position it recorded (the workflow's words, not a list of action names).
function setsPosition(a, own) {
  const req = Object.entries(a.params || {}).filter(([, sp]) => sp.required).map(([k]) => k);
  return own != null && req.length > 0 && req.every((k) => k in own);
}

// An action whose required fields are those of a position in the API (stance, statement).
function positionShaped(a) {
  const req = Object.entries(a.params || {}).filter(([, sp]) => sp.required).map(([k]) => k);
  return req.length > 0 && req.every((k) => k === 'stance' || k === 'statement');
}

function drawNote(id, node, action, focus) {
  if (!S.view || S.view.id !== id) S.view = {id};
  Object.assign(S.view, {note: node, noteFor: action || null, focus: !!focus});
}

async function drawItem(id) {
  const gen = S.gen;
  const [item, events, pos] = await Promise.all([
    api('GET', '/v1/items/' + id), api('GET', '/v1/items/' + id + '/events'),
    api('GET', '/v1/items/' + id + '/positions').catch(() => ({positions: []})), workflows()]);
  S.workflow = item.workflow; /* forms name states in this item's workflow's words */
  const own = ownPosition(pos.positions);
  // A text's paragraph-pinned actions open from its paragraphs, not from the list below.
  const hasText = !!(item.data && item.data.versions);
  const pinned = hasText ? item.actions.filter(pinnedToParagraph) : [];
  const forms = item.actions.filter((a) => !pinned.includes(a)).map((x) => withChoices(x, item)).map((a) => {
    const mine = setsPosition(a, own);
    // A new text of a text with versions (a revision) starts from the current one.
    const revises = hasText && a.params && a.params.text && a.params.text.type === 'text';
    const defaults = {version: item.data && item.data.version, text: revises ? currentText(item) : undefined};
    if (mine) for (const k of Object.keys(a.params || {})) if (own[k] != null && k !== 'member') defaults[k] = own[k];
    return el('details', {class: 'action', open: item.actions.length === 1 || mine, 'data-for': a.name},
      el('summary', {}, mine ? t('revise_position') : tx(a.label) || a.name),
      actionForm(a.name, a, async (params, key) => {
        const r = await api('POST', '/v1/items/' + id + '/actions/' + a.name, {params}, {'Idempotency-Key': key});
        await recorded(id, a, r.receipt || {});
      }, null, defaults, {draft: {scope: id, action: a.name}, label: mine ? t('revise_position') : null,
        onLost: (params, key) => lost(id, a, params, key)}));
  });
  const dl = Object.entries(item.deadlines || {});
  const open = paragraphOpener(id, item);
  const versions = hasText ? await versionsBlock(item, pinned, open) : [];
  if (gen !== S.gen) return null;
  const v = S.view && S.view.id === id ? S.view : {};
  const hadFocus = v.note && v.note.contains(document.activeElement);
  const notice = el('div', {id: 'notice'}, v.note || null);
  // The note sits above the form it is about; otherwise at the top.
  const at = v.note && v.noteFor ? forms.findIndex((f) => f.dataset.for === v.noteFor) : -1;
  if (at >= 0) forms.splice(at, 0, notice);
  pageTitle(tx(item.title));
  show(
    el('p', {class: 'small'}, link('/', '← ' + t('items'))),
    el('h1', {}, tx(item.title)),
    el('p', {class: 'row small'},
      el('span', {}, tx(item.workflow_title)),
      el('span', {class: 'badge', id: 'state'}, tx(item.state_label) || item.state),
      item.number ? el('span', {}, t('number') + ' ' + item.number) : null,
      item.meeting_id ? link('/meetings/' + item.meeting_id, t('meeting')) : null,
      el('span', {class: 'muted'}, t('opened') + ' ' + when(item.created_at) + ' ' + t('by') + ' ' + item.created_by)),
    dl.length ? el('p', {class: 'small', id: 'deadlines'}, t('deadlines') + ': ',
      dl.map(([k, x]) => valueName(k) + ' ' + when(x)).join(' · ')) : null,
    at < 0 ? notice : null,
    ...dataBlock(item),
    ...positionsBlock(item, pos.positions),
    ...versions,
    item.actions.length ? el('h2', {}, t('actions')) : null,
    ...forms,
    ...eventsBlock(events.events),
    el('p', {class: 'muted small'}, t('live')));
  // A paragraph's form that was open stays open (what was typed in it is kept as unsent text).
  if (v.para) {
    const b = main().querySelector('#p-' + v.para.n + ' [data-opens="' + CSS.escape(v.para.action) + '"]');
    open.quiet = true;
    if (b) b.click();
    else v.para = null;
    open.quiet = false;
  }
  if (v.note && (v.focus || hadFocus)) {
    v.focus = false;
    v.note.focus({preventScroll: true});
    v.note.scrollIntoView({block: 'center'});
  }
  return item;
}

// What the server recorded, said where the reader is: the position as recorded (or the
// action's name), the time in the reader's zone, and the receipt's details on request.
async function recorded(id, a, receipt, remark) {
  // Recorded: nothing of it is left to send (before the form is drawn again).
  draftDrop({scope: id, action: a.name});
  S.dirty = false;
  drawNote(id, null);
  let pos = null;
  try {
    const all = await api('GET', '/v1/items/' + id + '/positions');
    pos = all.positions.find((p) => receipt.event_id != null && p.event_id === receipt.event_id && !p.sealed) || null;
  } catch (e) { /* the note says less */ }
  const at = receipt.committed_at || receipt.at || (pos && pos.at);
  const shown = pos ? Object.entries(a.params || {}).filter(([k]) => k !== 'member' && pos[k] != null && pos[k] !== '')
    .flatMap(([k, sp]) => [el('dt', {}, tx(sp.label) || k), el('dd', {'data-field': k}, sp.type === 'enum' ? valueName(pos[k]) : String(pos[k]))]) : [];
  const note = el('div', {class: 'confirm', id: 'confirm', tabindex: '-1', role: 'status'},
    el('p', {class: 'confirm-head'}, pos ? t('recorded_position', memberName(pos.member), clock(at))
      : t('recorded_action', tx(a.label) || a.name, clock(at))),
    remark ? el('p', {class: 'small'}, remark) : null,
    shown.length ? el('dl', {class: 'recorded'}, shown) : null,
    el('details', {class: 'receipt'}, el('summary', {}, t('receipt')), el('dl', {},
      el('dt', {}, t('recorded_at')), el('dd', {}, when(at)),
      el('dt', {}, t('event_no')), el('dd', {}, String(receipt.event_id != null ? receipt.event_id : pos ? pos.event_id : '')),
      receipt.audit_index != null ? [el('dt', {}, t('audit_no')), el('dd', {}, String(receipt.audit_index))] : null)));
  drawNote(id, note, a.name, true);
  if (location.pathname === '/items/' + id) await drawItem(id);
}

// The answer to a sent form was lost: the page asks the server what it holds, says so, and
// sends the same request again (same key: the server acts once) until it is answered.
async function lost(id, a, params, key) {
  const d = {scope: id, action: a.name};
  drawNote(id, el('p', {class: 'notice', role: 'status', tabindex: '-1'}, t('lost_checking')), a.name, true);
  await drawItem(id).catch(() => null);
  let all = null;
  try { all = await api('GET', '/v1/items/' + id + '/positions'); } catch (e) { /* still unreachable */ }
  if (!all) return keep(id, a);
  const own = ownPosition(all.positions);
  if (own && setsPosition(a, own)) {
    const same = Object.entries(params).every(([k, v]) => String(own[k] == null ? '' : own[k]) === String(v)) &&
      Object.keys(a.params || {}).every((k) => k in params || own[k] == null || own[k] === '');
    if (same) {
      draftDrop(d);
      return recorded(id, a, {event_id: own.event_id, committed_at: own.at}, t('lost_same'));
    }
    drawNote(id, el('p', {class: 'notice', role: 'status', tabindex: '-1'},
      t('lost_older', valueName(own.stance), clock(own.at))), a.name, true);
  } else if (S.me.member && positionShaped(a) && all.positions.every((p) => p.member !== S.me.member)) {
    drawNote(id, el('p', {class: 'notice', role: 'status', tabindex: '-1'}, t('lost_none')), a.name, true);
  }
  await resend(id, a, {params, key});
}

// Sends a kept request again; on a new loss, says the text is kept and tries again later.
async function resend(id, a, p) {
  const d = {scope: id, action: a.name};
  try {
    const r = await api('POST', '/v1/items/' + id + '/actions/' + a.name, {params: p.params}, {'Idempotency-Key': p.key});
    draftDrop(d);
    await recorded(id, a, r.receipt || {});
  } catch (e) {
    if (e.status === 0) return keep(id, a);
    if (e.status === 401) return;
    // Refused now (the item moved on): the text stays in the form with the reason.
    const kept = draftLoad(d);
    if (kept) draftSave(d, {values: kept.values, key: newKey(), pending: false});
    drawNote(id, el('p', {class: 'error', role: 'alert', tabindex: '-1'}, e.message), a.name, true);
    if (location.pathname === '/items/' + id) await drawItem(id).catch(() => null);
  }
}

function keep(id, a) {
  drawNote(id, el('p', {class: 'notice', role: 'status', tabindex: '-1', id: 'kept'}, t('kept')), a.name, true);
  drawItem(id).catch(() => null);
  clearTimeout(S.retry);
  S.retry = setTimeout(() => retryNow(id), 3000);
}

function retryNow(id) {
  clearTimeout(S.retry);
  S.retry = null;
  if (location.pathname !== '/items/' + id) return;
  api('GET', '/v1/items/' + id).then((item) => resendPending(id, item), () => {
    S.retry = setTimeout(() => retryNow(id), 3000);
  });
}

// Texts sent without an answer (before a reload, a lost connection or an ended session) go
// again, with their own key, as soon as the page is back.
function resendPending(id, item) {
  for (const a of item.actions) {
    const p = draftLoad({scope: id, action: a.name});
    if (p && p.pending && p.key && p.params) resend(id, a, p);
  }
}

// Follows events about the page (Server-Sent Events). The page is redrawn when nothing is
// being written in it; otherwise a line offers the update, so no one loses what they typed.
// matches(ev, kind) says whether an event ("item" or "forum") concerns the page.
function live(matches, redraw) {
  closeStream();
  if (!window.EventSource) return;
  const s = new EventSource('/v1/stream');
  S.stream = s;
  S.dirty = false;
  let busy = false, again = false;
  const apply = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try {
      do {
        again = false;
        if (S.stream !== s) return;
        if (S.dirty) {
          if (!document.getElementById('updated')) {
            updates().replaceChildren(el('p', {class: 'notice', id: 'updated'}, t('updated') + ' ',
              el('button', {type: 'button', onclick: () => { S.dirty = false; apply(); }}, t('refresh'))));
          }
          return;
        }
        await keepingFocus(redraw);
        if (S.stream === s) updates().replaceChildren();
      } while (again);
    } finally { busy = false; }
  };
  for (const kind of ['item', 'forum']) {
    s.addEventListener(kind, (m) => {
      let ev;
      try { ev = JSON.parse(m.data); } catch (e) { return; }
      if (matches(ev, kind) && S.stream === s) apply();
    });
  }
}

// Redraws the page and gives the focus back to the control or link that held it, so a
// reader moving through a list is not sent back to the top when it changes.
async function keepingFocus(redraw) {
  const a = document.activeElement;
  const sel = a && a !== document.body && main().contains(a) ? (a.id ? '#' + CSS.escape(a.id)
    : a.getAttribute('href') ? a.tagName.toLowerCase() + '[href="' + CSS.escape(a.getAttribute('href')) + '"]' : null) : null;
  await redraw();
  const b = sel && main().querySelector(sel);
  if (b && document.activeElement !== b) b.focus({preventScroll: true});
}

async function pageNew(name) {
  const gen = S.gen;
  const wf = (await workflows()).find((w) => w.name === name);
  if (gen !== S.gen) return;
  if (!wf || !wf.create) throw Object.assign(new Error(t('not_found')), {status: 404});
  const title = {type: 'text', required: true, label: {en: 'Title', fr: 'Titre'}};
  const spec = {label: wf.create.label, params: Object.assign({title}, wf.create.params)};
  pageTitle(t('new') + ' — ' + (tx(wf.title) || name));
  show(el('p', {class: 'small'}, link('/', '← ' + t('items'))),
    el('h1', {}, t('new') + ' — ' + (tx(wf.title) || name)),
    el('div', {class: 'card'}, actionForm('create', {label: {en: 'Create', fr: 'Créer'}, params: spec.params},
      async (params, key) => {
        const body = {workflow: name, title: params.title, params: Object.assign({}, params)};
        delete body.params.title;
        const r = await api('POST', '/v1/forums/' + encodeURIComponent(S.me.forum) + '/items', body,
          {'Idempotency-Key': key});
        go('/items/' + r.item.id);
      }, null, null, {draft: {scope: 'new', action: name}})));
}

// ---- Meetings ------------------------------------------------------------------------------------------

async function pageMeetings() {
  const gen = S.gen;
  const r = await api('GET', '/v1/meetings');
  if (gen !== S.gen) return;
  pageTitle(t('meetings'));
  show(el('h1', {}, t('meetings')),
    r.meetings.length ? el('ul', {class: 'plain'}, r.meetings.map((m) => el('li', {},
      link('/meetings/' + m.id, tx(m.title)), el('div', {class: 'small muted'}, m.place + ' — ' + m.starts_on +
        (m.ends_on && m.ends_on !== m.starts_on ? ' → ' + m.ends_on : ''))))) : el('p', {class: 'muted'}, t('nothing')));
}

async function pageMeeting(id) {
  const gen = S.gen;
  // The record comes with the page: a live redrawing never flashes "Loading…".
  const [m, text] = await Promise.all([api('GET', '/v1/meetings/' + id),
    api('GET', '/v1/meetings/' + id + '/record?format=md&lang=' + S.lang).catch((e) => e.message)]);
  if (gen !== S.gen) return;
  const record = el('pre', {class: 'record', id: 'record'}, text);
  const chair = S.me.chair_powers && !m.agenda_adopted_at && m.agenda.length;
  pageTitle(tx(m.title));
  show(el('p', {class: 'small'}, link('/meetings', '← ' + t('meetings'))),
    el('h1', {}, tx(m.title)),
    el('p', {class: 'small'}, t('place') + ': ' + m.place + ' · ' + t('dates') + ': ' + m.starts_on +
      (m.ends_on && m.ends_on !== m.starts_on ? ' → ' + m.ends_on : '')),
    el('h2', {}, t('agenda')),
    el('p', {class: 'small', id: 'agenda-state'}, m.agenda_adopted_at ? t('agenda_adopted', when(m.agenda_adopted_at)) : t('agenda_provisional')),
    m.agenda.length ? el('ol', {id: 'agenda'}, m.agenda.map((it) => el('li', {}, link('/items/' + it.id, tx(it.title)),
      it.state_label ? [' ', el('span', {class: 'badge'}, tx(it.state_label))] : null)))
      : el('p', {class: 'muted'}, t('nothing')),
    chair ? el('button', {onclick: async (ev) => {
      ev.target.disabled = true;
      try { await api('POST', '/v1/meetings/' + id + '/adopt-agenda'); await pageMeeting(id); } catch (e) {
        ev.target.disabled = false;
        ev.target.after(problem(e));
      }
    }}, t('adopt_agenda')) : null,
    el('h2', {}, t('record')), record);
}

// ---- Profile ----------------------------------------------------------------------------------------------

async function pageMe() {
  const gen = S.gen;
  S.me = await api('GET', '/v1/me');
  if (gen !== S.gen) return;
  const me = S.me;
  const okMsg = el('p', {role: 'status'});
  const lang = el('select', {id: 'lang'}, ['fr', 'en'].map((l) => el('option', {value: l, selected: me.language === l},
    l === 'fr' ? 'Français' : 'English')));
  const email = el('input', {type: 'email', id: 'email', value: me.email || ''});
  const notify = el('select', {id: 'notify'}, ['each', 'digest', 'none'].map((n) => el('option', {value: n,
    selected: me.notify === n}, t('notify_' + n))));
  const err1 = el('p', {class: 'error', role: 'alert'});
  const prefs = el('form', {class: 'card', id: 'prefs', onsubmit: async (ev) => {
    ev.preventDefault();
    err1.textContent = okMsg.textContent = '';
    try {
      S.me = Object.assign({}, S.me, await api('PATCH', '/v1/me', {language: lang.value, email: email.value || null, notify: notify.value}));
      setLang(S.me.language);
      frame();
      await pageMe();
      document.getElementById('prefs').append(el('p', {class: 'notice', role: 'status'}, t('saved')));
    } catch (e) { err1.textContent = e.message; }
  }}, el('label', {for: 'lang'}, t('language')), lang, el('label', {for: 'email'}, t('email')), email,
  el('label', {for: 'notify'}, t('notify')), notify, el('div', {}, el('button', {type: 'submit'}, t('save'))), err1, okMsg);
  const cur = el('input', {type: 'password', id: 'current', autocomplete: 'current-password'});
  const nw = el('input', {type: 'password', id: 'new', autocomplete: 'new-password', minlength: 12});
  const err2 = el('p', {class: 'error', role: 'alert'});
  const pw = el('form', {class: 'card', id: 'password-form', onsubmit: async (ev) => {
    ev.preventDefault();
    err2.textContent = '';
    try {
      await api('POST', '/v1/me/password', {current_password: cur.value, new_password: nw.value});
      S.me = await api('GET', '/v1/me');
      cur.value = nw.value = '';
      pw.append(el('p', {class: 'notice', role: 'status'}, t('saved')));
      if (location.pathname === '/me' && !S.me.must_change_password) frame();
    } catch (e) { err2.textContent = e.message; }
  }}, el('label', {for: 'current'}, t('current_password')), cur, el('label', {for: 'new'}, t('new_password')), nw,
  el('div', {}, el('button', {type: 'submit'}, t('change_password'))), err2);
  pageTitle(t('profile'));
  show(el('h1', {}, t('profile')),
    me.must_change_password ? el('p', {class: 'notice'}, t('must_change')) : null,
    el('p', {class: 'small muted'}, me.username + ' · ' + me.role + (me.member ? ' · ' + memberName(me.member) : '')),
    me.must_change_password ? null : prefs, el('h2', {}, t('change_password')), pw,
    me.role === 'secretariat' && !me.must_change_password ? importForm() : null);
}

// The secretariat's bulk account import: the file goes as it is (text/csv); the answer is
// either every account with its one-time password or every wrong line.
function importForm() {
  const file = el('input', {type: 'file', id: 'import-file', accept: '.csv,text/csv'});
  const out = el('div', {id: 'import-result', role: 'status'});
  const form = el('form', {class: 'card', id: 'import-form', onsubmit: async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    if (!file.files.length) return;
    try {
      const r = await api('POST', '/v1/users/import', undefined, {'Content-Type': 'text/csv'},
                          await file.files[0].text());
      out.append(el('p', {class: 'notice'}, t('import_done', r.count)),
        el('table', {}, el('tbody', {}, r.created.map((u) => el('tr', {},
          el('td', {}, u.username), el('td', {}, u.role + (u.member ? ' · ' + u.member : '')),
          el('td', {}, el('code', {}, u.password)))))));
      file.value = '';
    } catch (e) {
      const rows = (e.body && e.body.rows) || [];
      out.append(el('p', {class: 'error', role: 'alert'}, e.message),
        el('ul', {class: 'error'}, rows.map((r) => el('li', {},
          t('import_line') + ' ' + r.line + (r.field ? ' (' + r.field + ')' : '') + ': ' + r.message))));
    }
  }}, el('p', {class: 'small muted'}, t('import_help')), el('label', {for: 'import-file'}, t('import_file')), file,
  el('div', {}, el('button', {type: 'submit'}, t('import_send'))), out);
  return el('section', {}, el('h2', {}, t('import_title')), form);
}

// ---- Start ------------------------------------------------------------------------------------------------

setLang(localStorage.getItem('gavel.lang') || (navigator.language || 'en').slice(0, 2));
window.addEventListener('popstate', render);
// Something typed in the page holds back live redraws (see live()).
main().addEventListener('input', () => { S.dirty = true; });
// Back online: what is kept goes at once rather than at the next try.
window.addEventListener('online', () => { if (S.retry && S.view) retryNow(S.view.id); });
// Signing in or out in another tab changes who this tab acts as: start again from the server.
window.addEventListener('storage', (ev) => {
  if (ev.key === 'gavel.csrf') {
    forget();
    if (ev.newValue && location.pathname === '/login') go('/', true);
    else render();
  }
});
render();
