import { h } from "preact"
import htm from "htm"
export const html = htm.bind(h)
export const can = (session, permission) => session.permissions.includes("administer") || session.permissions.includes(permission)
export const json = (v) => JSON.stringify(v, null, 2)
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "")
