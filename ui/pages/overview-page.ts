/**
 * Overview: cluster id, store health, totals and rates (updated in place from the `overview` event),
 * the brokers table, and charts of this broker's last hour.
 */
import { html } from 'htm/preact';
import { useEffect } from 'preact/hooks';
import type { MetricsHistory, Overview, StoreHealth } from '../api-types.ts';
import { axisNumber, bytes, byteRate, duration, num, rate } from '../format.ts';
import { useLiveEvent } from '../live.ts';
import { ErrorBox } from '../parts/error-box.ts';
import { MetricsChart } from '../parts/metrics-chart.ts';
import { useResource } from '../resource.ts';
import { href } from '../router.ts';
import type { Theme } from '../theme.ts';

/** The history grows by one point per 10 s step; a minute between re-reads keeps the charts current. */
const HISTORY_REFRESH_MS = 60_000;

function Health({ label, health }: { label: string; health: StoreHealth }): unknown {
  return html`<div class="stat">
    <span class="label">${label}</span>
    <span class=${'value health ' + (health.healthy ? 'ok' : 'bad')} data-testid=${'health-' + label.toLowerCase().replace(/ /g, '-')}>
      <span aria-hidden="true">${health.healthy ? '●' : '▲'}</span> ${health.healthy ? 'healthy' : 'unhealthy'}
    </span>
    <span class="detail">${health.kind}${health.detail === null ? '' : ' · ' + health.detail}</span>
  </div>`;
}

function Stat({ label, value, id, link }: { label: string; value: string; id: string; link?: string }): unknown {
  const shown = html`<span class="value" data-testid=${id}>${value}</span>`;
  return html`<div class="stat"><span class="label">${label}</span>${link === undefined ? shown : html`<a href=${link}>${shown}</a>`}</div>`;
}

export function OverviewPage({ theme }: { theme: Theme }): unknown {
  const overview = useResource<Overview>('/overview');
  const history = useResource<MetricsHistory>('/metrics/history');
  useLiveEvent<Overview>('overview', (body) => overview.setData(body));
  useEffect(() => {
    const timer = setInterval(() => void history.reload(), HISTORY_REFRESH_MS);
    return () => clearInterval(timer);
  }, [history.reload]);

  const data = overview.data;
  const points = history.data?.points ?? [];
  return html`<section aria-labelledby="overview-title">
    <h1 id="overview-title">Overview</h1>
    <${ErrorBox} error=${overview.error} />
    ${data === null ? (overview.error === null ? html`<p class="muted">Loading…</p>` : null) : html`
      <div class="stats">
        <div class="stat wide"><span class="label">Cluster id</span><span class="value mono" data-testid="cluster-id">${data.clusterId}</span>
          <span class="detail">answered by broker ${data.brokerId}</span></div>
        <${Health} label="Metadata store" health=${data.metadataStore} />
        <${Health} label="Object store" health=${data.objectStore} />
      </div>
      <div class="stats">
        <${Stat} label="Brokers" value=${num(data.brokers.length)} id="total-brokers" />
        <${Stat} label="Topics" value=${num(data.totals.topics)} id="total-topics" link=${href('topics')} />
        <${Stat} label="Partitions" value=${num(data.totals.partitions)} id="total-partitions" />
        <${Stat} label="Consumer groups" value=${num(data.totals.groups)} id="total-groups" link=${href('groups')} />
        <${Stat} label="Bytes in" value=${byteRate(data.totals.bytesInPerSec)} id="bytes-in" />
        <${Stat} label="Bytes out" value=${byteRate(data.totals.bytesOutPerSec)} id="bytes-out" />
        <${Stat} label="Records in" value=${rate(data.totals.recordsInPerSec)} id="records-in" />
        <${Stat} label="Records out" value=${rate(data.totals.recordsOutPerSec)} id="records-out" />
      </div>`}
    <h2>Last hour <span class="muted small">(broker ${data?.brokerId ?? ''})</span></h2>
    <${ErrorBox} error=${history.error} />
    <div class="charts">
      <${MetricsChart} title="Bytes per second" points=${points} theme=${theme} format=${bytes}
        series=${[['bytesInPerSec', 'in'], ['bytesOutPerSec', 'out']]} />
      <${MetricsChart} title="Records per second" points=${points} theme=${theme} format=${axisNumber}
        series=${[['recordsInPerSec', 'in'], ['recordsOutPerSec', 'out']]} />
    </div>
    ${data === null ? null : html`
      <h2>Brokers</h2>
      <table class="grid" data-testid="brokers">
        <thead><tr><th scope="col" class="num">Id</th><th scope="col">Address</th><th scope="col">Rack</th><th scope="col" class="num">Uptime</th>
          <th scope="col" class="num">Partitions owned</th><th scope="col" class="num">Produce</th><th scope="col" class="num">Fetch</th></tr></thead>
        <tbody>${data.brokers.map((b) => html`<tr key=${b.id}>
          <td class="num">${b.id}${b.self ? html` <span class="tag" title="the broker serving this console">this</span>` : null}</td>
          <td class="mono">${b.host}:${b.port}</td><td>${b.rack ?? '–'}</td><td class="num">${duration(b.uptimeMs)}</td>
          <td class="num">${num(b.partitionsOwned)}</td><td class="num">${byteRate(b.produceBytesPerSec)}</td><td class="num">${byteRate(b.fetchBytesPerSec)}</td>
        </tr>`)}</tbody>
      </table>`}
  </section>`;
}
