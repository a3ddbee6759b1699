// Package testkit is what in-process tests share: a logger that shows a
// component's log only when its test fails, a log sink to read back while
// a component writes, a poller for conditions, and running a component
// (New, then Run) in the background for one test. It needs no cgo, so
// tests of the control plane can use it. Child processes and free ports
// are internal/proctest's; headless Chromium is internal/chrometest's.
package testkit
