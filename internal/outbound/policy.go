// Package outbound builds the HTTP client that node types use to call other
// services on a definition's behalf.
//
// Definitions are written by API users, so the URLs they call are untrusted:
// without a policy, a definition could make a worker read the cloud metadata
// service (169.254.169.254), the Temporal frontend or an admin port inside the
// network (server-side request forgery). The policy:
//
//   - only http and https;
//   - destinations in private, loopback, link-local, carrier-grade NAT,
//     multicast, unspecified, documentation and reserved ranges are refused,
//     including their IPv4-mapped and NAT64 IPv6 forms, unless an allow-list
//     entry matches; an IPv6 address must be global unicast (2000::/3, the
//     only block the internet routes) and not one of its special blocks
//     (6to4 and Teredo embed IPv4 addresses that would then be reached),
//     so the deprecated IPv4-compatible form (::127.0.0.1) and any block
//     assigned later outside 2000::/3 are refused by construction;
//   - the check runs on the address actually dialled, after DNS resolution,
//     so a name that resolves (or re-resolves: DNS rebinding) to a refused
//     address is refused too; every redirect hop is a new request that goes
//     through the same checks;
//   - no proxy: through a proxy the dialled address would be the proxy's, and
//     the check would say nothing about the destination.
package outbound

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// RefusedError is a destination the policy refuses. Sending the request again
// would be refused again, so callers report it as non-retryable.
type RefusedError struct {
	// Host is the URL's host or the address dialled: never a path or a query,
	// which may carry secrets (webhook tokens, API keys).
	Host   string
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("outbound request to %s refused: %s", e.Host, e.Reason)
}

// refusedRange is a range of addresses no request may reach unless allowed.
type refusedRange struct {
	prefix netip.Prefix
	what   string
}

// refusedRanges are matched against addresses after normalisation (see
// normalise), so IPv4-mapped and NAT64 forms of IPv4 ranges need no entry.
var refusedRanges = func() []refusedRange {
	ranges := []struct{ cidr, what string }{
		{"0.0.0.0/8", `a "this network" address (0.0.0.0 reaches the local host)`},
		{"10.0.0.0/8", "a private address"},
		{"100.64.0.0/10", "a carrier-grade NAT address"},
		{"127.0.0.0/8", "a loopback address"},
		{"169.254.0.0/16", "a link-local address (cloud metadata services live here)"},
		{"172.16.0.0/12", "a private address"},
		{"192.0.0.0/24", "an IETF protocol assignment address"},
		{"192.168.0.0/16", "a private address"},
		{"192.0.2.0/24", "a documentation address"},
		{"192.88.99.0/24", "a 6to4 relay address"},
		{"198.18.0.0/15", "a benchmarking address"},
		{"198.51.100.0/24", "a documentation address"},
		{"203.0.113.0/24", "a documentation address"},
		{"224.0.0.0/4", "a multicast address"},
		{"240.0.0.0/4", "a reserved address (255.255.255.255 is broadcast)"},
		// Outside 2000::/3 every IPv6 address is refused (globalUnicast);
		// these name what the common ones are, for the message.
		{"::/128", "the unspecified address"},
		{"::1/128", "a loopback address"},
		{"::/96", "an IPv4-compatible address (deprecated; it would reach the IPv4 address it embeds)"},
		{"64:ff9b:1::/48", "a local-use NAT64 address"},
		{"100::/64", "a discard-only address"},
		{"fc00::/7", "a unique local address"},
		{"fe80::/10", "a link-local address"},
		{"fec0::/10", "a site-local address"},
		{"ff00::/8", "a multicast address"},
		// Special blocks inside 2000::/3 (IANA IPv6 special-purpose registry).
		{"2001::/23", "an IETF protocol assignment (Teredo, ORCHID, benchmarking…)"},
		{"2001:db8::/32", "a documentation address"},
		{"2002::/16", "a 6to4 address (it would reach the IPv4 address it embeds)"},
		{"3fff::/20", "a documentation address"},
		{"5f00::/16", "a segment routing (SRv6) SID"},
	}
	out := make([]refusedRange, len(ranges))
	for i, r := range ranges {
		out[i] = refusedRange{netip.MustParsePrefix(r.cidr), r.what}
	}
	return out
}()

