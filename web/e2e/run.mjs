// End-to-end tests of the web front end: Playwright (playwright-core) drives
// Debian's chromium, headless, against the stack that `make test` started
// (CVC_TEST_URL, CVC_OPS_TOKEN). Prints TAP for prove (t/600-web.t).
// CVC_SCREENSHOTS=<dir> also saves the main screens there as PNG.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, readFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const BASE = process.env.CVC_TEST_URL;
const OPS = process.env.CVC_OPS_TOKEN;
const SHOTS = process.env.CVC_SCREENSHOTS || '';
const CHROMIUM = process.env.CVC_CHROMIUM || '/usr/bin/chromium';

if (!BASE || !OPS) { console.log('1..0 # SKIP no test stack (CVC_TEST_URL, CVC_OPS_TOKEN)'); process.exit(0); }
if (!existsSync(CHROMIUM)) { console.log(`1..0 # SKIP no chromium at ${CHROMIUM}`); process.exit(0); }
if (SHOTS) mkdirSync(SHOTS, { recursive: true });

// --- a tiny TAP harness --------------------------------------------------------
const tests = [];
const test = (name, fn) => tests.push({ name, fn });
const diag = (s) => console.log(String(s).split('\n').map((l) => `# ${l}`).join('\n'));
function assert(cond, msg) { if (!cond) throw new Error(`assertion failed: ${msg}`); }

