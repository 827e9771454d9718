// Entry point: the router.
import { h, clear, alertBox } from './dom.js';
import { ApiError } from './api.js';
import { go, nextRender, isCurrent } from './nav.js';
import * as M from './merchant.js';
import * as C from './customer.js';

const routes = {
  '/': M.homeRedirect,
  '/connexion': M.loginView,
  '/mot-de-passe-oublie': M.forgotView,
  '/reset-password': M.resetView,
  '/point-d-accueil': M.posChoiceView,
  '/encaissement': M.operationsView,
  '/encaisser': M.wizardView,
  '/remboursements': M.payoutsView,
  '/parametres': M.settingsView,
  '/app': C.homeView,
  '/app/connexion': C.loginView,
  '/app/historique': C.historyView,
  '/app/notifications': C.notificationsView,
  '/app/code': C.codeView,
};

const TITLES = {
  '/connexion': 'Connexion', '/mot-de-passe-oublie': 'Mot de passe oublié', '/reset-password': 'Nouveau mot de passe',
  '/point-d-accueil': 'Point d\'accueil', '/encaissement': 'Encaissement', '/encaisser': 'Encaisser',
  '/remboursements': 'Mes remboursements', '/parametres': 'Paramètres',
  '/app': 'Mon solde', '/app/connexion': 'Connexion', '/app/historique': 'Historique',
  '/app/notifications': 'Notifications', '/app/code': 'Code de paiement',
};

const root = document.getElementById('app');

async function render() {
  const n = nextRender();
  const path = location.pathname.replace(/\/+$/, '') || '/';
  const view = routes[path];
  const customer = path === '/app' || path.startsWith('/app/');
  document.body.classList.toggle('customer', customer);
  document.body.classList.toggle('merchant', !customer);
  document.title = `${TITLES[path] || 'Page introuvable'} — ${customer ? 'Chèque-Vacances' : 'Chèque-Vacances Connect, espace professionnels'}`;
  if (!view) {
    clear(root).append(h('main', { id: 'main', class: 'm-main' },
      h('h1', { tabindex: '-1' }, 'Page introuvable'),
      h('p', null, h('a', { href: '/encaissement', 'data-link': '' }, 'Retour à l\'encaissement'))));
    return;
  }
  root.setAttribute('aria-busy', 'true');
  try {
    await view(root, n);
  } catch (e) {
    if (!isCurrent(n)) return;
    console.error(e);
    const unreachable = e instanceof ApiError && e.unreachable;
    clear(root).append(h('main', { id: 'main', class: customer ? 'c-main' : 'm-main' },
      h('h1', { tabindex: '-1' }, unreachable ? 'Service injoignable' : 'Une erreur est survenue'),
      alertBox('error', unreachable
        ? 'Le service Chèque-Vacances Connect est momentanément injoignable. Vérifiez votre connexion et réessayez dans quelques instants.'
        : (e && e.message) || 'Erreur inattendue.'),
      h('button', { type: 'button', class: 'btn btn-primary', onclick: () => render() }, 'Réessayer')));
  } finally {
    if (isCurrent(n)) {
      root.removeAttribute('aria-busy');
      const h1 = root.querySelector('h1');
      if (h1 && !document.querySelector('dialog[open]') && !root.contains(document.activeElement)) h1.focus({ preventScroll: true });
    }
  }
}

document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[data-link]');
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  ev.preventDefault();
  const d = a.closest('details');
  if (d) d.open = false;
  go(a.getAttribute('href'));
});
// close the "Exporter" menu after a download link
document.addEventListener('click', (ev) => {
  const a = ev.target.closest('details.export a');
  if (a) setTimeout(() => { a.closest('details').open = false; }, 0);
});
window.addEventListener('popstate', render);
window.addEventListener('cvc:route', () => {
  window.scrollTo(0, 0);
  const t = document.getElementById('toast');
  if (t) t.hidden = true;
  render();
});
render();
