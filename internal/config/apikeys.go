package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/workflow-backend/workflow-backend/internal/problem"
)

// APIKey is one entry of API_KEYS or ADMIN_API_KEYS: Name identifies the
// caller (it scopes idempotency keys and execution reads, and is recorded
// on the executions the caller starts); Secret is what the caller sends.
type APIKey struct {
	Name   string
	Secret string
}

// APIKeys is a comma-separated list of name=secret.
type APIKeys []APIKey

// Bounds of API keys. Names reach a Temporal visibility query and a search
// attribute, so they are restricted to a safe alphabet.
const (
	// MinAPIKeySecretLength refuses guessable secrets.
	MinAPIKeySecretLength = 16
	// AnonymousCaller is the identity of requests without a key (public
	// routes, or every route when no key is configured); no key may take it.
	AnonymousCaller = "anonymous"
)

// UnmarshalText parses name=secret,name=secret. Errors never quote a
// secret.
func (k *APIKeys) UnmarshalText(text []byte) error {
	*k = nil
	for i, entry := range strings.Split(string(text), ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, secret, ok := strings.Cut(entry, "=")
		name, secret = strings.TrimSpace(name), strings.TrimSpace(secret)
		switch {
		case !ok:
			return fmt.Errorf("entry %d is not name=secret", i+1)
		case !problem.CallerName.Valid(name):
			return fmt.Errorf("entry %d: a key name is %s", i+1, problem.CallerName.Hint)
		case strings.EqualFold(name, AnonymousCaller):
			return fmt.Errorf("entry %d: the name %q is reserved for callers without a key", i+1, AnonymousCaller)
		case len(secret) < MinAPIKeySecretLength:
			return fmt.Errorf("key %q: the secret must be at least %d characters (make one with: openssl rand -hex 32)", name, MinAPIKeySecretLength)
		}
		*k = append(*k, APIKey{Name: name, Secret: secret})
	}
	return nil
}

// checkAPIKeys refuses a name or a secret used twice across both lists: a
// name must identify one caller, and a secret one key.
func checkAPIKeys(client, admin APIKeys) error {
	names := map[string]bool{}
	secrets := map[string]string{}
	var errs []error
	for _, k := range append(append(APIKeys{}, client...), admin...) {
		if names[k.Name] {
			errs = append(errs, fmt.Errorf("API_KEYS/ADMIN_API_KEYS: the name %q is used twice", k.Name))
		}
		names[k.Name] = true
		if other, dup := secrets[k.Secret]; dup {
			errs = append(errs, fmt.Errorf("API_KEYS/ADMIN_API_KEYS: keys %q and %q have the same secret", other, k.Name))
		}
		secrets[k.Secret] = k.Name
	}
	return errors.Join(errs...)
}

// PublicRoutesNone is the value of PUBLIC_ROUTES that opens no route (an
// empty value means the default list).
const PublicRoutesNone = "none"

// PublicRouteList is PUBLIC_ROUTES without the "none" marker.
func (c Config) PublicRouteList() []string {
	var out []string
	for _, r := range c.PublicRoutes {
		r = strings.TrimSpace(r)
		if r != "" && r != PublicRoutesNone {
			out = append(out, r)
		}
	}
	return out
}

func checkPublicRoutes(routes []string) error {
	for _, r := range routes {
		r = strings.TrimSpace(r)
		if r != "" && r != PublicRoutesNone && !strings.HasPrefix(r, "/") {
			return fmt.Errorf("PUBLIC_ROUTES: %q is not a route path (such as /api/products/:id)", r)
		}
	}
	return nil
}

// TrustedProxyPrefixes parses TRUSTED_PROXIES (checked by Load).
func (c Config) TrustedProxyPrefixes() []netip.Prefix {
	out, _ := parsePrefixes(c.TrustedProxies)
	return out
}

// parsePrefixes parses CIDRs; a bare address is a single-address prefix.
func parsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			addr, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("TRUSTED_PROXIES: %q is not a CIDR or an IP address", s)
			}
			out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("TRUSTED_PROXIES: %q is not a CIDR or an IP address", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// String hides the secret, so that printing a Config never shows it.
func (k APIKey) String() string { return k.Name + "=<redacted>" }

// GoString hides the secret from %#v too.
func (k APIKey) GoString() string { return k.String() }