// --- the stack -------------------------------------------------------------------
const rnd = () => randomBytes(4).toString('hex');
const MPW = `merchant-pw-${rnd()}`;
const CPW = `customer-pw-${rnd()}`;
async function ops(path, body) {
  const r = await fetch(BASE + path, {
    method: 'POST', headers: { Authorization: `Bearer ${OPS}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const j = await r.json();
  if (r.status !== 201) throw new Error(`${path}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}

const S = {};   // the accounts
async function setup() {
  S.conv = (await ops('/ops/v1/conventions', { name: 'Camping Les Flots', email: `conv-${rnd()}@example.test`, password: MPW })).id;
  S.pos1 = (await ops('/ops/v1/points-of-sale', { convention: S.conv, name: 'Accueil du camping', email: `pos1-${rnd()}@example.test`, password: MPW, category: 'accommodation' })).id;
  S.pos2 = (await ops('/ops/v1/points-of-sale', { convention: S.conv, name: 'Restaurant Le Port', email: `pos2-${rnd()}@example.test`, password: MPW, category: 'restaurants' })).id;
  const conv2 = (await ops('/ops/v1/conventions', { name: 'Musée de la Mer', email: `conv2-${rnd()}@example.test`, password: MPW })).id;
  S.lockPos = (await ops('/ops/v1/points-of-sale', { convention: conv2, name: 'Billetterie', email: `pos3-${rnd()}@example.test`, password: MPW, category: 'leisure_and_culture' })).id;
  S.c1mail = `client1-${rnd()}@example.test`;
  S.c1 = (await ops('/ops/v1/beneficiaries', { email: S.c1mail, password: CPW, payment_code: '123456', balance: 10000 })).id;
  S.c2mail = `client2-${rnd()}@example.test`;
  S.c2 = (await ops('/ops/v1/beneficiaries', { email: S.c2mail, password: CPW, payment_code: '654321', balance: 20000 })).id;
  S.b1 = `REF${Date.now()}1`;
  S.b2 = `REF${Date.now()}2`;
  S.b3 = `REF${Date.now()}3`;
}

// --- the browser -------------------------------------------------------------------
let browser;
const cspErrors = [];
async function newContext(viewport) {
  const ctx = await browser.newContext({ viewport, locale: 'fr-FR', timezoneId: 'Europe/Paris', acceptDownloads: true });
  ctx.setDefaultTimeout(10000);
  const page = await ctx.newPage();
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });
  page.on('pageerror', (e) => cspErrors.push(`page error: ${e.message}`));
  return { ctx, page };
}
async function shot(page, name) {
  if (!SHOTS) return;
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(SHOTS, name), fullPage: true });
}
const see = (page, text, opts) => page.getByText(text, opts).first().waitFor();
const row = (page, basket) => page.locator(`tr[data-basket="${basket}"]`);
async function textOf(loc) { return (await loc.innerText()).replace(/\u00a0|\u202f/g, ' '); }
async function until(fn, what, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function merchantLogin(page, login, password = MPW) {
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Valider' }).click();
}

async function customerLogin(page, login) {
  await page.goto(`${BASE}/app`);
  await page.getByRole('heading', { name: 'Connexion' }).waitFor();
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill(CPW);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.getByRole('heading', { name: 'Mon solde' }).waitFor();
}

// the 4 steps; stops on step 3 when send is false
async function wizard(page, { amount, basket, customer, days = 0, email = '', remember = false, send = true, shots = false }) {
  await page.getByRole('link', { name: 'Encaisser', exact: true }).click();
  await page.getByText('Je souhaite encaisser mon client :').waitFor();
  await page.locator('input[name=mode][value=immediate]').check();
  if (days) {
    await page.locator('input[name=delay][value=yes]').check();
    await page.locator('input[name=validation_delay_days]').fill(String(days));
  } else {
    await page.locator('input[name=delay][value=no]').check();
  }
  if (email) await page.locator('input[name=notify_email]').fill(email);
  if (remember) await page.getByLabel('Se souvenir de cet e-mail pour les prochains encaissements').check();
  if (shots) await shot(page, 'encaisser-etape-1.png');
  await page.getByRole('button', { name: 'Continuer' }).click();
  await page.getByText('Informations sur le paiement').waitFor();
  await page.locator('input[name=amount]').fill(amount);
  await page.locator('input[name=basket_number]').fill(basket);
  await page.locator('input[name=customer]').fill(customer);
  if (shots) {
    await page.locator('input[name=label]').fill('Emplacement 12, semaine du 4 juillet');
    await shot(page, 'encaisser-etape-2.png');
  }
  await page.getByRole('button', { name: 'Continuer' }).click();
  await page.getByRole('heading', { name: 'Confirmation' }).waitFor();
  if (!send) return;
  if (days) await until(async () => !(await textOf(page.locator('dl.summary'))).includes('…'), 'the validation deadline');
  if (shots) await shot(page, 'encaisser-etape-3.png');
  await page.getByRole('button', { name: 'Envoyer' }).click();
  await page.getByRole('heading', { name: 'Détail du paiement' }).waitFor();
}

let M; let C1; let C2;

test('the page is served at / with a strict Content-Security-Policy', async () => {
  const r = await fetch(`${BASE}/encaissement`);
  assert(r.status === 200, `status ${r.status}`);
  const csp = r.headers.get('content-security-policy') || '';
  assert(/default-src 'self'/.test(csp), `CSP: ${csp}`);
  assert(!/unsafe-inline|unsafe-eval|http/.test(csp), `CSP allows too much: ${csp}`);
  assert(/text\/html/.test(r.headers.get('content-type')), 'html');
  const js = await fetch(`${BASE}/js/main.js`);
  assert(/javascript/.test(js.headers.get('content-type')), `js type ${js.headers.get('content-type')}`);
  const html = await r.text();
  assert(!/https?:\/\//.test(html), 'no other host in index.html');
});

test('merchant: login with the 6-digit id, choice of the point of sale, "Encaissement"', async () => {
  M = await newContext({ width: 1280, height: 900 });
  const p = M.page;
  await p.goto(`${BASE}/`);
  await p.getByRole('heading', { name: 'Je me connecte à mon espace dédié' }).waitFor();
  await see(p, 'Mot de passe oublié');
  await shot(p, 'connexion.png');
  await merchantLogin(p, S.conv);
  await p.getByRole('heading', { name: 'J\'accède à la page d\'encaissement' }).waitFor();
  await see(p, 'Restaurant Le Port');
  await shot(p, 'choix-point-d-accueil.png');
  await p.getByRole('button', { name: /Accueil du camping/ }).click();
  await p.getByRole('heading', { name: 'Encaissement', exact: true }).waitFor();
  await see(p, 'Vos opérations');
  await see(p, 'Aucune opération pour le moment.');
  const c = await textOf(p.locator('.counters'));
  assert(c.includes('A valider : 0') && c.includes('En attente de paiement client : 0'), c);
});

test('Encaisser: the 4 steps of a pre-reservation with a 2-day delay (amount typed "40,00")', async () => {
  const p = M.page;
  // a field error beside its field first
  await p.getByRole('link', { name: 'Encaisser', exact: true }).click();
  await p.getByRole('button', { name: 'Continuer' }).click();
  await p.locator('input[name=amount]').fill('0,00');
  await p.getByRole('button', { name: 'Continuer' }).click();
  const box = p.locator('.field', { has: p.locator('input[name=amount]') });
  assert((await textOf(box.locator('.field-error'))).includes('Le montant minimum est de 0,01 €'), 'amount error');
  await p.getByRole('button', { name: 'Annuler' }).click();
  await p.getByRole('heading', { name: 'Encaissement', exact: true }).waitFor();

  await wizard(p, { amount: '40,00', basket: S.b1, customer: S.c1mail, days: 2, email: 'caisse@camping.example', remember: true, shots: true });
  const sum = await textOf(p.locator('dl.summary'));
  assert(sum.includes('40,00 €'), sum);
  assert(/Date limite de validation après encaissement\s*\d\d\/\d\d\/\d{4} \(2 jours\)/.test(sum), sum);
  await see(p, 'En attente de paiement client');
  await shot(p, 'encaisser-etape-4-attente.png');
});

test('customer app (another browser): login by e-mail, balance, pay with the code; a wrong code is told', async () => {
  C1 = await newContext({ width: 390, height: 844 });
  const p = C1.page;
  await customerLogin(p, S.c1mail);
  await see(p, '100,00 €');
  const card = p.locator(`li[data-basket="${S.b1}"]`);
  await card.waitFor();
  assert((await textOf(card)).includes('40,00 €'), 'card amount');
  assert((await textOf(card)).includes('Accueil du camping'), 'merchant name');
  await shot(p, 'app-accueil.png');
  await card.getByRole('button', { name: /^Payer/ }).click();
  const dlg = p.getByRole('dialog');
  await dlg.locator('input[name=payment_code]').fill('000000');
  await dlg.getByRole('button', { name: 'Valider le paiement' }).click();
  await dlg.getByText('Code de paiement erroné. Il vous reste 2 essais.').waitFor();
  await shot(p, 'app-code-errone.png');
  await dlg.locator('input[name=payment_code]').fill('123456');
  await dlg.getByRole('button', { name: 'Valider le paiement' }).click();
  await dlg.waitFor({ state: 'detached' });
  await see(p, '60,00 €');
  await see(p, 'Aucune demande en attente.');
});

test('Encaisser step 4 updates by itself: "Le paiement a bien été réalisé pour un montant de 40,00 €"', async () => {
  const p = M.page;
  await p.getByText(/Le paiement a bien été réalisé pour un montant de 40,00\s€/).waitFor({ timeout: 15000 });
  await see(p, 'A valider');
  await shot(p, 'encaisser-etape-4.png');
});

test('"A valider" row: confirm with the dialog, status "Validé", the history in the detail', async () => {
  const p = M.page;
  await p.getByRole('button', { name: 'Fermer' }).click();
  await p.getByRole('heading', { name: 'Encaissement', exact: true }).waitFor();
  const r = row(p, S.b1);
  const t = await textOf(r);
  for (const s of ['Pré-réservation', 'A valider', '+40,00 €']) assert(t.includes(s), `row has ${s}: ${t}`);
  assert(/\d\d\/\d\d\/\d{4} \d\dh\d\d/.test(t), `date format: ${t}`);
  assert((await textOf(p.locator('.counters'))).includes('A valider : 1'), 'counter A valider : 1');
  await shot(p, 'encaissement.png');
  await r.getByRole('button', { name: `Confirmer la réservation ${S.b1}` }).click();
  const dlg = p.getByRole('dialog');
  await dlg.getByText('Je confirme la réservation').waitFor();
  await shot(p, 'confirmation-dialogue.png');
  await dlg.getByRole('button', { name: 'Confirmer la réservation' }).click();
  await until(async () => (await textOf(row(p, S.b1))).includes('Validé'), 'status Validé');
  await row(p, S.b1).getByRole('button', { name: /Voir le détail/ }).click();
  const d = p.getByRole('dialog');
  await d.getByText('Historique').waitFor();
  const h = await textOf(d);
  for (const s of ['Demande de paiement créée', 'Paiement réalisé par le client', 'Réservation confirmée']) assert(h.includes(s), `history has ${s}: ${h}`);
  await shot(p, 'detail-historique.png');
  await d.getByRole('button', { name: 'Fermer' }).click();
});

test('cancel path: the customer pays, the merchant cancels, the balance is restored and notified', async () => {
  const p = M.page;
  await wizard(p, { amount: '25,50', basket: S.b2, customer: S.c2, days: 1 });
  C2 = await newContext({ width: 360, height: 780 });
  const c = C2.page;
  await customerLogin(c, S.c2);
  await see(c, '200,00 €');
  const card = c.locator(`li[data-basket="${S.b2}"]`);
  await card.getByRole('button', { name: /^Payer/ }).click();
  await c.getByRole('dialog').locator('input[name=payment_code]').fill('654321');
  await c.getByRole('dialog').getByRole('button', { name: 'Valider le paiement' }).click();
  await see(c, '174,50 €');
  await p.getByText(/Le paiement a bien été réalisé pour un montant de 25,50\s€/).waitFor({ timeout: 15000 });
  await p.getByRole('button', { name: 'Fermer' }).click();
  await row(p, S.b2).getByRole('button', { name: `Annuler la demande ${S.b2}` }).click();
  const dlg = p.getByRole('dialog');
  await dlg.getByText(/re-crédité de 25,50\s€/).waitFor();
  await dlg.getByRole('button', { name: 'Annuler la réservation' }).click();
  await until(async () => (await textOf(row(p, S.b2))).includes('Annulé'), 'status Annulé');
  await c.reload();
  await see(c, '200,00 €');
  await c.getByRole('link', { name: 'Notifications' }).click();
  await c.getByRole('heading', { name: 'Notifications' }).waitFor();
  await until(async () => /25,50 €/.test(await textOf(c.locator('main'))), 'a notification with 25,50 €');
  await shot(c, 'app-notifications.png');
  await c.getByRole('link', { name: 'Historique' }).click();
  await c.getByRole('heading', { name: 'Historique' }).waitFor();
  const hist = await textOf(c.locator('main'));
  assert(hist.includes('+25,50 €') && hist.includes('-25,50 €'), hist);
  await shot(c, 'app-historique.png');
});

test('"Exporter": the CSV download of the table', async () => {
  const p = M.page;
  await p.getByRole('heading', { name: 'Encaissement', exact: true }).waitFor();
  await p.locator('details.export summary').click();
  const xlsx = await p.getByRole('link', { name: /Excel/ }).getAttribute('href');
  assert(xlsx.includes('format=xlsx') && xlsx.includes(`point_of_sale=${S.pos1}`), xlsx);
  const [dl] = await Promise.all([p.waitForEvent('download'), p.getByRole('link', { name: /CSV/ }).click()]);
  const file = await dl.path();
  const buf = readFileSync(file);
  assert(buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf, 'UTF-8 BOM');
  const text = buf.toString('utf8');
  assert(text.includes('N° de panier') && text.includes(S.b1) && text.includes(S.b2), text.slice(0, 400));
  assert(text.includes('40,00'), 'amount 40,00');
});

test('filters: n° de panier and statut', async () => {
  const p = M.page;
  await p.locator('details.filters-box > summary').click();
  await p.getByLabel('Statut').selectOption('cancelled');
  await p.getByRole('button', { name: 'Filtrer' }).click();
  await until(async () => (await p.locator('tbody tr').count()) === 1, 'one cancelled row');
  assert(await row(p, S.b2).count() === 1, 'the cancelled one');
  await p.getByRole('button', { name: 'Effacer les filtres' }).click();
  await until(async () => (await p.locator('tbody tr').count()) === 2, 'both rows again');
});

test('a session that expires mid-form: re-login in a dialog, nothing typed is lost', async () => {
  const p = M.page;
  await wizard(p, { amount: '12,34', basket: S.b3, customer: S.c1, days: 3, send: false });
  // to step 2 and back to 3 with the session gone
  await p.getByRole('button', { name: '‹ Précédent' }).click();
  await M.ctx.clearCookies();
  await p.locator('input[name=basket_number]').waitFor();
  await p.getByRole('button', { name: 'Continuer' }).click();
  const dlg = p.getByRole('dialog');
  await dlg.getByText('Votre session a expiré').waitFor();
  await shot(p, 'session-expiree.png');
  await dlg.locator('input[name=password]').fill(MPW);
  await dlg.getByRole('button', { name: 'Se reconnecter' }).click();
  await p.getByRole('heading', { name: 'Confirmation' }).waitFor();
  await until(async () => /12,34 €[\s\S]*\(3 jours\)/.test(await textOf(p.locator('dl.summary'))), 'the summary kept');
  await p.getByRole('button', { name: 'Envoyer' }).click();
  await p.getByRole('heading', { name: 'Détail du paiement' }).waitFor();
  await p.getByRole('button', { name: 'Fermer' }).click();
  await row(p, S.b3).waitFor();
});

test('customer app: the payment code locked after 3 wrong codes, a new code, then the payment', async () => {
  const p = C1.page;
  await p.reload();
  const card = p.locator(`li[data-basket="${S.b3}"]`);
  await card.getByRole('button', { name: /^Payer/ }).click();
  const dlg = p.getByRole('dialog');
  for (const [code, msg] of [['111111', 'Il vous reste 2 essais.'], ['222222', 'Il vous reste 1 essai.'], ['333333', 'Votre code de paiement est bloqué']]) {
    await dlg.locator('input[name=payment_code]').fill(code);
    await dlg.getByRole('button', { name: 'Valider le paiement' }).click();
    await dlg.getByText(msg).waitFor();
  }
  await dlg.getByRole('link', { name: 'Choisir un nouveau code de paiement' }).click();
  await p.getByRole('heading', { name: 'Code de paiement' }).waitFor();
  await p.locator('input[name=password]').fill(CPW);
  await p.locator('input[name=payment_code]').fill('246810');
  await p.locator('input[name=payment_code2]').fill('246810');
  await p.getByRole('button', { name: 'Enregistrer le code' }).click();
  await see(p, 'Votre nouveau code de paiement est enregistré.');
  await p.getByRole('link', { name: 'Accueil' }).click();
  await p.locator(`li[data-basket="${S.b3}"]`).getByRole('button', { name: /^Payer/ }).click();
  await p.getByRole('dialog').locator('input[name=payment_code]').fill('246810');
  await p.getByRole('dialog').getByRole('button', { name: 'Valider le paiement' }).click();
  await see(p, '47,66 €');
});

test('the API unreachable: a clear message', async () => {
  const p = M.page;
  await p.route('**/api/v1/payment-requests?**', (r) => r.abort('connectionrefused'));
  await p.getByRole('link', { name: 'Mes remboursements' }).click();
  await p.getByRole('heading', { name: 'Mes remboursements' }).waitFor();
  await p.getByRole('link', { name: 'Encaissement' }).click();
  await p.getByRole('heading', { name: 'Service injoignable' }).waitFor();
  await see(p, 'momentanément injoignable');
  await shot(p, 'api-injoignable.png');
  await p.unroute('**/api/v1/payment-requests?**');
  await p.getByRole('button', { name: 'Réessayer' }).click();
  await p.getByRole('heading', { name: 'Encaissement', exact: true }).waitFor();
});

test('"Mes remboursements" shows the payouts, or says they will appear', async () => {
  const p = M.page;
  await p.getByRole('link', { name: 'Mes remboursements' }).click();
  await p.getByRole('heading', { name: 'Mes remboursements' }).waitFor();
  await until(async () => /apparaîtront ici|Aucun remboursement|Journée des opérations/.test(await textOf(p.locator('main'))), 'payouts or the notice');
  if (await p.getByText('apparaîtront ici').count()) { await shot(p, 'mes-remboursements.png'); return; }
  // the request validated today (40,00 €) is in today's payout, 5 business days later
  const line = p.locator('tbody tr').first();
  const t = await textOf(line);
  assert(t.includes('40,00 €') && t.includes('Programmé'), t);
  await shot(p, 'mes-remboursements.png');
  await line.getByRole('button', { name: /Voir les opérations/ }).click();
  const d = p.getByRole('dialog');
  await d.locator(`tr[data-basket="${S.b1}"]`).waitFor();
  const csv = await d.getByRole('link', { name: 'Exporter (CSV)' }).getAttribute('href');
  const r = await p.request.get(BASE + csv);
  assert(r.status() === 200 && (await r.text()).includes(S.b1), `payout export ${r.status()}`);
  await shot(p, 'remboursement-detail.png');
  await d.getByRole('button', { name: 'Fermer' }).click();
});

test('settings: an API key shown once then revoked, the webhook URL', async () => {
  const p = M.page;
  await p.getByRole('link', { name: 'Paramètres' }).click();
  await p.getByRole('heading', { name: 'Paramètres du point d\'accueil' }).waitFor();
  await p.getByLabel('Nom de la nouvelle clé').fill('Site de réservation');
  await p.getByRole('button', { name: 'Créer une clé' }).click();
  await see(p, 'elle ne sera plus jamais affichée');
  assert((await p.locator('#new-secret').inputValue()).startsWith('cvc_sk_'), 'the secret');
  await p.getByLabel('URL du webhook').fill('https://camping.example/cvc/webhook');
  await p.getByRole('button', { name: 'Enregistrer' }).click();
  await p.getByText(/whsec_/).waitFor();
  await shot(p, 'parametres.png');
  assert(await p.locator('#new-secret').count() === 0, 'the secret is not shown again');
  await p.getByRole('button', { name: 'Révoquer la clé Site de réservation' }).click();
  await p.getByRole('dialog').getByRole('button', { name: 'Révoquer' }).click();
  await see(p, 'Aucune clé active.');
});

test('lockout: attempts left, then the locked message with "Mot de passe oublié"', async () => {
  const L = await newContext({ width: 1024, height: 768 });
  const p = L.page;
  await p.goto(`${BASE}/connexion`);
  await merchantLogin(p, S.lockPos, 'wrong-password-1');
  await see(p, 'Il vous reste 2 essais avant le blocage de votre compte.');
  await merchantLogin(p, S.lockPos, 'wrong-password-2');
  await see(p, 'Il vous reste 1 essai avant le blocage de votre compte.');
  await merchantLogin(p, S.lockPos, 'wrong-password-3');
  await see(p, 'Votre compte est bloqué après 3 mots de passe erronés');
  await shot(p, 'connexion-compte-bloque.png');
  await p.getByRole('alert').getByRole('link', { name: 'Mot de passe oublié' }).click();
  await p.getByRole('heading', { name: 'Mot de passe oublié' }).waitFor();
  await p.locator('input[name=login]').fill(S.lockPos);
  await p.getByRole('button', { name: 'Envoyer le lien' }).click();
  await see(p, 'un e-mail contenant un lien de réinitialisation');
  await p.goto(`${BASE}/reset-password?token=not-a-token`);
  await p.locator('input[name=password]').fill('a-new-password-123');
  await p.locator('input[name=password2]').fill('a-new-password-123');
  await p.getByRole('button', { name: 'Valider' }).click();
  await see(p, 'Ce lien n\'est plus valable');
  await L.ctx.close();
});

test('no layout break at 360 px and 1440 px', async () => {
  for (const width of [360, 1440]) {
    for (const [ctx, path] of [[M, '/encaissement'], [M, '/encaisser'], [C2, '/app'], [C2, '/app/historique']]) {
      await ctx.page.setViewportSize({ width, height: 800 });
      await ctx.page.goto(BASE + path);
      await ctx.page.locator('h1').first().waitFor();
      await ctx.page.waitForTimeout(100);
      const sw = await ctx.page.evaluate(() => document.documentElement.scrollWidth);
      assert(sw <= width, `${path} at ${width}px: scrollWidth ${sw}`);
      if (width === 360 && path === '/encaissement') await shot(ctx.page, 'encaissement-360px.png');
    }
  }
});

test('no CSP violation nor script error in any page', async () => {
  assert(cspErrors.length === 0, cspErrors.join('\n'));
});

// --- run --------------------------------------------------------------------------
const t0 = Date.now();
console.log(`1..${tests.length}`);
const profile = mkdtempSync(join(tmpdir(), 'cvc-chromium-'));
let failed = 0;
try {
  await setup();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--lang=fr-FR',
      `--disk-cache-dir=${join(profile, 'cache')}`],
    env: { ...process.env, HOME: profile, XDG_CONFIG_HOME: profile, XDG_CACHE_HOME: profile },
  });
} catch (e) {
  console.log(`Bail out! setup: ${e.message}`);
  rmSync(profile, { recursive: true, force: true });
  process.exit(1);
}
let i = 0;
for (const t of tests) {
  i += 1;
  const s = Date.now();
  try {
    await t.fn();
    console.log(`ok ${i} - ${t.name} (${((Date.now() - s) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed += 1;
    console.log(`not ok ${i} - ${t.name}`);
    diag(e.stack || e.message);
    for (const ctx of [M, C1, C2]) {
      if (ctx && SHOTS) await ctx.page.screenshot({ path: join(SHOTS, `failed-${i}-${ctx === M ? 'merchant' : 'customer'}.png`) }).catch(() => {});
    }
  }
}
await browser.close();
rmSync(profile, { recursive: true, force: true });
diag(`web tests: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(failed ? 1 : 0);
