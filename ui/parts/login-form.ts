/** Log in with a broker user (SASL/SCRAM credentials) when the console requires it. */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, messageOf } from '../api.ts';
import { ErrorBox } from './error-box.ts';

export function LoginForm({ onLoggedIn }: { onLoggedIn: (user: string) => void }): unknown {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = await api<{ user: string }>('POST', '/session', { user, password });
      onLoggedIn(body.user);
    } catch (failure) {
      setError(messageOf(failure));
      setBusy(false);
    }
  };
  return html`<form class="panel login" onSubmit=${submit} aria-labelledby="login-title">
    <h1 id="login-title">Log in to kafscale</h1>
    <label>User <input name="user" autocomplete="username" required value=${user} autofocus
      onInput=${(e: Event) => setUser((e.target as HTMLInputElement).value)} /></label>
    <label>Password <input name="password" type="password" autocomplete="current-password" required value=${password}
      onInput=${(e: Event) => setPassword((e.target as HTMLInputElement).value)} /></label>
    <button type="submit" class="primary" disabled=${busy}>Log in</button>
    <${ErrorBox} error=${error} />
  </form>`;
}
