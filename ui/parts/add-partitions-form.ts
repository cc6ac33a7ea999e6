/** Add partitions: the new total, which must be larger than the current count (Kafka never shrinks). */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, seg } from '../api.ts';
import { useSubmission } from '../submission.ts';
import { ErrorBox } from './error-box.ts';

interface Props {
  readonly topic: string;
  readonly current: number;
  readonly onDone: () => void;
  readonly onCancel: () => void;
}

export function AddPartitionsForm({ topic, current, onDone, onCancel }: Props): unknown {
  const [count, setCount] = useState(String(current + 1));
  const { busy, error, submit } = useSubmission(async () => {
    await api('POST', `/topics/${seg(topic)}/partitions`, { count: Number(count) });
    onDone();
  });
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
