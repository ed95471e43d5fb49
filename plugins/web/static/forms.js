// The forms of Gavel's pages, built from the parameters a workflow declares for each action,
// and the unsent text they keep in this browser (loaded before app.js; uses its helpers when
// called, once every script has run).
'use strict';

// ---- Forms built from an action's parameters --------------------------------------------------------

function fieldFor(name, spec, path, defaults) {
  const id = 'f-' + path.join('-');
  const preset = defaults && defaults[name] !== undefined ? defaults[name] : spec.default;
  const label = tx(spec.label) || name.replace(/_/g, ' ');
  const req = spec.required ? ' *' : '';
  const wrap = el('div', {class: 'field', 'data-name': path.join('.')});
  let get;
  const langs = spec.languages || (S.forum ? S.forum.languages : ['en']);
  switch (spec.type) {
    case 'enum':
    case 'member': {
      const values = spec.values || (spec.type === 'member' ? S.forum.members.map((m) => m.code) : []);
      // Nothing is chosen for the person: a required choice starts empty.
      const sel = el('select', {id, name: id, required: spec.required && preset === undefined},
        el('option', {value: '', selected: preset === undefined}, spec.required ? t('choose') : '—'),
        values.map((v) => el('option', {value: v, selected: preset === v},
          spec.type === 'member' ? memberName(v) : valueName(v))));
      wrap.append(el('label', {for: id}, label + req), sel);
      get = () => sel.value || undefined;
      break;
    }
    case 'boolean': {
      const box = el('input', {type: 'checkbox', id, name: id, checked: preset === true});
      wrap.append(el('label', {}, box, ' ', el('span', {}, label)));
      get = () => box.checked;
      break;
    }
    case 'integer':
    case 'item':
    case 'meeting': {
      const input = el('input', {type: 'number', id, name: id, min: spec.min, max: spec.max, step: 1,
        value: typeof preset === 'number' ? preset : null});
      wrap.append(el('label', {for: id}, label + req), input);
      get = () => (input.value === '' ? undefined : Number(input.value));
      break;
    }
    case 'time': {
      const input = el('input', {type: 'datetime-local', id, name: id});
      wrap.append(el('label', {for: id}, label + req + ' (' + t('your_time') + ')'), input);
      get = () => (input.value ? new Date(input.value).toISOString() : undefined);
      break;
    }
    case 'text': {
      const boxes = langs.map((l) => {
        const box = el('textarea', {id: id + '-' + l, name: id + '-' + l, lang: l});
        if (preset && typeof preset === 'object' && typeof preset[l] === 'string') box.value = preset[l];
        else if (typeof preset === 'string' && l === langs[0]) box.value = preset;
        wrap.append(el('label', {for: id + '-' + l}, label + ' (' + l.toUpperCase() + ')' + req), box);
        return [l, box];
      });
      get = () => {
        const v = {};
        for (const [l, box] of boxes) if (box.value.trim()) v[l] = box.value;
        return Object.keys(v).length ? v : undefined;
      };
      break;
    }
    case 'list': {
      const of = spec.items || {type: 'string'};
      if (spec.choices) {
        // Ids of entries the page can show (amendments to take): one box each, by what it is.
        const boxes = spec.choices.map((c) => [c, el('input', {type: 'checkbox', id: id + '-' + c.value, value: c.value})]);
        wrap.append(el('fieldset', {class: 'choices'}, el('legend', {}, label + req), boxes.length
          ? boxes.map(([c, b]) => el('label', {class: 'choice', for: b.id}, b, ' ', c.label))
          : el('p', {class: 'small muted'}, t('nothing'))));
        get = () => {
          const chosen = boxes.filter(([, b]) => b.checked).map(([c]) => c.value);
          return chosen.length ? chosen : undefined;
        };
        break;
      }
      if (of.type === 'member' || of.type === 'enum') {
        // A set of states (or values): one box each.
        const values = of.values || (of.type === 'member' ? S.forum.members.map((m) => m.code) : []);
        const boxes = values.map((v) => [v, el('input', {type: 'checkbox', id: id + '-' + v, value: v})]);
        wrap.append(el('fieldset', {}, el('legend', {}, label + req),
          boxes.map(([v, b]) => el('label', {class: 'inline', for: b.id}, b, ' ',
            of.type === 'member' ? memberName(v) : valueName(v), '\u2003'))));
        get = () => {
          const chosen = boxes.filter(([, b]) => b.checked).map(([v]) => v);
          return chosen.length ? chosen : undefined;
        };
        break;
      }
      if (of.type === 'object') {
        // Entries of several fields (a state and its reservation): added one by one.
        const rows = [];
        const holder = el('div', {class: 'entries'});
        const add = el('button', {type: 'button', class: 'secondary', id: id + '-add', onclick: () => {
          const n = rows.length;
          const set = el('fieldset', {class: 'entry'});
          const parts = Object.entries(of.fields || {}).map(([k, sp]) => {
            const f = fieldFor(k, sp, path.concat(String(n), k));
            set.append(f.node);
            return [k, f];
          });
          rows.push(parts);
          set.append(el('button', {type: 'button', class: 'secondary', onclick: () => {
            rows.splice(rows.indexOf(parts), 1);
            set.remove();
          }}, t('remove')));
          holder.append(set);
        }}, '+ ' + label);
        wrap.append(el('fieldset', {}, el('legend', {}, label + req), holder, add));
        get = () => {
          const out = rows.map((parts) => {
            const v = {};
            for (const [k, f] of parts) {
              const x = f.get();
              if (x !== undefined) v[k] = x;
            }
            return v;
          }).filter((v) => Object.keys(v).length);
          return out.length ? out : undefined;
        };
        break;
      }
      const box = el('textarea', {id, name: id});
      wrap.append(el('label', {for: id}, label + req + ' (' + t('one_per_line') + ')'), box);
      get = () => {
        const lines = box.value.split('\n').map((x) => x.trim()).filter(Boolean);
        if (!lines.length) return undefined;
        return of.type === 'integer' || of.type === 'item' ? lines.map(Number) : lines;
      };
      break;
    }
    case 'object': {
      const set = el('fieldset', {}, el('legend', {}, label + req));
      const parts = Object.entries(spec.fields || {}).map(([k, s]) => {
        const f = fieldFor(k, s, path.concat(k));
        set.append(f.node);
        return [k, f];
      });
      wrap.append(set);
      get = () => {
        const v = {};
        for (const [k, f] of parts) {
          const x = f.get();
          if (x !== undefined) v[k] = x;
        }
        return Object.keys(v).length ? v : undefined;
      };
      break;
    }
    default: {
      const long = !spec.max_length || spec.max_length > 200;
      const input = long ? el('textarea', {id, name: id, maxlength: spec.max_length})
                         : el('input', {type: 'text', id, name: id, maxlength: spec.max_length});
      if (typeof preset === 'string') input.value = preset;
      wrap.append(el('label', {for: id}, label + req), input);
      get = () => (input.value.trim() === '' ? undefined : input.value);
    }
  }
  wrap.append(el('div', {class: 'field-error', role: 'alert'}));
  return {node: wrap, get};
}

