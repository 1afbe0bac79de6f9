//go:build race

package expr

// raceEnabled: bcrypt runs about twenty times slower under the race
// detector, so the tests that hash skip there (the workflows tests run
// them without it).
const raceEnabled = true
