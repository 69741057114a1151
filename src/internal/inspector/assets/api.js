// The server's API as the page calls it: a bearer token (from #token=… or sessionStorage), JSON
// bodies, and run streams read with fetch (EventSource cannot send a token), SSE parsed here.
const KEY = "stategraph-inspector-token"

export const token = {
  get: () => sessionStorage.getItem(KEY) ?? "",
  set: (t) => (t ? sessionStorage.setItem(KEY, t) : sessionStorage.removeItem(KEY))
}

const fromHash = /[#&]token=([^&]+)/.exec(location.hash)
if (fromHash) {
  token.set(decodeURIComponent(fromHash[1]))
  history.replaceState(null, "", location.pathname + location.hash.replace(/[#&]?token=[^&]+/, "").replace(/^$/, "#/"))
}

const headers = (body) => ({
  ...(token.get() ? { authorization: `Bearer ${token.get()}` } : {}),
  ...(body !== undefined ? { "content-type": "application/json" } : {})
})

/** { ok, status, body } — never throws on an HTTP error: the page shows the body. */
export const call = async (method, path, body) => {
  const res = await fetch(path, { method, headers: headers(body), ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
  const text = await res.text()
  let json = null
  try { json = text ? JSON.parse(text) : null } catch { json = { detail: text } }
  return { ok: res.ok, status: res.status, body: json }
}

/** Streams a run's events to `onEvent(name, data)` until its end (or `signal` aborts). */
export const stream = async (path, onEvent, signal) => {
  const res = await fetch(path, { headers: headers(), signal })
  if (!res.ok || !res.body) return
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += value
    let at
    while ((at = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, at)
      buffer = buffer.slice(at + 2)
      let event = "message"
      const data = []
      for (const line of frame.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7)
        else if (line.startsWith("data: ")) data.push(line.slice(6))
      }
      if (data.length > 0) {
        let parsed
        try { parsed = JSON.parse(data.join("\n")) } catch { parsed = data.join("\n") }
        onEvent(event, parsed)
      }
    }
  }
}
