// The merchant's space ("Espace Professionnels du Tourisme et des Loisirs").
import { h, add, clear, field, showFieldErrors, alertBox, modal, confirmDialog } from './dom.js';
import { api, ApiError, login, logout, loginError, newKey } from './api.js';
import {
  euros, parseEuros, eurosInput, dateTime, dateOnly, parisToday, STATUS, TYPE, CATEGORY, EVENT, actor, plural,
} from './fmt.js';
import { go, isCurrent, toast } from './nav.js';

const AREA = { area: 'merchant' };
let me = null;        // GET /merchant/me
let pos = null;       // the chosen point of sale

export function forget() { me = null; pos = null; }

// Who is logged in, and which point of sale; null after a redirect.
async function ensure({ needPos = true } = {}) {
  if (!me) {
    try {
      me = await api('GET', '/merchant/me', undefined, { area: 'merchant', relogin: false });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        const next = location.pathname + location.search;
        go(`/connexion?next=${encodeURIComponent(next)}`, { replace: true });
        return null;
      }
      throw e;
    }
  }
  if (!needPos) return me;
  const list = me.points_of_sale || [];
  if (list.length === 1) {
    [pos] = list;
  } else {
    const saved = sessionStorage.getItem('cvc_pos');
    pos = list.find((p) => p.id === saved) || null;
    if (!pos) { go('/point-d-accueil', { replace: true }); return null; }
  }
  return me;
}

function navLink(href, text, active) {
  return h('a', { href, 'data-link': '', 'aria-current': active ? 'page' : null }, text);
}

function shell(root, active, ...content) {
  const many = me && me.points_of_sale && me.points_of_sale.length > 1;
  clear(root).append(
    h('header', { class: 'm-header' },
      h('div', { class: 'm-top' },
        h('p', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'CV'),
          h('span', null, 'Espace Professionnels du Tourisme et des Loisirs')),
        h('p', { class: 'hello' }, `Bonjour, ${me.account.name}`, ' | ',
          h('button', { type: 'button', class: 'linklike', onclick: doLogout }, 'Déconnexion'))),
      h('nav', { class: 'm-nav', 'aria-label': 'Menu principal' },
        navLink('/encaissement', 'Encaissement', active === 'encaissement'),
        navLink('/remboursements', 'Mes remboursements', active === 'remboursements'),
        navLink('/parametres', 'Paramètres', active === 'parametres')),
      pos ? h('p', { class: 'pos-line' }, 'Point d\'accueil : ', h('strong', null, pos.name), ` (${pos.id})`,
        many ? [' — ', h('a', { href: '/point-d-accueil', 'data-link': '' }, 'Changer')] : null) : null),
    h('main', { id: 'main', class: 'm-main' }, ...content));
}

async function doLogout() {
  await logout('merchant');
  forget();
  sessionStorage.removeItem('cvc_pos');
  go('/connexion');
}

function heading(text) { return h('h1', { tabindex: '-1' }, text); }

function errorText(e) {
  if (!(e instanceof ApiError)) return 'Une erreur inattendue est survenue.';
  if (e.unreachable) return 'Le service est momentanément injoignable. Réessayez dans quelques instants.';
  if (e.code === 'invalid_state') return 'Cette opération n\'est plus possible : la demande a changé de statut.';
  if (e.code === 'forbidden') return 'Vous n\'avez pas les droits pour cette opération.';
  if (e.code === 'not_found') return 'Introuvable.';
  return e.message;
}

// --- login, forgotten password, reset -------------------------------------

export async function loginView(root) {
  const params = new URLSearchParams(location.search);
  const msg = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card narrow', novalidate: true },
    heading('Je me connecte à mon espace dédié'),
    h('p', null, 'Identifiant compte Administrateur (6 chiffres) ou Point d\'accueil (12 chiffres), et mot de passe.'),
    field({ label: 'Identifiant', name: 'login', required: true, hint: '6 ou 12 chiffres',
      attrs: { inputmode: 'numeric', autocomplete: 'username' } }),
    field({ label: 'Mot de passe', name: 'password', type: 'password', required: true,
      attrs: { autocomplete: 'current-password' } }),
    msg,
    h('div', { class: 'actions' },
      h('a', { href: '/mot-de-passe-oublie', 'data-link': '' }, 'Mot de passe oublié'),
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Valider')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const l = form.elements.login.value.trim();
    const p = form.elements.password.value;
    const errs = {};
    if (!/^(\d{6}|\d{12})$/.test(l)) errs.login = 'Saisissez votre identifiant à 6 ou 12 chiffres.';
    if (!p) errs.password = 'Saisissez votre mot de passe.';
    showFieldErrors(form, errs);
    if (Object.keys(errs).length) return;
    msg.replaceChildren();
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      await login('merchant', l, p);
      forget();
      const next = params.get('next');
      go(next && next.startsWith('/') && !next.startsWith('//') ? next : '/encaissement');
    } catch (e) {
      form.elements.password.value = '';
      msg.replaceChildren(alertBox('error', loginError('merchant', e)));
    } finally { btn.disabled = false; }
  });
  clear(root).append(publicHeader(), h('main', { id: 'main', class: 'm-main' }, form));
}

function publicHeader() {
  return h('header', { class: 'm-header' },
    h('div', { class: 'm-top' },
      h('p', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'CV'),
        h('span', null, 'Espace Professionnels du Tourisme et des Loisirs'))));
}

