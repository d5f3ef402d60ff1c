// Grouped bar charts as standalone SVG files, for every benchmark here
// (echo: echoes/s and CPU per echo per server and payload size; tunnel:
// Gbit/s and CPU per backend; a WireGuard benchmark can reuse it as is).
//
// The layout math (band and linear scales, "nice" axis ticks) and number
// formats come from d3-scale and d3-format, small, well-kept modules of D3. The SVG
// elements themselves are written here because no small library renders a
// finished chart to SVG in Node without a DOM: d3-axis/d3-selection,
// Observable Plot and Chart.js need a DOM or a canvas (jsdom or a native
// canvas build), Vega-Lite 6 requires Node >= 22, and ECharts' server-side
// SVG renderer works but installs 67 MB into every `npm install`.
import { writeFileSync } from 'node:fs';
import { format } from 'd3-format';
import { scaleBand, scaleLinear } from 'd3-scale';

/** One metric: a panel of bars, one group per category, one bar per series. */
export interface Panel {
  /** Axis title, e.g. 'echoes/s (median of rounds)'. */
  readonly title: string;
  /** Shown in the panel title: which way is better. */
  readonly better?: 'higher' | 'lower';
  /** The bar's value; undefined leaves a gap marked 'n/a'. */
  value(group: string, series: string): number | undefined;
  /** Optional whisker (e.g. min..max over rounds). */
  range?(group: string, series: string): readonly [number, number] | undefined;
  /** Label above a bar; default: 3 significant digits with an SI suffix. */
  format?(v: number): string;
}

export interface BarChart {
  readonly title: string;
  /** A line under the title: machine, date, options. */
  readonly subtitle?: string;
  /** Categories along the x axis (e.g. payload sizes). */
  readonly groups: readonly string[];
  /** Bars within each category (e.g. servers), one color each. */
  readonly series: readonly string[];
  /** Stacked vertically, sharing groups, series and colors. */
  readonly panels: readonly Panel[];
}

/** Tableau 10, the categorical palette D3 and Vega use. */
const COLORS = ['#4e79a7', '#f28e2c', '#e15759', '#76b7b2', '#59a14f', '#edc949', '#af7aa1', '#ff9da7', '#9c755f', '#bab0ab'];
const WIDTH = 880;
const PANEL_HEIGHT = 260;
const MARGIN = { left: 78, right: 20 };
const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Width of text in px at a font size, estimated (no font metrics in Node). */
function textWidth(s: string, size: number): number {
  return s.length * size * 0.6;
}

const si3 = format('.3~s');
const sig3 = format('.3~r');

function defaultFormat(v: number): string {
  // SI prefixes for counts (89.7k), 3 significant digits for small values (2.85).
  return Math.abs(v) >= 1000 ? si3(v) : sig3(v);
}

/** The legend row: a swatch and the name of each series, wrapped to the width. */
function legend(series: readonly string[], top: number): { svg: string; height: number } {
  const parts: string[] = [];
  let x = MARGIN.left;
  let y = top;
  series.forEach((name, i) => {
    const w = 18 + textWidth(name, 12) + 18;
    if (x + w > WIDTH - MARGIN.right && x > MARGIN.left) {
      x = MARGIN.left;
      y += 20;
    }
    parts.push(`<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`);
    parts.push(`<text x="${x + 17}" y="${y}" font-size="12">${esc(name)}</text>`);
    x += w;
  });
  return { svg: parts.join(''), height: y - top + 20 };
}

