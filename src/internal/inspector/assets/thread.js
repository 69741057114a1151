// One thread: its graph (next and paused nodes highlighted), pending questions as forms, the
// checkpoint timeline with forks as branches, the state at a checkpoint and its diff to the
// parent, FlowDrop's node states, the chat transcript, runs and pipelines, and the actions a
// token may take (fork, update state as a node, cancel); a run going on is followed live.
import { useEffect, useRef, useState } from "preact/hooks"
import { call, stream } from "./api.js"
import { Question } from "./forms.js"
import { Graph } from "./graph.js"
import { can, html, json, when } from "./ui.js"

const enc = encodeURIComponent

/** Checkpoints as rows of a tree: each fork (a second child) starts a new lane. */
export const timeline = (checkpoints) => {
  const byParent = new Map()
  for (const c of checkpoints) byParent.set(c.parent_checkpoint_id, [...(byParent.get(c.parent_checkpoint_id) ?? []), c])
  for (const list of byParent.values()) list.sort((a, b) => a.created_at.localeCompare(b.created_at))
  const rows = []
  let lanes = 0
  const walk = (c, lane, fork) => {
    rows.push({ c, lane, fork })
    ;(byParent.get(c.checkpoint_id) ?? []).forEach((child, i) => walk(child, i === 0 ? lane : ++lanes, i > 0))
  }
  const ids = new Set(checkpoints.map((c) => c.checkpoint_id))
  for (const root of checkpoints.filter((c) => c.parent_checkpoint_id === null || !ids.has(c.parent_checkpoint_id))
    .sort((a, b) => a.created_at.localeCompare(b.created_at))) walk(root, lanes === 0 && rows.length === 0 ? 0 : ++lanes, false)
  return rows
}

export const diff = (before, after) => {
  const keys = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])]
  return keys.flatMap((k) => {
    const a = before?.[k], b = after?.[k]
    if (JSON.stringify(a) === JSON.stringify(b)) return []
    return [{ key: k, kind: a === undefined ? "added" : b === undefined ? "removed" : "changed", before: a, after: b }]
  })
}

const textOf = (content) =>
  typeof content === "string" ? content : Array.isArray(content) ? content.map((p) => p.text ?? "").join("") : json(content)

const Transcript = ({ messages, partial }) => html`<section aria-labelledby="chat-h"><h2 id="chat-h">Chat</h2>
  <ol class="chat">${messages.map((m) => html`<li class=${`msg ${m.role ?? m.type ?? ""}`}><b>${m.role ?? m.type}</b> ${textOf(m.content)}</li>`)}
  ${partial ? html`<li class="msg ai live"><b>ai</b> ${partial}</li>` : null}</ol></section>`

const NodeStates = ({ states }) => {
  const rows = Object.values(states ?? {}).sort((a, b) => (a.executionOrder || 1e9) - (b.executionOrder || 1e9))
  return html`<table class="nodes"><caption>Node states (FlowDrop)</caption>
    <thead><tr><th scope="col">node</th><th scope="col">status</th><th scope="col">order</th><th scope="col">attempts</th><th scope="col">injected</th><th scope="col">output / error</th></tr></thead>
    <tbody>${rows.map((n) => html`<tr><td>${n.nodeId}</td><td><span class=${`status ${n.status}`}>${n.status}</span></td><td>${n.executionOrder || ""}</td>
      <td>${n.attempts}</td><td>${n.injected ? "yes" : "no"}</td><td class="mono">${n.error ?? JSON.stringify(n.output ?? null)}</td></tr>`)}</tbody></table>`
}

