/**
 * A topic's configs, defaults marked. Each editable row can be changed in place or reset to its
 * default (a `delete` in the PATCH); read-only and sensitive values are shown but not editable.
 */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, messageOf, seg } from '../api.ts';
import type { ConfigRow } from '../api-types.ts';
import { ErrorBox } from './error-box.ts';

interface Props {
  readonly topic: string;
  readonly configs: readonly ConfigRow[];
  readonly onChanged: () => void;
}

export function TopicConfigs({ topic, configs, onChanged }: Props): unknown {
  const [editing, setEditing] = useState<string | null>(null);
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [onlyChanged, setOnlyChanged] = useState(false);

  const patch = async (body: { set?: Record<string, string>; delete?: string[] }): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await api('PATCH', `/topics/${seg(topic)}/configs`, body);
      setEditing(null);
      onChanged();
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  };
  const save = (event: Event, name: string): void => {
    event.preventDefault();
    void patch({ set: { [name]: draft } });
  };
  const rows = onlyChanged ? configs.filter((c) => !c.isDefault) : configs;

  return html`<div>
    <div class="toolbar"><label class="check"><input type="checkbox" checked=${onlyChanged}
      onChange=${(e: Event) => setOnlyChanged((e.target as HTMLInputElement).checked)} /> Only values set on this topic</label></div>
    <${ErrorBox} error=${error} />
    <table class="grid" data-testid="configs-table">
      <thead><tr><th scope="col">Name</th><th scope="col">Value</th><th scope="col">Source</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${rows.map((c) => html`<tr key=${c.name} class=${c.isDefault ? 'default' : 'set'}>
        <td class="mono">${c.name}</td>
        <td class="mono">${editing === c.name
          ? html`<form class="inline" onSubmit=${(e: Event) => save(e, c.name)}>
              <label class="sr-only" for=${'cfg-' + c.name}>New value of ${c.name}</label>
              <input id=${'cfg-' + c.name} value=${draft} autofocus onInput=${(e: Event) => setDraft((e.target as HTMLInputElement).value)} />
              <button type="submit" class="primary" disabled=${busy}>Save</button>
              <button type="button" onClick=${() => setEditing(null)}>Cancel</button></form>`
          : c.sensitive ? '••••••' : (c.value ?? html`<span class="muted">null</span>`)}</td>
        <td>${c.isDefault ? html`<span class="tag">default</span>` : html`<span class="tag set">topic</span>`}${c.readOnly ? html` <span class="tag">read-only</span>` : null}</td>
        <td class="actions">${c.readOnly || editing === c.name ? null : html`
          <button type="button" class="small" aria-label=${'Edit ' + c.name} onClick=${() => { setEditing(c.name); setDraft(c.value ?? ''); }}>Edit</button>
          ${c.isDefault ? null : html`<button type="button" class="small" aria-label=${'Reset ' + c.name + ' to its default'} disabled=${busy}
            onClick=${() => void patch({ delete: [c.name] })}>Reset</button>`}`}</td>
      </tr>`)}</tbody>
    </table>
  </div>`;
}
