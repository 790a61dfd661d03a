/**
 * A workflow definition's steps drawn as a graph: a node per step (its id and `uses`), an
 * arrow from each step it `needs` to it. Steps sit in columns by their longest path from a
 * step that needs nothing, so everything flows left to right; within a column they are
 * ordered near the steps they need, which keeps crossings down. The picture has a
 * summary for screen readers, and the same facts as a list.
 */

export interface DagStep {
  id: string;
  uses: string;
  needs: string[];
}

/** The steps of a definition as the graph needs them; anything malformed is left out. */
export function stepsOf(definition: unknown): DagStep[] {
  const steps = (definition as { steps?: unknown } | null)?.steps;
  if (!Array.isArray(steps)) return [];
  return steps
    .filter((s): s is Record<string, unknown> => s !== null && typeof s === 'object' && typeof (s as { id?: unknown }).id === 'string')
    .map((s) => ({
      id: s['id'] as string,
      uses: typeof s['uses'] === 'string' ? s['uses'] : '?',
      needs: Array.isArray(s['needs']) ? s['needs'].filter((n): n is string => typeof n === 'string') : [],
    }));
}

export interface PlacedNode {
  step: DagStep;
  layer: number;
  x: number;
  y: number;
}
export interface PlacedEdge {
  from: PlacedNode;
  to: PlacedNode;
  path: string;
}
export interface DagLayout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  layers: number;
  width: number;
  height: number;
  nodeWidth: number;
}

const NODE_HEIGHT = 46;
/** The room an arrow passing through a column takes there. */
const LANE_HEIGHT = 10;
const ROW_GAP = 18;
const COLUMN_GAP = 56;
const MARGIN = 14;
const CHAR_WIDTH = 7.2;
const MIN_NODE_WIDTH = 120;
const MAX_NODE_WIDTH = 260;
const MAX_CHARS = Math.floor((MAX_NODE_WIDTH - 20) / CHAR_WIDTH);

const clip = (text: string): string => (text.length > MAX_CHARS ? `${text.slice(0, MAX_CHARS - 1)}…` : text);

/** Each step's column: the length of the longest chain of needs below it (0: it needs nothing). */
function layersOf(steps: DagStep[]): Map<string, number> {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const layerOf = new Map<string, number>();
  // Iterative, so a long chain cannot exhaust the stack; a cycle (which the API refuses) is cut where found.
  for (const root of steps) {
    if (layerOf.has(root.id)) continue;
    const stack: { step: DagStep; k: number; max: number }[] = [{ step: root, k: 0, max: -1 }];
    const onStack = new Set([root.id]);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const need = top.step.needs[top.k];
      if (need === undefined) {
        layerOf.set(top.step.id, top.max + 1);
        stack.pop();
        onStack.delete(top.step.id);
        const parent = stack[stack.length - 1];
        if (parent) parent.max = Math.max(parent.max, top.max + 1);
        continue;
      }
      top.k++;
      const needed = byId.get(need);
      if (!needed || onStack.has(need)) continue;
      const known = layerOf.get(need);
      if (known !== undefined) {
        top.max = Math.max(top.max, known);
        continue;
      }
      onStack.add(need);
      stack.push({ step: needed, k: 0, max: -1 });
    }
  }
  return layerOf;
}

/** A place in a column: a step, or a lane for an arrow that passes the column on its way further right. */
interface Slot {
  key: string;
  layer: number;
  step?: DagStep;
  up: Slot[];
  down: Slot[];
  x: number;
  y: number;
  height: number;
}

/**
 * Columns by longest path from the roots. An arrow that skips columns gets a lane in each
 * column it passes, so it runs between the steps there rather than through them; rows are
 * ordered by the mean row of what they connect to (sweeps down and up), which keeps
 * crossings down, with definition order breaking ties.
 */