export const ThreadView = ({ session, threadId }) => {
  const [data, setData] = useState(null)
  const [selected, setSelected] = useState(null)
  const [at, setAt] = useState(null)
  const [live, setLive] = useState({ run: null, events: [], partial: "" })
  const [notice, setNotice] = useState("")
  const [asNode, setAsNode] = useState("")
  const [update, setUpdate] = useState("{}")
  const abort = useRef(null)
  const base = `/threads/${enc(threadId)}`

  const load = async () => {
    const [thread, state, cps, runs, pipes] = await Promise.all([
      call("GET", base), call("GET", `${base}/state`), call("GET", `/inspector/api/threads/${enc(threadId)}/checkpoints`),
      call("GET", `${base}/runs?limit=20`), call("GET", `/inspector/api/threads/${enc(threadId)}/pipelines`)
    ])
    if (!thread.ok) return setData({ error: thread.body?.detail ?? `HTTP ${thread.status}` })
    setData({ thread: thread.body, state: state.body, checkpoints: cps.body?.checkpoints ?? [], head: cps.body?.head, runs: runs.body ?? [], pipelines: pipes.body })
    const running = (runs.body ?? []).find((r) => r.status === "pending" || r.status === "running")
    if (running && !abort.current) follow(running)
  }

  const follow = (run) => {
    const controller = new AbortController()
    abort.current = controller
    setLive({ run, events: [], partial: "" })
    stream(`${base}/runs/${enc(run.run_id)}/stream`, (event, d) => {
      setLive((l) => ({
        ...l,
        events: [...l.events, event].slice(-30),
        partial: event === "messages/partial" ? textOf(d?.[0]?.content) : l.partial
      }))
      if (event === "values" || event === "updates") load()
    }, controller.signal).catch(() => {}).finally(() => {
      abort.current = null
      setLive((l) => ({ ...l, run: null, partial: "" }))
      load()
    })
  }

  useEffect(() => { load(); return () => abort.current?.abort() }, [threadId])
  useEffect(() => {
    if (!selected) return setAt(null)
    const cp = data?.checkpoints.find((c) => c.checkpoint_id === selected)
    Promise.all([
      call("GET", `${base}/state/${enc(selected)}`),
      cp?.parent_checkpoint_id ? call("GET", `${base}/state/${enc(cp.parent_checkpoint_id)}`) : Promise.resolve({ body: { values: {} } })
    ]).then(([s, p]) => setAt({ cp, values: s.body?.values ?? {}, parent: p.body?.values ?? {} }))
  }, [selected, data?.checkpoints?.length])

  if (!data) return html`<p>Loading thread…</p>`
  if (data.error) return html`<p class="issue" role="alert">${data.error}</p>`
  const { thread, state, checkpoints } = data
  const graphId = thread.metadata?.graph_id
  const graph = session.graphs.find((g) => g.graph_id === graphId)
  const edit = can(session, "edit")
  const paused = (state.tasks ?? []).filter((t) => t.interrupts.length > 0).map((t) => t.name)
  // `quiet`: the caller shows a refusal itself (an answer's issue goes next to its field)
  const start = async (body, what, quiet = false) => {
    const r = await call("POST", `${base}/runs`, { assistant_id: graphId, stream_mode: ["values", "updates", "messages"], ...body })
    if (!r.ok) { if (!quiet) setNotice(`${what}: ${r.body?.issue ?? r.body?.detail ?? r.status}`); return r }
    setNotice(`${what}: run ${r.body.run_id} started`)
    follow(r.body)
    return r
  }
  const answer = (value) => start({ command: { resume: value } }, "answer", true)
  const cancel = async () => {
    const r = await call("POST", `${base}/runs/${enc(live.run.run_id)}/cancel`)
    setNotice(r.ok ? "cancel requested" : `cancel: ${r.body?.detail}`)
  }
  const updateState = async (e) => {
    e.preventDefault()
    let values
    try { values = JSON.parse(update) } catch (err) { return setNotice(`update: not JSON: ${err.message}`) }
    const r = await call("POST", `${base}/state`, { values, ...(asNode ? { as_node: asNode } : {}) })
    setNotice(r.ok ? `state updated: checkpoint ${r.body.checkpoint.checkpoint_id}` : `update: ${r.body?.issue ?? r.body?.detail}`)
    load()
  }
  const messages = Array.isArray(thread.values?.messages) ? thread.values.messages : null

  return html`<article class="thread">
    <header class="bar"><h1>Thread <code>${threadId}</code></h1>
      <span class=${`status ${thread.status}`} data-testid="thread-status">${thread.status}</span>
      <span>${graphId}</span>
      ${live.run ? html`<span class="live" role="status">● live: run ${live.run.run_id.slice(0, 8)} (${live.events.length} events)</span>` : null}
      ${live.run && edit ? html`<button data-action="cancel-run" onClick=${cancel}>Cancel run</button>` : null}
    </header>
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    <div class="columns">
      <div>
        <section aria-labelledby="graph-h"><h2 id="graph-h">Graph</h2>
          ${graph ? html`<${Graph} mermaid=${graph.mermaid} next=${state.next ?? []} paused=${paused} />` : html`<p>graph ${graphId} is not served here</p>`}
          <p class="legend"><span class="key next"></span> next <span class="key paused"></span> paused on a question</p></section>
        ${(state.interrupts ?? []).length > 0 ? html`<section aria-labelledby="q-h"><h2 id="q-h">Pending questions</h2>
          ${edit ? state.interrupts.map((q) => html`<${Question} key=${q.id} q=${q} answer=${answer} />`)
            : state.interrupts.map((q) => html`<div class="question"><h3>${q.value?.message ?? q.value?.prompt ?? q.kind} <span class="tag">${q.kind}</span></h3><pre>${json(q.value)}</pre></div>`)}</section>` : null}
        ${messages ? html`<${Transcript} messages=${messages} partial=${live.partial} />` : live.partial ? html`<${Transcript} messages=${[]} partial=${live.partial} />` : null}
        ${edit ? html`<section aria-labelledby="upd-h"><h2 id="upd-h">Update state</h2><form onSubmit=${updateState}>
          <div class="field"><label for="as-node">As node</label><select id="as-node" onChange=${(e) => setAsNode(e.target.value)}>
            <option value="">(the last writer)</option>${(graph?.nodes ?? []).map((n) => html`<option value=${n}>${n}</option>`)}</select></div>
          <div class="field"><label for="upd-values">Values (JSON)</label><textarea id="upd-values" class="mono" rows="3" onInput=${(e) => setUpdate(e.target.value)}>${update}</textarea></div>
          <button type="submit" data-action="update-state">Update state</button></form></section>` : null}
        <section aria-labelledby="runs-h"><h2 id="runs-h">Runs and pipelines</h2>
          ${data.runs.length === 0 ? html`<p class="muted">No runs of this server on the thread.</p>` : html`<table class="runs"><thead><tr><th scope="col">run</th><th scope="col">status</th><th scope="col">created</th></tr></thead>
          <tbody>${data.runs.map((r) => html`<tr><td><code title=${r.run_id}>${r.run_id.slice(0, 8)}</code></td><td><span class=${`status ${r.status}`}>${r.status}</span></td><td>${when(r.created_at)}</td></tr>`)}</tbody></table>`}
          ${data.pipelines?.pipelines?.map(({ pipeline, jobs }) => html`<h3 data-testid="pipeline">Pipeline <code>${pipeline.id.slice(0, 8)}</code> (${pipeline.orchestrator}) <span class=${`status ${pipeline.status}`}>${pipeline.status}</span></h3>
            <table class="jobs"><thead><tr><th scope="col">job</th><th scope="col">node</th><th scope="col">step</th><th scope="col">status</th><th scope="col">attempts</th><th scope="col">injected</th><th scope="col">error</th></tr></thead>
            <tbody>${jobs.map((j) => html`<tr><td><code title=${j.id}>…${j.id.slice(-6)}</code></td><td>${j.node}</td><td>${j.step}</td><td><span class=${`status ${j.status}`}>${j.status}</span></td>
              <td>${j.attempts}/${j.maxAttempts}</td><td>${j.injected ? "yes" : "no"}</td><td class="mono">${j.error ?? ""}</td></tr>`)}</tbody></table>`)}
          ${data.pipelines && !data.pipelines.available ? html`<p class="muted">No pipeline store on this server: its runs are the server's queue above.</p>` : null}
        </section>
      </div>
      <div>
        <section aria-labelledby="tl-h"><h2 id="tl-h">Checkpoints</h2>
          <ol class="timeline">${timeline(checkpoints).map(({ c, lane, fork }) => html`<li style=${`--lane:${lane}`} class=${fork ? "fork" : ""}>
            <button class=${`cp ${c.checkpoint_id === selected ? "selected" : ""} ${c.checkpoint_id === data.head ? "head" : ""}`} aria-pressed=${c.checkpoint_id === selected}
              data-checkpoint=${c.checkpoint_id} data-step=${c.step} onClick=${() => setSelected(c.checkpoint_id)}>
              ${fork ? html`<span class="tag">fork</span> ` : null}step ${c.step} · ${c.status}${c.next.length ? ` → ${c.next.join(", ")}` : ""}${c.checkpoint_id === data.head ? " (head)" : ""}</button></li>`)}</ol></section>
        ${at ? html`<section aria-labelledby="at-h" class="at"><h2 id="at-h">Checkpoint step ${at.cp?.step} <code>${selected.slice(0, 12)}</code></h2>
          ${edit ? html`<button data-action="fork" onClick=${() => start({ checkpoint_id: selected }, "fork")}>Fork from here</button>` : null}
          <h3>Diff to the parent</h3><ul class="diff">${diff(at.parent, at.values).map((d) => html`<li class=${d.kind}><b>${d.key}</b> ${d.kind}:
            ${d.before !== undefined ? html`<del>${JSON.stringify(d.before)}</del>` : null} ${d.after !== undefined ? html`<ins>${JSON.stringify(d.after)}</ins>` : null}</li>`)}</ul>
          <h3>State</h3><pre class="mono">${json(at.values)}</pre><${NodeStates} states=${at.cp?.node_states} /></section>`
          : html`<section><h2>State (head)</h2><pre class="mono">${json(thread.values)}</pre>
            <${NodeStates} states=${checkpoints.find((c) => c.checkpoint_id === data.head)?.node_states} /></section>`}
      </div>
    </div></article>`
}