// ---- Unsent text, kept in this browser ---------------------------------------------------------------
// What someone writes in a form is kept (per account, item and action) across reloads, lost
// connections and ended sessions, until the server has recorded it. A text sent without an
// answer is "pending": it keeps its Idempotency-Key, so sending it again acts once.

function draftKey(d) { return 'gavel.unsent.' + (S.me ? S.me.username : '') + '.' + d.scope + '.' + d.action; }

function draftLoad(d) {
  try { return JSON.parse(localStorage.getItem(draftKey(d)) || 'null'); } catch (e) { return null; }
}

function draftSave(d, v) {
  try { localStorage.setItem(draftKey(d), JSON.stringify(Object.assign({at: Date.now()}, v))); } catch (e) { /* storage off or full */ }
}

function draftDrop(d) { localStorage.removeItem(draftKey(d)); }

function formValues(form) {
  const v = {};
  form.querySelectorAll('input, select, textarea').forEach((x) => {
    if (x.id) v[x.id] = x.type === 'checkbox' ? x.checked : x.value;
  });
  return v;
}

function formRestore(form, values) {
  for (const [id, v] of Object.entries(values || {})) {
    const x = form.querySelector('#' + CSS.escape(id));
    if (!x) continue;
    if (x.type === 'checkbox') x.checked = !!v;
    else x.value = v;
  }
}

// A form for an action (or for creating an item); send(params, key) does the request.
// opts.draft {scope, action} keeps what is typed; opts.onLost(params, key) takes over when
// the answer is lost; opts.label replaces the action's own label on the button.
function actionForm(name, spec, send, prefix, defaults, opts) {
  opts = opts || {};
  const fields = Object.entries(spec.params || {}).map(([k, s]) => [k, fieldFor(k, s, [prefix || name, k], defaults)]);
  const err = el('p', {class: 'error', role: 'alert'});
  const saved = opts.draft ? draftLoad(opts.draft) : null;
  // One key per attempt at this form: sending again after a lost answer does it once.
  let key = saved && saved.pending && saved.key ? saved.key : newKey();
  const remember = () => {
    if (!opts.draft) return;
    // A change after a lost answer is a new attempt.
    if (saved && saved.pending) { saved.pending = false; key = newKey(); }
    draftSave(opts.draft, {values: formValues(form), key, pending: false});
  };
  const collect = () => {
    const params = {};
    for (const [k, f] of fields) {
      const v = f.get();
      if (v !== undefined) params[k] = v;
    }
    return params;
  };
  const form = el('form', {class: 'action', 'data-action': name, oninput: remember, onchange: remember, onsubmit: async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    form.querySelectorAll('.field-error').forEach((x) => { x.textContent = ''; });
    form.querySelectorAll('.invalid').forEach((x) => x.classList.remove('invalid'));
    const params = collect();
    if (opts.draft) draftSave(opts.draft, {values: formValues(form), params, key, pending: true});
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      await send(params, key);
      if (opts.draft) draftDrop(opts.draft);
      key = newKey();
    } catch (e) {
      button.disabled = false;
      // A lost answer keeps the key and the text for a retry; so does an ended session.
      if (e.status === 0 && opts.onLost) return opts.onLost(params, key);
      if (e.status === 401) return;
      // A refusal is final for these values: the text stays, a new attempt gets a new key.
      if (e.status) {
        key = newKey();
        if (opts.draft) draftSave(opts.draft, {values: formValues(form), key, pending: false});
      }
      // Point at the field the server named, if it is on this form.
      const top = (e.field || '').split(/[.[]/)[0];
      const f = form.querySelector('[data-name="' + CSS.escape((prefix || name) + '.' + top) + '"]');
      if (f) {
        f.querySelector('.field-error').textContent = e.message;
        f.querySelectorAll('input, select, textarea').forEach((x) => x.classList.add('invalid'));
      } else {
        err.textContent = e.message;
      }
    }
  }}, fields.map(([, f]) => f.node), el('button', {type: 'submit'}, opts.label || tx(spec.label) || t('send')), err);
  if (saved && saved.values) {
    formRestore(form, saved.values);
    form.prepend(el('p', {class: 'notice small restored', role: 'status'}, t('restored')));
  }
  return form;
}
