/** Produce one test message: optional partition and key, a value, and headers as `name: value` lines. */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, messageOf, seg } from '../api.ts';
import { ErrorBox } from './error-box.ts';

interface Props {
  readonly topic: string;
  readonly partitions: number;
  readonly onCancel: () => void;
}

export function parseHeaderLines(text: string): { key: string; value: string }[] {
  const headers: { key: string; value: string }[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    const at = raw.indexOf(':');
    if (at <= 0) throw new Error(`“${raw.trim()}” is not a header: write one name: value per line`);
    headers.push({ key: raw.slice(0, at).trim(), value: raw.slice(at + 1).trim() });
  }
  return headers;
}

export function ProduceForm({ topic, partitions, onCancel }: Props): unknown {
  const [partition, setPartition] = useState('');
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [headers, setHeaders] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<string | null>(null);

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const body = {
        ...(partition === '' ? {} : { partition: Number(partition) }),
        key: key === '' ? null : key,
        value,
        headers: parseHeaderLines(headers),
      };
      const written = await api<{ partition: number; offset: number }>('POST', `/topics/${seg(topic)}/messages`, body);
      setResult(`Written to partition ${written.partition} at offset ${written.offset}.`);
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  };
  const text = (setter: (v: string) => void) => (e: Event) => setter((e.target as HTMLInputElement).value);

  return html`<form class="panel" onSubmit=${submit} aria-label="Produce a message" data-testid="produce-form">
    <h2>Produce a message</h2>
    <div class="fields">
      <label>Partition <select name="partition" value=${partition} onChange=${text(setPartition)}>
        <option value="">any (round-robin)</option>
        ${Array.from({ length: partitions }, (_, i) => html`<option value=${String(i)}>${i}</option>`)}
      </select></label>
      <label>Key (empty for none) <input name="key" value=${key} onInput=${text(setKey)} autocomplete="off" /></label>
    </div>
    <label>Value <textarea name="value" rows="4" value=${value} onInput=${text(setValue)} class="mono"></textarea></label>
    <label>Headers (one name: value per line) <textarea name="headers" rows="2" value=${headers} onInput=${text(setHeaders)} class="mono"></textarea></label>
    <div class="row">
      <button type="submit" class="primary" disabled=${busy}>Produce</button>
      <button type="button" onClick=${onCancel}>Close</button>
      ${result === null ? null : html`<span class="ok" role="status">${result}</span>`}
    </div>
    <${ErrorBox} error=${error} />
  </form>`;
}