export async function forgotView(root) {
  const msg = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card narrow', novalidate: true },
    heading('Mot de passe oublié'),
    h('p', null, 'Saisissez votre identifiant : vous recevrez par e-mail un lien pour choisir un nouveau mot de passe '
      + '(valable 1 heure). Ce lien débloque aussi votre compte.'),
    field({ label: 'Identifiant', name: 'login', required: true, hint: '6 ou 12 chiffres',
      attrs: { inputmode: 'numeric', autocomplete: 'username' } }),
    msg,
    h('div', { class: 'actions' },
      h('a', { href: '/connexion', 'data-link': '' }, 'Retour à la connexion'),
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Envoyer le lien')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const l = form.elements.login.value.trim();
    if (!/^(\d{6}|\d{12})$/.test(l)) { showFieldErrors(form, { login: 'Saisissez votre identifiant à 6 ou 12 chiffres.' }); return; }
    showFieldErrors(form, {});
    try {
      await api('POST', '/merchant/password-resets', { login: l });
      msg.replaceChildren(alertBox('success', 'Si ce compte existe, un e-mail contenant un lien de réinitialisation vient de vous être envoyé.'));
    } catch (e) {
      msg.replaceChildren(alertBox('error', errorText(e)));
    }
  });
  clear(root).append(publicHeader(), h('main', { id: 'main', class: 'm-main' }, form));
}

export async function resetView(root) {
  const token = new URLSearchParams(location.search).get('token') || '';
  const msg = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card narrow', novalidate: true },
    heading('Choisir un nouveau mot de passe'),
    field({ label: 'Nouveau mot de passe', name: 'password', type: 'password', required: true,
      hint: '12 à 128 caractères', attrs: { autocomplete: 'new-password', minlength: 12, maxlength: 128 } }),
    field({ label: 'Confirmation du mot de passe', name: 'password2', type: 'password', required: true,
      attrs: { autocomplete: 'new-password' } }),
    msg,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Valider')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const p = form.elements.password.value;
    const p2 = form.elements.password2.value;
    const errs = {};
    if (p.length < 12 || p.length > 128) errs.password = 'Le mot de passe doit compter de 12 à 128 caractères.';
    else if (p !== p2) errs.password2 = 'Les deux mots de passe sont différents.';
    showFieldErrors(form, errs);
    if (Object.keys(errs).length) return;
    try {
      await api('POST', '/merchant/password-resets/confirm', { token, password: p });
      form.replaceChildren(heading('Mot de passe modifié'),
        alertBox('success', 'Votre mot de passe a été modifié et votre compte est débloqué.'),
        h('p', null, h('a', { href: '/connexion', 'data-link': '', class: 'btn btn-primary' }, 'Se connecter')));
    } catch (e) {
      if (e instanceof ApiError && e.code === 'validation_failed' && e.fields && e.fields.password) {
        showFieldErrors(form, { password: 'Mot de passe refusé : 12 à 128 caractères.' });
      } else if (e instanceof ApiError && e.code === 'validation_failed') {
        msg.replaceChildren(alertBox('error', 'Ce lien n\'est plus valable (déjà utilisé ou expiré). ',
          h('a', { href: '/mot-de-passe-oublie', 'data-link': '' }, 'Demander un nouveau lien'), '.'));
      } else msg.replaceChildren(alertBox('error', errorText(e)));
    }
  });
  clear(root).append(publicHeader(), h('main', { id: 'main', class: 'm-main' }, form));
}

// --- choice of the point of sale --------------------------------------------

export async function posChoiceView(root) {
  if (!await ensure({ needPos: false })) return;
  const list = me.points_of_sale || [];
  if (list.length === 1) { go('/encaissement', { replace: true }); return; }
  shell(root, 'encaissement',
    heading('J\'accède à la page d\'encaissement'),
    h('p', null, 'Je sélectionne le point d\'accueil depuis lequel je souhaite encaisser.'),
    h('ul', { class: 'pos-list' }, list.map((p) => h('li', null,
      h('button', {
        type: 'button', class: 'pos-choice',
        onclick: () => { sessionStorage.setItem('cvc_pos', p.id); pos = p; resetOps(); go('/encaissement'); },
      }, h('strong', null, p.name), h('span', null, `${CATEGORY[p.category] || p.category} · n° ${p.id}`))))));
}

// --- Encaissement: "Vos opérations" ------------------------------------------

let ops = null;
function resetOps() { ops = { pos: null, filters: {}, cursors: [null], page: 0 }; }

function filterQuery(extra = {}) {
  const q = new URLSearchParams();
  q.set('point_of_sale', pos.id);
  const f = ops.filters;
  for (const k of ['status', 'type', 'basket_number', 'from', 'to', 'min_amount', 'max_amount']) {
    if (f[k] != null && f[k] !== '') q.set(k, f[k]);
  }
  for (const [k, v] of Object.entries(extra)) if (v != null) q.set(k, v);
  return q;
}

export function statusBadge(s) {
  return h('span', { class: `status status-${s}` }, h('span', { class: 'dot', 'aria-hidden': 'true' }, '●'), ' ', STATUS[s] || s);
}

