// The console's files besides its compiled TypeScript (`npm run build:console`): its HTML and CSS, and
// bull-board's page template without its Google Fonts link, so no page the supervisor serves loads anything
// from another origin (the UI falls back to the system font). It lives in src/ because the images build from
// src/ (scripts/ is not in their build context).
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const out = path.join(root, 'dist', 'console');
fs.cpSync(path.join(root, 'src', 'console', 'web', 'static'), out, { recursive: true });

const template = path.join(path.dirname(require.resolve('@bull-board/ui/package.json')), 'dist', 'index.ejs');
const page = fs.readFileSync(template, 'utf8');
const local = page.replace(/^\s*<link[^>]*fonts\.googleapis\.com[^>]*>\s*$/m, '');
if (/https?:\/\//.test(local.replace(/xmlns="[^"]*"/g, ''))) {
  throw new Error(`bull-board's template still names another origin: update ${__filename}`);
}
fs.mkdirSync(path.join(out, 'bull-board'), { recursive: true });
fs.writeFileSync(path.join(out, 'bull-board', 'index.ejs'), local);
