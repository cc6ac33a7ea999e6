/**
 * Reset a group's offsets: choose the topic (or all) and the target, preview with a dry run, then
 * apply exactly what was previewed. The broker refuses while the group has members; the error shows.
 */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, messageOf, seg } from '../api.ts';
import type { GroupDetail, OffsetResetRow } from '../api-types.ts';
import { num } from '../format.ts';
import { ErrorBox } from './error-box.ts';

type To = 'earliest' | 'latest' | 'timestamp' | 'offset';

interface Props {
  readonly group: GroupDetail;
  readonly active: boolean;
  readonly onApplied: () => void;
  readonly onCancel: () => void;
}

export function ResetOffsetsForm({ group, active, onApplied, onCancel }: Props): unknown {
  const topics = [...new Set(group.offsets.map((o) => o.topic))].sort();
  const [topic, setTopic] = useState('');
  const [to, setTo] = useState<To>('earliest');
  const [offset, setOffset] = useState('0');
  const [timestamp, setTimestamp] = useState('');
  const [preview, setPreview] = useState<OffsetResetRow[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const request = (dryRun: boolean): Record<string, unknown> => {
    const body: Record<string, unknown> = { to, dryRun };
    if (topic !== '') body['topic'] = topic;
    if (to === 'offset') body['offset'] = Number(offset);
    if (to === 'timestamp') {
      const ms = new Date(timestamp).getTime();
      if (Number.isNaN(ms)) throw new Error('Choose a date and time to reset to.');
      body['timestamp'] = ms;
    }
    return body;
  };
  const send = async (dryRun: boolean): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const result = await api<{ offsets: OffsetResetRow[] }>('POST', `/groups/${seg(group.groupId)}/offsets`, request(dryRun));
      if (dryRun) setPreview(result.offsets);
      else onApplied();
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  };
  // Any change of the choice invalidates the preview: Apply must only ever apply what was shown.
  const choose = <T extends string>(setter: (v: T) => void) => (e: Event) => {
    setter((e.target as HTMLInputElement).value as T);
    setPreview(null);
  };

  return html`<form class="panel" aria-label="Reset offsets" data-testid="reset-form" onSubmit=${(e: Event) => { e.preventDefault(); void send(true); }}>
    <h2>Reset offsets</h2>
    ${active ? html`<p class="warn">The group has members, or another broker coordinates it: the broker refuses to apply a reset until every consumer has stopped.</p>` : null}
    <div class="fields">
      <label>Topic <select name="topic" value=${topic} onChange=${choose(setTopic)}>
        <option value="">all topics of the group</option>${topics.map((t) => html`<option value=${t}>${t}</option>`)}</select></label>
      <label>To <select name="to" value=${to} onChange=${choose<To>(setTo)}>
        <option value="earliest">earliest</option><option value="latest">latest</option>
        <option value="timestamp">timestamp</option><option value="offset">offset</option></select></label>
      ${to === 'offset' ? html`<label>Offset <input name="offset" type="number" min="0" required value=${offset} onInput=${choose(setOffset)} /></label>` : null}
      ${to === 'timestamp' ? html`<label>Time <input name="timestamp" type="datetime-local" step="0.001" required value=${timestamp} onInput=${choose(setTimestamp)} /></label>` : null}
    </div>
    <div class="row">
      <button type="submit" disabled=${busy}>Preview</button>
      <button type="button" class="primary" disabled=${busy || preview === null || preview.length === 0} onClick=${() => void send(false)}>Apply</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
    <${ErrorBox} error=${error} />
    ${preview !== null && preview.length === 0 ? html`<p class="muted" role="status">Nothing to reset: the group has no committed offsets${topic === '' ? '; choose a topic to set offsets on it' : ' on this topic'}.</p>` : null}
    ${preview === null || preview.length === 0 ? null : html`<table class="grid" data-testid="reset-preview">
      <caption>Dry run: what Apply will commit</caption>
      <thead><tr><th scope="col">Topic</th><th scope="col" class="num">Partition</th><th scope="col" class="num">Current</th><th scope="col" class="num">New</th></tr></thead>
      <tbody>${preview.map((r) => html`<tr key=${r.topic + ':' + r.partition}>
        <td>${r.topic}</td><td class="num">${r.partition}</td><td class="num">${num(r.current)}</td><td class="num">${num(r.target)}</td></tr>`)}</tbody>
    </table>`}
  </form>`;
}
