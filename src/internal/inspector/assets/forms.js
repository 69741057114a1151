// A pending question as a form, by kind: Confirmation → two buttons, Choice → options, Text → a
// field, a Form (its request carries a JSON Schema) → fields generated from the schema, anything
// else → a JSON editor. The answer goes as `command: { resume }`; a 422's schema issue is shown
// next to the field it names (else under the form).
import { useState } from "preact/hooks"
import { html, json } from "./ui.js"

/** The field a schema issue names (`["amount"]` in TreeFormatter's text), if any. */
const fieldOf = (issue, names) => names.find((n) => issue.includes(`["${n}"]`))

const Issue = ({ id, text }) => (text ? html`<p class="issue" id=${id} role="alert">${text}</p>` : null)

const coerce = (schema, raw) => {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  if (type === "number" || type === "integer") return raw === "" ? undefined : Number(raw)
  if (type === "boolean") return raw === true
  return raw
}

const SchemaFields = ({ qid, schema, values, setValues, issues }) => {
  const props = schema.properties ?? {}
  const required = new Set(schema.required ?? [])
  return Object.entries(props).map(([name, s]) => {
    const id = `${qid}-${name}`
    const type = Array.isArray(s.type) ? s.type[0] : s.type
    const set = (v) => setValues({ ...values, [name]: v })
    const described = issues[name] ? `${id}-issue` : undefined
    const input = s.enum
      ? html`<select id=${id} aria-describedby=${described} onChange=${(e) => set(e.target.value)}>
          <option value="">—</option>${s.enum.map((o) => html`<option value=${o}>${o}</option>`)}</select>`
      : type === "boolean"
      ? html`<input id=${id} type="checkbox" aria-describedby=${described} checked=${values[name] === true} onChange=${(e) => set(e.target.checked)} />`
      : type === "number" || type === "integer"
      ? html`<input id=${id} type="number" step="any" aria-describedby=${described} value=${values[name] ?? ""} onInput=${(e) => set(e.target.value)} />`
      : type === "string"
      ? html`<input id=${id} type="text" aria-describedby=${described} value=${values[name] ?? ""} onInput=${(e) => set(e.target.value)} />`
      : html`<textarea id=${id} rows="3" aria-describedby=${described} onInput=${(e) => set({ json: e.target.value })}>${values[name]?.json ?? ""}</textarea>`
    return html`<div class="field ${issues[name] ? "invalid" : ""}">
      <label for=${id}>${s.title ?? name}${required.has(name) ? " *" : ""}</label>${input}
      ${s.description ? html`<small>${s.description}</small>` : null}
      <${Issue} id=${`${id}-issue`} text=${issues[name]} /></div>`
  })
}

/** `answer(value)` resolves to { ok, body } (the server's reply). */
export const Question = ({ q, answer }) => {
  const [values, setValues] = useState({})
  const [text, setText] = useState("")
  const [raw, setRaw] = useState("")
  const [issues, setIssues] = useState({})
  const [busy, setBusy] = useState(false)
  const qid = `q-${q.id}`
  const request = q.value ?? {}
  // a Form carries its JSON Schema in the request: fields from it; any other kind: the JSON editor
  const schema = request.jsonSchema
  const fields = schema?.type === "object" && Object.keys(schema.properties ?? {}).length > 0
  const editor = !["Confirmation", "Choice", "Text"].includes(q.kind) && !fields
  const names = fields ? Object.keys(schema.properties) : []
  const send = async (value) => {
    setBusy(true)
    const r = await answer(value)
    setBusy(false)
    if (r.ok) return setIssues({})
    const issue = r.body?.issue ?? r.body?.detail ?? `HTTP ${r.status}`
    const field = editor ? "json" : fieldOf(issue, names)
    setIssues(field ? { [field]: issue } : { _form: issue })
  }
  const submit = (e) => {
    e.preventDefault()
    if (q.kind === "Text") return send(text)
    if (q.kind === "Choice") return send({ selected: values.selected ?? [] })
    if (fields) {
      const out = {}
      for (const n of names) {
        const v = values[n]
        if (v && typeof v === "object" && "json" in v) { try { out[n] = JSON.parse(v.json) } catch { return setIssues({ [n]: "not JSON" }) } }
        else { const c = coerce(schema.properties[n], v ?? ""); if (c !== undefined && c !== "") out[n] = c }
      }
      return send(out)
    }
    try { return send(JSON.parse(raw)) } catch (err) { setIssues({ json: `not JSON: ${err.message}` }) }
  }
  const title = request.message ?? request.prompt ?? q.kind
  let body
  if (q.kind === "Confirmation") {
    body = html`<div class="buttons">
      <button type="button" data-action="confirm" disabled=${busy} onClick=${() => send({ confirmed: true })}>${request.confirmLabel ?? "Yes"}</button>
      <button type="button" data-action="cancel" disabled=${busy} onClick=${() => send({ confirmed: false })}>${request.cancelLabel ?? "No"}</button></div>`
  } else if (q.kind === "Choice") {
    const picked = values.selected ?? []
    body = html`<fieldset aria-describedby=${issues._form ? `${qid}-issue` : undefined}><legend>${request.multiple ? "Pick one or more" : "Pick one"}</legend>
      ${(request.options ?? []).map((o) => html`<label class="option"><input type=${request.multiple ? "checkbox" : "radio"} name=${qid}
        checked=${picked.includes(o.value)} onChange=${(e) => setValues({ selected: request.multiple ? (e.target.checked ? [...picked, o.value] : picked.filter((p) => p !== o.value)) : [o.value] })} /> ${o.label}</label>`)}
      </fieldset><button type="submit" data-action="answer" disabled=${busy}>Answer</button>`
  } else if (q.kind === "Text") {
    body = html`<div class="field"><label for=${`${qid}-text`}>Answer</label>
      <textarea id=${`${qid}-text`} rows="3" placeholder=${request.placeholder ?? ""} onInput=${(e) => setText(e.target.value)}>${text}</textarea></div>
      <button type="submit" data-action="answer" disabled=${busy}>Answer</button>`
  } else if (fields) {
    body = html`<${SchemaFields} qid=${qid} schema=${schema} values=${values} setValues=${setValues} issues=${issues} />
      <button type="submit" data-action="answer" disabled=${busy}>Answer</button>`
  } else {
    body = html`<div class="field ${issues.json ? "invalid" : ""}"><label for=${`${qid}-json`}>Answer (JSON)</label>
      <textarea id=${`${qid}-json`} rows="4" class="mono" aria-describedby=${issues.json ? `${qid}-json-issue` : undefined}
        onInput=${(e) => setRaw(e.target.value)}>${raw}</textarea>
      <${Issue} id=${`${qid}-json-issue`} text=${issues.json} />
      ${q.response_schema ? html`<details><summary>Answer schema</summary><pre>${json(q.response_schema)}</pre></details>` : null}</div>
      <button type="submit" data-action="answer" disabled=${busy}>Answer</button>`
  }
  return html`<form class="question" aria-labelledby=${`${qid}-title`} onSubmit=${submit}>
    <h3 id=${`${qid}-title`}>${title} <span class="tag">${q.kind}</span></h3>${body}<${Issue} id=${`${qid}-issue`} text=${issues._form} /></form>`
}