export function layoutDag(steps: DagStep[]): DagLayout {
  const layerOf = layersOf(steps);
  const columns: Slot[][] = [];
  const slotOf = new Map<string, Slot>();
  const add = (slot: Slot) => {
    (columns[slot.layer] ??= []).push(slot);
    return slot;
  };
  for (const step of steps)
    slotOf.set(
      step.id,
      add({ key: `step:${step.id}`, layer: layerOf.get(step.id) ?? 0, step, up: [], down: [], x: 0, y: 0, height: NODE_HEIGHT }),
    );
  const chains: { from: Slot; to: Slot; via: Slot[] }[] = [];
  for (const step of steps) {
    const to = slotOf.get(step.id)!;
    for (const need of step.needs) {
      const from = slotOf.get(need);
      if (!from) continue;
      const via: Slot[] = [];
      for (let layer = from.layer + 1; layer < to.layer; layer++)
        via.push(add({ key: `lane:${need}>${step.id}:${layer}`, layer, up: [], down: [], x: 0, y: 0, height: LANE_HEIGHT }));
      const chain = [from, ...via, to];
      for (let i = 1; i < chain.length; i++) {
        if (chain[i]!.layer !== chain[i - 1]!.layer + 1) continue;
        chain[i - 1]!.down.push(chain[i]!);
        chain[i]!.up.push(chain[i - 1]!);
      }
      chains.push({ from, to, via });
    }
  }
  for (let i = 0; i < columns.length; i++) columns[i] ??= [];
  const rank = new Map<Slot, number>();
  const number = (column: Slot[]) => column.forEach((slot, i) => rank.set(slot, i));
  columns.forEach(number);
  const order = (layer: number, by: 'up' | 'down') => {
    const column = columns[layer]!;
    const keyed = column.map((slot, index) => {
      const near = slot[by];
      return { slot, index, key: near.length ? near.reduce((sum, s) => sum + rank.get(s)!, 0) / near.length : index };
    });
    keyed.sort((a, b) => a.key - b.key || a.index - b.index);
    columns[layer] = keyed.map((k) => k.slot);
    number(columns[layer]!);
  };
  for (let layer = 1; layer < columns.length; layer++) order(layer, 'up');
  for (let layer = columns.length - 2; layer >= 0; layer--) order(layer, 'down');
  for (let layer = 1; layer < columns.length; layer++) order(layer, 'up');

  const longest = Math.max(0, ...steps.map((s) => Math.max(s.id.length, s.uses.length)));
  const nodeWidth = Math.min(MAX_NODE_WIDTH, Math.max(MIN_NODE_WIDTH, Math.ceil(longest * CHAR_WIDTH) + 20));
  const columnHeight = (column: Slot[]) => column.reduce((sum, s) => sum + s.height, 0) + Math.max(0, column.length - 1) * ROW_GAP;
  const height = MARGIN * 2 + Math.max(0, ...columns.map(columnHeight));
  columns.forEach((column, layer) => {
    let y = (height - columnHeight(column)) / 2;
    for (const slot of column) {
      slot.x = MARGIN + layer * (nodeWidth + COLUMN_GAP);
      slot.y = y;
      y += slot.height + ROW_GAP;
    }
  });
  const placed = new Map<Slot, PlacedNode>();
  for (const step of steps) {
    const slot = slotOf.get(step.id)!;
    placed.set(slot, { step, layer: slot.layer, x: slot.x, y: slot.y });
  }
  const mid = (s: Slot) => s.y + s.height / 2;
  const edges = chains.map(({ from, to, via }) => {
    // Out of the right side of one step, along its lanes, into the left side of the other.
    let path = `M ${from.x + nodeWidth} ${mid(from)}`;
    let at = { x: from.x + nodeWidth, y: mid(from) };
    const curveTo = (x: number, y: number) => {
      const bend = Math.max(20, (x - at.x) / 2);
      path += ` C ${at.x + bend} ${at.y}, ${x - bend} ${y}, ${x} ${y}`;
      at = { x, y };
    };
    for (const lane of via) {
      curveTo(lane.x, mid(lane));
      path += ` L ${lane.x + nodeWidth} ${mid(lane)}`;
      at = { x: lane.x + nodeWidth, y: mid(lane) };
    }
    curveTo(to.x - 2, mid(to));
    return { from: placed.get(from)!, to: placed.get(to)!, path };
  });
  const width = MARGIN * 2 + columns.length * nodeWidth + Math.max(0, columns.length - 1) * COLUMN_GAP;
  return { nodes: steps.map((s) => placed.get(slotOf.get(s.id)!)!), edges, layers: columns.length, width, height, nodeWidth };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The graph as an SVG picture plus a list of the steps and what each needs. */
export function Dag({ definition, label }: { definition: unknown; label: string }) {
  const steps = stepsOf(definition);
  if (steps.length === 0) return <p class="state empty">This definition has no steps to draw.</p>;
  const layout = layoutDag(steps);
  const roots = steps.filter((s) => s.needs.length === 0).map((s) => s.id);
  const summary = `${label}: ${plural(steps.length, 'step')} and ${plural(layout.edges.length, 'dependency', 'dependencies')} (needs) in ${plural(layout.layers, 'stage')}; starts with ${roots.join(', ') || 'no step'}.`;
  const w = layout.nodeWidth;
  return (
    <div class="dag-figure">
      <div class="dag">
        <svg width={layout.width} height={layout.height} viewBox={`0 0 ${layout.width} ${layout.height}`} role="img" aria-label={summary}>
          <defs>
            {/* The stylesheet's `.dag .edge` rule points its arrowheads here. */}
            <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
            </marker>
          </defs>
          {layout.edges.map(({ from, to, path }) => (
            <path class="edge" data-from={from.step.id} data-to={to.step.id} marker-end="url(#arrow)" d={path}>
              <title>{`${to.step.id} needs ${from.step.id}`}</title>
            </path>
          ))}
          {layout.nodes.map((node) => (
            <g class="node" data-step={node.step.id} transform={`translate(${node.x} ${node.y})`}>
              <title>{`${node.step.id} (${node.step.uses})${node.step.needs.length ? `, needs ${node.step.needs.join(', ')}` : ''}`}</title>
              <rect width={w} height={NODE_HEIGHT} rx="6" ry="6" />
              <text x="10" y="19" class="node-id">
                {clip(node.step.id)}
              </text>
              <text x="10" y="36" class="node-uses">
                {clip(node.step.uses)}
              </text>
            </g>
          ))}
        </svg>
      </div>
      <ul class="visually-hidden" aria-label={`${label}, step by step`}>
        {steps.map((s) => (
          <li>
            {s.id} uses {s.uses}; {s.needs.length ? `needs ${s.needs.join(', ')}` : 'needs no other step'}.
          </li>
        ))}
      </ul>
    </div>
  );
}
