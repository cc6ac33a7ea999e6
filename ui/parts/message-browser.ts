/**
 * The message browser: read a partition (or all) from the start, the end, an offset or a time, a
 * bounded count; key, value, headers and timestamp with values as pretty JSON, text or hex.
 */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, messageOf, seg } from '../api.ts';
import type { Encoded, Message, MessagePage } from '../api-types.ts';
import { show, type ViewMode } from '../encoded.ts';
import { time } from '../format.ts';
import { ErrorBox } from './error-box.ts';
import { ProduceForm } from './produce-form.ts';

type From = 'earliest' | 'latest' | 'offset' | 'timestamp';
const MAX_LIMIT = 500;

function Value({ value, mode }: { value: Encoded | null; mode: ViewMode }): unknown {
  const shown = show(value, mode);
  return html`<pre class=${'value ' + shown.kind}>${shown.text}</pre>`;
}

function Headers({ headers, mode }: { headers: Message['headers']; mode: ViewMode }): unknown {
  if (headers.length === 0) return html`<span class="muted">–</span>`;
  return html`<dl class="headers">${headers.map((h) => html`<dt>${h.key}</dt><dd><${Value} value=${h.value} mode=${mode} /></dd>`)}</dl>`;
}

/** `datetime-local` gives local wall time without a zone; Date parses it as local, which is what the user meant. */
function timestampOf(local: string): number {
  const ms = new Date(local).getTime();
  if (Number.isNaN(ms)) throw new Error('Choose a date and time to read from.');
  return ms;
}

export function MessageBrowser({ topic, partitions }: { topic: string; partitions: number }): unknown {
  const [partition, setPartition] = useState('all');
  const [from, setFrom] = useState<From>('latest');
  const [offset, setOffset] = useState('0');
  const [timestamp, setTimestamp] = useState('');
  const [limit, setLimit] = useState('50');
  const [mode, setMode] = useState<ViewMode>('auto');
  const [page, setPage] = useState<MessagePage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [producing, setProducing] = useState(false);

  const read = async (event?: Event): Promise<void> => {
    event?.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const query = new URLSearchParams({ partition, from, limit: String(Math.min(Number(limit) || 50, MAX_LIMIT)) });
      if (from === 'offset') query.set('offset', offset);
      if (from === 'timestamp') query.set('timestamp', String(timestampOf(timestamp)));
      setPage(await api<MessagePage>('GET', `/topics/${seg(topic)}/messages?${query.toString()}`));
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  };
  const value = <T extends string>(setter: (v: T) => void) => (e: Event) => setter((e.target as HTMLInputElement).value as T);

  return html`<div class="browser">
    <form class="toolbar" onSubmit=${read} aria-label="Read messages" data-testid="browse-form">
      <label>Partition <select name="partition" value=${partition} onChange=${value(setPartition)}>
        <option value="all">all</option>
        ${Array.from({ length: partitions }, (_, i) => html`<option value=${String(i)}>${i}</option>`)}
      </select></label>
      <label>From <select name="from" value=${from} onChange=${value<From>(setFrom)}>
        <option value="earliest">earliest</option><option value="latest">latest</option>
        <option value="offset">offset</option><option value="timestamp">timestamp</option>
      </select></label>
      ${from === 'offset' ? html`<label>Offset <input name="offset" type="number" min="0" required value=${offset} onInput=${value(setOffset)} /></label>` : null}
      ${from === 'timestamp' ? html`<label>Time <input name="timestamp" type="datetime-local" step="0.001" required value=${timestamp} onInput=${value(setTimestamp)} /></label>` : null}
      <label>Count <input name="limit" type="number" min="1" max=${MAX_LIMIT} value=${limit} onInput=${value(setLimit)} /></label>
      <button type="submit" class="primary" disabled=${busy}>Read</button>
      <fieldset class="segmented"><legend>Show values as</legend>
        ${(['auto', 'text', 'hex'] as const).map((m) => html`<label><input type="radio" name="mode" value=${m} checked=${mode === m}
          onChange=${() => setMode(m)} />${m === 'auto' ? 'JSON / text' : m}</label>`)}
      </fieldset>
      <button type="button" onClick=${() => setProducing(!producing)} aria-expanded=${producing}>Produce a message</button>
    </form>
    ${producing ? html`<${ProduceForm} topic=${topic} partitions=${partitions} onCancel=${() => setProducing(false)} />` : null}
    <${ErrorBox} error=${error} />
    ${page === null ? html`<p class="muted">Choose where to read from and press Read.</p>` : html`
      <p class="muted small" data-testid="browse-summary">${page.messages.length === 1 ? '1 message' : page.messages.length + ' messages'}${page.truncated ? ' — cut at the byte limit of one request; read on from the last offset for more' : ''}</p>
      <table class="grid messages" data-testid="messages-table">
        <thead><tr><th scope="col" class="num">Partition</th><th scope="col" class="num">Offset</th><th scope="col">Timestamp</th>
          <th scope="col">Key</th><th scope="col">Value</th><th scope="col">Headers</th></tr></thead>
        <tbody>${page.messages.map((m) => html`<tr key=${m.partition + ':' + m.offset}>
          <td class="num">${m.partition}</td><td class="num">${m.offset}</td><td class="mono nowrap" title=${String(m.timestamp)}>${time(m.timestamp)}</td>
          <td><${Value} value=${m.key} mode=${mode} /></td><td class="wide"><${Value} value=${m.value} mode=${mode} /></td>
          <td><${Headers} headers=${m.headers} mode=${mode} /></td>
        </tr>`)}</tbody>
      </table>`}
  </div>`;
}
