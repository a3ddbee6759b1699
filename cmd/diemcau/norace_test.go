//go:build !race

package main

// rateTolerance is the issue's ±5 % on the composite's frame rate.
const rateTolerance = 0.05
