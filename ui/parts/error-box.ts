/** The error message from a failed API call, announced to screen readers. */
import { html } from 'htm/preact';

export function ErrorBox({ error }: { error: string | null }): unknown {
  if (error === null) return null;
  return html`<p class="error" role="alert">${error}</p>`;
}
