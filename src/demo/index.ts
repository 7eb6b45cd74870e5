/**
 * The demo workflow of the command line and the examples: a research agent that plans, searches
 * three sources in parallel and streams a summary, simulated locally. Import from
 * `agent-interrupt/demo`; the package's main entry exports no demo.
 *
 * @since 0.2.0
 */
export * as Research from "./Research.ts"
