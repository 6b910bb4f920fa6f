/**
 * A workflow drawn as its graph: an SVG with one column per dependency depth (a step sits one column right of
 * the deepest step it needs, and a gate right of the step it validates), `needs` edges as arrows left to right
 * and each gate's edge dashed, curving back under the nodes to the step it validates. Each node names its
 * step, kind, state (in words as well as colour) and round, and is a button: click, Enter or Space selects it.
 *
 * The spec of a workflow never changes, so the SVG is laid out once and `update` only rewrites the nodes'
 * words and states: a node keeps keyboard focus across the page's refreshes.
 */

/** A step as `GET /v1/workflows/:id` answers it. */
export interface StepView {
  id: string;
  kind: 'task' | 'gate' | 'approval';
  state: string;
  round: number;
  taskIds: string[];
  needs: string[];
  validates?: string;
  maxRounds?: number;
  type?: string;
  approval?: { role?: string; note?: string };
  onFailure?: string;
  result: unknown;
  error: { kind: string; message: string } | null;
  feedback: unknown;
  updatedAt?: string | null;
}

const SVG = 'http://www.w3.org/2000/svg';
const NODE_W = 168;
const NODE_H = 84;
const COL_GAP = 40;
const ROW_GAP = 26;
const PAD = 16;
/** Room above or under the nodes for a gate's edge back to the step it validates, and for each more. */
const LOOP_ROOM = 40;
const LANE = 12;
/** What fits in a node at the graph's font size; the full text is the node's title and accessible name. */
const MAX_ID_CHARS = 19;

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  ...children: Array<SVGElement | string>
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const c of children) el.append(c);
  return el;
}

/** The column of each step: 0 for a step with nothing before it, else one right of its deepest predecessor. */
export function depths(steps: readonly StepView[]): Map<string, number> {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const of = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    const s = byId.get(id);
    // An unknown id or a loop (the API refuses both) is put in the first column rather than hang the page.
    if (!s || visiting.has(id)) return 0;
    visiting.add(id);
    const before = [...s.needs, ...(s.validates !== undefined ? [s.validates] : [])].filter((p) => byId.has(p));
    const d = before.length === 0 ? 0 : 1 + Math.max(...before.map(of));
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  for (const s of steps) of(s.id);
  return depth;
}

interface Placed {
  x: number;
  y: number;
}

/**
 * A gate's edge back to the step it validates: in the gap just above their row when both sit in one row (the
 * usual case: a gate is placed in the row of the step it validates), else round the top or the bottom of the
 * graph in a lane of its own.
 */
interface Loop {
  gate: string;
  target: string;
  side: 'row' | 'top' | 'bottom';
  /** The lane's y (for `top` and `bottom`): nested lanes for several gates on one side. */
  y: number;
}

/**
 * Rows within each column: ordered by the mean row of the steps a step needs (a gate by the row of the step it
 * validates), each at that row when it is free, else the next free one below (fewer crossings, straight edges).
 */
function rowsOf(steps: readonly StepView[], depth: Map<string, number>): { row: Map<string, number>; columns: number } {
  const columns: StepView[][] = [];
  for (const s of steps) (columns[depth.get(s.id) ?? 0] ??= []).push(s);
  const row = new Map<string, number>();
  for (const column of columns) {
    if (!column) continue;
    const weight = (s: StepView) => {
      const validated = s.validates === undefined ? undefined : row.get(s.validates);
      if (validated !== undefined) return validated;
      const rows = s.needs.map((p) => row.get(p)).filter((r): r is number => r !== undefined);
      return rows.length === 0 ? Number.POSITIVE_INFINITY : rows.reduce((a, b) => a + b, 0) / rows.length;
    };
    const order = column.map((s, i) => ({ s, i, w: weight(s) }));
    order.sort((a, b) => (a.w === b.w ? a.i - b.i : a.w - b.w));
    let next = 0;
    for (const { s, w } of order) {
      const r = Number.isFinite(w) ? Math.max(next, Math.round(w)) : next;
      row.set(s.id, r);
      next = r + 1;
    }
  }
  return { row, columns: columns.length };
}

