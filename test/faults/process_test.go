//go:build faults

package faults

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// process is one of the system's processes (the Temporal server, a worker,
// the API), started from a built binary with its own environment; its
// output goes to a log file that survives restarts.
type process struct {
	name    string
	path    string
	args    []string
	env     []string
	logPath string

	cmd    *exec.Cmd
	exited chan struct{}
}

// start runs the process; it must not be running.
func (p *process) start(t *testing.T) {
	t.Helper()
	log, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(log, "\n=== %s: start %s\n", time.Now().Format(time.RFC3339Nano), p.name)
	cmd := exec.Command(p.path, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		t.Fatalf("start %s: %v", p.name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = log.Close()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
}

// running says whether the process is alive.
func (p *process) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// pid is the process id of the running process.
func (p *process) pid() int { return p.cmd.Process.Pid }

// kill9 kills the process with SIGKILL: no shutdown, no drain, as a
// crash or an OOM kill.
func (p *process) kill9(t *testing.T) {
	t.Helper()
	if !p.running() {
		return
	}
	p.note("kill -9")
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// note writes a line about what the test did to the process's log.
func (p *process) note(what string) {
	if f, err := os.OpenFile(p.logPath, os.O_APPEND|os.O_WRONLY, 0); err == nil {
		fmt.Fprintf(f, "=== %s: test sends %s to %s\n", time.Now().Format(time.RFC3339Nano), what, p.name)
		_ = f.Close()
	}
}

// tailLog returns the last n lines of a log file.
func tailLog(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// freePort returns a TCP port free on loopback at the time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
