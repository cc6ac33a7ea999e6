/**
 * Hash routing: `#/`, `#/topics`, `#/topics/<name>[/<tab>]`, `#/groups`, `#/groups/<id>`. A route is
 * the list of decoded path segments; the app renders from it and links are plain `href="#/…"`.
 */
import { useEffect, useState } from 'preact/hooks';

export function currentRoute(): string[] {
  const hash = location.hash.replace(/^#\/?/, '');
  return hash === '' ? [] : hash.split('/').map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
}

export function href(...segments: readonly (string | number)[]): string {
  return '#/' + segments.map((part) => encodeURIComponent(String(part))).join('/');
}

export function navigate(...segments: readonly (string | number)[]): void {
  location.hash = href(...segments);
}

export function useRoute(): string[] {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const onChange = (): void => setRoute(currentRoute());
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
