// French formats: "40,00 €", "24/06/2020 11h33", the walkthrough's names.

const NBSP = '\u00a0';

export function euros(cents, { signed = false } = {}) {
  if (cents == null) return '-';
  const neg = cents < 0;
  const abs = Math.abs(cents);
  const units = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, NBSP);
  const dec = String(abs % 100).padStart(2, '0');
  const sign = neg ? '-' : (signed ? '+' : '');
  return `${sign}${units},${dec}${NBSP}€`;
}

// "40,00" / "40" / "1 234,5" / "40.00" -> 4000 cents; null when not an amount
export function parseEuros(text) {
  const t = String(text || '').replace(/[\s\u00a0\u202f€]/g, '');
  const m = /^(\d{1,9})(?:[,.](\d{1,2}))?$/.exec(t);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] || '0').padEnd(2, '0'));
}

// cents -> "40,00" for an input's value
export function eurosInput(cents) {
  if (cents == null) return '';
  return `${Math.floor(cents / 100)},${String(cents % 100).padStart(2, '0')}`;
}

const dtf = new Intl.DateTimeFormat('fr-FR', {
  timeZone: 'Europe/Paris', day: '2-digit', month: '2-digit', year: 'numeric',
  hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});

export function dateTime(iso) {
  if (!iso) return '-';
  const p = Object.fromEntries(dtf.formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
  return `${p.day}/${p.month}/${p.year} ${p.hour}h${p.minute}`;
}

export function dateOnly(iso) {
  if (!iso) return '-';
  if (/^\d{4}-\d{2}-\d{2}$/.test(iso)) {
    const [y, m, d] = iso.split('-');
    return `${d}/${m}/${y}`;
  }
  return dateTime(iso).slice(0, 10);
}

// today in Europe/Paris, YYYY-MM-DD
export function parisToday() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris' }).format(new Date());
}

export const STATUS = {
  awaiting_payment: 'En attente de paiement client',
  to_validate: 'A valider',
  validated: 'Validé',
  cancelled: 'Annulé',
  expired: 'Expiré',
  refused: 'Refusé',
};

export const TYPE = {
  immediate_payment: 'Paiement immédiat',
  deferred_payment: 'Paiement différé',
  pre_reservation: 'Pré-réservation',
};

export const CATEGORY = {
  accommodation: 'Hébergement',
  stays_and_transport: 'Séjours & transports',
  leisure_and_culture: 'Loisirs & culture',
  sports_leisure: 'Loisirs sportifs',
  restaurants: 'Restauration',
};

export const EVENT = {
  created: 'Demande de paiement créée',
  paid: 'Paiement réalisé par le client',
  refused: 'Paiement refusé par le client',
  confirmed: 'Réservation confirmée',
  cancelled: 'Demande annulée',
  expired: 'Demande expirée',
  refunded: 'Client re-crédité',
  reminder_sent: 'Rappel envoyé (24h avant la fin du délai de validation)',
  validated: 'Paiement validé',
};

export function actor(a) {
  if (!a) return '';
  if (a === 'system') return 'automatique';
  const [kind, id] = a.split(':');
  const names = {
    admin: 'compte Administrateur', point_of_sale: 'compte Point d\'accueil',
    api_key: 'clé d\'API', customer: 'client',
  };
  return `${names[kind] || kind} ${id || ''}`.trim();
}

export function plural(n, one, many) { return `${n} ${n > 1 ? many : one}`; }
