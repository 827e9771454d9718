// The JSON API client: session cookie + X-CSRF-Token on every non-GET, the
// error format, a re-login dialog (then a retry) when a session has expired
// mid-way, and a banner when the API cannot be reached.
import { h, modal, field, showFieldErrors, alertBox } from './dom.js';

export class ApiError extends Error {
  constructor(status, err = {}) {
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || (status === 0 ? 'network' : 'http_error');
    this.fields = err.fields || null;
    this.attemptsLeft = err.attempts_left;
  }
  get unreachable() { return this.status === 0 || this.status === 503 || this.status === 502 || this.status === 504; }
}

const csrfKey = (area) => `cvc_csrf_${area}`;
export const session = {
  csrf(area) { return sessionStorage.getItem(csrfKey(area)); },
  set(area, login, answer) {
    sessionStorage.setItem(csrfKey(area), answer.csrf_token);
    sessionStorage.setItem(`cvc_login_${area}`, login);
  },
  lastLogin(area) { return sessionStorage.getItem(`cvc_login_${area}`) || ''; },
  clear(area) { sessionStorage.removeItem(csrfKey(area)); },
};

// The banner for an unreachable API (network error or 503).
export function showUnreachable() {
  const el = document.getElementById('net-banner');
  if (!el) return;
  el.hidden = false;
  el.textContent = 'Le service Chèque-Vacances Connect est momentanément injoignable. '
    + 'Vérifiez votre connexion et réessayez dans quelques instants.';
}
export function hideUnreachable() {
  const el = document.getElementById('net-banner');
  if (el) el.hidden = true;
}

async function raw(method, path, body, area, headers = {}) {
  const h2 = { Accept: 'application/json', ...headers };
  if (body !== undefined) h2['Content-Type'] = 'application/json';
  if (method !== 'GET' && area) {
    const t = session.csrf(area);
    if (t) h2['X-CSRF-Token'] = t;
  }
  let res;
  try {
    res = await fetch(`/api/v1${path}`, {
      method, headers: h2, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    showUnreachable();
    throw new ApiError(0, { message: 'API injoignable' });
  }
  let json = null;
  if (res.status !== 204) {
    try { json = await res.json(); } catch (e) { json = null; }
  }
  if (res.ok) { hideUnreachable(); return json; }
  if ([502, 503, 504].includes(res.status)) showUnreachable();
  else hideUnreachable();
  throw new ApiError(res.status, (json && json.error) || {});
}

// api(method, path, body?, {area, relogin, headers})
//   area: 'merchant' | 'customer' (whose CSRF token, whose re-login)
//   relogin: false to get the 401 instead of the dialog
export async function api(method, path, body, opts = {}) {
  const { area = null, relogin = true, headers } = opts;
  try {
    return await raw(method, path, body, area, headers);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && e.code === 'unauthenticated' && relogin && area) {
      const ok = await reloginDialog(area);
      if (ok) return raw(method, path, body, area, headers);
    }
    throw e;
  }
}

export async function login(area, loginValue, password) {
  const answer = await raw('POST', `/${area}/sessions`, { login: loginValue, password }, null);
  session.set(area, loginValue, answer);
  return answer;
}

export async function logout(area) {
  try { await raw('DELETE', `/${area}/sessions/current`, undefined, area); } catch (e) { /* gone already */ }
  session.clear(area);
}

// The message of a failed login, as nodes (with the "Mot de passe oublié"
// link for a locked merchant account).
export function loginError(area, e, navigate) {
  if (!(e instanceof ApiError)) return 'Une erreur inattendue est survenue.';
  if (e.unreachable) return 'Le service est momentanément injoignable. Réessayez dans quelques instants.';
  if (e.code === 'invalid_credentials') {
    const n = e.attemptsLeft;
    return `Identifiant ou mot de passe incorrect.${n != null
      ? ` Il vous reste ${n} essai${n > 1 ? 's' : ''} avant le blocage de votre compte.` : ''}`;
  }
  if (e.code === 'account_locked') {
    if (area === 'merchant') {
      return [
        'Votre compte est bloqué après 3 mots de passe erronés. Pour le débloquer, cliquez sur ',
        h('a', { href: '/mot-de-passe-oublie', 'data-link': '', onclick: navigate }, 'Mot de passe oublié'), '.',
      ];
    }
    return 'Votre compte est bloqué après 3 mots de passe erronés. Contactez le service client Chèque-Vacances pour le débloquer.';
  }
  if (e.code === 'validation_failed') {
    return area === 'merchant'
      ? 'L\'identifiant est un numéro à 6 chiffres (Administrateur) ou à 12 chiffres (Point d\'accueil).'
      : 'Entrez votre identifiant à 11 chiffres ou votre e-mail de contact.';
  }
  if (e.code === 'rate_limited') return 'Trop de tentatives : patientez quelques secondes.';
  return e.message;
}

let pending = null;
function reloginDialog(area) {
  if (pending) return pending;           // several calls, one dialog
  pending = modal('Votre session a expiré', (close, dlg) => {
    const msg = h('div', { class: 'dlg-msg', 'aria-live': 'polite' });
    const form = h('form', { novalidate: true },
      h('p', null, 'Reconnectez-vous pour continuer : ce que vous avez saisi est conservé.'),
      field({ label: area === 'merchant' ? 'Identifiant (6 ou 12 chiffres)' : 'Identifiant ou e-mail',
        name: 'login', value: session.lastLogin(area), required: true, attrs: { autocomplete: 'username' } }),
      field({ label: 'Mot de passe', name: 'password', type: 'password', required: true,
        attrs: { autocomplete: 'current-password' } }),
      msg,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => close(false) }, 'Annuler'),
        h('button', { type: 'submit', class: 'btn btn-primary' }, 'Se reconnecter')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const l = form.elements.login.value.trim();
      const p = form.elements.password.value;
      if (!l || !p) { showFieldErrors(form, { login: l ? '' : 'Champ obligatoire', password: p ? '' : 'Champ obligatoire' }); return; }
      try {
        await login(area, l, p);
        close(true);
      } catch (e) {
        msg.replaceChildren(alertBox('error', loginError(area, e, () => close(false))));
      }
    });
    setTimeout(() => { (form.elements.login.value ? form.elements.password : form.elements.login).focus(); }, 0);
    return form;
  }).then((v) => { pending = null; return v === true; });
  return pending;
}

// A fresh Idempotency-Key
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
