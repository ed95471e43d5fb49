// Drafts as texts: paragraphs numbered once, each with its comments and amendments beside it;
// the forms pinned to a paragraph opened from it; amendments as tracked changes (word by word);
// the comparison of two versions paragraph by paragraph, in every language side by side
// (loaded before app.js; uses its helpers when called, once every script has run).
'use strict';

// The paragraphs of a text as the workflows count them: parts separated by a blank line.
function parasOf(s) {
  return String(s || '').split('\n\n').filter((x) => x.trim()).map((x) => x.replace(/^\n+|\n+$/g, ''));
}

// The longest common subsequence of two lists under eq, as pairs of indexes, in order.
function common(a, b, eq) {
  const n = a.length, m = b.length, w = m + 1;
  const L = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) {
    L[i * w + j] = eq(a[i], b[j]) ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
  }
  const out = [];
  for (let i = 0, j = 0; i < n && j < m;) {
    if (eq(a[i], b[j])) { out.push([i, j]); i++; j++; } else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) i++; else j++;
  }
  return out;
}

// What changed from text a to text b, word by word: [{op: 'same' | 'add' | 'del', text}].
function wordDiff(a, b) {
  const x = String(a || '').match(/\s+|[^\s]+/g) || [], y = String(b || '').match(/\s+|[^\s]+/g) || [];
  const ops = [];
  const push = (op, text) => {
    if (!text) return;
    const last = ops[ops.length - 1];
    if (last && last.op === op) last.text += text;
    else ops.push({op, text});
  };
  // Too long to compare word by word (a whole text rewritten): one deletion, one insertion.
  if (x.length * y.length > 400000) {
    push('del', x.join(''));
    push('add', y.join(''));
    return ops;
  }
  let i = 0, j = 0;
  for (const [ci, cj] of common(x, y, (p, q) => p === q)) {
    push('del', x.slice(i, ci).join(''));
    push('add', y.slice(j, cj).join(''));
    push('same', x[ci]);
    i = ci + 1;
    j = cj + 1;
  }
  push('del', x.slice(i).join(''));
  push('add', y.slice(j).join(''));
  return ops;
}

// Changes drawn as <ins> and <del>: underlined and struck through, and said in words for those
// who do not see the marks (hidden text at each change's start and end).
function changesOf(ops) {
  return ops.map((o) => {
    if (o.op === 'same') return document.createTextNode(o.text);
    if (!o.text.trim()) return o.op === 'add' ? document.createTextNode(o.text) : null;
    const k = o.op === 'add' ? 'ins' : 'del';
    return el(k, {}, el('span', {class: 'vh'}, '[' + t(k + '_start') + '] '), o.text, el('span', {class: 'vh'}, ' [' + t(k + '_end') + ']'));
  }).filter(Boolean);
}

// The paragraphs of versions a and b paired: equal ones, then the others in order, so a
// rewritten paragraph is compared with the one it replaces. [{from, to}] (indexes or null).
function pairParas(a, b) {
  const rows = [];
  let i = 0, j = 0;
  const gap = (ci, cj) => {
    while (i < ci || j < cj) rows.push({from: i < ci ? i++ : null, to: j < cj ? j++ : null});
  };
  for (const [ci, cj] of common(a, b, (p, q) => p.trim() === q.trim())) {
    gap(ci, cj);
    rows.push({from: i++, to: j++});
  }
  gap(a.length, b.length);
  return rows;
}

// The languages of a text, the reader's first.
function langsOf(text) {
  if (!text || typeof text !== 'object') return [null];
  return Object.keys(text).sort((p, q) => (q === S.lang) - (p === S.lang));
}

const LANG_NAMES = {fr: 'Français', en: 'English'};

