package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAccessDefaults(t *testing.T) {
	c, err := Load(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.APIKeys) != 0 || len(c.AdminAPIKeys) != 0 || len(c.TrustedProxies) != 0 {
		t.Errorf("keys or proxies by default: %+v", c)
	}
	if c.RateLimitMax != 1000 || c.RateLimitWindow != time.Second {
		t.Errorf("rate limit %d per %s, want 1000 per 1s", c.RateLimitMax, c.RateLimitWindow)
	}
	want := []string{"/health", "/metrics", "/api/users/register", "/api/orders/process", "/api/products", "/api/products/:id"}
	if !slices.Equal(c.PublicRouteList(), want) {
		t.Errorf("public routes %v, want %v", c.PublicRouteList(), want)
	}
	c, err = Load(map[string]string{"PUBLIC_ROUTES": "none"})
	if err != nil || len(c.PublicRouteList()) != 0 {
		t.Errorf("PUBLIC_ROUTES=none: %v %v", c.PublicRouteList(), err)
	}
}

func TestAPIKeys(t *testing.T) {
	c, err := Load(map[string]string{
		"API_KEYS":        "shop=0123456789abcdef0123, mobile = fedcba9876543210fedc",
		"ADMIN_API_KEYS":  "ops=ops-secret-0123456789",
		"TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.APIKeys) != 2 || c.APIKeys[1] != (APIKey{Name: "mobile", Secret: "fedcba9876543210fedc"}) ||
		len(c.AdminAPIKeys) != 1 || c.AdminAPIKeys[0].Name != "ops" {
		t.Errorf("keys parsed as %#v %#v", c.APIKeys, c.AdminAPIKeys)
	}
	if printed := fmt.Sprintf("%v %+v %#v", c, c, c.APIKeys); strings.Contains(printed, "0123456789abcdef") || strings.Contains(printed, "ops-secret") {
		t.Errorf("printing the config shows a secret: %s", printed)
	}
	wantProxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}
	if !slices.Equal(c.TrustedProxyPrefixes(), wantProxies) {
		t.Errorf("proxies %v", c.TrustedProxyPrefixes())
	}

	for _, tc := range []struct{ name, key, value, want string }{
		{"no equals", "API_KEYS", "justasecretvalue12345", "not name=secret"},
		{"short secret", "API_KEYS", "a=short-secret", "at least 16"},
		{"bad name", "ADMIN_API_KEYS", "o'brien=0123456789abcdef0123", "key name"},
		{"reserved name", "API_KEYS", "anonymous=0123456789abcdef0123", "reserved"},
		{"name twice", "API_KEYS", "a=0123456789abcdef0123,a=0123456789abcdef9999", "used twice"},
		{"secret twice", "API_KEYS", "a=0123456789abcdef0123,b=0123456789abcdef0123", "same secret"},
		{"bad proxy", "TRUSTED_PROXIES", "10.0.0.0/99", "TRUSTED_PROXIES"},
		{"bad route", "PUBLIC_ROUTES", "health", "PUBLIC_ROUTES"},
		{"bad rate", "RATE_LIMIT_MAX", "-1", "RATE_LIMIT_MAX"},
	} {
		_, err := Load(map[string]string{tc.key: tc.value})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "0123456789abcdef") || strings.Contains(err.Error(), "short-secret") || strings.Contains(err.Error(), "justasecretvalue") {
			t.Errorf("%s: the error shows the secret: %v", tc.name, err)
		}
	}
}
