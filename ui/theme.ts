/**
 * Dark and light themes. Without a choice the page follows `prefers-color-scheme`; the toggle stores
 * an explicit choice in localStorage and sets `data-theme` on <html>, which the CSS variables key on.
 */
import { useEffect, useState } from 'preact/hooks';

export type Theme = 'light' | 'dark';
const STORAGE_KEY = 'kafscale.theme';
const darkQuery = matchMedia('(prefers-color-scheme: dark)');

function stored(): Theme | null {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return value === 'light' || value === 'dark' ? value : null;
  } catch {
    return null;
  }
}

export function effectiveTheme(): Theme {
  return stored() ?? (darkQuery.matches ? 'dark' : 'light');
}

export function applyStoredTheme(): void {
  const theme = stored();
  if (theme === null) delete document.documentElement.dataset['theme'];
  else document.documentElement.dataset['theme'] = theme;
}

/** The theme in force and a toggle; components that paint with theme colours (charts) re-render on it. */
export function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState(effectiveTheme);
  useEffect(() => {
    const onChange = (): void => setTheme(effectiveTheme());
    darkQuery.addEventListener('change', onChange);
    addEventListener('kafscale-theme', onChange);
    return () => {
      darkQuery.removeEventListener('change', onChange);
      removeEventListener('kafscale-theme', onChange);
    };
  }, []);
  const toggle = (): void => {
    const next: Theme = effectiveTheme() === 'dark' ? 'light' : 'dark';
    try {
      localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // Private windows may refuse storage; the choice then lasts for this page only.
    }
    document.documentElement.dataset['theme'] = next;
    dispatchEvent(new Event('kafscale-theme'));
  };
  return [theme, toggle];
}
