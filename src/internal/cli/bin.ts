#!/usr/bin/env node
/**
 * The `stategraph` bin. The CLI's own packages are optional peers of the library: say which to
 * install instead of failing with a module-resolution stack trace.
 */
// `stategraph threads list | head`: a closed pipe ends the output, not the process with a trace
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0)
  throw e
})
try {
  const Cli = await import("../../Cli.js")
  Cli.main(process.argv)
} catch (e) {
  const missing = /Cannot find (?:package|module) '(@effect\/(?:cli|platform-node|printer|printer-ansi))/.exec(String(e))
  if (missing === null) throw e
  process.stderr.write(
    `stategraph: the CLI needs ${missing[1]}: npm install @effect/cli@^0.77.2 @effect/platform-node@^0.108.2\n`
  )
  process.exit(1)
}
