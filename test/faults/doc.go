// Package faults holds the fault tests on real processes (build tag
// faults, run by `make test-faults`): a Temporal server process with a file
// database, its own Postgres cluster, two worker processes and the API, and
// the scenarios of docs/reliability.md that kill, stop and restart them
// while executions run. The package has no code outside its tests.
package faults
