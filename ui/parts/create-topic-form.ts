/** The create-topic form: name, partitions, retention, and any other configs as `key=value` lines. */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import { useSubmission } from '../submission.ts';
import { ErrorBox } from './error-box.ts';

interface Props {
  readonly onCreated: (name: string) => void;
  readonly onCancel: () => void;
}

/** `a=b` per line into a config map; a line without `=` is an error the user sees. */
export function parseConfigLines(text: string): Record<string, string> {
  const configs: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const at = line.indexOf('=');
    if (at <= 0) throw new Error(`“${line}” is not a config: write one name=value per line`);
    configs[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return configs;
}

export function CreateTopicForm({ onCreated, onCancel }: Props): unknown {
  const [name, setName] = useState('');
  const [partitions, setPartitions] = useState('3');
  const [retentionHours, setRetentionHours] = useState('');
  const [extra, setExtra] = useState('');
  const { busy, error, submit } = useSubmission(async () => {
    const configs = parseConfigLines(extra);
    if (retentionHours.trim() !== '') configs['retention.ms'] = String(Math.round(Number(retentionHours) * 3_600_000));
    await api('POST', '/topics', { name: name.trim(), partitions: Number(partitions), configs });
    onCreated(name.trim());
  });
  const value = (setter: (v: string) => void) => (e: Event) => setter((e.target as HTMLInputElement).value);

  return html`<form class="panel" onSubmit=${submit} aria-label="Create topic" data-testid="create-topic">
    <h2>Create topic</h2>
    <div class="fields">
      <label>Name <input name="name" required value=${name} onInput=${value(setName)} autocomplete="off" spellcheck="false" autofocus /></label>
      <label>Partitions <input name="partitions" type="number" min="1" required value=${partitions} onInput=${value(setPartitions)} /></label>
      <label>Retention (hours, empty for the default) <input name="retention" type="number" min="-1" step="any" value=${retentionHours} onInput=${value(setRetentionHours)} /></label>
    </div>
    <label>Other configs (one name=value per line)
      <textarea name="configs" rows="3" value=${extra} onInput=${value(setExtra)} placeholder="cleanup.policy=delete"></textarea></label>
    <div class="row">
      <button type="submit" class="primary" disabled=${busy}>Create</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
    <${ErrorBox} error=${error} />
  </form>`;
}