// globalUnicast is the IPv6 block routed on the internet; every IPv6
// destination outside it is refused.
var globalUnicast = netip.MustParsePrefix("2000::/3")

// nat64 is the well-known NAT64 prefix (RFC 6052): 64:ff9b::a.b.c.d reaches
// the IPv4 address a.b.c.d through the network's NAT64 gateway.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// normalise returns the address a connection to addr really reaches: the
// IPv4 address of an IPv4-mapped or NAT64 form, without an IPv6 zone (prefixes
// never match zoned addresses).
func normalise(addr netip.Addr) netip.Addr {
	addr = addr.WithZone("").Unmap()
	if nat64.Contains(addr) {
		b := addr.As16()
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return addr
}

// policy decides which destinations may be reached.
type policy struct {
	allowed []netip.Prefix  // addresses allowed even in a refused range
	hosts   map[string]bool // host names (lower case) allowed whatever they resolve to
}

// newPolicy parses allow-list entries: CIDRs ("10.1.0.0/16"), addresses
// ("127.0.0.1", "::1") or host names ("payments.internal").
func newPolicy(allow []string) (*policy, error) {
	p := &policy{hosts: map[string]bool{}}
	for _, entry := range allow {
		entry = strings.TrimSpace(entry)
		switch {
		case entry == "":
			continue
		case strings.Contains(entry, "/"):
			prefix, err := netip.ParsePrefix(entry)
			if err != nil {
				return nil, fmt.Errorf("outbound allow-list entry %q: %v", entry, err)
			}
			p.allowed = append(p.allowed, prefix.Masked())
		default:
			if addr, err := netip.ParseAddr(entry); err == nil {
				addr = normalise(addr)
				p.allowed = append(p.allowed, netip.PrefixFrom(addr, addr.BitLen()))
				continue
			}
			if strings.ContainsAny(entry, ":[]") {
				return nil, fmt.Errorf("outbound allow-list entry %q is neither a CIDR, an address nor a host name", entry)
			}
			p.hosts[canonicalHost(entry)] = true
		}
	}
	return p, nil
}

// canonicalHost makes host names comparable: DNS is case-insensitive and a
// trailing dot names the same host.
func canonicalHost(host string) string {
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// hostAllowed reports whether host (a URL's host name) is on the allow-list
// by name, in which case the addresses it resolves to are not checked.
func (p *policy) hostAllowed(host string) bool {
	return p.hosts[canonicalHost(host)]
}

// checkAddr refuses an address in a refused range unless it is allowed.
func (p *policy) checkAddr(addr netip.Addr) error {
	reached := normalise(addr)
	for _, prefix := range p.allowed {
		if prefix.Contains(reached) {
			return nil
		}
	}
	for _, r := range refusedRanges {
		if r.prefix.Contains(reached) {
			reason := fmt.Sprintf("%s is %s (%s)", reached, r.what, r.prefix)
			return &RefusedError{Host: addr.String(), Reason: reason + "; allow it in the outbound allow-list if this is intended"}
		}
	}
	if reached.Is6() && !globalUnicast.Contains(reached) {
		reason := fmt.Sprintf("%s is not a global unicast IPv6 address (%s)", reached, globalUnicast)
		return &RefusedError{Host: addr.String(), Reason: reason + "; allow it in the outbound allow-list if this is intended"}
	}
	return nil
}

// checkURL refuses what can be refused before dialling: a scheme other than
// http or https, a missing host, and a literal IP address in a refused range.
// Host names are checked when their addresses are dialled.
func (p *policy) checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return &RefusedError{Host: u.Host, Reason: fmt.Sprintf("scheme %q is not allowed (only http and https)", u.Scheme)}
	}
	host := u.Hostname()
	if host == "" {
		return &RefusedError{Host: u.Host, Reason: "the URL has no host"}
	}
	if p.hostAllowed(host) {
		return nil
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		return p.checkAddr(addr)
	}
	return nil
}