export async function operationsView(root, n) {
  if (!await ensure()) return;
  if (!ops || ops.pos !== pos.id) { resetOps(); ops.pos = pos.id; }
  const cursor = ops.cursors[ops.page];
  const list = await api('GET', `/payment-requests?${filterQuery({ limit: 20, cursor })}`, undefined, AREA);
  if (!isCurrent(n)) return;
  const counts = list.counts || {};
  const exportQ = filterQuery();
  const cols = ['Dernière action', 'N° de panier', 'Type de paiement', 'Statut', 'Montant demandé', 'Montant reçu', 'Actions'];
  const reload = () => operationsView(root, n);
  const td = (label, ...c) => h('td', { 'data-label': label }, ...c);
  const table = list.data.length === 0
    ? h('p', { class: 'empty' }, Object.keys(ops.filters).length ? 'Aucune opération ne correspond à ces filtres.' : 'Aucune opération pour le moment.')
    : h('table', { class: 'ops' },
      h('caption', { class: 'sr-only' }, 'Vos opérations, de la plus récente à la plus ancienne'),
      h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, list.data.map((r) => h('tr', { 'data-id': r.id, 'data-basket': r.basket_number },
        td(cols[0], dateTime(r.last_action_at)),
        td(cols[1], r.basket_number),
        td(cols[2], TYPE[r.type] || r.type),
        td(cols[3], statusBadge(r.status)),
        td(cols[4], euros(r.amount, { signed: true })),
        td(cols[5], r.amount_received == null ? '-' : euros(r.amount_received, { signed: true })),
        td(cols[6], rowActions(r, reload))))));

  shell(root, 'encaissement',
    h('div', { class: 'page-head' },
      heading('Encaissement'),
      h('a', { href: '/encaisser', 'data-link': '', class: 'btn btn-primary btn-big' }, 'Encaisser')),
    h('section', { 'aria-labelledby': 'ops-title' },
      h('div', { class: 'ops-head' },
        h('h2', { id: 'ops-title' }, 'Vos opérations'),
        h('p', { class: 'counters' },
          h('span', { class: 'counter status-to_validate', 'data-counter': 'to_validate' },
            h('span', { class: 'dot', 'aria-hidden': 'true' }, '●'), ` A valider : ${counts.to_validate ?? 0}`),
          h('span', { class: 'counter status-awaiting_payment', 'data-counter': 'awaiting_payment' },
            h('span', { class: 'dot', 'aria-hidden': 'true' }, '●'), ` En attente de paiement client : ${counts.awaiting_payment ?? 0}`)),
        h('details', { class: 'export' },
          h('summary', { class: 'btn btn-secondary' }, 'Exporter'),
          h('ul', { class: 'menu' },
            h('li', null, h('a', { href: `/api/v1/payment-requests/export?format=csv&${exportQ}`, download: 'operations.csv' }, 'Tableau CSV (.csv)')),
            h('li', null, h('a', { href: `/api/v1/payment-requests/export?format=xlsx&${exportQ}`, download: 'operations.xlsx' }, 'Tableau Excel (.xlsx)'))))),
      filtersForm(reload),
      h('div', { class: 'table-wrap' }, table),
      h('nav', { class: 'pager', 'aria-label': 'Pages des opérations' },
        ops.page > 0 ? h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => { ops.page -= 1; reload(); } }, '‹ Page précédente') : null,
        h('span', null, `Page ${ops.page + 1}`),
        list.next_cursor ? h('button', {
          type: 'button', class: 'btn btn-secondary',
          onclick: () => { ops.cursors[ops.page + 1] = list.next_cursor; ops.page += 1; reload(); },
        }, 'Page suivante ›') : null)));
}

function filtersForm(reload) {
  const f = ops.filters;
  const active = Object.keys(f).length > 0;
  const form = h('form', { class: 'filters', novalidate: true },
    h('div', { class: 'grid' },
      field({ label: 'Statut', name: 'status', type: 'select', value: f.status,
        options: [['', 'Tous'], ...Object.entries(STATUS)] }),
      field({ label: 'Type de paiement', name: 'type', type: 'select', value: f.type,
        options: [['', 'Tous'], ...Object.entries(TYPE)] }),
      field({ label: 'N° de panier', name: 'basket_number', value: f.basket_number }),
      field({ label: 'Dernière action du', name: 'from', type: 'date', value: f.from }),
      field({ label: 'au', name: 'to', type: 'date', value: f.to }),
      field({ label: 'Montant minimum (€)', name: 'min_amount', value: eurosInput(f.min_amount), attrs: { inputmode: 'decimal', placeholder: '0,00' } }),
      field({ label: 'Montant maximum (€)', name: 'max_amount', value: eurosInput(f.max_amount), attrs: { inputmode: 'decimal', placeholder: '0,00' } })),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => { ops.filters = {}; ops.cursors = [null]; ops.page = 0; reload(); } }, 'Effacer les filtres'),
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Filtrer')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const e = form.elements;
    const nf = {};
    const errs = {};
    for (const k of ['status', 'type', 'from', 'to']) if (e[k].value) nf[k] = e[k].value;
    if (e.basket_number.value.trim()) nf.basket_number = e.basket_number.value.trim();
    for (const k of ['min_amount', 'max_amount']) {
      if (!e[k].value.trim()) continue;
      const c = parseEuros(e[k].value);
      if (c == null) errs[k] = 'Montant invalide (exemple : 40,00)';
      else nf[k] = c;
    }
    if (nf.from && nf.to && nf.from > nf.to) errs.to = 'La date de fin précède la date de début.';
    showFieldErrors(form, errs);
    if (Object.keys(errs).length) return;
    ops.filters = nf; ops.cursors = [null]; ops.page = 0;
    reload();
  });
  return h('details', { class: 'filters-box', open: active ? true : null },
    h('summary', null, active ? `Filtres (${Object.keys(f).length})` : 'Filtres'), form);
}

// the 🔍 as an SVG: no emoji font needed
function magnifier() {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'icon');
  svg.setAttribute('aria-hidden', 'true');
  const c = document.createElementNS(NS, 'circle');
  c.setAttribute('cx', '10'); c.setAttribute('cy', '10'); c.setAttribute('r', '6.5');
  const l = document.createElementNS(NS, 'path');
  l.setAttribute('d', 'M15 15l6 6');
  svg.append(c, l);
  return svg;
}

function rowActions(r, reload) {
  const b = [];
  if (r.status === 'to_validate') {
    b.push(h('button', {
      type: 'button', class: 'icon-btn ok', title: 'Confirmer',
      'aria-label': `Confirmer la réservation ${r.basket_number}`, onclick: () => confirmRequest(r, reload),
    }, '✓'));
  }
  if (r.status === 'to_validate' || r.status === 'awaiting_payment') {
    b.push(h('button', {
      type: 'button', class: 'icon-btn ko', title: 'Annuler',
      'aria-label': `Annuler la demande ${r.basket_number}`, onclick: () => cancelRequest(r, reload),
    }, '✗'));
  }
  b.push(h('button', {
    type: 'button', class: 'icon-btn', title: 'Détail',
    'aria-label': `Voir le détail de la demande ${r.basket_number}`, onclick: () => detailDialog(r.id, reload),
  }, magnifier()));
  return h('span', { class: 'row-actions' }, b);
}

