//go:build !race

package sim_test

// raceEnabled is set when the race detector is on.
const raceEnabled = false