// Versions a and b compared paragraph by paragraph, one column per language.
function compareParas(a, b) {
  const langs = langsOf(b.text).filter((l) => l == null || (a.text && a.text[l] != null));
  const byLang = langs.map((l) => {
    const pa = parasOf(l == null ? tx(a.text) : a.text[l]), pb = parasOf(l == null ? tx(b.text) : b.text[l]);
    return {l, pa, pb, rows: pairParas(pa, pb)};
  });
  const n = Math.max(0, ...byLang.map((x) => x.rows.length));
  const out = [];
  for (let r = 0; r < n; r++) {
    const first = byLang.map((x) => x.rows[r]).find(Boolean) || {from: 0};
    const head = first.to != null ? '§ ' + (first.to + 1) : '§ ' + (first.from + 1) + ' (' + t('removed') + ')';
    let changed = false;
    const cells = byLang.map(({l, pa, pb, rows}) => {
      const row = rows[r];
      let body = [];
      if (row && row.from != null && row.to != null) {
        if (pa[row.from] !== pb[row.to]) changed = true;
        body = changesOf(wordDiff(pa[row.from], pb[row.to]));
      } else if (row) {
        changed = true;
        body = changesOf([{op: row.to != null ? 'add' : 'del', text: row.to != null ? pb[row.to] : pa[row.from]}]);
      }
      return el('div', {class: 'cmp-cell', lang: l || null},
        l ? el('div', {class: 'small muted cmp-lang'}, LANG_NAMES[l] || l) : null, el('p', {}, body));
    });
    out.push(el('section', {class: 'cmp-row' + (changed ? ' changed' : ''), 'aria-label': head},
      el('h3', {class: 'small'}, head, changed ? '' : ' — ' + t('unchanged')), el('div', {class: 'cmp-cells'}, cells)));
  }
  return out;
}

// Which language of a text a proposed paragraph is written in: the one it changes least.
function closestPara(text, n, proposed) {
  let best = null;
  for (const l of langsOf(text)) {
    const p = parasOf(l == null ? tx(text) : text[l])[n - 1];
    if (p == null) continue;
    const cost = wordDiff(p, proposed).filter((o) => o.op !== 'same').reduce((s, o) => s + o.text.length, 0);
    if (!best || cost < best.cost) best = {l, p, cost};
  }
  return best;
}

// One comment or amendment: who, on which paragraph of which version, and what (an amendment
// as its changes to that paragraph).
function noteOf(kind, n, versions) {
  const v = versions.find((x) => x.version === n.version);
  const base = kind === 'amendment' && v ? closestPara(v.text, n.paragraph, n.text) : null;
  return el('li', {class: 'note ' + kind, id: kind + '-' + n.id},
    el('div', {class: 'small muted'}, '§' + n.paragraph + ' · ' + t('version') + ' ' + n.version + ' · ' +
      (n.member ? memberName(n.member) + ' · ' : '') + n.by + ' · ' + t(kind) +
      (n.status ? ' · ' + valueName(n.status) : '')),
    base ? el('p', {class: 'changes', lang: base.l || null}, changesOf(wordDiff(base.p, n.text))) : el('p', {}, n.text),
    n.rationale ? el('p', {class: 'small'}, n.rationale) : null);
}

// Actions made on one paragraph of the version being circulated: they take its number and
// the version's, which the page gives them, so no one types either.
function pinnedToParagraph(a) {
  const p = a.params || {};
  return !!(p.version && p.paragraph && p.version.type === 'integer' && p.paragraph.type === 'integer');
}