async function confirmRequest(r, after) {
  const ok = await confirmDialog('Confirmer la réservation',
    `Je confirme la réservation n° de panier ${r.basket_number} pour un montant de ${euros(r.amount_received ?? r.amount)}.`,
    'Confirmer la réservation');
  if (!ok) return;
  try {
    await api('POST', `/payment-requests/${r.id}/confirm`, undefined, AREA);
    toast(`La réservation ${r.basket_number} est confirmée.`);
  } catch (e) { toast(errorText(e)); }
  after();
}

async function cancelRequest(r, after) {
  const paid = r.status === 'to_validate';
  const ok = await confirmDialog(paid ? 'Annuler la réservation' : 'Annuler la demande de paiement',
    paid ? `J'annule la réservation n° de panier ${r.basket_number} : mon client sera automatiquement et immédiatement re-crédité de ${euros(r.amount_received ?? r.amount)}.`
      : `J'annule la demande de paiement n° de panier ${r.basket_number} de ${euros(r.amount)}.`,
    paid ? 'Annuler la réservation' : 'Annuler la demande', { danger: true });
  if (!ok) return;
  try {
    await api('POST', `/payment-requests/${r.id}/cancel`, undefined, AREA);
    toast(paid ? `La réservation ${r.basket_number} est annulée ; le client est re-crédité.` : `La demande ${r.basket_number} est annulée.`);
  } catch (e) { toast(errorText(e)); }
  after();
}

function dl(pairs) {
  return h('dl', { class: 'summary' }, pairs.filter(Boolean).map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v))));
}

async function detailDialog(id, after) {
  let r;
  try { r = await api('GET', `/payment-requests/${id}`, undefined, AREA); } catch (e) { toast(errorText(e)); return; }
  const action = await modal(`Demande de paiement ${r.basket_number}`, (close) => [
    dl([
      ['Statut', statusBadge(r.status)],
      ['Type de paiement', TYPE[r.type] || r.type],
      ['Montant demandé', euros(r.amount)],
      ['Montant reçu', euros(r.amount_received)],
      r.amount_refunded ? ['Montant re-crédité au client', euros(r.amount_refunded)] : null,
      ['Identifiant ou E-mail du client', r.customer],
      r.label ? ['Libellé de la transaction', r.label] : null,
      r.customer_reference ? ['Référence client', r.customer_reference] : null,
      r.seller_id ? ['Identifiant Vendeur', r.seller_id] : null,
      ['Date limite de paiement', dateTime(r.pay_by)],
      r.validation_delay_days ? ['Délai de validation', plural(r.validation_delay_days, 'jour', 'jours')] : null,
      r.validation_deadline ? ['Date limite de validation', dateTime(r.validation_deadline)] : null,
      ['E-mail de notification', r.notify_email || '-'],
    ]),
    h('h3', null, 'Historique'),
    h('ol', { class: 'history' }, (r.events || []).map((ev) => h('li', null,
      h('time', { datetime: ev.at }, dateTime(ev.at)), ' — ', EVENT[ev.type] || ev.type,
      ev.actor ? h('span', { class: 'muted' }, ` (${actor(ev.actor)})`) : null))),
    h('div', { class: 'actions' },
      r.status === 'to_validate' ? h('button', { type: 'button', class: 'btn btn-primary', onclick: () => close('confirm') }, '✓ Confirmer') : null,
      (r.status === 'to_validate' || r.status === 'awaiting_payment')
        ? h('button', { type: 'button', class: 'btn btn-danger', onclick: () => close('cancel') }, '✗ Annuler la demande') : null,
      h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => close(null) }, 'Fermer')),
  ], { wide: true });
  if (action === 'confirm') await confirmRequest(r, after);
  else if (action === 'cancel') await cancelRequest(r, after);
}

// --- Encaisser: the 4 steps ---------------------------------------------------

let wiz = null;
function newWizard() {
  return {
    step: 1, mode: 'immediate', pay_by: '', delay: 'no', days: '2',
    notify_email: (me && me.notify_email) || '', remember: false,
    amount: '', basket_number: '', customer: '', label: '', customer_reference: '', seller_id: '',
    errors: {}, key: null, preview: null, created: null, sendError: null,
  };
}

const STEP_NAMES = ['Choix du paiement', 'Informations', 'Confirmation', 'Détail du paiement'];
const STEP_OF_FIELD = {
  mode: 1, pay_by: 1, validation_delay_days: 1, notify_email: 1, remember_notify_email: 1,
  amount: 2, basket_number: 2, customer: 2, label: 2, customer_reference: 2, seller_id: 2,
};

function requestTitle(w) {
  const pre = w.delay === 'yes';
  if (w.mode === 'immediate') return pre ? 'Demande de pré-réservation immédiate' : 'Demande de paiement immédiat';
  return pre ? 'Demande de pré-réservation différée' : 'Demande de paiement différé';
}

function stepper(step) {
  return h('ol', { class: 'stepper', 'aria-label': 'Étapes' }, STEP_NAMES.map((name, i) => h('li', {
    class: i + 1 === step ? 'current' : (i + 1 < step ? 'done' : ''), 'aria-current': i + 1 === step ? 'step' : null,
  }, h('span', { class: 'num' }, String(i + 1)), h('span', { class: 'name' }, name))));
}

export async function wizardView(root, n, internal = false) {
  if (!await ensure()) return;
  if (!wiz || wiz.pos !== pos.id || (!internal && wiz.step === 4)) { wiz = newWizard(); wiz.pos = pos.id; }
  const w = wiz;
  const rerender = () => { if (location.pathname === '/encaisser') wizardView(root, n, true); };
  const steps = { 1: step1, 2: step2, 3: step3, 4: step4 };
  const body = await steps[w.step](w, rerender, n);
  if (!isCurrent(n) || !body) return;
  shell(root, 'encaissement',
    h('div', { class: 'wizard card' },
      h('p', { class: 'kicker' }, 'Encaisser en'),
      heading('Chèque-Vacances Connect'),
      stepper(w.step),
      body));
  const first = root.querySelector('[aria-invalid="true"]');
  if (first) first.focus();
}

function cancelWizard() { wiz = null; go('/encaissement'); }

