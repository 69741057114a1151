// The inspector's shell: the token, the session (permissions and graphs), hash routes — the
// threads list (#/), a thread (#/thread/ID), the cleanup form (#/cleanup).
import { render } from "preact"
import { useEffect, useState } from "preact/hooks"
import { call, token } from "./api.js"
import { ThreadView } from "./thread.js"
import { can, html, when } from "./ui.js"

const statuses = ["idle", "busy", "interrupted", "error"]
const PAGE = 20

const TokenForm = ({ message }) => {
  const [t, setT] = useState("")
  return html`<form class="token" onSubmit=${(e) => { e.preventDefault(); token.set(t); location.reload() }}>
    <h1>stategraph inspector</h1><p>${message}</p>
    <div class="field"><label for="token">Bearer token</label><input id="token" type="password" autocomplete="off" onInput=${(e) => setT(e.target.value)} /></div>
    <button type="submit">Sign in</button></form>`
}

const StartRun = ({ session }) => {
  const graphs = session.graphs
  const [graph, setGraph] = useState(graphs[0]?.graph_id ?? "")
  const [input, setInput] = useState("{}")
  const [issue, setIssue] = useState("")
  const submit = async (e) => {
    e.preventDefault()
    let parsed
    try { parsed = JSON.parse(input) } catch (err) { return setIssue(`not JSON: ${err.message}`) }
    const t = await call("POST", "/threads", { graph_id: graph })
    if (!t.ok) return setIssue(t.body?.detail ?? `HTTP ${t.status}`)
    const r = await call("POST", `/threads/${encodeURIComponent(t.body.thread_id)}/runs`, { assistant_id: graph, input: parsed, stream_mode: ["values", "updates", "messages"] })
    if (!r.ok) return setIssue(r.body?.issue ?? r.body?.detail ?? `HTTP ${r.status}`)
    location.hash = `#/thread/${encodeURIComponent(t.body.thread_id)}`
  }
  const channels = graphs.find((g) => g.graph_id === graph)?.channels ?? {}
  return html`<details class="start"><summary>Start a run</summary><form onSubmit=${submit}>
    <div class="field"><label for="start-graph">Graph to run</label><select id="start-graph" onChange=${(e) => setGraph(e.target.value)}>
      ${graphs.map((g) => html`<option value=${g.graph_id}>${g.graph_id}</option>`)}</select></div>
    <div class="field"><label for="start-input">Input (JSON; channels: ${Object.keys(channels).join(", ")})</label>
      <textarea id="start-input" class="mono" rows="3" aria-describedby="start-issue" onInput=${(e) => setInput(e.target.value)}>${input}</textarea>
      ${issue ? html`<p class="issue" id="start-issue" role="alert">${issue}</p>` : null}</div>
    <button type="submit" data-action="start-run">Start</button></form></details>`
}

