// Tiny DOM helpers: no innerHTML anywhere, so nothing from the API is ever
// parsed as markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') {
        el.addEventListener(k.slice(2).toLowerCase(), v);
      } else if (k === 'class') {
        el.className = v;
      } else if (k === 'value' || k === 'checked' || k === 'selected') {
        el[k] = v;
      } else {
        el.setAttribute(k, v === true ? '' : String(v));
      }
    }
  }
  add(el, children);
  return el;
}

export function add(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

let seq = 0;
export function uid(prefix = 'c') { seq += 1; return `${prefix}${seq}`; }

// A labelled control with its hint and its error, side by side.
//   field({label, name, type, value, required, hint, error, attrs, options})
// type 'select' takes options [[value, text], ...]; 'textarea' works too.
export function field(o) {
  const id = uid('f');
  const errId = `${id}-err`;
  const hintId = o.hint ? `${id}-hint` : null;
  const described = [hintId, errId].filter(Boolean).join(' ');
  const common = {
    id, name: o.name, required: !!o.required,
    'aria-describedby': described,
    'aria-invalid': o.error ? 'true' : null,
    ...(o.attrs || {}),
  };
  let control;
  if (o.type === 'select') {
    control = h('select', common,
      (o.options || []).map(([v, t]) => h('option', { value: v, selected: String(o.value ?? '') === String(v) }, t)));
  } else {
    control = h('input', { type: o.type || 'text', value: o.value ?? '', ...common });
  }
  return h('div', { class: 'field' + (o.error ? ' has-error' : '') + (o.class ? ` ${o.class}` : '') },
    h('label', { for: id }, o.required ? h('span', { class: 'req', 'aria-hidden': 'true' }, '* ') : null, o.label),
    o.hint ? h('p', { class: 'hint', id: hintId }, o.hint) : null,
    control,
    h('p', { class: 'field-error', id: errId }, o.error || ''));
}

// Show {name: message} beside the controls of a form (and clear the others).
export function showFieldErrors(form, fields = {}) {
  for (const box of form.querySelectorAll('.field')) {
    const control = box.querySelector('input, select, textarea');
    const err = box.querySelector('.field-error');
    if (!control || !err) continue;
    const msg = fields[control.name];
    err.textContent = msg || '';
    box.classList.toggle('has-error', !!msg);
    if (msg) control.setAttribute('aria-invalid', 'true');
    else control.removeAttribute('aria-invalid');
  }
  const first = form.querySelector('[aria-invalid="true"]');
  if (first) first.focus();
}

export function alertBox(kind, ...content) {
  return h('div', { class: `alert alert-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...content);
}

// A modal <dialog>: resolves with the value given to close(), or null
// (Escape, or a button without value).
export function modal(title, build, { wide = false } = {}) {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const dlg = h('dialog', { class: 'modal' + (wide ? ' modal-wide' : ''), 'aria-labelledby': titleId });
    let result = null;
    const close = (value = null) => { result = value; dlg.close(); };
    dlg.append(h('h2', { id: titleId }, title));
    add(dlg, build(close, dlg));
    dlg.addEventListener('close', () => { dlg.remove(); resolve(result); });
    document.body.append(dlg);
    dlg.showModal();
  });
}

export function confirmDialog(title, text, confirmLabel, { danger = false } = {}) {
  return modal(title, (close) => [
    h('p', null, text),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => close(null) }, 'Retour'),
      h('button', { type: 'button', class: danger ? 'btn btn-danger' : 'btn btn-primary', onclick: () => close(true) }, confirmLabel)),
  ]).then((v) => v === true);
}