function radio(name, value, checked, label, hint) {
  const id = `r-${name}-${value}`;
  return h('div', { class: 'radio' },
    h('input', { type: 'radio', id, name, value, checked, 'aria-describedby': hint ? `${id}-h` : null }),
    h('label', { for: id }, h('strong', null, label), hint ? h('span', { class: 'hint', id: `${id}-h` }, hint) : null));
}

function step1(w, rerender) {
  const payBy = field({ label: 'Date limite de paiement', name: 'pay_by', type: 'date', value: w.pay_by, required: true,
    error: w.errors.pay_by, attrs: { min: parisToday() } });
  payBy.hidden = w.mode !== 'deferred';
  const days = field({ label: 'Délai de validation', name: 'validation_delay_days', type: 'number', value: w.days, required: true,
    hint: 'jours après encaissement de mon client (6 jours ouvrés maximum)', error: w.errors.validation_delay_days,
    attrs: { min: 1, max: 6, step: 1, inputmode: 'numeric' } });
  days.hidden = w.delay !== 'yes';
  const form = h('form', { novalidate: true },
    h('fieldset', null, h('legend', null, 'Je souhaite encaisser mon client :'),
      radio('mode', 'immediate', w.mode === 'immediate', 'Immédiatement', 'Mon client peut réaliser le paiement immédiatement'),
      radio('mode', 'deferred', w.mode === 'deferred', 'En paiement différé', 'Je paramètre une date limite de paiement pour que mon client réalise son paiement'),
      payBy),
    h('fieldset', null, h('legend', null, 'Après l\'encaissement de mon client, je souhaite avoir un délai de validation :'),
      h('div', { class: 'inline-radios' }, radio('delay', 'no', w.delay === 'no', 'Non'), radio('delay', 'yes', w.delay === 'yes', 'Oui')),
      h('p', { class: 'hint' }, 'Ce délai débute à la date de paiement de mon client. En cas d\'annulation, mon client est automatiquement et immédiatement re-crédité.'),
      days),
    h('fieldset', null, h('legend', null, 'Notifications'),
      h('p', { class: 'notify-text' }, 'Pendant le traitement du paiement, je veux être notifié des actions de mon client et de l\'expiration de mon délai de validation 24h avant la fin de celui-ci'),
      field({ label: 'E-mail', name: 'notify_email', type: 'email', value: w.notify_email, error: w.errors.notify_email,
        attrs: { autocomplete: 'email' } }),
      h('div', { class: 'check' },
        h('input', { type: 'checkbox', id: 'remember', name: 'remember', checked: w.remember }),
        h('label', { for: 'remember' }, 'Se souvenir de cet e-mail pour les prochains encaissements'))),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'btn btn-secondary', onclick: cancelWizard }, 'Annuler'),
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Continuer')));
  form.addEventListener('change', (ev) => {
    if (ev.target.name === 'mode') payBy.hidden = ev.target.value !== 'deferred';
    if (ev.target.name === 'delay') days.hidden = ev.target.value !== 'yes';
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const e = form.elements;
    w.mode = e.mode.value; w.pay_by = e.pay_by.value; w.delay = e.delay.value; w.days = e.validation_delay_days.value;
    w.notify_email = e.notify_email.value.trim(); w.remember = e.remember.checked;
    const errs = {};
    if (w.mode === 'deferred') {
      if (!w.pay_by) errs.pay_by = 'Choisissez la date limite de paiement.';
      else if (w.pay_by < parisToday()) errs.pay_by = 'La date limite de paiement ne peut pas être passée.';
    }
    if (w.delay === 'yes' && !/^[1-6]$/.test(w.days)) errs.validation_delay_days = 'Le délai de validation est de 1 à 6 jours.';
    if (w.notify_email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(w.notify_email)) errs.notify_email = 'Adresse e-mail invalide.';
    w.errors = errs;
    if (Object.keys(errs).length) { showFieldErrors(form, errs); return; }
    w.step = 2; rerender();
  });
  return form;
}

function step2(w, rerender) {
  const e2 = w.errors;
  const form = h('form', { novalidate: true },
    h('h2', null, requestTitle(w)),
    h('p', null, 'Renseignez les informations de paiement pour générer la demande (les champs obligatoires sont indiqués par un *)'),
    h('fieldset', null, h('legend', null, 'Informations sur le paiement : (Obligatoire)'),
      field({ label: 'Montant (0,01 € minimum)', name: 'amount', value: w.amount, required: true, error: e2.amount,
        hint: 'En euros, par exemple 40,00', attrs: { inputmode: 'decimal', autocomplete: 'off' } }),
      field({ label: 'N° de panier', name: 'basket_number', value: w.basket_number, required: true, error: e2.basket_number,
        attrs: { maxlength: 64, autocomplete: 'off' } }),
      field({ label: 'Identifiant ou E-mail de contact Chèque-Vacances Connect', name: 'customer', value: w.customer,
        required: true, error: e2.customer, hint: 'Identifiant à 11 chiffres ou e-mail de contact de mon client',
        attrs: { autocomplete: 'off' } })),
    h('fieldset', null, h('legend', null, 'Informations complémentaires : (Optionnel)'),
      field({ label: 'Libellé de la transaction', name: 'label', value: w.label, error: e2.label, attrs: { maxlength: 255 } }),
      field({ label: 'Référence client', name: 'customer_reference', value: w.customer_reference, error: e2.customer_reference, attrs: { maxlength: 64 } }),
      field({ label: 'Identifiant Vendeur', name: 'seller_id', value: w.seller_id, error: e2.seller_id, attrs: { maxlength: 64 } })),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'btn btn-link', onclick: () => { read(); w.errors = {}; w.step = 1; rerender(); } }, '‹ Précédent'),
      h('button', { type: 'button', class: 'btn btn-secondary', onclick: cancelWizard }, 'Annuler'),
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Continuer')));
  function read() {
    const e = form.elements;
    for (const k of ['amount', 'basket_number', 'customer', 'label', 'customer_reference', 'seller_id']) w[k] = e[k].value.trim();
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    read();
    const errs = {};
    const cents = parseEuros(w.amount);
    if (!w.amount) errs.amount = 'Saisissez le montant.';
    else if (cents == null) errs.amount = 'Montant invalide : saisissez par exemple 40,00.';
    else if (cents < 1) errs.amount = 'Le montant minimum est de 0,01 €.';
    else if (cents > 10000000) errs.amount = 'Le montant maximum est de 100 000,00 €.';
    if (!w.basket_number) errs.basket_number = 'Saisissez le n° de panier.';
    if (!w.customer) errs.customer = 'Saisissez l\'identifiant ou l\'e-mail de contact de votre client.';
    else if (!/^\d{11}$/.test(w.customer) && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(w.customer)) {
      errs.customer = 'Saisissez un identifiant à 11 chiffres ou une adresse e-mail.';
    }
    w.errors = errs;
    if (Object.keys(errs).length) { showFieldErrors(form, errs); return; }
    w.cents = cents;
    w.key = newKey();
    w.preview = null; w.sendError = null;
    w.step = 3; rerender();
  });
  return form;
}

