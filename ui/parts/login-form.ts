/**
 * Log in when the console requires it: with a broker user (SASL/SCRAM credentials), or, on a broker
 * without SASL whose ops listener has a bearer token, with that token.
 */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import { useSubmission } from '../submission.ts';
import { ErrorBox } from './error-box.ts';

export function LoginForm({ mode, onLoggedIn }: { mode: 'sasl' | 'token'; onLoggedIn: (user: string) => void }): unknown {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, submit } = useSubmission(async () => {
    const body = await api<{ user: string }>('POST', '/session', { user: mode === 'token' ? '' : user, password });
    onLoggedIn(body.user);
  });
  return html`<form class="panel login" onSubmit=${submit} aria-labelledby="login-title">
    <h1 id="login-title">Log in to kafscale</h1>
    ${mode === 'token' ? html`<p class="muted small">This broker has no SASL listener: log in with the ops token (KAFSCALE_OPS_TOKEN_FILE).</p>` : html`
    <label>User <input name="user" autocomplete="username" required value=${user} autofocus
      onInput=${(e: Event) => setUser((e.target as HTMLInputElement).value)} /></label>`}
    <label>${mode === 'token' ? 'Ops token' : 'Password'} <input name="password" type="password" autocomplete="current-password" required value=${password}
      onInput=${(e: Event) => setPassword((e.target as HTMLInputElement).value)} /></label>
    <button type="submit" class="primary" disabled=${busy}>Log in</button>
    <${ErrorBox} error=${error} />
  </form>`;
}
