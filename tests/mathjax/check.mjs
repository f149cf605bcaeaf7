// Typeset math with the real MathJax 3 (TeX input, the base and ams packages
// only) and report every error, so that Markdown meant for Stack Exchange-style
// sites renders there without red error boxes.
//
// Input (stdin, JSON): [{"tex": "...", "display": true, "where": "file:line"}, ...]
// Output (stdout, JSON): [{"where": ..., "tex": ..., "error": ...}, ...] — the failures.
// Exit status: 0 all typeset cleanly; 1 some math failed; 2 unreadable input.
//
// No 'noundefined' package: an unknown macro must be an error, because the
// sites only promise base and AMS macros.

import {mathjax} from 'mathjax-full/js/mathjax.js';
import {TeX} from 'mathjax-full/js/input/tex.js';
import {liteAdaptor} from 'mathjax-full/js/adaptors/liteAdaptor.js';
import {RegisterHTMLHandler} from 'mathjax-full/js/handlers/html.js';
import {STATE} from 'mathjax-full/js/core/MathItem.js';
import 'mathjax-full/js/input/tex/base/BaseConfiguration.js';
import 'mathjax-full/js/input/tex/ams/AmsConfiguration.js';

const PACKAGES = ['base', 'ams'];

function readStdin() {
  return new Promise((resolve, reject) => {
    let data = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => { data += chunk; });
    process.stdin.on('end', () => resolve(data));
    process.stdin.on('error', reject);
  });
}

// Collect the text of every merror node of a MathJax internal MathML tree.
function merrors(node, out) {
  if (node.isKind && node.isKind('merror')) {
    out.push(node.attributes.get('data-mjx-error') || 'merror');
  }
  for (const child of node.childNodes || []) {
    if (child && typeof child === 'object') merrors(child, out);
  }
  return out;
}

function typesetOne(html, item, errors) {
  const found = [];
  let tree;
  try {
    tree = html.convert(item.tex, {display: item.display !== false, end: STATE.CONVERT});
  } catch (err) {
    found.push(String(err && err.message ? err.message : err));
  }
  if (tree) merrors(tree, found);
  for (const error of found) {
    errors.push({where: item.where || '', tex: item.tex, error});
  }
}

async function main() {
  let items;
  try {
    items = JSON.parse(await readStdin());
    if (!Array.isArray(items)) throw new Error('expected a JSON array');
  } catch (err) {
    process.stderr.write(`check.mjs: bad input: ${err.message}\n`);
    process.exit(2);
  }
  const adaptor = liteAdaptor();
  RegisterHTMLHandler(adaptor);
  const errors = [];
  // formatError: record the TeX error, then let MathJax build its merror node.
  const tex = new TeX({
    packages: PACKAGES,
    formatError: (jax, err) => { throw err; },
  });
  const html = mathjax.document('', {InputJax: tex});
  for (const item of items) typesetOne(html, item, errors);
  process.stdout.write(JSON.stringify(errors, null, 1) + '\n');
  process.exit(errors.length ? 1 : 0);
}

main();