function daysLabel(n) { return plural(Number(n), 'jour', 'jours'); }

async function step3(w, rerender) {
  const n = w.delay === 'yes' ? Number(w.days) : 0;
  if (n > 0 && !w.preview) {
    try {
      const r = await api('GET', `/business-days?from=${parisToday()}&add=${n}`, undefined, AREA);
      w.preview = r.date;
    } catch (e) { w.preview = null; w.sendError = errorText(e); }
  }
  const msg = h('div', { 'aria-live': 'polite' }, w.sendError ? alertBox('error', w.sendError) : null);
  const send = h('button', { type: 'button', class: 'btn btn-primary' }, 'Envoyer');
  send.addEventListener('click', async () => {
    send.disabled = true;
    const body = {
      mode: w.mode, validation_delay_days: n, amount: w.cents, basket_number: w.basket_number, customer: w.customer,
      notify_email: w.notify_email || null,
    };
    if (me.account.kind === 'admin') body.point_of_sale = pos.id;
    if (w.mode === 'deferred') body.pay_by = w.pay_by;
    if (w.remember && w.notify_email) body.remember_notify_email = true;
    for (const k of ['label', 'customer_reference', 'seller_id']) if (w[k]) body[k] = w[k];
    try {
      w.created = await api('POST', '/payment-requests', body, { ...AREA, headers: { 'Idempotency-Key': w.key } });
      if (w.remember && w.notify_email) me.notify_email = w.notify_email;
      w.step = 4; w.errors = {};
      rerender();
    } catch (e) {
      send.disabled = false;
      if (e instanceof ApiError && e.code === 'duplicate_basket') {
        w.errors = { basket_number: 'Ce n° de panier a déjà une demande de paiement en cours ou validée.' };
        w.step = 2; rerender();
      } else if (e instanceof ApiError && e.code === 'validation_failed' && e.fields) {
        const f = { ...e.fields };
        if (f.customer) f.customer = 'Aucun bénéficiaire Chèque-Vacances Connect ne correspond à cet identifiant ou e-mail.';
        w.errors = f;
        w.step = Math.min(...Object.keys(f).map((k) => STEP_OF_FIELD[k] || 2));
        rerender();
      } else {
        msg.replaceChildren(alertBox('error', errorText(e)));
      }
    }
  });
  return h('div', null,
    h('h2', null, 'Confirmation'),
    dl([
      ['Montant', euros(w.cents)],
      ['Identifiant ou E-mail de contact Chèque-Vacances Connect', w.customer],
      ['N° de panier', w.basket_number],
      ['Type de paiement', requestTitle(w)],
      w.mode === 'deferred' ? ['Date limite de paiement', dateOnly(w.pay_by)] : null,
      n > 0 ? ['Date limite de validation après encaissement', `${w.preview ? dateOnly(w.preview) : '…'} (${daysLabel(n)})`] : null,
      w.label ? ['Libellé de la transaction', w.label] : null,
      w.customer_reference ? ['Référence client', w.customer_reference] : null,
      w.seller_id ? ['Identifiant Vendeur', w.seller_id] : null,
      w.notify_email ? ['E-mail de notification', w.notify_email] : null,
    ]),
    n > 0 ? h('p', { class: 'info' }, h('span', { class: 'i', 'aria-hidden': 'true' }, 'i'),
      'Je pourrai confirmer ou annuler la réservation depuis ma liste des opérations') : null,
    msg,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'btn btn-link', onclick: () => { w.step = 2; w.sendError = null; rerender(); } }, '‹ Précédent'),
      h('button', { type: 'button', class: 'btn btn-secondary', onclick: cancelWizard }, 'Annuler'),
      send));
}

function step4Message(r) {
  const paid = r.amount_received != null && r.paid_at;
  switch (r.status) {
    case 'awaiting_payment':
      return ['La demande de paiement a été envoyée. Mon client doit se connecter à son application Chèque-Vacances '
        + `et valider le paiement avec son code personnel à 6 chiffres avant le ${dateTime(r.pay_by)}. `
        + 'Cette page se met à jour automatiquement.', 'wait'];
    case 'to_validate':
    case 'validated':
      return [`Le paiement a bien été réalisé pour un montant de ${euros(r.amount_received)}`, 'ok'];
    case 'refused': return ['Mon client a refusé le paiement.', 'ko'];
    case 'expired': return [paid ? 'Le délai de validation a expiré : mon client a été re-crédité.' : 'La demande a expiré sans paiement.', 'ko'];
    case 'cancelled': return [paid ? 'La réservation a été annulée : mon client a été re-crédité.' : 'La demande de paiement a été annulée.', 'ko'];
    default: return [STATUS[r.status] || r.status, 'wait'];
  }
}

