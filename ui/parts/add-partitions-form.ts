/** Add partitions: the new total, which must be larger than the current count (Kafka never shrinks). */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, messageOf, seg } from '../api.ts';
import { ErrorBox } from './error-box.ts';

interface Props {
  readonly topic: string;
  readonly current: number;
  readonly onDone: () => void;
  readonly onCancel: () => void;
}

export function AddPartitionsForm({ topic, current, onDone, onCancel }: Props): unknown {
  const [count, setCount] = useState(String(current + 1));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('POST', `/topics/${seg(topic)}/partitions`, { count: Number(count) });
      onDone();
    } catch (failure) {
      setError(messageOf(failure));
      setBusy(false);
    }
  };
  return html`<form class="panel" onSubmit=${submit} aria-label="Add partitions">
    <label>New total number of partitions (now ${current})
      <input name="count" type="number" min=${current + 1} required value=${count} autofocus
        onInput=${(e: Event) => setCount((e.target as HTMLInputElement).value)} /></label>
    <p class="muted small">Keys hash to partitions by count: adding partitions moves where new records with a key land.</p>
    <div class="row">
      <button type="submit" class="primary" disabled=${busy}>Add partitions</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
    <${ErrorBox} error=${error} />
  </form>`;
}
