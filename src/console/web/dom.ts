/** Small DOM helpers: elements from data (never from HTML strings), a confirmation dialog, line charts. */
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** What finds a control again after a redraw: its `data-key` when it has one (two pagers share names), else its name. */
const identity = (el: Element) =>
  el.getAttribute('data-key') ?? `${el.tagName}:${el.getAttribute('aria-label') ?? el.textContent ?? ''}`;

function refocus(within: ParentNode, key: string): boolean {
  for (const c of within.querySelectorAll<HTMLElement>('a, button, select, input')) {
    if (identity(c) === key) {
      c.focus();
      return true;
    }
  }
  return false;
}

/**
 * Replaces what a refreshed region shows, keeping keyboard focus on the same control (found by its name) when
 * it was inside: a list redrawn every few seconds must not throw a keyboard user back to the top.
 */
export function redraw(el: Element, ...children: Child[]): void {
  const active = document.activeElement;
  const key = active && active !== el && el.contains(active) ? identity(active) : null;
  replace(el, ...children);
  if (key !== null) refocus(el, key);
}

/** A table; a column whose heading is '' (one the key may not use, such as Actions) is left out. */
export function table(allHeadings: string[], allRows: Child[][], caption: string): HTMLTableElement {
  const kept = allHeadings.map((t, i) => (t === '' ? -1 : i)).filter((i) => i >= 0);
  const headings = kept.map((i) => allHeadings[i] ?? '');
  const rows = allRows.map((cells) => kept.map((i) => cells[i]));
  return h(
    'table',
    {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ...headings.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, ...rows.map((cells) => h('tr', {}, ...cells.map((c) => h('td', {}, c))))),
  );
}

export function ago(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

export const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

export const since = (iso: string | null | undefined): string => (iso ? ago(Date.now() - Date.parse(iso)) : '—');

export function badge(state: string): HTMLSpanElement {
  return h('span', { class: `badge state-${state}` }, state);
}

export function json(value: unknown): HTMLPreElement {
  return h('pre', { class: 'json' }, value === undefined ? '—' : JSON.stringify(value, null, 2));
}

/**
 * Asks before an action, naming it; resolves true only on "Confirm". A modal <dialog>: focus moves into it,
 * Escape cancels, and focus returns to the button that opened it.
 */
export function confirmAction(what: string): Promise<boolean> {
  const opener = document.activeElement as HTMLElement | null;
  const openerKey = opener ? identity(opener) : null;
  return new Promise((resolve) => {
    const dialog = h(
      'dialog',
      { 'aria-labelledby': 'confirm-title', class: 'confirm' },
      h('h2', { id: 'confirm-title' }, 'Confirm'),
      h('p', { id: 'confirm-what' }, what),
    );
    const done = (ok: boolean) => {
      dialog.close();
      dialog.remove();
      // The list may have been redrawn meanwhile: its button is then found again by its text.
      if (opener?.isConnected) opener.focus();
      else if (openerKey !== null) refocus(document, openerKey);
      resolve(ok);
    };
    const cancel = h('button', { type: 'button', onclick: () => done(false) }, 'Cancel');
    const ok = h('button', { type: 'button', class: 'danger', onclick: () => done(true) }, 'Confirm');
    dialog.append(h('div', { class: 'actions' }, cancel, ok));
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

const SVG = 'http://www.w3.org/2000/svg';

/** A small line chart of one series over time (no library: one polyline and its axis labels). */
export function lineChart(title: string, points: Array<[number, number]>, unit = ''): HTMLElement {
  const fig = h('figure', { class: 'chart' }, h('figcaption', {}, title));
  if (points.length === 0) {
    fig.append(h('p', { class: 'muted' }, 'no samples yet'));
    return fig;
  }
  const ys = points.map((p) => Math.round(p[1] * 10) / 10);
  const summary = `latest ${ys[ys.length - 1] ?? 0}${unit}, highest ${Math.max(...ys)}${unit}`;
  const svg = lines([{ points: points.map((p, i) => [p[0], ys[i] ?? 0]), className: 'series' }], 320, 90);
  svg.setAttribute('aria-label', `${title}: ${summary}`);
  fig.append(svg, h('p', { class: 'muted' }, `${summary} · ${count(points.length, 'sample')}`));
  return fig;
}

export interface Series {
  /** Said in the chart's label and legend. */
  name: string;
  /** One value per step, oldest first. */
  values: number[];
  /** The CSS class that colours its line (and its legend). */
  className: string;
}

/**
 * A chart small enough for a table cell: several series on one scale over the same steps (counts per minute),
 * with a label that says in words what the lines show, and a one-line legend with the totals.
 */
export function sparkline(label: string, series: Series[]): HTMLElement {
  const total = (s: Series) => s.values.reduce((a, b) => a + b, 0);
  const said = series.map((s) => `${total(s)} ${s.name}`).join(', ');
  // A series that stayed at 0 is not drawn: a line along the bottom would read as one more line of figures.
  const drawn = series.filter((s) => total(s) > 0);
  if (drawn.length === 0) return h('figure', { class: 'spark' }, h('figcaption', { class: 'muted' }, 'none ended'));
  const svg = lines(
    drawn.map((s) => ({ points: s.values.map((v, i) => [i, v]), className: s.className })),
    140,
    30,
  );
  svg.setAttribute('aria-label', `${label}: ${said}`);
  return h(
    'figure',
    { class: 'spark' },
    svg,
    h(
      'figcaption',
      { 'aria-hidden': 'true' },
      ...series.map((s, i) => h('span', { class: s.className }, `${i > 0 ? ' · ' : ''}${total(s)} ${s.name}`)),
    ),
  );
}

/** An SVG of polylines on one scale: x from the first to the last point, y from 0 to the highest value (at least 1). */
function lines(series: Array<{ points: Array<[number, number]>; className: string }>, width: number, height: number) {
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const top = Math.max(1, ...all.map((p) => p[1]));
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('role', 'img');
  const px = (x: number) => (x1 === x0 ? width : ((x - x0) / (x1 - x0)) * (width - 4) + 2);
  const py = (y: number) => height - 3 - (y / top) * (height - 6);
  for (const s of series) {
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' '));
    line.setAttribute('class', s.className);
    svg.append(line);
  }
  return svg;
}