async function step4(w, rerender, n) {
  const r = w.created;
  const [text, kind] = step4Message(r);
  const poll = async () => {
    if (!isCurrent(n) || wiz !== w || w.step !== 4 || location.pathname !== '/encaisser') return;
    try {
      const fresh = await api('GET', `/payment-requests/${r.id}`, undefined, AREA);
      if (!isCurrent(n) || wiz !== w) return;
      if (fresh.status !== r.status || fresh.last_action_at !== r.last_action_at) { w.created = fresh; rerender(); return; }
    } catch (e) { /* the banner says it; try again */ }
    setTimeout(poll, 3000);
  };
  if (r.status === 'awaiting_payment') setTimeout(poll, 3000);
  const deadline = r.validation_deadline
    ? `${dateOnly(r.validation_deadline)} (${daysLabel(r.validation_delay_days)})`
    : (r.validation_delay_days ? `${w.preview ? dateOnly(w.preview) : '-'} (${daysLabel(r.validation_delay_days)})` : null);
  const canCancel = r.status === 'awaiting_payment' || r.status === 'to_validate';
  return h('div', { 'data-request': r.id },
    h('h2', null, 'Détail du paiement'),
    dl([
      ['Montant', euros(r.amount)],
      [r.customer.includes('@') ? 'E-mail de mon client' : 'Identifiant de mon client', r.customer],
      ['N° de panier', r.basket_number],
      ['Statut', statusBadge(r.status)],
      deadline ? ['Date limite de validation après encaissement', deadline] : null,
    ]),
    h('p', { class: `info info-${kind}`, role: 'status', 'aria-live': 'polite' }, h('span', { class: 'i', 'aria-hidden': 'true' }, 'i'), text),
    h('div', { class: 'actions' },
      canCancel ? h('button', {
        type: 'button', class: 'btn btn-secondary',
        onclick: () => cancelRequest(r, async () => {
          try { w.created = await api('GET', `/payment-requests/${r.id}`, undefined, AREA); } catch (e) { /* keep */ }
          rerender();
        }),
      }, 'Annuler') : null,
      h('button', { type: 'button', class: 'btn btn-primary', onclick: () => { wiz = null; go('/encaissement'); } }, 'Fermer')));
}

// --- Mes remboursements -------------------------------------------------------

export async function payoutsView(root, n) {
  if (!await ensure()) return;
  let content;
  try {
    const list = await api('GET', `/payouts?point_of_sale=${encodeURIComponent(pos.id)}`, undefined, AREA);
    const rows = list.data || [];
    content = rows.length === 0 ? h('p', { class: 'empty' }, 'Aucun remboursement pour le moment.')
      : h('div', { class: 'table-wrap' }, h('table', { class: 'ops' },
        h('thead', null, h('tr', null, ['Journée des opérations', 'Nombre d\'opérations', 'Montant', 'Remboursement prévu le', 'Statut', 'Rapprochement']
          .map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, rows.map((p) => h('tr', null,
          h('td', { 'data-label': 'Journée des opérations' }, dateOnly(p.business_date)),
          h('td', { 'data-label': 'Nombre d\'opérations' }, String(p.count)),
          h('td', { 'data-label': 'Montant' }, euros(p.amount)),
          h('td', { 'data-label': 'Remboursement prévu le' }, dateOnly(p.scheduled_for)),
          h('td', { 'data-label': 'Statut' }, p.status === 'paid' ? `Remboursé le ${dateTime(p.paid_at)}` : 'Programmé'),
          h('td', { 'data-label': 'Rapprochement' }, h('span', { class: 'row-actions' },
            h('button', { type: 'button', class: 'icon-btn', title: 'Détail', 'aria-label': `Voir les opérations du remboursement du ${dateOnly(p.business_date)}`, onclick: () => payoutDialog(p.id) }, magnifier()),
            h('a', { href: `/api/v1/payouts/${encodeURIComponent(p.id)}/export?format=csv`, download: '', 'aria-label': `Rapprochement CSV du ${dateOnly(p.business_date)}` }, 'CSV'),
            h('a', { href: `/api/v1/payouts/${encodeURIComponent(p.id)}/export?format=xlsx`, download: '', 'aria-label': `Rapprochement Excel du ${dateOnly(p.business_date)}` }, 'Excel'))))))));
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 405)) {
      content = alertBox('info', 'Vos remboursements apparaîtront ici dès que ce service sera disponible.');
    } else throw e;
  }
  if (!isCurrent(n)) return;
  shell(root, 'remboursements', heading('Mes remboursements'),
    h('p', null, 'Les transactions en Chèque-Vacances Connect de la même journée sont cumulées et automatiquement remboursées en une fois sur votre compte bancaire 5 jours ouvrés après.'),
    content);
}

