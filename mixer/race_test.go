//go:build race

package mixer

// timingSlack widens the few timing bounds of these tests under the race
// detector, which slows the Go side and usually shares the machine with
// every other package's tests.
const timingSlack = 3
