/**
 * The page frame: header with navigation, live status and theme toggle; the unauthenticated banner;
 * the login form when the console requires a user; and the page the hash route names.
 */
import { html } from 'htm/preact';
import { useEffect } from 'preact/hooks';
import { api, UNAUTHENTICATED_EVENT } from './api.ts';
import type { Session } from './api-types.ts';
import { closeLive, useLiveStatus } from './live.ts';
import { GroupPage } from './pages/group-page.ts';
import { GroupsPage } from './pages/groups-page.ts';
import { OverviewPage } from './pages/overview-page.ts';
import { TopicPage } from './pages/topic-page.ts';
import { TopicsPage } from './pages/topics-page.ts';
import { ErrorBox } from './parts/error-box.ts';
import { LoginForm } from './parts/login-form.ts';
import { useResource } from './resource.ts';
import { href, useRoute } from './router.ts';
import { useTheme, type Theme } from './theme.ts';

function Page({ route, theme }: { route: string[]; theme: Theme }): unknown {
  const [section, name, tab] = route;
  if (section === undefined || section === '' || section === 'overview') return html`<${OverviewPage} theme=${theme} />`;
  if (section === 'topics') return name === undefined ? html`<${TopicsPage} />` : html`<${TopicPage} key=${name} name=${name} tab=${tab} />`;
  if (section === 'groups') return name === undefined ? html`<${GroupsPage} />` : html`<${GroupPage} key=${name} id=${name} />`;
  return html`<section><h1>Not found</h1><p>There is no page “${route.join('/')}”. <a href=${href()}>Go to the overview</a>.</p></section>`;
}

function LiveStatus(): unknown {
  const live = useLiveStatus();
  const title = live === 'live' ? 'Receiving live updates' : live === 'connecting' ? 'Connecting to live updates' : 'Live updates refused or disconnected; reload the page to retry';
  return html`<span class=${'live ' + live} role="status" title=${title}><span aria-hidden="true">●</span> ${live}</span>`;
}

function Header({ section, session, signedIn, onLogout, theme, toggleTheme }: {
  section: string; session: Session | null; signedIn: boolean; onLogout: () => void; theme: Theme; toggleTheme: () => void;
}): unknown {
  const link = (id: string, label: string): unknown => html`<a href=${href(id)} aria-current=${section === id ? 'page' : undefined}>${label}</a>`;
  return html`<header class="top">
    <a class="brand" href=${href()}>kafscale</a>
    <nav aria-label="Main">${link('overview', 'Overview')}${link('topics', 'Topics')}${link('groups', 'Consumer groups')}</nav>
    ${signedIn ? html`<${LiveStatus} />` : null}
    ${session?.user ? html`<span class="user">${session.user} <button type="button" class="small" onClick=${onLogout}>Log out</button></span>` : null}
    <button type="button" class="small" onClick=${toggleTheme} aria-label=${`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}>
      ${theme === 'dark' ? '☀ Light' : '☾ Dark'}</button>
  </header>`;
}

export function App(): unknown {
  const route = useRoute();
  const [theme, toggleTheme] = useTheme();
  const session = useResource<Session>('/session');
  const data = session.data;
  const reloadSession = session.reload;
  useEffect(() => {
    const onLost = (): void => void reloadSession();
    addEventListener(UNAUTHENTICATED_EVENT, onLost);
    return () => removeEventListener(UNAUTHENTICATED_EVENT, onLost);
  }, [reloadSession]);
  const section = route[0] === undefined || route[0] === '' ? 'overview' : route[0];
  const logout = async (): Promise<void> => {
    await api('DELETE', '/session');
    closeLive();
    await session.reload();
  };
  const needsLogin = data !== null && data.authRequired && data.user === null;

  return html`<a class="skip" href="#main" onClick=${(e: Event) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
    <${Header} section=${section} session=${data} signedIn=${data !== null && !needsLogin} onLogout=${() => void logout()} theme=${theme} toggleTheme=${toggleTheme} />
    ${data?.warning ? html`<div class="banner" role="note" data-testid="session-warning">${data.warning}</div>` : null}
    <main id="main" tabindex="-1">
      <${ErrorBox} error=${session.error} />
      ${needsLogin ? html`<${LoginForm} mode=${data.authMode === 'token' ? 'token' : 'sasl'} onLoggedIn=${() => void session.reload()} />`
        : html`<${Page} route=${route} theme=${theme} />`}
    </main>`;
}
