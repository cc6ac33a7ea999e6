/**
 * Topics: every topic with partitions, records, size, retention and throughput; search, sort, create.
 * The list is re-read when a `topics` event says the set of topics changed, never on a timer.
 */
import { html } from 'htm/preact';
import { useMemo, useState } from 'preact/hooks';
import type { TopicRow } from '../api-types.ts';
import { bytes, byteRate, duration, num } from '../format.ts';
import { useLiveEvent } from '../live.ts';
import { CreateTopicForm } from '../parts/create-topic-form.ts';
import { ErrorBox } from '../parts/error-box.ts';
import { useResource } from '../resource.ts';
import { href, navigate } from '../router.ts';
import { sortHeader, useSort } from '../sort.ts';

function sameNames(names: readonly unknown[], shown: readonly TopicRow[]): boolean {
  if (names.length !== shown.length) return false;
  const known = new Set(shown.map((t) => t.name));
  return names.every((name) => typeof name === 'string' && known.has(name));
}

export function TopicsPage(): unknown {
  const topics = useResource<{ topics: TopicRow[] }>('/topics');
  const [query, setQuery] = useState('');
  const [showInternal, setShowInternal] = useState(false);
  const [creating, setCreating] = useState(false);
  // The event names every topic; the list is re-read only when that set differs from the one shown
  // (the stream also sends it on connect, right after the page's own first read).
  useLiveEvent<{ names?: unknown }>('topics', (event) => {
    const shown = topics.data?.topics;
    if (Array.isArray(event.names) && shown !== undefined && sameNames(event.names, shown)) return;
    void topics.reload();
  });

  const all = topics.data?.topics ?? [];
  const filtered = useMemo(() => {
    const needle = query.trim().toLowerCase();
    return all.filter((t) => (showInternal || !t.internal) && (needle === '' || t.name.toLowerCase().includes(needle)));
  }, [all, query, showInternal]);
  const [rows, sort] = useSort(filtered, 'name');

  // The same rows object when only something else changed (session, live status): Preact skips the
  // diff of an identical vnode, so 1,000 rows are built once per list, not once per render.
  const body = useMemo(() => rows.map((t) => html`<tr>
        <td title=${t.name}><a href=${href('topics', t.name)}>${t.name}</a>${t.internal ? html` <span class="tag">internal</span>` : null}</td>
        <td class="num">${t.partitions}</td><td class="num">${num(t.records)}</td><td class="num">${bytes(t.sizeBytes)}</td>
        <td class="num">${duration(t.retentionMs)}</td><td class="num">${byteRate(t.bytesInPerSec)}</td>
      </tr>`), [rows]);

  return html`<section aria-labelledby="topics-title">
    <div class="title-row">
      <h1 id="topics-title">Topics <span class="muted small" data-testid="topic-count">${topics.data === null ? '' : `${num(filtered.length)} of ${num(all.length)}`}</span></h1>
      <button type="button" class="primary" onClick=${() => setCreating(!creating)} aria-expanded=${creating}>Create topic</button>
    </div>
    ${creating ? html`<${CreateTopicForm} onCancel=${() => setCreating(false)}
      onCreated=${(name: string) => navigate('topics', name)} />` : null}
    <div class="toolbar">
      <label class="search">Search <input type="search" value=${query} placeholder="topic name" data-testid="topic-search"
        onInput=${(e: Event) => setQuery((e.target as HTMLInputElement).value)} /></label>
      <label class="check"><input type="checkbox" checked=${showInternal}
        onChange=${(e: Event) => setShowInternal((e.target as HTMLInputElement).checked)} /> Show internal topics</label>
    </div>
    <${ErrorBox} error=${topics.error} />
    ${topics.data === null && topics.error === null ? html`<p class="muted">Loading…</p>` : null}
    <table class="grid long" data-testid="topics-table">
      <thead><tr>
        ${sortHeader(sort, 'name', 'Name')}
        ${sortHeader(sort, 'partitions', 'Partitions', true)}
        ${sortHeader(sort, 'records', 'Records', true)}
        ${sortHeader(sort, 'sizeBytes', 'Size', true)}
        ${sortHeader(sort, 'retentionMs', 'Retention', true)}
        ${sortHeader(sort, 'bytesInPerSec', 'In', true)}
      </tr></thead>
      <tbody>${body}</tbody>
    </table>
    ${topics.data !== null && rows.length === 0 ? html`<p class="muted">No topics${query === '' ? '' : ' match “' + query + '”'}.</p>` : null}
  </section>`;
}