async function payoutDialog(id) {
  let p;
  try { p = await api('GET', `/payouts/${encodeURIComponent(id)}`, undefined, AREA); } catch (e) { toast(errorText(e)); return; }
  const rows = p.payment_requests || [];
  await modal(`Remboursement du ${dateOnly(p.business_date)}`, (close) => [
    dl([
      ['Montant', euros(p.amount)],
      ['Nombre d\'opérations', String(p.count)],
      ['Remboursement prévu le', dateOnly(p.scheduled_for)],
      ['Statut', p.status === 'paid' ? `Remboursé le ${dateTime(p.paid_at)}` : 'Programmé'],
    ]),
    h('div', { class: 'table-wrap' }, h('table', { class: 'ops' },
      h('thead', null, h('tr', null, ['Date de validation', 'N° de panier', 'Type de paiement', 'Montant reçu'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, rows.map((r) => h('tr', { 'data-basket': r.basket_number },
        h('td', { 'data-label': 'Date de validation' }, dateTime(r.validated_at)),
        h('td', { 'data-label': 'N° de panier' }, r.basket_number),
        h('td', { 'data-label': 'Type de paiement' }, TYPE[r.type] || r.type),
        h('td', { 'data-label': 'Montant reçu' }, euros(r.amount_received))))))),
    h('div', { class: 'actions' },
      h('a', { class: 'btn btn-secondary', href: `/api/v1/payouts/${encodeURIComponent(p.id)}/export?format=csv`, download: '' }, 'Exporter (CSV)'),
      h('a', { class: 'btn btn-secondary', href: `/api/v1/payouts/${encodeURIComponent(p.id)}/export?format=xlsx`, download: '' }, 'Exporter (Excel)'),
      h('button', { type: 'button', class: 'btn btn-primary', onclick: () => close(null) }, 'Fermer')),
  ], { wide: true });
}

// --- Paramètres: API keys and webhook ----------------------------------------

export async function settingsView(root, n) {
  if (!await ensure()) return;
  const base = `/points-of-sale/${encodeURIComponent(pos.id)}`;
  const keys = await api('GET', `${base}/api-keys`, undefined, AREA);
  let hook = null;
  try { hook = await api('GET', `${base}/webhook`, undefined, AREA); } catch (e) { if (!(e instanceof ApiError && e.status === 404)) throw e; }
  if (!isCurrent(n)) return;
  const reload = () => settingsView(root, n);
  const secretBox = h('div', { 'aria-live': 'polite' });

  const keyForm = h('form', { class: 'inline-form', novalidate: true },
    field({ label: 'Nom de la nouvelle clé', name: 'name', required: true, attrs: { maxlength: 100 } }),
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Créer une clé'));
  keyForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = keyForm.elements.name.value.trim();
    if (!name) { showFieldErrors(keyForm, { name: 'Donnez un nom à la clé.' }); return; }
    try {
      const k = await api('POST', `${base}/api-keys`, { name }, { ...AREA, headers: { 'Idempotency-Key': newKey() } });
      await settingsView(root, n);
      const box = root.querySelector('#secret-box');
      if (box) {
        box.replaceChildren(alertBox('success',
          h('p', null, `Clé « ${k.name} » créée. Copiez-la maintenant : elle ne sera plus jamais affichée.`),
          h('label', { for: 'new-secret' }, 'Clé secrète'),
          h('input', { id: 'new-secret', class: 'secret', readonly: true, value: k.secret })));
        root.querySelector('#new-secret').select();
      }
    } catch (e) {
      if (e instanceof ApiError && e.fields) showFieldErrors(keyForm, e.fields);
      else secretBox.replaceChildren(alertBox('error', errorText(e)));
    }
  });
  secretBox.id = 'secret-box';

  const hookMsg = h('div', { 'aria-live': 'polite' });
  const hookForm = h('form', { class: 'inline-form', novalidate: true },
    field({ label: 'URL du webhook', name: 'url', type: 'url', value: hook ? hook.url : '', required: true,
      hint: 'http:// ou https://, appelée à chaque changement de statut de vos demandes', attrs: { placeholder: 'https://' } }),
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Enregistrer'));
  hookForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const url = hookForm.elements.url.value.trim();
    if (!/^https?:\/\/\S+$/.test(url)) { showFieldErrors(hookForm, { url: 'Saisissez une URL en http:// ou https://.' }); return; }
    try {
      await api('PUT', `${base}/webhook`, { url }, AREA);
      toast('Webhook enregistré.');
      reload();
    } catch (e) {
      if (e instanceof ApiError && e.fields) showFieldErrors(hookForm, e.fields);
      else hookMsg.replaceChildren(alertBox('error', errorText(e)));
    }
  });

  shell(root, 'parametres', heading('Paramètres du point d\'accueil'),
    h('section', { class: 'card', 'aria-labelledby': 'keys-title' },
      h('h2', { id: 'keys-title' }, 'Clés d\'API'),
      h('p', null, 'Vos sites partenaires créent et suivent les demandes de paiement avec une clé d\'API (en-tête Authorization: Bearer).'),
      keyForm, secretBox,
      keys.data.length === 0 ? h('p', { class: 'empty' }, 'Aucune clé active.')
        : h('div', { class: 'table-wrap' }, h('table', { class: 'ops' },
          h('thead', null, h('tr', null, ['Nom', 'Identifiant', 'Créée le', 'Dernière utilisation', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', null, keys.data.map((k) => h('tr', null,
            h('td', { 'data-label': 'Nom' }, k.name),
            h('td', { 'data-label': 'Identifiant' }, h('code', null, k.id)),
            h('td', { 'data-label': 'Créée le' }, dateTime(k.created_at)),
            h('td', { 'data-label': 'Dernière utilisation' }, k.last_used_at ? dateTime(k.last_used_at) : 'jamais'),
            h('td', { 'data-label': 'Actions' }, h('button', {
              type: 'button', class: 'btn btn-danger btn-small', 'aria-label': `Révoquer la clé ${k.name}`,
              onclick: async () => {
                if (!await confirmDialog('Révoquer la clé', `La clé « ${k.name} » cessera de fonctionner immédiatement.`, 'Révoquer', { danger: true })) return;
                try { await api('DELETE', `${base}/api-keys/${encodeURIComponent(k.id)}`, undefined, AREA); toast('Clé révoquée.'); } catch (e) { toast(errorText(e)); }
                reload();
              },
            }, 'Révoquer')))))))),
    h('section', { class: 'card', 'aria-labelledby': 'hook-title' },
      h('h2', { id: 'hook-title' }, 'Webhook'),
      hookForm, hookMsg,
      hook ? h('div', null,
        h('p', null, 'Secret de signature (en-tête Cvc-Signature) : ', h('code', { class: 'secret-inline' }, hook.secret)),
        h('button', {
          type: 'button', class: 'btn btn-danger btn-small',
          onclick: async () => {
            if (!await confirmDialog('Supprimer le webhook', 'Plus aucun événement ne sera envoyé à cette URL.', 'Supprimer', { danger: true })) return;
            try { await api('DELETE', `${base}/webhook`, undefined, AREA); toast('Webhook supprimé.'); } catch (e) { toast(errorText(e)); }
            reload();
          },
        }, 'Supprimer le webhook')) : h('p', { class: 'muted' }, 'Aucun webhook configuré.')));
}

export async function homeRedirect() {
  go('/encaissement', { replace: true });
}