/** Positions: a column per dependency depth, rows by rowsOf, and the gates' loops with the room they need. */
export function layout(steps: readonly StepView[]): {
  at: Map<string, Placed>;
  loops: Loop[];
  width: number;
  height: number;
} {
  const depth = depths(steps);
  const { row, columns } = rowsOf(steps, depth);
  const rows = Math.max(1, ...[...row.values()].map((r) => r + 1));
  const gates = steps.filter((s) => s.validates !== undefined && row.has(s.validates));
  const sides = gates.map((g) => {
    const [a, b] = [row.get(g.id) ?? 0, row.get(g.validates ?? '') ?? 0];
    if (a === b) return 'row' as const;
    return (a + b) / 2 <= (rows - 1) / 2 ? ('top' as const) : ('bottom' as const);
  });
  const onTop = sides.filter((side) => side === 'top').length;
  const below = sides.filter((side) => side === 'bottom').length;
  const room = (n: number) => (n === 0 ? 0 : LOOP_ROOM + (n - 1) * LANE);
  // ROW_GAP above the first row: room for a loop drawn in the gap above its row.
  const top = ROW_GAP + room(onTop);
  const nodesBottom = top + rows * NODE_H + (rows - 1) * ROW_GAP;
  const at = new Map<string, Placed>();
  for (const s of steps) {
    at.set(s.id, {
      x: PAD + (depth.get(s.id) ?? 0) * (NODE_W + COL_GAP),
      y: top + (row.get(s.id) ?? 0) * (NODE_H + ROW_GAP),
    });
  }
  let lanesTop = 0;
  let lanesBottom = 0;
  const loops = gates.map((g, i): Loop => {
    const side = sides[i] ?? 'top';
    // Lane 0 is nearest the nodes; later gates go round it.
    let y = 0;
    if (side === 'top') y = top - LOOP_ROOM + 8 - lanesTop++ * LANE;
    if (side === 'bottom') y = nodesBottom + LOOP_ROOM - 8 + lanesBottom++ * LANE;
    return { gate: g.id, target: g.validates ?? '', side, y };
  });
  return {
    at,
    loops,
    width: PAD * 2 + columns * NODE_W + Math.max(0, columns - 1) * COL_GAP,
    height: nodesBottom + room(below) + PAD,
  };
}

const STATE_WORDS: Record<string, string> = {
  pending: 'pending',
  running: 'running',
  waiting_approval: 'waiting for approval',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
};

/** The gate of each validated step (a step has at most one). */
export function gatesOf(steps: readonly StepView[]): Map<string, StepView> {
  const gates = new Map<string, StepView>();
  for (const s of steps) if (s.validates !== undefined) gates.set(s.validates, s);
  return gates;
}

/** "round 2/3" for a gated step or a gate, "round 2" for others, "not started" before the first round. */
export function roundText(s: StepView, gates: Map<string, StepView>): string {
  if (s.kind === 'approval') {
    if (s.state === 'pending') return 'not started';
    if (s.state === 'waiting_approval') return 'a person decides';
    const by = (s.result as { by?: unknown } | null)?.by;
    return typeof by === 'string' ? `decided by ${by}` : 'ended';
  }
  if (s.round === 0) return 'not started';
  const max = s.validates !== undefined ? s.maxRounds : gates.get(s.id)?.maxRounds;
  return max === undefined ? `round ${s.round}` : `round ${s.round}/${max}`;
}

export function kindText(s: StepView): string {
  if (s.kind === 'gate') return `gate on ${s.validates ?? '?'}`;
  if (s.kind === 'approval') return 'approval';
  return s.type ? `task: ${s.type}` : 'task';
}

export const stateText = (state: string): string => STATE_WORDS[state] ?? state;

const clip = (text: string) => (text.length > MAX_ID_CHARS ? `${text.slice(0, MAX_ID_CHARS - 1)}…` : text);

interface NodeParts {
  g: SVGGElement;
  title: SVGTitleElement;
  state: SVGTextElement;
  round: SVGTextElement;
}

export interface WorkflowGraph {
  element: HTMLElement;
  /** Shows the steps' current states (same spec as drawn). */
  update(steps: readonly StepView[]): void;
  /** Marks the step whose details are shown. */
  select(id: string | null): void;
}

/**
 * Left to right. An edge that skips columns runs straight along the row of its source, then bends into its step
 * in the last gap; or, when fewer nodes sit in its way along the target's row, bends in the first gap and runs
 * along that row (`occupied` holds the nodes' positions).
 */
function edgePath(from: Placed, to: Placed, occupied: ReadonlySet<string>): string {
  const x1 = from.x + NODE_W;
  const y1 = from.y + NODE_H / 2;
  const x2 = to.x - 6;
  const y2 = to.y + NODE_H / 2;
  const curve = (xa: number, ya: number, xb: number, yb: number) => {
    const bend = Math.max(16, (xb - xa) / 2);
    return `C${xa + bend},${ya} ${xb - bend},${yb} ${xb},${yb}`;
  };
  if (to.x - from.x <= NODE_W + COL_GAP || y1 === y2) return `M${x1},${y1} ${curve(x1, y1, x2, y2)}`;
  const between = (y: number) => {
    let n = 0;
    for (let x = from.x + NODE_W + COL_GAP; x < to.x; x += NODE_W + COL_GAP) if (occupied.has(`${x},${y}`)) n++;
    return n;
  };
  if (between(to.y) < between(from.y)) {
    const turn = from.x + NODE_W + COL_GAP;
    return `M${x1},${y1} ${curve(x1, y1, turn, y2)} H${x2}`;
  }
  const turn = to.x - COL_GAP;
  return `M${x1},${y1} H${turn} ${curve(turn, y1, x2, y2)}`;
}