// The text of the current version, paragraph by paragraph: each numbered once (a paragraph
// that starts with its own number keeps it), its comments and amendments beside it, and
// the forms pinned to a paragraph opened from it. open(a, n, para, holder) draws a form.
function textBlock(item, versions, cur, pinned, open) {
  const data = item.data || {};
  const notes = [];
  for (const c of data.comments || []) notes.push(['comment', c]);
  for (const a of data.amendments || []) notes.push(['amendment', a]);
  notes.sort((x, y) => (x[1].paragraph - y[1].paragraph) || String(x[1].at).localeCompare(String(y[1].at)));
  const lang = langsOf(cur.text)[0];
  const paras = parasOf(tx(cur.text));
  const items = paras.map((p, i) => {
    const n = i + 1;
    const own = new RegExp('^\\s*' + n + '[.)]\\s').test(p);
    const mine = notes.filter(([, x]) => x.version === cur.version && x.paragraph === n);
    const holder = el('div', {class: 'para-form'});
    const tools = pinned.map((a) => el('button', {type: 'button', class: 'secondary small', 'data-opens': a.name,
      'aria-expanded': 'false', onclick: (ev) => open(a, n, p, holder, ev.currentTarget)}, tx(a.label) || a.name));
    return el('li', {class: 'para', id: 'p-' + n, 'data-paragraph': n},
      el('div', {class: 'para-main'},
        el('p', {class: 'para-text', lang: lang || null}, own ? null : el('span', {class: 'para-no'}, n + '. '), p),
        tools.length ? el('div', {class: 'para-tools'}, tools) : null, holder),
      mine.length ? el('div', {class: 'para-notes'},
        el('h3', {class: 'vh'}, t('notes') + ' — § ' + n),
        el('ul', {class: 'plain'}, mine.map(([k, x]) => noteOf(k, x, versions)))) : null);
  });
  const older = notes.filter(([, x]) => x.version !== cur.version);
  return [el('h2', {}, t('text') + ' — ' + t('version') + ' ' + cur.version),
    el('ol', {class: 'paras', id: 'text'}, items),
    older.length ? el('details', {class: 'older-notes'}, el('summary', {}, t('older_notes')),
      el('ul', {class: 'plain', id: 'notes'}, older.map(([k, x]) => noteOf(k, x, versions)))) : null];
}

// The comparison of any two versions: two labelled selectors, the changes per paragraph.
function compareBlock(versions, cur) {
  if (versions.length < 2) return [];
  const pick = (id, sel) => el('select', {id}, versions.map((x) => el('option', {value: x.version, selected: x.version === sel},
    t('version') + ' ' + x.version)));
  const from = pick('diff-from', cur.version - 1), to = pick('diff-to', cur.version);
  const box = el('div', {class: 'diff', id: 'diff', 'aria-live': 'polite'});
  const draw = () => {
    const a = versions.find((x) => String(x.version) === from.value), b = versions.find((x) => String(x.version) === to.value);
    box.replaceChildren(...(a && b ? compareParas(a, b) : []));
  };
  from.addEventListener('change', draw);
  to.addEventListener('change', draw);
  draw();
  return [el('h2', {}, t('versions')),
    el('ul', {class: 'plain small'}, versions.map((x) => el('li', {}, t('version') + ' ' + x.version + ' — ' +
      when(x.at) + ' — ' + x.by + (x.note ? ' — ' + x.note : '')))),
    el('div', {class: 'row compare'},
      el('span', {}, el('label', {for: 'diff-from'}, t('diff_from')), from),
      el('span', {}, el('label', {for: 'diff-to'}, t('diff_to')), to)),
    el('p', {class: 'small muted'}, t('diff_legend')), box];
}

// Choices for a list of ids that names a list of the item's data (adopted_amendments and
// amendments): the entries made on the current version, each shown by what it proposes.
function choicesFor(name, spec, item) {
  const data = item.data || {};
  if (spec.type !== 'list' || !spec.items || spec.items.type !== 'integer') return null;
  const key = Object.keys(data).find((k) => Array.isArray(data[k]) && (name === k || name.endsWith('_' + k)) &&
    data[k].every((x) => x && typeof x === 'object' && x.id != null));
  if (!key) return null;
  const versions = Array.isArray(data.versions) ? data.versions : [];
  return data[key].filter((x) => x.version == null || x.version === data.version).map((x) => ({value: x.id,
    label: el('span', {}, el('strong', {}, '#' + x.id + (x.paragraph ? ' · §' + x.paragraph : '') +
      (x.member ? ' · ' + memberName(x.member) : '')), ' ',
    x.paragraph && x.text ? noteChanges(x, versions) : x.text)}));
}

function noteChanges(x, versions) {
  const v = versions.find((y) => y.version === x.version);
  const base = v ? closestPara(v.text, x.paragraph, x.text) : null;
  return base ? el('span', {class: 'changes', lang: base.l || null}, changesOf(wordDiff(base.p, x.text))) : x.text;
}
