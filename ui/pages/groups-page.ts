/**
 * Consumer groups: state, protocol, members and total lag; search and sort. A `groups` event carries
 * the whole list, so it replaces the table without another request.
 */
import { html } from 'htm/preact';
import { useMemo, useState } from 'preact/hooks';
import type { GroupRow } from '../api-types.ts';
import { num } from '../format.ts';
import { useLiveEvent } from '../live.ts';
import { ErrorBox } from '../parts/error-box.ts';
import { useResource } from '../resource.ts';
import { href } from '../router.ts';
import { sortHeader, useSort } from '../sort.ts';

export function stateClass(state: string): string {
  const normal = state.toLowerCase();
  if (normal === 'stable') return 'tag ok';
  if (normal === 'dead' || normal === 'unknown') return 'tag bad';
  if (normal === 'empty') return 'tag';
  return 'tag warn';
}

export function GroupsPage(): unknown {
  const groups = useResource<{ groups: GroupRow[] }>('/groups');
  const [query, setQuery] = useState('');
  useLiveEvent<{ groups?: GroupRow[] }>('groups', (body) => {
    if (Array.isArray(body.groups)) groups.setData({ groups: body.groups });
    else void groups.reload();
  });

  const all = groups.data?.groups ?? [];
  const filtered = useMemo(() => {
    const needle = query.trim().toLowerCase();
    return needle === '' ? all : all.filter((g) => g.groupId.toLowerCase().includes(needle));
  }, [all, query]);
  const [rows, sort] = useSort(filtered, 'groupId');

  // The same rows object when only something else changed (session, live status): Preact skips the
  // diff of an identical vnode, so 1,000 rows are built once per list, not once per render.
  const body = useMemo(() => rows.map((g) => html`<tr>
        <td><a href=${href('groups', g.groupId)}>${g.groupId}</a></td>
        <td><span class=${stateClass(g.state)}>${g.state}</span></td>
        <td>${g.protocol}${g.protocolType === null || g.protocolType === '' ? '' : ' · ' + g.protocolType}</td>
        <td class="num">${num(g.members)}</td><td class="num">${num(g.lag)}</td><td class="num">${num(g.coordinator)}</td>
      </tr>`), [rows]);

  return html`<section aria-labelledby="groups-title">
    <h1 id="groups-title">Consumer groups <span class="muted small" data-testid="group-count">${groups.data === null ? '' : `${num(filtered.length)} of ${num(all.length)}`}</span></h1>
    <div class="toolbar">
      <label class="search">Search <input type="search" value=${query} placeholder="group id" data-testid="group-search"
        onInput=${(e: Event) => setQuery((e.target as HTMLInputElement).value)} /></label>
    </div>
    <${ErrorBox} error=${groups.error} />
    ${groups.data === null && groups.error === null ? html`<p class="muted">Loading…</p>` : null}
    <table class="grid long" data-testid="groups-table">
      <thead><tr>
        ${sortHeader(sort, 'groupId', 'Group')}
        ${sortHeader(sort, 'state', 'State')}
        ${sortHeader(sort, 'protocol', 'Protocol')}
        ${sortHeader(sort, 'members', 'Members', true)}
        ${sortHeader(sort, 'lag', 'Lag', true)}
        ${sortHeader(sort, 'coordinator', 'Coordinator', true)}
      </tr></thead>
      <tbody>${body}</tbody>
    </table>
    ${groups.data !== null && rows.length === 0 ? html`<p class="muted">No consumer groups${query === '' ? '' : ' match “' + query + '”'}.</p>` : null}
  </section>`;
}