/** From the gate's top (or bottom) round its lane into the top (or bottom) of the step it validates. */
function loopPath(gate: Placed, target: Placed, loop: Loop): string {
  if (loop.side === 'row') {
    const x1 = gate.x + 24;
    const x2 = target.x + NODE_W - 24;
    const over = gate.y - ROW_GAP + 2;
    return `M${x1},${gate.y} C${x1},${over} ${x2},${over} ${x2},${target.y - 5}`;
  }
  const dir = loop.side === 'top' ? -1 : 1;
  const edge = (p: Placed) => (loop.side === 'top' ? p.y : p.y + NODE_H);
  const x1 = gate.x + NODE_W / 2 + 10;
  const x2 = target.x + NODE_W / 2 - 10;
  const lane = loop.y - dir * 4;
  return `M${x1},${edge(gate)} C${x1},${lane} ${x2},${lane} ${x2},${edge(target) + dir * 6}`;
}

function markers(): SVGDefsElement {
  const arrow = (id: string, cls: string) =>
    svg(
      'marker',
      { id, viewBox: '0 0 10 10', refX: 8, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      svg('path', { d: 'M0,0 L10,5 L0,10 z', class: cls }),
    );
  return svg('defs', {}, arrow('wf-arrow', 'wf-arrowhead'), arrow('wf-arrow-gate', 'wf-arrowhead wf-gate-head'));
}

/** Draws `steps`; `onSelect` is called with a step's id when its node is clicked or pressed (Enter, Space). */
export function workflowGraph(name: string, steps: readonly StepView[], onSelect: (id: string) => void): WorkflowGraph {
  const { at, loops, width, height } = layout(steps);
  const root = svg('svg', {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'group',
    'aria-label': `Graph of ${name}: ${steps.length} steps, left to right in the order they run`,
    class: 'wf-graph',
  });
  root.append(markers());
  const occupied = new Set([...at.values()].map((p) => `${p.x},${p.y}`));
  const edges = svg('g', { class: 'wf-edges', 'aria-hidden': 'true' });
  for (const s of steps) {
    const to = at.get(s.id);
    for (const need of s.needs) {
      const from = at.get(need);
      if (from && to) {
        const d = edgePath(from, to, occupied);
        edges.append(svg('path', { d, class: 'wf-edge', 'marker-end': 'url(#wf-arrow)' }));
      }
    }
  }
  root.append(edges);
  // Drawn over the nodes: where a loop must cross one, it stays visible.
  const gateEdges = svg('g', { class: 'wf-edges', 'aria-hidden': 'true' });
  for (const loop of loops) {
    const gate = at.get(loop.gate);
    const target = at.get(loop.target);
    if (!gate || !target) continue;
    const d = loopPath(gate, target, loop);
    gateEdges.append(svg('path', { d, class: 'wf-edge wf-gate-edge', 'marker-end': 'url(#wf-arrow-gate)' }));
  }

  const nodes = new Map<string, NodeParts>();
  for (const s of steps) {
    const p = at.get(s.id) ?? { x: 0, y: 0 };
    const title = svg('title', {}, s.id);
    const state = svg('text', { x: 10, y: 57, class: 'wf-state' });
    const round = svg('text', { x: 10, y: 75, class: 'wf-round' });
    const g = svg(
      'g',
      { class: 'wf-node', transform: `translate(${p.x},${p.y})`, role: 'button', tabindex: 0, 'data-step': s.id },
      title,
      svg('rect', { width: NODE_W, height: NODE_H, rx: 6, class: 'wf-box' }),
      svg('text', { x: 10, y: 20, class: 'wf-id' }, clip(s.id)),
      svg('text', { x: 10, y: 38, class: 'wf-kind' }, clip(kindText(s))),
      state,
      round,
    );
    g.addEventListener('click', () => onSelect(s.id));
    g.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter' && e.key !== ' ') return;
      e.preventDefault();
      onSelect(s.id);
    });
    nodes.set(s.id, { g, title, state, round });
    root.append(g);
  }
  root.append(gateEdges);

  const update = (now: readonly StepView[]) => {
    const gates = gatesOf(now);
    for (const s of now) {
      const n = nodes.get(s.id);
      if (!n) continue;
      const words = stateText(s.state);
      const rounds = roundText(s, gates);
      n.g.setAttribute('class', `wf-node wf-${s.state}${n.g.classList.contains('wf-selected') ? ' wf-selected' : ''}`);
      n.g.setAttribute('data-state', s.state);
      n.g.setAttribute('aria-label', `Step ${s.id}, ${kindText(s)}, ${words}, ${rounds}`);
      n.title.textContent = `${s.id}: ${kindText(s)}, ${words}, ${rounds}`;
      n.state.textContent = words;
      n.round.textContent = rounds;
    }
  };
  update(steps);

  const select = (id: string | null) => {
    for (const [stepId, n] of nodes) {
      n.g.classList.toggle('wf-selected', stepId === id);
      n.g.setAttribute('aria-pressed', String(stepId === id));
    }
  };
  select(null);

  const element = document.createElement('div');
  element.className = 'wf-graph-box';
  element.append(root);
  return { element, update, select };
}
