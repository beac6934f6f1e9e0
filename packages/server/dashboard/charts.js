// Line charts as plain SVG: one <svg> per chart, a polyline per series and a circle per point
// (so a chart's points can be counted, and read from data-points).
const SVG = 'http://www.w3.org/2000/svg';

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

/** Short number labels: 3 significant digits, exponent for very small or large values. */
export function formatNumber(v) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

/**
 * Draws `series` ([{name, points: [[x, y], ...]}]) into `container`, replacing what was there.
 * Options: width, height, className, xLabel.
 */
export function lineChart(container, series, opts = {}) {
  const width = opts.width ?? 520;
  const height = opts.height ?? 220;
  const pad = { left: 52, right: 12, top: 10, bottom: 28 };
  container.replaceChildren();
  const points = series.flatMap((s) => s.points);
  const svg = el('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', class: opts.className ?? '' }, container);
  svg.dataset.points = String(series[0]?.points.length ?? 0);
  if (points.length === 0) {
    el('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle' }, svg).textContent = 'no data yet';
    return svg;
  }
  let [x0, x1] = [Math.min(...points.map((p) => p[0])), Math.max(...points.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...points.map((p) => p[1])), Math.max(...points.map((p) => p[1]))];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - Math.abs(y0 || 1) * 0.1, y1 + Math.abs(y1 || 1) * 0.1];
  const sx = (x) => pad.left + ((x - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const sy = (y) => height - pad.bottom - ((y - y0) / (y1 - y0)) * (height - pad.top - pad.bottom);

  el('line', { class: 'axis', x1: pad.left, y1: height - pad.bottom, x2: width - pad.right, y2: height - pad.bottom }, svg);
  el('line', { class: 'axis', x1: pad.left, y1: pad.top, x2: pad.left, y2: height - pad.bottom }, svg);
  for (const y of [y0, (y0 + y1) / 2, y1]) {
    el('line', { class: 'axis', x1: pad.left - 3, y1: sy(y), x2: pad.left, y2: sy(y) }, svg);
    el('text', { x: pad.left - 6, y: sy(y) + 3, 'text-anchor': 'end' }, svg).textContent = formatNumber(y);
  }
  for (const x of [x0, x1]) {
    el('text', { x: sx(x), y: height - pad.bottom + 14, 'text-anchor': 'middle' }, svg).textContent = formatNumber(x);
  }
  if (opts.xLabel) el('text', { x: (width + pad.left) / 2, y: height - 4, 'text-anchor': 'middle' }, svg).textContent = opts.xLabel;

  for (const s of series) {
    const g = el('g', { class: 'series', 'data-name': s.name }, svg);
    el('polyline', { class: 'line', points: s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ') }, g);
    for (const [x, y] of s.points) {
      const c = el('circle', { class: 'pt', cx: sx(x).toFixed(1), cy: sy(y).toFixed(1), r: s.points.length > 200 ? 1 : 2.5 }, g);
      el('title', {}, c).textContent = `${s.name} step ${x}: ${formatNumber(y)}`;
    }
  }
  return svg;
}
