// The customer's app (Chèque-Vacances): mobile first.
import { h, clear, field, showFieldErrors, alertBox, modal, confirmDialog } from './dom.js';
import { api, ApiError, login, logout, loginError } from './api.js';
import { euros, parseEuros, eurosInput, dateTime, plural } from './fmt.js';
import { go, isCurrent, toast } from './nav.js';

const AREA = { area: 'customer' };
let me = null;

async function ensure() {
  try {
    me = await api('GET', '/customer/me', undefined, { area: 'customer', relogin: false });
    return me;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      go(`/app/connexion?next=${encodeURIComponent(location.pathname)}`, { replace: true });
      return null;
    }
    throw e;
  }
}

function heading(text) { return h('h1', { tabindex: '-1' }, text); }

function errorText(e) {
  if (!(e instanceof ApiError)) return 'Une erreur inattendue est survenue.';
  if (e.unreachable) return 'Le service est momentanément injoignable. Réessayez dans quelques instants.';
  if (e.code === 'invalid_state') return 'Cette demande n\'est plus payable : elle a changé de statut.';
  return e.message;
}

function tab(href, text, active) {
  return h('a', { href, 'data-link': '', 'aria-current': active ? 'page' : null }, text);
}

function shell(root, active, ...content) {
  clear(root).append(
    h('header', { class: 'c-header' },
      h('div', { class: 'c-top' },
        h('p', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'CV'), h('span', null, 'Chèque-Vacances')),
        h('button', {
          type: 'button', class: 'linklike light',
          onclick: async () => { await logout('customer'); me = null; go('/app/connexion'); },
        }, 'Déconnexion')),
      h('nav', { class: 'c-nav', 'aria-label': 'Menu' },
        tab('/app', 'Accueil', active === 'home'),
        tab('/app/historique', 'Historique', active === 'history'),
        tab('/app/notifications', 'Notifications', active === 'notifications'),
        tab('/app/code', 'Code de paiement', active === 'code'))),
    h('main', { id: 'main', class: 'c-main' }, ...content));
}

export async function loginView(root) {
  const params = new URLSearchParams(location.search);
  const msg = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card', novalidate: true },
    heading('Connexion'),
    field({ label: 'Identifiant ou e-mail de contact', name: 'login', required: true,
      hint: 'Identifiant à 11 chiffres ou e-mail', attrs: { autocomplete: 'username' } }),
    field({ label: 'Mot de passe', name: 'password', type: 'password', required: true, attrs: { autocomplete: 'current-password' } }),
    msg,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Se connecter')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const l = form.elements.login.value.trim();
    const p = form.elements.password.value;
    const errs = {};
    if (!/^\d{11}$/.test(l) && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(l)) errs.login = 'Saisissez votre identifiant à 11 chiffres ou votre e-mail.';
    if (!p) errs.password = 'Saisissez votre mot de passe.';
    showFieldErrors(form, errs);
    if (Object.keys(errs).length) return;
    msg.replaceChildren();
    try {
      await login('customer', l, p);
      const next = params.get('next');
      go(next && /^\/app(\/|$)/.test(next) ? next : '/app');
    } catch (e) {
      form.elements.password.value = '';
      msg.replaceChildren(alertBox('error', loginError('customer', e)));
    }
  });
  clear(root).append(
    h('header', { class: 'c-header' }, h('div', { class: 'c-top' },
      h('p', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'CV'), h('span', null, 'Chèque-Vacances')))),
    h('main', { id: 'main', class: 'c-main' }, form));
}

function requestCard(r, reload) {
  const pre = r.validation_delay_days > 0;
  return h('li', { class: 'pr-card', 'data-id': r.id, 'data-basket': r.basket_number },
    h('div', { class: 'pr-top' },
      h('h3', null, r.merchant ? r.merchant.name : 'Commerçant'),
      h('p', { class: 'amount' }, euros(r.amount))),
    h('dl', { class: 'mini' },
      h('div', null, h('dt', null, 'N° de panier'), h('dd', null, r.basket_number)),
      r.label ? h('div', null, h('dt', null, 'Libellé'), h('dd', null, r.label)) : null,
      h('div', null, h('dt', null, 'A payer avant le'), h('dd', null, dateTime(r.pay_by)))),
    pre ? h('p', { class: 'hint' }, `Pré-réservation : le commerçant confirmera ou annulera dans les ${plural(r.validation_delay_days, 'jour ouvré', 'jours ouvrés')} après votre paiement ; en cas d'annulation, vous êtes re-crédité.`) : null,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'btn btn-secondary', 'aria-label': `Refuser la demande ${r.basket_number}`, onclick: () => refuse(r, reload) }, 'Refuser'),
      h('button', { type: 'button', class: 'btn btn-primary', 'aria-label': `Payer ${euros(r.amount)} (${r.basket_number})`, onclick: () => pay(r, reload) }, 'Payer')));
}

