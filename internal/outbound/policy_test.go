package outbound

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

func TestCheckAddr(t *testing.T) {
	p, err := newPolicy([]string{"10.1.0.0/16", "192.168.1.7", " ", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr    string
		refused string // substring of the reason; "" means allowed
	}{
		{"93.184.215.14", ""},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", ""},
		{"8.8.8.8", ""},
		{"10.0.0.1", "private"},
		{"10.1.2.3", ""}, // allowed CIDR
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"172.32.0.1", ""},
		{"192.168.0.1", "private"},
		{"192.168.1.7", ""}, // allowed address
		{"127.0.0.1", "loopback"},
		{"127.8.9.10", "loopback"},
		{"169.254.169.254", "link-local"},
		{"100.64.0.1", "carrier-grade NAT"},
		{"100.127.255.255", "carrier-grade NAT"},
		{"100.128.0.1", ""},
		{"0.0.0.0", "this network"},
		{"0.1.2.3", "this network"},
		{"224.0.0.1", "multicast"},
		{"255.255.255.255", "reserved"},
		{"::", "unspecified"},
		{"::1", ""}, // allowed address
		{"fd00::1", "unique local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"ff02::1", "multicast"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:169.254.169.254", "link-local"},
		{"::ffff:10.1.0.1", ""}, // mapped form of an allowed address
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::a9fe:a9fe", "link-local"}, // NAT64 form of 169.254.169.254
		{"64:ff9b::808:808", ""},
		{"64:ff9b:1::1", "NAT64"},
		// IPv4 embedded in IPv6 other than mapped and NAT64, and every
		// IPv6 block the internet does not route.
		{"::7f00:1", "IPv4-compatible"},
		{"::a9fe:a9fe", "IPv4-compatible"},
		{"::808:808", "IPv4-compatible"},
		{"2002:7f00:1::1", "6to4"},
		{"2002:808:808::1", "6to4"},
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo"},
		{"2001:db8::1", "documentation"},
		{"3fff::1", "documentation"},
		{"100::1", "discard"},
		{"5f00::1", "SRv6"},
		{"4000::1", "not a global unicast"},
		{"e000::1", "not a global unicast"},
		{"1::1", "not a global unicast"},
		{"2a00:1450:4001:82a::200e", ""},
		// IPv4 documentation and relay ranges.
		{"192.0.2.1", "documentation"},
		{"198.51.100.7", "documentation"},
		{"203.0.113.9", "documentation"},
		{"192.88.99.1", "6to4 relay"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := p.checkAddr(netip.MustParseAddr(tt.addr))
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var refused *RefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("err = %v, want a *RefusedError", err)
			}
			if !strings.Contains(refused.Reason, tt.refused) || refused.Host != tt.addr {
				t.Fatalf("refused = %+v, want host %s and a reason mentioning %q", refused, tt.addr, tt.refused)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	p, err := newPolicy([]string{"Internal.Example."})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url     string
		refused string
	}{
		{"https://example.com/a?key=secret", ""},
		{"http://internal.example/x", ""},
		{"http://localhost:8080/", ""}, // names are checked when dialled
		{"ftp://example.com/", `scheme "ftp"`},
		{"file:///etc/passwd", `scheme "file"`},
		{"gopher://example.com/", `scheme "gopher"`},
		{"http:///path", "no host"},
		{"http://10.0.0.1/", "private"},
		{"http://169.254.169.254/latest/meta-data/", "link-local"},
		{"http://[::1]:8080/", "loopback"},
		{"http://[::ffff:7f00:1]/", "loopback"},
		{"http://[fe80::1%25eth0]/", "link-local"},
		{"http://[::127.0.0.1]:8080/", "IPv4-compatible"},
		{"http://[2002:7f00:1::]/", "6to4"},
		{"http://[64:ff9b::127.0.0.1]/", "loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			err = p.checkURL(u)
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var refused *RefusedError
			if !errors.As(err, &refused) || !strings.Contains(refused.Reason, tt.refused) {
				t.Fatalf("err = %v, want a refusal mentioning %q", err, tt.refused)
			}
			if strings.Contains(err.Error(), "/latest") {
				t.Fatalf("message %q carries the URL's path", err)
			}
		})
	}
}

func TestNewPolicyErrors(t *testing.T) {
	for _, entry := range []string{"10.0.0.0/33", "not a cidr/8", "[::1]", "10.0.0.1:80"} {
		if _, err := newPolicy([]string{entry}); err == nil || !strings.Contains(err.Error(), entry) {
			t.Errorf("entry %q: err = %v, want an error naming it", entry, err)
		}
	}
}