const Threads = ({ session }) => {
  const [q, setQ] = useState("")
  const [graph, setGraph] = useState("")
  const [status, setStatus] = useState("")
  const [offset, setOffset] = useState(0)
  const [page, setPage] = useState(null)
  useEffect(() => {
    const t = setTimeout(() => call("POST", "/inspector/api/threads", { q, graph_id: graph || null, status: status || null, limit: PAGE, offset }).then((r) => setPage({ ...r.body, offset })), 150)
    return () => clearTimeout(t)
  }, [q, graph, status, offset])
  const filter = (s) => { setStatus(s); setOffset(0) }
  return html`<section aria-labelledby="threads-h"><h1 id="threads-h">Threads</h1>
    ${can(session, "edit") ? html`<${StartRun} session=${session} />` : null}
    <div class="filters">
      <div class="field"><label for="search">Search thread ids</label><input id="search" type="search" value=${q} onInput=${(e) => { setQ(e.target.value); setOffset(0) }} /></div>
      <div class="field"><label for="graph">Graph</label><select id="graph" onChange=${(e) => { setGraph(e.target.value); setOffset(0) }}>
        <option value="">all graphs</option>${session.graphs.map((g) => html`<option value=${g.graph_id}>${g.graph_id}</option>`)}</select></div>
    </div>
    <div class="counts" role="group" aria-label="Filter by status">
      <button aria-pressed=${status === ""} onClick=${() => filter("")}>all ${page ? Object.values(page.counts).reduce((a, b) => a + b, 0) : ""}</button>
      ${statuses.map((s) => html`<button aria-pressed=${status === s} data-status=${s} onClick=${() => filter(s)}><span class=${`status ${s}`}>${s}</span> ${page?.counts[s] ?? 0}</button>`)}
    </div>
    ${page === null ? html`<p>Loading…</p>` : html`<table class="threads"><thead><tr><th scope="col">thread</th><th scope="col">graph</th><th scope="col">status</th>
      <th scope="col">questions</th><th scope="col">updated</th></tr></thead><tbody>
      ${page.threads.map((t) => html`<tr><td><a href=${`#/thread/${encodeURIComponent(t.thread_id)}`}><code>${t.thread_id}</code></a></td><td>${t.graph_id}</td>
        <td><span class=${`status ${t.status}`}>${t.status}</span></td><td>${t.questions || ""}</td><td>${when(t.updated_at)}</td></tr>`)}
      </tbody></table>
      <nav class="pages" aria-label="Pages"><button disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - PAGE))}>Previous</button>
        <span>${page.total === 0 ? "no threads" : `${page.offset + 1}–${Math.min(page.offset + PAGE, page.total)} of ${page.total}`}</span>
        <button disabled=${offset + PAGE >= page.total} onClick=${() => setOffset(offset + PAGE)}>Next</button></nav>`}</section>`
}

const units = { minutes: 60_000, hours: 3_600_000, days: 86_400_000 }

const Cleanup = ({ session }) => {
  const [amount, setAmount] = useState("7")
  const [unit, setUnit] = useState("days")
  const [picked, setPicked] = useState(["completed", "failed"])
  const [result, setResult] = useState(null)
  if (!can(session, "delete") || session.scope !== null) return html`<p role="alert">Cleaning up needs the delete permission on every graph.</p>`
  const run = async (dry) => {
    const r = await call("POST", "/inspector/api/cleanup", { older_than_ms: Number(amount) * units[unit], statuses: picked, dry_run: dry })
    setResult(r.ok ? r.body : { error: r.body?.issue ?? r.body?.detail ?? `HTTP ${r.status}` })
  }
  return html`<section aria-labelledby="cleanup-h"><h1 id="cleanup-h">Cleanup</h1>
    <p>Removes old checkpoints of threads whose head has one of the statuses; every thread keeps its head and the lineage of kept checkpoints.</p>
    <form onSubmit=${(e) => { e.preventDefault(); run(true) }}>
      <div class="field inline"><label for="age">Older than</label><input id="age" type="number" min="0" value=${amount} onInput=${(e) => { setAmount(e.target.value); setResult(null) }} />
        <select aria-label="unit" onChange=${(e) => { setUnit(e.target.value); setResult(null) }}>${Object.keys(units).map((u) => html`<option selected=${u === unit}>${u}</option>`)}</select></div>
      <fieldset><legend>Statuses</legend>${["pending", "running", "paused", "completed", "failed"].map((s) => html`<label class="option">
        <input type="checkbox" name="status" value=${s} checked=${picked.includes(s)} onChange=${(e) => { setPicked(e.target.checked ? [...picked, s] : picked.filter((p) => p !== s)); setResult(null) }} /> ${s}</label>`)}</fieldset>
      <button type="submit" data-action="dry-run">Count (dry run)</button>
      ${result?.dry_run ? html`<button type="button" class="danger" data-action="cleanup" onClick=${() => run(false)}>Remove ${result.count} checkpoints</button>` : null}
    </form>
    ${result ? html`<p role="status" class=${result.error ? "issue" : "notice"} data-testid="cleanup-result">${result.error ?? (result.dry_run
      ? `dry run: ${result.count} checkpoints would be removed` : `removed ${result.count} checkpoints`)}</p>` : null}</section>`
}

const route = () => {
  const h = location.hash.replace(/^#/, "") || "/"
  const m = /^\/thread\/(.+)$/.exec(h)
  return m ? { name: "thread", id: decodeURIComponent(m[1]) } : h === "/cleanup" ? { name: "cleanup" } : { name: "threads" }
}

const App = () => {
  const [session, setSession] = useState(undefined)
  const [r, setR] = useState(route())
  useEffect(() => {
    call("GET", "/inspector/api/session").then((res) => setSession(res.ok ? res.body : { error: res.status, detail: res.body?.detail }))
    const on = () => setR(route())
    addEventListener("hashchange", on)
    return () => removeEventListener("hashchange", on)
  }, [])
  if (session === undefined) return html`<p>Loading…</p>`
  if (session.error) return html`<${TokenForm} message=${session.error === 401 ? "This server needs a token." : `Refused: ${session.detail}`} />`
  return html`<div class="shell"><header class="top"><a href="#/" class="brand">stategraph inspector</a>
      <nav aria-label="Main"><a href="#/" aria-current=${r.name === "threads" ? "page" : null}>Threads</a>
        ${can(session, "delete") ? html`<a href="#/cleanup" aria-current=${r.name === "cleanup" ? "page" : null}>Cleanup</a>` : null}</nav>
      <span class="who" data-testid="who">${session.name} · ${session.permissions.join(", ")}</span>
      ${session.auth ? html`<button class="link" onClick=${() => { token.set(""); location.reload() }}>Sign out</button>` : null}</header>
    <main>${r.name === "thread" ? html`<${ThreadView} key=${r.id} session=${session} threadId=${r.id} />`
      : r.name === "cleanup" ? html`<${Cleanup} session=${session} />` : html`<${Threads} session=${session} />`}</main></div>`
}

render(html`<${App} />`, document.getElementById("app"))