async function pay(r, reload) {
  const done = await modal(`Payer ${euros(r.amount)}`, (close) => {
    const msg = h('div', { 'aria-live': 'assertive', class: 'dlg-msg' });
    const form = h('form', { novalidate: true },
      h('p', null, `${r.merchant ? r.merchant.name : 'Le commerçant'} — panier ${r.basket_number}`),
      r.allow_partial ? field({ label: 'Montant payé (€)', name: 'amount', value: eurosInput(r.amount), attrs: { inputmode: 'decimal' } }) : null,
      field({ label: 'Code de paiement (6 chiffres)', name: 'payment_code', type: 'password', required: true,
        attrs: { inputmode: 'numeric', maxlength: 6, autocomplete: 'off', pattern: '\\d{6}' } }),
      msg,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => close(null) }, 'Annuler'),
        h('button', { type: 'submit', class: 'btn btn-primary' }, 'Valider le paiement')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const code = form.elements.payment_code.value.trim();
      const errs = {};
      if (!/^\d{6}$/.test(code)) errs.payment_code = 'Le code de paiement compte 6 chiffres.';
      let amount;
      if (r.allow_partial) {
        amount = parseEuros(form.elements.amount.value);
        if (amount == null || amount < 1 || amount > r.amount) errs.amount = `Montant de 0,01 € à ${euros(r.amount)}.`;
      }
      showFieldErrors(form, errs);
      if (Object.keys(errs).length) return;
      msg.replaceChildren();
      const body = { payment_code: code };
      if (r.allow_partial) body.amount = amount;
      try {
        const paid = await api('POST', `/customer/payment-requests/${r.id}/pay`, body, AREA);
        close(paid);
      } catch (e) {
        form.elements.payment_code.value = '';
        form.elements.payment_code.focus();
        if (e instanceof ApiError && e.code === 'invalid_payment_code') {
          const n = e.attemptsLeft;
          msg.replaceChildren(alertBox('error', `Code de paiement erroné.${n != null ? ` Il vous reste ${plural(n, 'essai', 'essais')}.` : ''}`));
        } else if (e instanceof ApiError && e.code === 'payment_code_locked') {
          msg.replaceChildren(alertBox('error', 'Votre code de paiement est bloqué après 3 codes erronés. ',
            h('a', { href: '/app/code', 'data-link': '', onclick: () => close(null) }, 'Choisir un nouveau code de paiement'), '.'));
        } else if (e instanceof ApiError && e.code === 'insufficient_funds') {
          msg.replaceChildren(alertBox('error', 'Votre solde est insuffisant pour ce paiement.'));
        } else if (e instanceof ApiError && e.fields) {
          showFieldErrors(form, e.fields);
        } else msg.replaceChildren(alertBox('error', errorText(e)));
      }
    });
    setTimeout(() => form.elements.payment_code.focus(), 0);
    return form;
  });
  if (done) {
    toast(`Paiement de ${euros(done.amount_received)} effectué.`);
    reload();
  }
}

async function refuse(r, reload) {
  if (!await confirmDialog('Refuser la demande', `Je refuse la demande de paiement de ${euros(r.amount)} (panier ${r.basket_number}).`, 'Refuser', { danger: true })) return;
  try {
    await api('POST', `/customer/payment-requests/${r.id}/refuse`, undefined, AREA);
    toast('Demande refusée.');
  } catch (e) { toast(errorText(e)); }
  reload();
}