function panelSvg(chart: BarChart, p: Panel, top: number): string {
  const plotTop = top + 24;
  const plotBottom = top + PANEL_HEIGHT - 30;
  const x0 = scaleBand<string>().domain(chart.groups).range([MARGIN.left, WIDTH - MARGIN.right]).paddingInner(0.18).paddingOuter(0.06);
  const x1 = scaleBand<string>().domain(chart.series).range([0, x0.bandwidth()]).padding(0.08);
  let max = 0;
  for (const g of chart.groups) {
    for (const s of chart.series) {
      max = Math.max(max, p.value(g, s) ?? 0, p.range?.(g, s)?.[1] ?? 0);
    }
  }
  const y = scaleLinear().domain([0, max > 0 ? max * 1.08 : 1]).nice().range([plotBottom, plotTop]);
  const out: string[] = [];
  const better = p.better === undefined ? '' : ` (${p.better} is better)`;
  out.push(`<text x="${MARGIN.left}" y="${top + 12}" font-size="14" font-weight="bold">${esc(p.title + better)}</text>`);
  // SI prefixes only for large values: 500m for 0.5 µs would mislead.
  const tickFormat = format((y.domain()[1] ?? 0) >= 1000 ? '~s' : '~g');
  for (const t of y.ticks(5)) {
    out.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(t)}" y2="${y(t)}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${y(t) + 4}" font-size="11" text-anchor="end" fill="#555">${esc(tickFormat(t))}</text>`);
  }
  out.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${plotBottom}" y2="${plotBottom}" stroke="#333"/>`);
  const fmt = p.format ?? defaultFormat;
  chart.groups.forEach((g) => {
    const gx = x0(g) ?? 0;
    if (chart.groups.length > 1 || g !== '') {
      out.push(`<text x="${gx + x0.bandwidth() / 2}" y="${plotBottom + 18}" font-size="12" text-anchor="middle">${esc(g)}</text>`);
    }
    chart.series.forEach((s, i) => {
      const bx = gx + (x1(s) ?? 0);
      const bw = x1.bandwidth();
      const v = p.value(g, s);
      const cx = bx + bw / 2;
      if (v === undefined || !Number.isFinite(v)) {
        out.push(`<text x="${cx}" y="${plotBottom - 4}" font-size="10" text-anchor="middle" fill="#888">n/a</text>`);
        return;
      }
      out.push(`<rect x="${bx}" y="${y(v)}" width="${bw}" height="${Math.max(0, plotBottom - y(v))}" fill="${COLORS[i % COLORS.length]}"><title>${esc(`${s}, ${g}: ${fmt(v)}`)}</title></rect>`);
      const r = p.range?.(g, s);
      let labelY = y(v) - 4;
      if (r !== undefined && r[1] > r[0]) {
        const w = Math.min(8, bw / 3);
        out.push(`<path d="M${cx},${y(r[0])}V${y(r[1])}M${cx - w},${y(r[0])}H${cx + w}M${cx - w},${y(r[1])}H${cx + w}" stroke="#333" fill="none"/>`);
        labelY = Math.min(labelY, y(r[1]) - 4);
      }
      out.push(`<text x="${cx}" y="${labelY}" font-size="10" text-anchor="middle">${esc(fmt(v))}</text>`);
    });
  });
  return out.join('');
}

/** The chart as an SVG document. */
export function barChartSvg(chart: BarChart): string {
  const head: string[] = [];
  head.push(`<text x="${MARGIN.left}" y="24" font-size="18" font-weight="bold">${esc(chart.title)}</text>`);
  let top = 34;
  if (chart.subtitle !== undefined) {
    head.push(`<text x="${MARGIN.left}" y="${top + 12}" font-size="11" fill="#555">${esc(chart.subtitle)}</text>`);
    top += 20;
  }
  const lg = legend(chart.series, top + 16);
  top += lg.height + 10;
  const panels = chart.panels.map((p, i) => panelSvg(chart, p, top + i * PANEL_HEIGHT));
  const height = top + chart.panels.length * PANEL_HEIGHT + 10;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ${FONT}>` +
    `<rect width="100%" height="100%" fill="white"/>${head.join('')}${lg.svg}${panels.join('')}</svg>\n`
  );
}

/** Write the chart to path (e.g. next to the results JSON, with .svg). */
export function writeBarChart(path: string, chart: BarChart): void {
  writeFileSync(path, barChartSvg(chart));
}
