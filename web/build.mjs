// The build: copy src/ to dist/ (plain ES modules, nothing to bundle), and
// check that nothing points at another host (the CSP would block it).
import { cpSync, rmSync, readdirSync, readFileSync, statSync, mkdirSync, renameSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');
const out = join(here, 'dist');
const tmp = join(here, '.dist-new');

function walk(d) {
  return readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

let bad = 0;
for (const f of walk(src)) {
  const text = readFileSync(f, 'utf8');
  if (/\b(src|href)\s*=\s*["']https?:|@import\s+url\(\s*["']?https?:|\bfetch\(\s*["']https?:/i.test(text)) {
    console.error(`build: ${f} refers to another host`);
    bad += 1;
  }
  if (f.endsWith('.html') && /<script(?![^>]*\bsrc=)[^>]*>/i.test(text)) {
    console.error(`build: ${f} has an inline script (the CSP forbids it)`);
    bad += 1;
  }
}
if (bad) process.exit(1);

rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
cpSync(src, tmp, { recursive: true });
rmSync(out, { recursive: true, force: true });
renameSync(tmp, out);
console.log(`web: built ${out}`);
