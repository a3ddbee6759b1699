//go:build !race

package mixer

// timingSlack widens the few timing bounds of these tests (see race_test.go).
const timingSlack = 1
