//go:build race

package main

// rateTolerance is the issue's ±5 % on the composite's frame rate, widened
// under the race detector, which slows the server's Go side and shares the
// machine with every other package's tests.
const rateTolerance = 3 * 0.05
