/**
 * A small uPlot time-series chart of two series (in/out) from the metrics history. It is drawn with
 * the theme's colours read from CSS variables, so it is re-created when the theme changes.
 */
import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { HistoryPoint } from '../api-types.ts';
import type { Theme } from '../theme.ts';

interface Props {
  readonly title: string;
  readonly points: readonly HistoryPoint[];
  readonly series: readonly [keyof HistoryPoint, string][];
  readonly format: (value: number) => string;
  readonly theme: Theme;
}

const WIDTH = 380;
const HEIGHT = 150;

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function columns(points: readonly HistoryPoint[], series: Props['series']): uPlot.AlignedData {
  return [points.map((p) => p.t / 1000), ...series.map(([key]) => points.map((p) => p[key]))];
}

export function MetricsChart({ title, points, series, format, theme }: Props): unknown {
  const holder = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);

  useEffect(() => {
    const element = holder.current;
    if (element === null) return;
    const text = cssVar('--muted');
    const grid = cssVar('--grid');
    const colours = [cssVar('--series-1'), cssVar('--series-2')];
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const plot = new uPlot({
      width: WIDTH,
      height: HEIGHT,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      // Always the last hour, also while the history has only a few points.
      scales: { x: { time: true, range: () => [Date.now() / 1000 - 3600, Date.now() / 1000] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 10] } },
      axes: [axis, { ...axis, size: 70, values: (_u, ticks) => ticks.map(format) }],
      series: [{}, ...series.map(([, label], i) => ({ label, stroke: colours[i] ?? text, width: 1.5, value: (_u: uPlot, v: number | null) => (v === null ? '–' : format(v)) }))],
    }, columns(points, series), element);
    chart.current = plot;
    return () => {
      plot.destroy();
      chart.current = null;
    };
    // The chart is rebuilt only for a new theme; new points go through setData below.
  }, [theme]);

  useEffect(() => {
    chart.current?.setData(columns(points, series));
  }, [points]);

  return html`<figure class="chart"><figcaption>${title}</figcaption><div ref=${holder} role="img" aria-label=${title + ' over the last hour'}></div></figure>`;
}