export async function homeView(root, n) {
  if (!await ensure()) return;
  const list = await api('GET', '/customer/payment-requests?status=awaiting_payment', undefined, AREA);
  if (!isCurrent(n)) return;
  const reload = () => homeView(root, n);
  shell(root, 'home',
    h('section', { class: 'balance card', 'aria-labelledby': 'bal' },
      h('h1', { id: 'bal', tabindex: '-1' }, 'Mon solde'),
      h('p', { class: 'big', 'data-balance': String(me.balance) }, euros(me.balance)),
      h('p', { class: 'muted' }, `Identifiant ${me.id}${me.email ? ` · ${me.email}` : ''}`)),
    h('section', { 'aria-labelledby': 'todo' },
      h('h2', { id: 'todo' }, 'Demandes en attente de paiement'),
      list.data.length === 0 ? h('p', { class: 'empty' }, 'Aucune demande en attente.')
        : h('ul', { class: 'pr-list' }, list.data.map((r) => requestCard(r, reload)))));
}

const TX = { credit: 'Crédit', payment: 'Paiement', refund: 'Re-crédit' };

export async function historyView(root, n, cursor) {
  if (!await ensure()) return;
  const q = cursor ? `?cursor=${encodeURIComponent(cursor)}` : '';
  const list = await api('GET', `/customer/transactions${q}`, undefined, AREA);
  if (!isCurrent(n)) return;
  shell(root, 'history', heading('Historique'),
    h('p', null, 'Solde actuel : ', h('strong', null, euros(me.balance))),
    list.data.length === 0 ? h('p', { class: 'empty' }, 'Aucune opération.')
      : h('ul', { class: 'tx-list' }, list.data.map((t) => h('li', { class: `tx tx-${t.type}` },
        h('div', null, h('strong', null, TX[t.type] || t.type), t.merchant ? ` · ${t.merchant}` : '',
          h('br'), h('span', { class: 'muted' }, dateTime(t.at))),
        h('span', { class: 'amount' }, euros(t.amount, { signed: true }))))),
    list.next_cursor ? h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => historyView(root, n, list.next_cursor) }, 'Opérations plus anciennes') : null);
}

export async function notificationsView(root, n) {
  if (!await ensure()) return;
  const list = await api('GET', '/customer/notifications', undefined, AREA);
  if (!isCurrent(n)) return;
  shell(root, 'notifications', heading('Notifications'),
    list.data.length === 0 ? h('p', { class: 'empty' }, 'Aucune notification.')
      : h('ul', { class: 'notif-list' }, list.data.map((x) => h('li', { class: `notif notif-${x.type}` },
        h('p', null, x.message),
        h('p', { class: 'muted' }, dateTime(x.created_at), x.amount != null ? ` · ${euros(x.amount)}` : '')))));
}

export async function codeView(root) {
  if (!await ensure()) return;
  const msg = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card', novalidate: true },
    h('p', null, 'Choisissez un nouveau code de paiement à 6 chiffres. Il débloque aussi un code bloqué.'),
    field({ label: 'Mot de passe', name: 'password', type: 'password', required: true, attrs: { autocomplete: 'current-password' } }),
    field({ label: 'Nouveau code de paiement (6 chiffres)', name: 'payment_code', type: 'password', required: true,
      attrs: { inputmode: 'numeric', maxlength: 6, autocomplete: 'off' } }),
    field({ label: 'Confirmation du code', name: 'payment_code2', type: 'password', required: true,
      attrs: { inputmode: 'numeric', maxlength: 6, autocomplete: 'off' } }),
    msg,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Enregistrer le code')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const e = form.elements;
    const errs = {};
    if (!e.password.value) errs.password = 'Saisissez votre mot de passe.';
    if (!/^\d{6}$/.test(e.payment_code.value)) errs.payment_code = 'Le code compte exactement 6 chiffres.';
    else if (e.payment_code.value !== e.payment_code2.value) errs.payment_code2 = 'Les deux codes sont différents.';
    showFieldErrors(form, errs);
    if (Object.keys(errs).length) return;
    try {
      await api('PUT', '/customer/payment-code', { password: e.password.value, payment_code: e.payment_code.value }, AREA);
      form.reset();
      msg.replaceChildren(alertBox('success', 'Votre nouveau code de paiement est enregistré.'));
    } catch (err) {
      e.password.value = '';
      if (err instanceof ApiError && err.code === 'forbidden' && err.attemptsLeft != null) {
        showFieldErrors(form, { password: `Mot de passe incorrect. Il vous reste ${plural(err.attemptsLeft, 'essai', 'essais')}.` });
      } else if (err instanceof ApiError && err.fields) showFieldErrors(form, err.fields);
      else msg.replaceChildren(alertBox('error', err.code === 'account_locked' ? loginError('customer', err) : errorText(err)));
    }
  });
  shell(root, 'code', heading('Code de paiement'), form);
}
