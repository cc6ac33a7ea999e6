/**
 * `useResource(path)`: GET a console API path when the path changes, keep the last good body while a
 * reload runs (tables do not flash empty on a live update), and hold the error message to show.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, messageOf } from './api.ts';

export interface Resource<T> {
  readonly data: T | null;
  readonly error: string | null;
  readonly loading: boolean;
  readonly reload: () => Promise<void>;
  readonly setData: (data: T) => void;
}

export function useResource<T>(path: string | null): Resource<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(path !== null);
  const generation = useRef(0);

  const reload = useCallback(async (): Promise<void> => {
    if (path === null) return;
    const mine = ++generation.current;
    setLoading(true);
    try {
      const body = await api<T>('GET', path);
      if (mine !== generation.current) return;
      setData(body);
      setError(null);
    } catch (failure) {
      if (mine !== generation.current) return;
      setError(messageOf(failure));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, [path]);

  useEffect(() => {
    setData(null);
    setError(null);
    void reload();
  }, [reload]);

  return { data, error, loading, reload, setData };
}
