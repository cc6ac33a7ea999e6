/**
 * One topic: partitions, configs, consumers and the message browser as tabs (`#/topics/<name>/<tab>`),
 * with the admin actions (add partitions, delete with typed confirmation).
 */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, seg } from '../api.ts';
import type { TopicDetail } from '../api-types.ts';
import { bytes, num, time } from '../format.ts';
import { useLiveEvent } from '../live.ts';
import { AddPartitionsForm } from '../parts/add-partitions-form.ts';
import { ErrorBox } from '../parts/error-box.ts';
import { MessageBrowser } from '../parts/message-browser.ts';
import { TopicConfigs } from '../parts/topic-configs.ts';
import { TypedConfirm } from '../parts/typed-confirm.ts';
import { useResource } from '../resource.ts';
import { href, navigate } from '../router.ts';

const TABS = [['partitions', 'Partitions'], ['configs', 'Configs'], ['consumers', 'Consumers'], ['messages', 'Messages']] as const;
type Tab = (typeof TABS)[number][0];

function PartitionsTable({ topic }: { topic: TopicDetail }): unknown {
  return html`<table class="grid" data-testid="partitions-table">
    <thead><tr><th scope="col" class="num">Partition</th><th scope="col" class="num">Owner</th><th scope="col" class="num">Epoch</th>
      <th scope="col" class="num">Log start</th><th scope="col" class="num">High watermark</th><th scope="col" class="num">Records</th><th scope="col" class="num">Size</th></tr></thead>
    <tbody>${topic.partitions.map((p) => html`<tr key=${p.partition}>
      <td class="num">${p.partition}</td><td class="num">${p.leader ?? html`<span class="warn">none</span>`}</td><td class="num">${p.leaderEpoch}</td>
      <td class="num">${num(p.logStartOffset)}</td><td class="num">${num(p.highWatermark)}</td>
      <td class="num">${num(p.highWatermark - p.logStartOffset)}</td><td class="num">${bytes(p.sizeBytes)}</td>
    </tr>`)}</tbody>
  </table>`;
}

function ConsumersTable({ topic }: { topic: TopicDetail }): unknown {
  if (topic.consumers.length === 0) return html`<p class="muted">No consumer group has committed offsets for this topic.</p>`;
  return html`<table class="grid" data-testid="consumers-table">
    <thead><tr><th scope="col">Group</th><th scope="col" class="num">Lag</th></tr></thead>
    <tbody>${topic.consumers.map((c) => html`<tr key=${c.groupId}>
      <td><a href=${href('groups', c.groupId)}>${c.groupId}</a></td><td class="num">${num(c.lag)}</td></tr>`)}</tbody>
  </table>`;
}

export function TopicPage({ name, tab }: { name: string; tab: string | undefined }): unknown {
  const topic = useResource<TopicDetail>('/topics/' + seg(name));
  const [action, setAction] = useState<'none' | 'partitions' | 'delete'>('none');
  const [gone, setGone] = useState(false);
  useLiveEvent<{ names?: string[] }>('topics', (event) => {
    if (Array.isArray(event.names)) setGone(!event.names.includes(name));
  });
  const current: Tab = TABS.some(([id]) => id === tab) ? (tab as Tab) : 'partitions';
  const data = topic.data;

  const remove = async (): Promise<void> => {
    await api('DELETE', `/topics/${seg(name)}?confirm=${encodeURIComponent(name)}`);
    navigate('topics');
  };

  return html`<section aria-labelledby="topic-title">
    <p class="crumbs"><a href=${href('topics')}>Topics</a> /</p>
    <div class="title-row">
      <h1 id="topic-title" class="mono">${name}</h1>
      <div class="row">
        <button type="button" onClick=${() => setAction(action === 'partitions' ? 'none' : 'partitions')} disabled=${data === null}>Add partitions</button>
        <button type="button" class="danger" onClick=${() => setAction(action === 'delete' ? 'none' : 'delete')}>Delete topic</button>
      </div>
    </div>
    ${gone ? html`<p class="error" role="alert">This topic no longer exists.</p>` : null}
    ${data === null ? null : html`<p class="muted small">Topic id <span class="mono">${data.topicId}</span>${` · ${data.partitions.length} partitions · ${num(data.partitions.reduce((sum, p) => sum + p.highWatermark - p.logStartOffset, 0))} records${data.createdMs ? ' · created ' + time(data.createdMs) : ''}`}${data.internal ? html` <span class="tag">internal</span>` : null}</p>`}
    ${action === 'partitions' && data !== null ? html`<${AddPartitionsForm} topic=${name} current=${data.partitions.length}
      onDone=${() => { setAction('none'); void topic.reload(); }} onCancel=${() => setAction('none')} />` : null}
    ${action === 'delete' ? html`<${TypedConfirm} what="topic" name=${name} action="Delete topic" onConfirm=${remove} onCancel=${() => setAction('none')} />` : null}
    <${ErrorBox} error=${topic.error} />
    <nav class="tabs" aria-label="Topic sections">
      ${TABS.map(([id, label]) => html`<a href=${href('topics', name, id)} aria-current=${id === current ? 'page' : undefined}>${label}</a>`)}
    </nav>
    ${data === null ? (topic.error === null ? html`<p class="muted">Loading…</p>` : null)
      : current === 'partitions' ? html`<${PartitionsTable} topic=${data} />`
      : current === 'configs' ? (data.configsVisible === false
        ? html`<p class="muted">Your user may not see this topic's configs (it needs DESCRIBE_CONFIGS on the topic).</p>`
        : html`<${TopicConfigs} topic=${name} configs=${data.configs} onChanged=${() => void topic.reload()} />`)
      : current === 'consumers' ? html`<${ConsumersTable} topic=${data} />`
      : html`<${MessageBrowser} topic=${name} partitions=${data.partitions.length} />`}
  </section>`;
}
