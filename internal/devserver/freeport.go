package devserver

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
)

// GetFreePort returns a TCP port on host (an IP address; "" means 127.0.0.1)
// that is free to listen on now. Nothing reserves it: bind it soon.
//
// On Linux the port is also parked in TIME_WAIT (a connection to it is
// accepted and closed from the listening side), so the kernel does not hand
// it out again for another ephemeral bind for about a minute, while an
// explicit bind (Go sets SO_REUSEADDR) still succeeds. This keeps parallel
// tests that each pick ports from colliding.
func GetFreePort(host string) (port int, err error) {
	if host == "" {
		host = "127.0.0.1"
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("devserver: find a free port on %s: %w", host, err)
	}
	defer func() { err = errors.Join(err, ignoreClosed(l.Close())) }()
	port = l.Addr().(*net.TCPAddr).Port

	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		// Those allocate ephemeral ports sequentially: no reuse soon anyway.
		return port, nil
	}
	dialHost := host
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		dialHost = loopbackFor(ip)
	}
	c, err := net.Dial("tcp", net.JoinHostPort(dialHost, strconv.Itoa(port)))
	if err != nil {
		return 0, fmt.Errorf("devserver: find a free port on %s: %w", host, err)
	}
	defer func() { _ = c.Close() }()
	s, err := l.Accept()
	if err != nil {
		return 0, fmt.Errorf("devserver: find a free port on %s: %w", host, err)
	}
	// Closing the accepted side first puts the port in TIME_WAIT.
	if err := s.Close(); err != nil {
		return 0, fmt.Errorf("devserver: find a free port on %s: %w", host, err)
	}
	return port, nil
}

// checkPortFree returns an error if host:port cannot be listened on now.
func checkPortFree(host string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return l.Close()
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// loopbackFor returns the loopback address of ip's family.
func loopbackFor(ip net.IP) string {
	if ip.To4() == nil {
		return "::1"
	}
	return "127.0.0.1"
}
