/**
 * A destructive action behind typed confirmation: the button stays disabled until the exact name is
 * typed, as the best consoles do for deleting a topic or a group.
 */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { messageOf } from '../api.ts';
import { ErrorBox } from './error-box.ts';

interface Props {
  readonly what: string;
  readonly name: string;
  readonly action: string;
  readonly onConfirm: () => Promise<void>;
  readonly onCancel: () => void;
}

export function TypedConfirm({ what, name, action, onConfirm, onCancel }: Props): unknown {
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (typed !== name) return;
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
    } catch (failure) {
      setError(messageOf(failure));
      setBusy(false);
    }
  };
  return html`<form class="panel danger" onSubmit=${submit} aria-label=${action}>
    <p>${action} <strong>${name}</strong>? This cannot be undone.</p>
    <label>Type the ${what} name to confirm
      <input name="confirm" value=${typed} autocomplete="off" spellcheck="false" autofocus
        onInput=${(e: Event) => setTyped((e.target as HTMLInputElement).value)} /></label>
    <div class="row">
      <button type="submit" class="danger" disabled=${typed !== name || busy}>${action}</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
    <${ErrorBox} error=${error} />
  </form>`;
}
