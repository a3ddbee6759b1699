// Package bench holds diemcau's Go benchmarks of hot paths (stream fan-out,
// packetisation, fMP4 writing, appsrc/appsink) and the load scenarios run by
// `diemcau bench`. Figures and commands are in README.md beside this file.
package bench
