/**
 * One consumer group: members with their assignments, per-partition committed offset, end offset,
 * lag and owner; reset offsets (with a dry-run preview) and delete, both refused while it has members.
 */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, seg } from '../api.ts';
import type { GroupDetail } from '../api-types.ts';
import { num } from '../format.ts';
import { useLiveEvent } from '../live.ts';
import { ErrorBox } from '../parts/error-box.ts';
import { ResetOffsetsForm } from '../parts/reset-offsets-form.ts';
import { TypedConfirm } from '../parts/typed-confirm.ts';
import { useResource } from '../resource.ts';
import { href, navigate } from '../router.ts';
import { stateClass } from './groups-page.ts';

export function GroupPage({ id }: { id: string }): unknown {
  const group = useResource<GroupDetail>('/groups/' + seg(id));
  const [action, setAction] = useState<'none' | 'reset' | 'delete'>('none');
  // The list event says something changed in some group; one small re-read keeps this page current.
  useLiveEvent('groups', () => void group.reload());
  const data = group.data;
  // Members of a group another broker coordinates are unknown here: the reset form warns, the broker decides.
  const active = data !== null && (data.members.length > 0 || data.membersKnown === false);

  const remove = async (): Promise<void> => {
    await api('DELETE', '/groups/' + seg(id));
    navigate('groups');
  };

  return html`<section aria-labelledby="group-title">
    <p class="crumbs"><a href=${href('groups')}>Consumer groups</a> /</p>
    <div class="title-row">
      <h1 id="group-title" class="mono">${id}</h1>
      <div class="row">
        <button type="button" onClick=${() => setAction(action === 'reset' ? 'none' : 'reset')} disabled=${data === null}
          title=${active ? 'Offsets can be reset only while the group has no members' : ''}>Reset offsets</button>
        <button type="button" class="danger" onClick=${() => setAction(action === 'delete' ? 'none' : 'delete')}>Delete group</button>
      </div>
    </div>
    <${ErrorBox} error=${group.error} />
    ${data === null ? null : html`<p>
      <span class=${stateClass(data.state)} data-testid="group-state">${data.state}</span>
      <span class="muted small">${` · ${data.protocol} protocol · ${data.membersKnown === false ? 'members unknown here' : data.members.length + (data.members.length === 1 ? ' member' : ' members')}${data.coordinator === undefined ? '' : ' · coordinator broker ' + data.coordinator}`}</span></p>
      ${data.note ? html`<p class="muted">${data.note}</p>` : null}`}
    ${action === 'reset' && data !== null ? html`<${ResetOffsetsForm} group=${data} active=${active}
      onApplied=${() => { setAction('none'); void group.reload(); }} onCancel=${() => setAction('none')} />` : null}
    ${action === 'delete' ? html`<${TypedConfirm} what="group" name=${id} action="Delete group" onConfirm=${remove} onCancel=${() => setAction('none')} />` : null}
    ${data === null ? (group.error === null ? html`<p class="muted">Loading…</p>` : null) : html`
      <h2>Offsets</h2>
      <table class="grid" data-testid="group-offsets">
        <thead><tr><th scope="col">Topic</th><th scope="col" class="num">Partition</th><th scope="col" class="num">Committed</th>
          <th scope="col" class="num">End</th><th scope="col" class="num">Lag</th><th scope="col">Owner</th></tr></thead>
        <tbody>${data.offsets.map((o) => html`<tr key=${o.topic + ':' + o.partition}>
          <td><a href=${href('topics', o.topic)}>${o.topic}</a></td><td class="num">${o.partition}</td>
          <td class="num">${num(o.committedOffset)}</td><td class="num">${num(o.endOffset)}</td><td class="num">${num(o.lag)}</td>
          <td class="mono small">${o.memberId ?? html`<span class="muted">–</span>`}</td>
        </tr>`)}</tbody>
      </table>
      ${data.offsets.length === 0 ? html`<p class="muted">No committed offsets.</p>` : null}
      <h2>Members</h2>
      ${data.membersKnown === false ? null : data.members.length === 0 ? html`<p class="muted">No members: the group is inactive.</p>` : html`
        <table class="grid" data-testid="group-members">
          <thead><tr><th scope="col">Member</th><th scope="col">Client id</th><th scope="col">Host</th><th scope="col">Assignment</th></tr></thead>
          <tbody>${data.members.map((m) => html`<tr key=${m.memberId}>
            <td class="mono small">${m.memberId}</td><td>${m.clientId}</td><td class="mono">${m.host}</td>
            <td>${m.assignments.map((a) => `${a.topic} [${a.partitions.join(', ')}]`).join('; ') || '–'}</td>
          </tr>`)}</tbody>
        </table>`}`}
  </section>`;
}
