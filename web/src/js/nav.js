// Client-side navigation (History API); main.js renders on 'cvc:route'.
export function go(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.dispatchEvent(new Event('cvc:route'));
}

// Each render gets a number; work started by an older render stops.
let current = 0;
export function nextRender() { current += 1; return current; }
export function isCurrent(n) { return n === current; }

// A status line for the result of an action (read by screen readers).
export function toast(text) {
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast.t);
  toast.t = setTimeout(() => { el.hidden = true; }, 6000);
}
